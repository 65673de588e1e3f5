// Package runtime is fargo's container runtime: the containers of ECS tasks
// (Fargate launch type) as runc containers on this host, each under a small
// monitor process that outlives fargo.
//
// # Processes
//
//	fargo agent ── Start ──► monitor  (setsid: own session, no terminal;
//	    │    ▲                 │       PR_SET_CHILD_SUBREAPER)
//	    │    ├── fd 3: {"pid"} │
//	    │    │   or {"error"}  │
//	    │    └── fd 4: lock    │  (start.lock, flock'd: held while the monitor lives)
//	    │                      ├─ runc run --detach --pid-file init.pid  (exits;
//	    │                      │    the container's init is reparented to the monitor)
//	    │                      ├─ stdout/stderr pipes ──► output.log (JSON lines)
//	    │                      └─ wait4(init) ──► exit.json (code or 128+signal,
//	    │                                          oom_kill counter), then exits
//	    └── Kill/Stop/Exec/State/Delete: runc --root <Root> ...; files in StateDir
//
// fargo may be killed (even with SIGKILL) at any time: the monitor and the
// container go on, and a new Runtime on the same Root and StateDir reads
// everything back from the files (List for re-adoption, State, Wait, Stop,
// Delete). Nothing is kept only in memory.
//
// # Files
//
// One directory per container, <StateDir>/<id>/, which is also the OCI
// bundle. Records are written atomically (temp file, rename) but not
// fsync'd: they describe processes, which a host crash ends anyway, and a
// crash of fargo or of a monitor leaves the page cache intact (a record a
// host crash tore is read as missing: see Starting):
//
//	start.lock     flock'd by Start, then by the monitor  Start
//	config.json    OCI runtime spec                      Start
//	meta.json      cgroup path, stop signal, labels     Start
//	monitor.json   monitor pid + start time (pid reuse)  monitor, first
//	init.pid       container init pid                    runc run --detach
//	started.json   init pid, StartedAt                   monitor, after runc run
//	exit.json      ExitStatus                            monitor, last
//	output.log     OutputRecord JSON lines               monitor
//	runc.log       runc's log (errors for Start)         runc
//	monitor.log    the monitor's own stderr              monitor
//
// # Starting
//
// fargo may be killed at any step of Start, and the monitor too. Start
// makes the bundle in a staging directory, <StateDir>/.start~<id>/
// (start.lock, config.json, meta.json), and renames it to <id>/: the
// container's directory never exists without its meta.json. start.lock
// is flock'd (exclusive) by Start before anything else; the monitor
// inherits the locked file (fd 4) and holds it for its whole life, so the
// lock is free exactly when neither the starter nor the monitor lives,
// however they ended (the kernel drops a dead process's locks). State
// probes the lock before it reads the records: once the lock is seen
// free, nothing writes them any more. Every state a crash can leave is
// then one of:
//
//	staging dir only, lock free        not started  (starter died before commit)
//	<id>/, lock free, no started.json  not started  (starter died before the
//	                                   monitor ran, or the monitor before it
//	                                   recorded the start; runc may have run it)
//	<id>/, lock held, no started.json  created      (the monitor is starting it)
//	<id>/, lock held, started.json     running      (the monitor reaps it)
//	exit.json                          stopped      (the real exit status)
//	<id>/, lock free, started.json     running if runc runs it (unwatched: its
//	                                   exit status will never be known), else
//	                                   unknown
//
// Start removes a not-started container (runc's leftover container, its
// cgroup, its directories; Delete) and starts it again; any other is an
// ErrAlreadyExists. The agent re-adopts created and running containers,
// starts again the not-started ones, and never reports RUNNING for a
// container whose start is still in progress. Config.Fault names the
// steps (mkdir, config, meta, commit, monitor, started) for the tests
// that crash fargo at each, and the monitor at each of its own
// (TestStartCrashRecovery).
//
// A directory of an older fargo has no start.lock: its monitor's record
// (pid and start time) stands in for the lock.
//
// # Output
//
// Each line a container writes becomes one record in output.log:
//
//	{"t":"2026-01-02T15:04:05.123456789Z","s":"stdout","l":"listening on :80"}
//
// Lines longer than 16 KiB are split into records marked "p":true
// (partial), as is a last line without a newline. Readers (the agent's log
// shipper) consume whole lines only, so a record is written with one
// write(2). Invalid UTF-8 becomes U+FFFD. The file is not rotated: the
// agent ships it and the task's containers are deleted with it.
//
// # Exit status and OOM
//
// The monitor is the container init's (sub)reaper, so it gets the kernel's
// status from wait4: the exit code, or 128+signal. OOMKilled is the
// oom_kill counter of the container's memory cgroup (memory.oom_control on
// cgroup v1, kernel ≥ 4.13; memory.events on v2), read after init exits and
// before Delete removes the cgroup. A kill caused by the task-level limit
// counts too (the counter is the victim's cgroup's). As in Docker, any OOM
// kill in the container sets it, not only one of init.
//
// # The monitor: why fargo's own, and which binary
//
// conmon (Debian package conmon) was made for this, but its log formats
// (k8s-file, journald) are not the JSON lines the agent ships, its exit
// file holds only the code (OOM is a separate file on some versions), and
// it brings another package and C code to the hosts. fargo's monitor is
// ~250 lines of Go, with the same wait4 + subreaper design, and writes
// exactly the records this package reads.
//
// Measured on this host (Go 1.26, cgroup v1; TestMonitorFootprint, mean of
// five monitors of idle containers):
//
//	binary                                RSS      PSS      Private_Dirty
//	fargo-monitor (cmd/fargo-monitor)     3.1 MiB  1.2 MiB  0.7 MiB
//	test binary (this package only)       4.4 MiB  1.4 MiB  0.8 MiB
//	fargo runtime-monitor (all of fargo)  9.9 MiB  3.9 MiB  2.5 MiB
//
// PSS is the honest per-container figure (the binary's pages are shared
// by all monitors, and with fargo itself when it is the same file). The
// monitor runs with GOMAXPROCS=1, GOGC=50 and a soft memory limit of
// 8 MiB; its heap is a few KiB plus one 16 KiB buffer per stream. In the
// fargo binary, the package initialisation of the whole program (AWS
// models, registry, Prometheus...) costs about 1.8 MiB per monitor before
// MonitorMain runs, which is why cmd/fargo-monitor exists: it meets the
// 2 MiB per task budget, the fargo subcommand does not. Both run the same
// MonitorMain; Config.MonitorCommand picks one (default: the running
// executable with the "runtime-monitor" subcommand).
//
// # Security defaults (Docker's, which Fargate keeps)
//
// Docker's default capabilities (plus CapAdd: SYS_PTRACE is the one
// Fargate allows), no_new_privileges, Docker's default seccomp profile
// (github.com/moby/profiles/seccomp, the module Docker builds it from,
// filtered for the capability set, architecture and kernel), the masked
// and read-only /proc and /sys paths, runc spec's /proc /dev /dev/pts
// /dev/shm /dev/mqueue /sys /sys/fs/cgroup mounts, a device cgroup that
// denies all but runc's standard devices, and new PID, IPC, UTS, mount and
// cgroup namespaces. memory+swap is set to the memory limit: no swap, as
// on Fargate.
//
// Privileged (ECS "privileged", which the agent passes for the EC2 launch
// type only; Fargate refuses it at registration) is Docker's --privileged:
// every capability in fargo's own bounding set, no seccomp filter and no
// no_new_privileges, nothing masked or read-only, /sys and the cgroup
// mount writable, and the host's /dev devices with a device cgroup that
// allows them all.
//
// CapAdd and CapDrop change the capability set with Docker's rules (ALL
// included); the agent lets Fargate tasks add only SYS_PTRACE, as AWS does.
//
// # Init
//
// With Init (initProcessEnabled) the container's PID 1 is tini, the init
// Docker's --init runs: the host's static build (Debian's tini package,
// /usr/bin/tini-static; Config.InitPath overrides) bind-mounted read-only
// at /sbin/docker-init, with the command after "--". It forwards signals
// to the command, reaps the zombies orphans leave, and exits with the
// command's code, so Stop and exit codes work as without it. Why tini and
// not a reaper of fargo's own: it is what ECS runs on EC2 (Docker's
// docker-init is tini), it is a 0.7 MB static C binary with 52 KiB of
// private memory per container (RSS 0.7 MiB, mostly shared text) where a
// Go PID 1 would bring its runtime's heap and threads into every task,
// and one binary of fargo's would have to be built static for any image.
//
// Network: NetNSPath joins the task's namespace (awsvpc: the task's
// containers share it and localhost); without it the container gets a new
// namespace with only loopback ("none"), or the host's with HostNetwork.
// /etc/hosts, /etc/resolv.conf and volumes are the caller's Mounts.
//
// # Cgroups
//
//	/sys/fs/cgroup/<controller>/fargo/                   fargo's parent: pids.max for all tasks
//	/sys/fs/cgroup/<controller>/fargo/<task>/            CreateTaskCgroup: task cpu/memory/pids
//	/sys/fs/cgroup/<controller>/fargo/<task>/<id>/       runc: container limits
//
// Task CPU units become cpu.shares and a CFS quota (units/1024 CPUs per
// 100 ms period); task memory the hard limit of all its containers;
// TaskResources.PidsMax the pids.max of all its processes and threads (a
// fork bomb stops there, with EAGAIN). The caller (fargo's server) gives
// every task 4096 and its parent cgroup half the host's PIDs.
//
// Stop and Delete end every process of a container, not only its init:
// after the stop signal and the timeout, killCgroup freezes the
// container's cgroup (the v1 freezer; v2 cgroup.freeze, or cgroup.kill
// where the kernel has it), sends SIGKILL to each of its processes, thaws
// it and waits until it is empty, with the task's CPU quota lifted
// meanwhile so that thousands of dying processes are not starved
// (TestStopKillsEveryProcess: about 900 processes in under 2 s with a
// 1/8-CPU quota; the e2e fork bomb, 4096 processes, in about 3.5 s).
// cgroup v1 is what this host has and what the tests cover; the v2 paths
// (unified hierarchy) are written to the same design but untested here.
package runtime
