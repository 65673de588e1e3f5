package agent

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
)

// A task's ephemeral storage (Deps.Storage): its state directory is a
// filesystem of the task's size, holding
//
//	<task dir>/containers/<name>/{upper,work}   each container's writable layer
//	<task dir>/volumes/<name>                   its task-scoped volumes
//	<task dir>/hosts, hostname, *.logoffset     fargo's files of the task
//
// so that what the task writes, through any of them, is bounded by its
// size (Fargate's ephemeralStorage: 20 GiB unless the task definition or
// RunTask says 21-200; tasks of the EC2 launch type get the 20 GiB too),
// and `df` in the task shows that size. Without Storage, or when Attach
// says ErrNotEnforced, the task writes to the host's disk unbounded: the
// metadata endpoint then says so in its Errors.

// defaultEphemeralGiB is Fargate's ephemeral storage of a task that does
// not ask for more, and fargo's for tasks of the EC2 launch type.
const defaultEphemeralGiB = 20

// ephemeralBytes is the size of the task's ephemeral storage.
func (r *runner) ephemeralBytes() int64 {
	gib := r.task.EphemeralStorageGiB
	if gib <= 0 {
		gib = defaultEphemeralGiB
	}
	return int64(gib) << 30
}

// storageAttach is an Attach under way: wait returns its outcome (the
// same on every call).
type storageAttach struct {
	once sync.Once
	done chan error
	err  error
}

func (s *storageAttach) wait() error {
	s.once.Do(func() { s.err = <-s.done })
	return s.err
}

// attachStorage starts giving the task its filesystem.
func (r *runner) attachStorage(ctx context.Context) *storageAttach {
	s := &storageAttach{done: make(chan error, 1)}
	st := r.a.deps.Storage
	if st == nil {
		s.done <- nil
		return s
	}
	size := r.ephemeralBytes()
	go func() {
		err := st.Attach(ctx, r.ref.ID, r.dir, size)
		switch {
		case err == nil:
			r.bounded.Store(true)
		case errors.Is(err, ErrNotEnforced):
			r.log.Warn("the task's ephemeral storage is not bounded", "err", err)
			err = nil
		default:
			r.log.Warn("ephemeral storage", "err", err)
		}
		s.done <- err
	}()
	return s
}

// scratchDir is where the container's writable layer goes: on the task's
// filesystem when it has one, else ("") in the image store.
func (r *runner) scratchDir(container string) string {
	if !r.bounded.Load() {
		return ""
	}
	return filepath.Join(r.dir, "containers", container)
}
