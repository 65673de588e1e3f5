package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// GCResult says what a GC removed.
type GCResult struct {
	Images []string // digests of removed image records
	Layers []string // diffIDs of removed layer directories
}

// GC forgets every image whose digest keep rejects, then removes the
// unpacked layers that no remaining image and no container on disk uses.
// A nil keep keeps every image and only removes orphaned layers.
//
// Layers are first renamed into layers/tmp, so an interrupted GC never
// leaves a half-deleted layer that looks complete; New finishes the job.
func (s *Store) GC(ctx context.Context, keep func(digest string) bool) (GCResult, error) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	var res GCResult

	imgs, err := s.records()
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	used := map[string]bool{} // layer hex
	for _, img := range imgs {
		if keep != nil && !keep(img.Digest) {
			hex, err := digestHex(img.Digest)
			if err != nil {
				continue
			}
			if err := os.Remove(filepath.Join(s.recordDir(), hex+".json")); err != nil && !os.IsNotExist(err) {
				return res, fmt.Errorf("gc: %w", err)
			}
			res.Images = append(res.Images, img.Digest)
			continue
		}
		for _, l := range img.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	// Containers on disk pin their layers even if their image was dropped.
	if err := s.containerLayers(used); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}

	ents, err := os.ReadDir(s.layersDir())
	if err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if used[e.Name()] {
			continue
		}
		victim, err := os.MkdirTemp(s.tmpDir(), "gc-")
		if err != nil {
			return res, fmt.Errorf("gc: %w", err)
		}
		dst := filepath.Join(victim, "layer")
		if err := os.Rename(filepath.Join(s.layersDir(), e.Name()), dst); err != nil {
			os.Remove(victim)
			return res, fmt.Errorf("gc: %w", err)
		}
		if err := os.RemoveAll(victim); err != nil {
			return res, fmt.Errorf("gc: %w", err)
		}
		res.Layers = append(res.Layers, "sha256:"+e.Name())
	}
	s.log.Info("image gc", "images", len(res.Images), "layers", len(res.Layers))
	return res, nil
}

// containerLayers adds to used the layers every container's l/ links to.
func (s *Store) containerLayers(used map[string]bool) error {
	ents, err := os.ReadDir(s.containersDir())
	if err != nil {
		return err
	}
	for _, c := range ents {
		ldir := filepath.Join(s.containersDir(), c.Name(), "l")
		links, err := os.ReadDir(ldir)
		if err != nil {
			continue // not (yet) mounted through us
		}
		for _, l := range links {
			target, err := os.Readlink(filepath.Join(ldir, l.Name()))
			if err != nil {
				continue
			}
			used[filepath.Base(target)] = true
		}
	}
	return nil
}
