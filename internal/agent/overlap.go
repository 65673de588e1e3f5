package agent

import (
	"context"
	"sync"

	"github.com/fargo-run/fargo/internal/control"
)

// Steps of a task's start that need not wait for one another run
// together, so that a start costs the longest of them, not their sum:
//
//   - the image pulls (prefetch) begin as the runner starts, while the
//     task's network and ephemeral storage are made; pullImages takes
//     their results, so a pull's outcome is reported, and fails the task,
//     exactly where it did;
//   - the PENDING report (a store write and its fsync) is sent in the
//     background (reportAsync) while the images are taken and the task's
//     cgroup and root filesystems are made; every later report, and the
//     first container's spec, wait for it (awaitReport), so the reports
//     stay in order and none is lost.

// prefetch is the image pulls started ahead of pullImages, by reference.
type prefetch struct {
	cancel context.CancelFunc
	pulls  map[string]*prefetched
}

type prefetched struct {
	done chan struct{}
	img  *Image
	err  error
}

// prefetchImages starts pulling the image of every container the task
// will start (not those a previous agent started: adopt's rules apply
// to them), each by the reference pullImages will ask for.
func (r *runner) prefetchImages(ctx context.Context, existing map[string]ContainerState) {
	if r.stopRequested() {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetch{cancel: cancel, pulls: map[string]*prefetched{}}
	for _, cd := range r.td.ContainerDefinitions {
		if _, ok := existing[cd.Name]; ok {
			continue
		}
		ref := cd.Image
		if recorded := r.recordedDigest(cd.Name); recorded != "" {
			ref = pinDigest(cd.Image, recorded)
		}
		if _, ok := p.pulls[ref]; ok {
			continue
		}
		f := &prefetched{done: make(chan struct{})}
		p.pulls[ref] = f
		scope := r.ref.Scope
		go func() {
			defer close(f.done)
			f.img, f.err = r.a.deps.Images.Pull(ctx, scope, ref)
		}()
	}
	r.prefetch = p
}

// pullImage is Images.Pull, answered by the prefetch when it pulled ref.
func (r *runner) pullImage(ctx context.Context, ref string) (*Image, error) {
	if p := r.prefetch; p != nil {
		if f, ok := p.pulls[ref]; ok {
			delete(p.pulls, ref) // a second container of the image pulls again, as before
			select {
			case <-f.done:
				return f.img, f.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return r.a.deps.Images.Pull(ctx, r.ref.Scope, ref)
}

// endPrefetch cancels the pulls nobody took (a start that failed first).
func (r *runner) endPrefetch() {
	if r.prefetch != nil {
		r.prefetch.cancel()
		r.prefetch = nil
	}
}

// asyncReport is a report under way in the background.
type asyncReport struct {
	once sync.Once
	done chan struct{}
	task *control.Task
}

// reportAsync sends a state change in the background; awaitReport (which
// report calls first) waits for it and keeps the task it stored.
func (r *runner) reportAsync(ctx context.Context, ch control.TaskStateChange) {
	r.awaitReport()
	a := &asyncReport{done: make(chan struct{})}
	r.inflight = a
	go func() {
		defer close(a.done)
		a.task = r.send(ctx, ch)
	}()
}

// awaitReport waits for the report under way, if any.
func (r *runner) awaitReport() {
	a := r.inflight
	if a == nil {
		return
	}
	r.inflight = nil
	<-a.done
	if a.task != nil {
		r.mu.Lock()
		r.task = a.task
		r.mu.Unlock()
	}
}
