// Command taskapp is the program in the e2e tests' container image: a
// static binary with a few behaviours chosen by its arguments.
//
//	taskapp serve [port]   HTTP server: / answers "hello from <hostname>",
//	                       /meta proxies the task metadata endpoint's /task,
//	                       /meta/<path> its <path>; /env prints the environment;
//	                       /health answers 200, or 500 once the file
//	                       /unhealthy exists (/fill can create it);
//	                       /get?url=U fetches U from inside the task;
//	                       /resolve?name=N[&type=SRV] resolves N with the
//	                       task's own resolver (its /etc/resolv.conf):
//	                       addresses, or "target port" lines, one a line;
//	                       /df?path=P answers statfs(P) as {"size","free"};
//	                       /fill?path=P&mib=N writes N MiB to P (with
//	                       alloc=1: fallocates them), 507 and the error
//	                       when it fails (the file is removed then);
//	                       logs one line per request; exits 0 on SIGTERM
//	taskapp exit N [secs]  prints a line, sleeps secs, exits with code N
//	taskapp oom            allocates memory until the kernel kills it
//	taskapp sleep          sleeps until killed, ignoring SIGTERM
//	taskapp bomb           a fork bomb that ignores SIGTERM (limits.go)
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: taskapp serve|exit|oom|sleep")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve()
	case "exit":
		code, _ := strconv.Atoi(arg(2, "0"))
		secs, _ := strconv.ParseFloat(arg(3, "0"), 64)
		fmt.Printf("taskapp exiting with %d in %vs\n", code, secs)
		time.Sleep(time.Duration(secs * float64(time.Second)))
		os.Exit(code)
	case "oom":
		fmt.Println("taskapp allocating")
		var hog [][]byte
		for {
			b := make([]byte, 16<<20)
			for i := range b {
				b[i] = byte(i)
			}
			hog = append(hog, b)
		}
	case "bomb":
		bomb()
	case "sleep":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("taskapp sleeping")
		select {}
	}
	os.Exit(2)
}

func arg(i int, def string) string {
	if len(os.Args) > i {
		return os.Args[i]
	}
	return def
}

func serve() {
	port := arg(2, "8080")
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("request %s %s from %s\n", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	// /health fails once /unhealthy exists: a load balancer's health
	// check that one task can fail on purpose.
	http.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat("/unhealthy"); err == nil {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "healthy %s\n", host)
	})
	// /get?url=U fetches U from inside the task and answers its body.
	http.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	http.HandleFunc("/resolve", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if r.URL.Query().Get("type") == "SRV" {
			_, srvs, err := net.DefaultResolver.LookupSRV(r.Context(), "", "", name)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			for _, s := range srvs {
				fmt.Fprintf(w, "%s %d\n", s.Target, s.Port)
			}
			return
		}
		addrs, err := net.DefaultResolver.LookupHost(r.Context(), name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for _, a := range addrs {
			fmt.Fprintln(w, a)
		}
	})
	// /env lists the environment, one KEY=value a line.
	http.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		for _, kv := range os.Environ() {
			fmt.Fprintln(w, kv)
		}
	})
	// /meta/<path> proxies the metadata endpoint's <path> (/meta: /task).
	meta := func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/meta")
		if p == "" {
			p = "/task"
		}
		resp, err := http.Get(os.Getenv("ECS_CONTAINER_METADATA_URI_V4") + p)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}
	http.HandleFunc("/meta/", meta)
	http.HandleFunc("/meta", meta)
	http.HandleFunc("/df", func(w http.ResponseWriter, r *http.Request) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(r.URL.Query().Get("path"), &st); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, `{"size":%d,"free":%d}`, int64(st.Blocks)*st.Bsize, int64(st.Bavail)*st.Bsize)
	})
	http.HandleFunc("/fill", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mib, _ := strconv.ParseInt(q.Get("mib"), 10, 64)
		if err := fill(q.Get("path"), mib<<20, q.Get("alloc") == "1"); err != nil {
			os.Remove(q.Get("path"))
			http.Error(w, err.Error(), http.StatusInsufficientStorage)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	registerLimits()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Println("taskapp got SIGTERM")
		os.Exit(0)
	}()
	fmt.Printf("taskapp listening on :%s\n", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// fill writes n bytes to the file p (alloc: reserves them with fallocate).
func fill(p string, n int64, alloc bool) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if alloc {
		return syscall.Fallocate(int(f.Fd()), 0, 0, n)
	}
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	for w := int64(0); w < n; w += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}
