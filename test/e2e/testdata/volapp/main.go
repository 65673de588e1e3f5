// Command volapp is the program of the e2e volume and re-adoption tests'
// image: a static binary whose behaviour its arguments choose.
//
//	volapp write FILE TEXT        writes TEXT to FILE, prints it, exits 0
//	volapp serve PORT [GRACE]     HTTP server: / answers "hello",
//	                              /read?path=P the file P,
//	                              /write?path=P&text=T writes T to P (500 with the error);
//	                              on SIGTERM prints "volapp got SIGTERM",
//	                              waits GRACE seconds (0), prints
//	                              "volapp exiting after SIGTERM" and exits 0
package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: volapp write FILE TEXT | serve PORT [GRACE]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "write":
		if len(os.Args) < 4 {
			os.Exit(2)
		}
		if err := os.WriteFile(os.Args[2], []byte(os.Args[3]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("volapp wrote %s\n", os.Args[2])
	case "serve":
		grace := 0.0
		if len(os.Args) > 3 {
			grace, _ = strconv.ParseFloat(os.Args[3], 64)
		}
		serve(os.Args[2], time.Duration(grace*float64(time.Second)))
	default:
		os.Exit(2)
	}
}

func serve(port string, grace time.Duration) {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})
	http.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	http.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := os.WriteFile(q.Get("path"), []byte(q.Get("text")), 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Println("volapp got SIGTERM")
		time.Sleep(grace)
		fmt.Println("volapp exiting after SIGTERM")
		os.Exit(0)
	}()
	fmt.Printf("volapp listening on :%s\n", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
