package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cpuSplit gives the server under load and the load generator CPUs of
// their own. On a 2-core machine both want every core at saturation, and
// the kernel then time-slices them against each other: a request waits up
// to a scheduler tick (4 ms) for a CPU, whichever server answers it. That
// wait, not the server, made the p99 of an empty Go handler 5 ms here. So
// the server runs on the upper half of the CPUs (taskset, from its start:
// Go sizes GOMAXPROCS from the affinity mask) and the generator, for the
// time of a load run, on the lower half; every peer gets the same. With
// one CPU, or without taskset, nothing is pinned.
type cpuSplit struct {
	server, client []int
}

func newCPUSplit() cpuSplit {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return cpuSplit{}
	}
	var cpus []int
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if _, err := exec.LookPath("taskset"); err != nil || len(cpus) < 2 {
		return cpuSplit{}
	}
	half := len(cpus) / 2
	return cpuSplit{client: cpus[:half], server: cpus[half:]}
}

func (s cpuSplit) enabled() bool { return len(s.server) > 0 }

// describe says how the CPUs are split, for the report.
func (s cpuSplit) describe() string {
	if !s.enabled() {
		return "server and load generator share the CPUs"
	}
	return "server on CPU " + cpuList(s.server) + ", load generator on CPU " + cpuList(s.client) + " (taskset)"
}

// serverArgv runs argv on the server's CPUs.
func (s cpuSplit) serverArgv(argv []string) []string {
	if !s.enabled() {
		return argv
	}
	return append([]string{"taskset", "-c", cpuList(s.server)}, argv...)
}

// onClientCPUs runs fn with this process on the generator's CPUs, with
// GOMAXPROCS to match, and restores both afterwards.
func (s cpuSplit) onClientCPUs(fn func()) {
	if !s.enabled() {
		fn()
		return
	}
	var all, mine unix.CPUSet
	if unix.SchedGetaffinity(0, &all) != nil {
		fn()
		return
	}
	for _, c := range s.client {
		mine.Set(c)
	}
	prev := runtime.GOMAXPROCS(len(s.client))
	setThreadsAffinity(&mine)
	defer func() {
		setThreadsAffinity(&all)
		runtime.GOMAXPROCS(prev)
	}()
	fn()
}

// setThreadsAffinity applies set to every thread of this process; threads
// created later inherit it from the thread that creates them.
func setThreadsAffinity(set *unix.CPUSet) {
	tids, _ := filepath.Glob("/proc/self/task/*")
	for _, t := range tids {
		if tid, err := strconv.Atoi(filepath.Base(t)); err == nil {
			_ = unix.SchedSetaffinity(tid, set)
		}
	}
}

func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}
