package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
)

// Endpoints of `taskapp serve` for the limit tests:
//
//	/limits         {"nofileSoft":N,"nofileHard":N} of the server process
//	/read?path=P    the content of file P in the container (a sysctl)
//	/bomb           starts `taskapp bomb` in the background: a fork bomb
func registerLimits() {
	http.HandleFunc("/limits", func(w http.ResponseWriter, r *http.Request) {
		var rl syscall.Rlimit
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		_ = json.NewEncoder(w).Encode(map[string]uint64{"nofileSoft": rl.Cur, "nofileHard": rl.Max})
	})
	http.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		fmt.Fprint(w, strings.TrimSpace(string(b)))
	})
	http.HandleFunc("/bomb", func(w http.ResponseWriter, r *http.Request) {
		cmd := exec.Command("/proc/self/exe", "bomb")
		if err := cmd.Start(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "bomb started")
	})
}

// bomb ignores SIGTERM (as every child inherits) and forks forever: each
// child is a raw clone of this one thread that loops on clone too, never
// touching the Go runtime again (f(){ f|f& };f in Go).
func bomb() {
	signal.Ignore(syscall.SIGTERM)
	fmt.Println("taskapp bombing")
	for {
		_, _, _ = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	}
}
