package agent

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Out of file descriptors (EMFILE, ENFILE), of memory or of some other
// kernel resource for a moment, the runtime cannot tell how a container
// is: that is no verdict about the container. The agent retries with a
// back-off instead of concluding that it exited or failed to start (issue
// 17: a task flooded the metadata endpoint, and another account's healthy
// task was reported as exited).

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
		if err == nil || !errdefs.IsTransient(err) {
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
