package hostlock

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcquireExcludesAndNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.lock")
	l, err := Acquire(path, "fargo, data directory /d")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file, so a second Acquire in the same
	// process conflicts as another process would.
	_, err = Acquire(path, "other")
	var he *HeldError
	if !errors.As(err, &he) {
		t.Fatalf("second Acquire: %v, want a HeldError", err)
	}
	if he.PID != os.Getpid() || he.Holder != "fargo, data directory /d" {
		t.Errorf("held by %d %q", he.PID, he.Holder)
	}
	if !strings.Contains(err.Error(), "data directory /d") {
		t.Errorf("message %q", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(path, "again")
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	b, _ := os.ReadFile(path)
	if got := string(b); !strings.HasSuffix(got, " again\n") {
		t.Errorf("file %q: the old holder's line was not replaced", got)
	}
	l2.Release()
	var nilLock *Lock
	if err := nilLock.Release(); err != nil {
		t.Error(err)
	}
}
