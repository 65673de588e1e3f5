package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWaitOutOfFilesIsNoExit is finding 2 of issue 17 at the runtime:
// with the process out of file descriptors (a real EMFILE: the soft limit
// lowered to what is open), Wait cannot read a container's records, and
// that is no exit: it keeps waiting, and returns the real exit once the
// files can be read again.
func TestWaitOutOfFilesIsNoExit(t *testing.T) {
	dir := t.TempDir()
	r, err := New(Config{Root: filepath.Join(dir, "runc"), StateDir: filepath.Join(dir, "containers"), RuncPath: "/bin/false", MonitorCommand: []string{"/bin/false"}})
	if err != nil {
		t.Fatal(err)
	}
	id := "emfile-test"
	if err := os.MkdirAll(r.dir(id), 0o700); err != nil {
		t.Fatal(err)
	}
	// A container whose monitor is this (live) process.
	self := os.Getpid()
	start, ok := procStartTime(self)
	if !ok {
		t.Fatal("no start time for this process")
	}
	for name, v := range map[string]any{
		fileMeta:    metaRecord{ID: id, CreatedAt: time.Now().Add(-time.Minute)},
		fileMonitor: monitorRecord{PID: self, StartTime: start},
		fileStarted: startedRecord{PID: self, StartedAt: time.Now().Add(-time.Minute)},
	} {
		if err := writeJSON(r.file(id, name), v); err != nil {
			t.Fatal(err)
		}
	}

	exhaust := exhaustFiles(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct {
		st  ExitStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := r.Wait(ctx, id)
		done <- result{st, err}
	}()
	select {
	case res := <-done:
		exhaust()
		t.Fatalf("Wait out of files returned %+v, %v; want it to keep waiting", res.st, res.err)
	case <-time.After(time.Second):
	}
	exhaust()
	if err := writeJSON(r.file(id, fileExit), ExitStatus{Code: 7}); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.err != nil || res.st.Code != 7 {
			t.Fatalf("Wait after the files came back: %+v, %v", res.st, res.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not see the exit once files could be opened again")
	}
}

// exhaustFiles lowers the soft RLIMIT_NOFILE to what is open and fills
// it; the returned func undoes both.
func exhaustFiles(t *testing.T) func() {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(len(ents) + 16)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var held []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, f)
	}
	undone := false
	return func() {
		if undone {
			return
		}
		undone = true
		for _, f := range held {
			f.Close()
		}
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	}
}
