package agent

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"time"
)

// Out of file descriptors (EMFILE, ENFILE), of memory or of some other
// kernel resource for a moment, the runtime cannot tell how a container
// is: that is no verdict about the container. The agent retries with a
// back-off instead of concluding that it exited or failed to start (issue
// 17: a task flooded the metadata endpoint, and another account's healthy
// task was reported as exited).
var transientErrnos = []syscall.Errno{
	syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.EAGAIN, syscall.ENOBUFS, syscall.EINTR,
}

// isTransient reports whether err means "could not look now", not an
// answer.
func isTransient(err error) bool {
	for _, e := range transientErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Back-off bounds of retryTransient.
const (
	transientMinBackoff = 50 * time.Millisecond
	transientMaxBackoff = 5 * time.Second
)

// retryTransient calls fn until it returns a result that is not a
// transient error, or ctx ends (then it returns fn's last result or ctx's
// error). It logs the first transient error of a series and its end.
func retryTransient[T any](ctx context.Context, log *slog.Logger, what string, fn func() (T, error)) (T, error) {
	backoff := transientMinBackoff
	failing := false
	for {
		v, err := fn()
		if err == nil || !isTransient(err) {
			if failing {
				log.Info("runtime answers again", "op", what)
			}
			return v, err
		}
		if !failing {
			log.Warn("runtime could not answer; retrying (this is no verdict about the container)", "op", what, "err", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			return v, errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, transientMaxBackoff)
	}
}
