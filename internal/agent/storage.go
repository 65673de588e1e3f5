package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
)

// The storage hook: a task's ephemeral storage (Deps.Storage). Its state
// directory is a filesystem of the task's size, holding
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
//
//	provision   Attach, while the other hooks provision
//	cleanup     Detach, then the task's directory goes (last of all)

// defaultEphemeralGiB is Fargate's ephemeral storage of a task that does
// not ask for more, and fargo's for tasks of the EC2 launch type.
const defaultEphemeralGiB = 20

type storageHook struct {
	// bounded: the task's directory is a filesystem of the task's
	// ephemeral storage size. Read by the metadata endpoint.
	bounded atomic.Bool
}

// ephemeralBytes is the size of the task's ephemeral storage.
func (r *runner) ephemeralBytes() int64 {
	gib := r.task.EphemeralStorageGiB
	if gib <= 0 {
		gib = defaultEphemeralGiB
	}
	return int64(gib) << 30
}

// provision starts giving the task its filesystem; nothing is written to
// the task's directory before it is awaited.
func (h *storageHook) provision(ctx context.Context, r *runner) (func() error, error) {
	st := r.a.deps.Storage
	if st == nil {
		return nil, nil
	}
	size := r.ephemeralBytes()
	done := make(chan error, 1)
	go func() {
		err := st.Attach(ctx, r.ref.ID, r.dir, size)
		switch {
		case err == nil:
			h.bounded.Store(true)
		case errors.Is(err, ErrNotEnforced):
			r.log.Warn("the task's ephemeral storage is not bounded", "err", err)
			err = nil
		default:
			r.log.Warn("ephemeral storage", "err", err)
		}
		done <- err
	}()
	return func() error {
		if err := <-done; err != nil {
			return failedToStart("ResourceInitializationError: failed to set up the task's ephemeral storage", err)
		}
		return nil
	}, nil
}

func (h *storageHook) cleanup(ctx context.Context, r *runner) bool {
	if st := r.a.deps.Storage; st != nil {
		if err := st.Detach(ctx, r.ref.ID, r.dir); err != nil {
			r.log.Warn("remove the task's ephemeral storage", "err", err)
			return false // never remove through a mount
		}
	}
	if err := os.RemoveAll(r.dir); err != nil {
		r.log.Warn("remove task dir", "err", err)
	}
	return true
}

// scratchDir is where the container's writable layer goes: on the task's
// filesystem when it has one, else ("") in the image store.
func (r *runner) scratchDir(container string) string {
	if !r.h.storage.bounded.Load() {
		return ""
	}
	return filepath.Join(r.dir, "containers", container)
}
