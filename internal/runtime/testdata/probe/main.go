// Command probe is the test image of package runtime's tests: a static
// program that reports what it sees, exits as told, sleeps, ignores
// signals, allocates memory or floods its output.
//
//	probe exit CODE           print args and env, exit CODE
//	probe report              print a JSON report of its process settings
//	probe sleep               sleep until SIGTERM, then exit 0
//	probe ignore              ignore SIGTERM, sleep forever
//	probe sleepexit MS CODE   sleep MS milliseconds, exit CODE
//	probe oom                 allocate and touch memory until killed
//	probe spam N              N lines on each stream, a 40 KiB line, a partial line
//	probe cat FILE...         print each file's content (trimmed), one per line
//	probe bomb                ignore SIGTERM, then fork forever (every child
//	                          forks and spins too): a fork bomb
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe MODE ...")
		os.Exit(2)
	}
	arg := func(i int) int {
		n, _ := strconv.Atoi(os.Args[i])
		return n
	}
	switch os.Args[1] {
	case "exit":
		fmt.Println("args:", strings.Join(os.Args, " "))
		for _, e := range os.Environ() {
			fmt.Println("env:", e)
		}
		fmt.Fprintln(os.Stderr, "bye")
		os.Exit(arg(2))
	case "report":
		report()
	case "sleep":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready")
		<-c
		fmt.Println("got SIGTERM")
	case "ignore":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		for {
			time.Sleep(time.Hour)
		}
	case "sleepexit":
		time.Sleep(time.Duration(arg(2)) * time.Millisecond)
		os.Exit(arg(3))
	case "oom":
		var keep [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
		}
	case "bomb":
		bomb()
	case "cat":
		for _, f := range os.Args[2:] {
			b, err := os.ReadFile(f)
			if err != nil {
				fmt.Println(f, "error", err)
				continue
			}
			fmt.Println(f, strings.TrimSpace(string(b)))
		}
	case "spam":
		for i := range arg(2) {
			fmt.Fprintf(os.Stdout, "out %d\n", i)
			fmt.Fprintf(os.Stderr, "err %d\n", i)
		}
		fmt.Println(strings.Repeat("x", 40<<10))
		fmt.Print("no newline")
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

func report() {
	var nofile syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	groups, _ := os.Getgroups()
	werr := os.WriteFile("/probe-write-test", []byte("x"), 0o644)
	status, statusErr := os.ReadFile("/proc/self/status")
	var capEff, noNewPrivs, seccomp string
	for _, l := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "CapEff":
			capEff = strings.TrimSpace(v)
		case "NoNewPrivs":
			noNewPrivs = strings.TrimSpace(v)
		case "Seccomp":
			seccomp = strings.TrimSpace(v)
		}
	}
	masked := "missing"
	if fi, err := os.Stat("/proc/timer_list"); err == nil {
		masked = fmt.Sprint(fi.Mode()&os.ModeCharDevice != 0)
	}
	pid1, _ := os.ReadFile("/proc/1/cmdline")
	kmsg, kerr := os.Stat("/dev/kmsg")
	var core syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_CORE, &core)
	_, unshareErr := syscall.Gettid(), syscall.Unshare(syscall.CLONE_NEWNS) // needs CAP_SYS_ADMIN: EPERM
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"uid": os.Getuid(), "gid": os.Getgid(), "groups": groups, "cwd": cwd,
		"hostname": host, "env": os.Environ(), "nofileSoft": nofile.Cur, "nofileHard": nofile.Max,
		"rootWritable": werr == nil, "capEff": capEff, "noNewPrivs": noNewPrivs,
		"seccomp": seccomp, "timerListMasked": masked,
		"coreSoft": core.Cur, "coreHard": core.Max, "statusErr": fmt.Sprint(statusErr), "unshareErr": fmt.Sprint(unshareErr),
		"hasKmsg": kerr == nil && kmsg.Mode()&os.ModeCharDevice != 0,
		"pid":     os.Getpid(), "pid1": strings.ReplaceAll(strings.TrimRight(string(pid1), "\x00"), "\x00", " "),
	})
}

// bomb ignores SIGTERM (inherited by every child) and forks forever. The
// children are raw clones of this one thread: they only loop on clone and
// never touch the Go runtime again, so they need no allocation.
func bomb() {
	signal.Ignore(syscall.SIGTERM)
	fmt.Println("ready")
	os.Stdout.Sync()
	for {
		_, _, _ = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	}
}
