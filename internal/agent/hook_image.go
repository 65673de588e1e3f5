package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
)

// The image hook: each container's image (Deps.Images) and its root
// filesystem.
//
//	provision           the pulls begin (prefetch): they go on while the
//	                    task's network and storage are made and its PENDING
//	                    is reported
//	prestart            every image pulled (PENDING): the prefetched pulls
//	                    are taken here, so that a pull's outcome is reported,
//	                    and fails the task, here; it (times, digests to
//	                    record) rides with the next report. A re-adopted
//	                    container needs no pull: its root filesystem is on
//	                    layers already on disk, and its recorded digest never
//	                    changes. A container to start again is pulled by its
//	                    recorded digest, if any (the tag may have moved or
//	                    gone).
//	prestartContainer   the container's root filesystem mounted
//	cleanup             the pulls nobody took cancelled (a start that
//	                    failed first), the root filesystems unmounted
type imageHook struct {
	images   map[string]*image.Image // by container name
	prefetch *prefetch               // pulls begun in provision, by reference
}

// prefetch is the image pulls begun in provision, ahead of prestart.
type prefetch struct {
	started time.Time
	cancel  context.CancelFunc
	pulls   map[string]*prefetched // by the reference pullImages asks for
}

type prefetched struct {
	done chan struct{}
	img  *image.Image
	err  error
}

// provision begins pulling the image of every container the task will
// start (not those a previous agent started: their rules are
// pullImages'), each by the reference pullImages will ask for.
func (h *imageHook) provision(ctx context.Context, r *runner) (func() error, error) {
	if r.stopRequested() {
		return nil, nil // only re-adopted containers: nothing will start
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetch{started: time.Now(), cancel: cancel, pulls: map[string]*prefetched{}}
	for i := range r.td.ContainerDefinitions {
		cd := &r.td.ContainerDefinitions[i]
		if r.started[cd.Name] {
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
		scope, images := r.ref.Scope, r.a.deps.Images
		go func() {
			defer close(f.done)
			f.img, f.err = images.Pull(ctx, scope, ref)
		}()
	}
	h.prefetch = p
	return nil, nil
}

// pull is Images.Pull, answered by the prefetch when it pulled ref.
func (h *imageHook) pull(ctx context.Context, r *runner, ref string) (*image.Image, error) {
	if p := h.prefetch; p != nil {
		if f, ok := p.pulls[ref]; ok {
			delete(p.pulls, ref) // a second container of the image pulls again, as without the prefetch
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

// endPrefetch cancels the pulls nobody took.
func (h *imageHook) endPrefetch() {
	if h.prefetch != nil {
		h.prefetch.cancel()
		h.prefetch = nil
	}
}

func (h *imageHook) prestart(ctx context.Context, r *runner) error {
	defer h.endPrefetch()
	h.images = map[string]*image.Image{}
	start := time.Now()
	pulled, err := h.pullImages(ctx, r)
	r.a.observe(StepPull, start)
	if err != nil {
		return err
	}
	r.hold(pulled)
	return nil
}

func (h *imageHook) prestartContainer(ctx context.Context, r *runner, c *specInput) error {
	img := h.images[c.cd.Name]
	rootfs, err := r.a.deps.Images.MountScratch(ctx, img, runtime.ContainerID(r.ref.ID, c.cd.Name), r.scratchDir(c.cd.Name))
	if err != nil {
		return failedToStart("ResourceInitializationError: failed to mount the container's filesystem", err)
	}
	c.image, c.rootfs = img.Config, rootfs
	return nil
}

func (h *imageHook) cleanup(ctx context.Context, r *runner) bool {
	h.endPrefetch()
	for _, cd := range r.td.ContainerDefinitions {
		if err := r.a.deps.Images.Unmount(ctx, runtime.ContainerID(r.ref.ID, cd.Name)); err != nil {
			r.log.Warn("unmount rootfs", "container", cd.Name, "err", err)
		}
	}
	return true
}

// recordedDigest is the image digest the task's record holds for a
// container, "" before its first pull.
func (r *runner) recordedDigest(name string) string {
	if c := r.task.Container(name); c != nil {
		return c.ImageDigest
	}
	return ""
}

// pullImages makes every container's image available and returns the
// state change that reports the pull (digests not recorded yet). It
// pulls nothing for containers that exist already, nor, when the task is
// to stop, for those that do not.
func (h *imageHook) pullImages(ctx context.Context, r *runner) (node.TaskStateChange, error) {
	pullStart := time.Now()
	if h.prefetch != nil {
		pullStart = h.prefetch.started // the pulls began then
	}
	var digests []node.ContainerStateChange
	for i := range r.td.ContainerDefinitions {
		cd := &r.td.ContainerDefinitions[i]
		recorded := r.recordedDigest(cd.Name)
		adopted := r.started[cd.Name]
		if !adopted && r.stopRequested() {
			continue // it will not start: the re-adopted rest is being stopped
		}
		if adopted && recorded != "" {
			h.images[cd.Name] = &image.Image{Ref: cd.Image, Digest: recorded}
			continue
		}
		ref := cd.Image
		if recorded != "" {
			ref = pinDigest(cd.Image, recorded)
		}
		img, err := h.pull(ctx, r, ref)
		if adopted && err != nil {
			// Its digest was never recorded, and the image is gone: the
			// container runs all the same.
			r.log.Warn("image of a re-adopted container", "container", cd.Name, "err", err)
			h.images[cd.Name] = &image.Image{Ref: cd.Image}
			continue
		}
		if err != nil {
			reason := r.a.publicReason(fmt.Sprintf("CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref %s: ", ref), err)
			r.report(ctx, node.TaskStateChange{PullStarted: pullStart, PullStopped: time.Now(),
				Containers: []node.ContainerStateChange{{Name: cd.Name, Reason: reason}}})
			return node.TaskStateChange{}, failedToStart(reason, err)
		}
		h.images[cd.Name] = img
		if recorded == "" {
			digests = append(digests, node.ContainerStateChange{Name: cd.Name, ImageDigest: img.Digest})
		}
	}
	return node.TaskStateChange{PullStarted: pullStart, PullStopped: time.Now(), Containers: digests}, nil
}

// pinDigest turns an image reference into one by digest: its tag (or
// digest) replaced by digest.
func pinDigest(ref, digest string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i] // a tag, not a registry's port
	}
	return ref + "@" + digest
}
