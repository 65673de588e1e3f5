package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/store"
)

// GCStats reports what a garbage collection removed.
type GCStats struct {
	BlobsDeleted   int
	BytesFreed     int64
	LinksDeleted   int
	UploadsDeleted int
}

type gcCandidate struct {
	account, digest, path string
	size                  int64
}

// CollectGarbage deletes blob files that no image of their account
// references, and upload sessions not written to for Config.UploadMaxAge.
//
// It is safe beside concurrent pushes:
//
//	sweep candidates   walk DataDir/blobs without locks; only files older than
//	                   start-GCGracePeriod qualify (a push in flight uploads its
//	                   layers before its manifest; re-pushing an existing blob
//	                   refreshes its mtime)
//	mark + unlink      under gcMu (exclusive), in ONE store transaction: read
//	                   every image and link of the store, keep candidates an
//	                   image references or a link younger than the grace period
//	                   names, delete the links of the rest
//	delete files       still under gcMu, so no upload commit, mount or manifest
//	                   put (they hold gcMu shared from "file exists" to "link
//	                   written") can gain a reference to a file being deleted
//
// gcMu is in-process: a fleet sharing one blob directory needs one collector.
func (r *Registry) CollectGarbage(ctx context.Context) (GCStats, error) {
	var stats GCStats
	start := r.now()
	cutoff := start.Add(-r.cfg.GCGracePeriod)
	cands, err := r.blobCandidates(cutoff)
	if err != nil {
		return stats, err
	}
	if len(cands) > 0 {
		if err := r.sweepBlobs(ctx, cands, cutoff, &stats); err != nil {
			return stats, err
		}
	}
	if err := r.sweepUploads(ctx, start.Add(-r.cfg.UploadMaxAge), &stats); err != nil {
		return stats, err
	}
	r.log.InfoContext(ctx, "registry garbage collected", "blobs", stats.BlobsDeleted, "bytes", stats.BytesFreed,
		"links", stats.LinksDeleted, "uploads", stats.UploadsDeleted)
	return stats, nil
}

// blobCandidates lists the blob files older than cutoff:
// blobs/<account>/<algo>/<ab>/<hex>.
func (r *Registry) blobCandidates(cutoff time.Time) ([]gcCandidate, error) {
	var out []gcCandidate
	err := filepath.WalkDir(r.blobsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(r.blobsDir, path)
		if err != nil {
			return err
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 4 {
			return nil
		}
		digest := parts[1] + ":" + parts[3]
		if ValidateDigest(digest) != nil || !strings.HasPrefix(parts[3], parts[2]) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // deleted meanwhile
		}
		if info.ModTime().Before(cutoff) {
			out = append(out, gcCandidate{account: parts[0], digest: digest, path: path, size: info.Size()})
		}
		return nil
	})
	return out, err
}

// storeKey splits "ecr/<account>/<region>/<kind>/<rest>".
func storeKey(key string) (account, kind, rest string, ok bool) {
	parts := strings.SplitN(key, "/", 5)
	if len(parts) != 5 || parts[0] != "ecr" {
		return "", "", "", false
	}
	return parts[1], parts[3], parts[4], true
}

func (r *Registry) sweepBlobs(ctx context.Context, cands []gcCandidate, cutoff time.Time, stats *GCStats) error {
	r.gcMu.Lock()
	defer r.gcMu.Unlock()
	var doomed []gcCandidate
	var links int
	_, err := r.st.Update(ctx, func(tx store.Tx) error {
		doomed, links = nil, 0
		kvs, err := tx.List("ecr/")
		if err != nil {
			return err
		}
		keep := map[string]bool{} // account + " " + digest
		var linkKeys []store.KV
		for _, kv := range kvs {
			account, kind, _, ok := storeKey(kv.Key)
			if !ok {
				continue
			}
			switch kind {
			case "images":
				var img Image
				if err := json.Unmarshal(kv.Value, &img); err != nil {
					return err // never collect on a store we cannot read
				}
				keep[account+" "+img.Digest] = true
				if img.Config != nil {
					keep[account+" "+img.Config.Digest] = true
				}
				for _, d := range append(append([]Descriptor(nil), img.Layers...), img.Manifests...) {
					keep[account+" "+d.Digest] = true
				}
			case "blobs":
				var l blobLink
				if err := json.Unmarshal(kv.Value, &l); err != nil {
					return err
				}
				if l.LinkedAt.After(cutoff) {
					keep[account+" "+lastSegment(kv.Key)] = true
				}
				linkKeys = append(linkKeys, kv)
			}
		}
		gone := map[string]bool{}
		for _, c := range cands {
			if !keep[c.account+" "+c.digest] {
				doomed = append(doomed, c)
				gone[c.account+" "+c.digest] = true
			}
		}
		for _, kv := range linkKeys {
			account, _, _, _ := storeKey(kv.Key)
			if gone[account+" "+lastSegment(kv.Key)] {
				if err := tx.Delete(kv.Key); err != nil {
					return err
				}
				links++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	stats.LinksDeleted += links
	dirs := map[string]bool{}
	for _, c := range doomed {
		if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		stats.BlobsDeleted++
		stats.BytesFreed += c.size
		dirs[filepath.Dir(c.path)] = true
		r.log.DebugContext(ctx, "blob collected", "account", c.account, "digest", c.digest)
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// sweepUploads removes upload sessions (record, file and hash state) and
// stray temp files whose data was last written before cutoff.
func (r *Registry) sweepUploads(ctx context.Context, cutoff time.Time, stats *GCStats) error {
	kvs, err := r.st.List(ctx, "ecr/")
	if err != nil {
		return err
	}
	sessions := map[string]string{} // id -> store key
	for _, kv := range kvs {
		if _, kind, rest, ok := storeKey(kv.Key); ok && kind == "uploads" {
			sessions[rest] = kv.Key
		}
	}
	entries, err := os.ReadDir(r.uploadsDir)
	if err != nil {
		return err
	}
	onDisk := map[string]bool{}
	var states []os.DirEntry // hash states, handled with their session
	for _, e := range entries {
		id := e.Name()
		if _, ok := hashStateOwner(id); ok {
			states = append(states, e)
			continue
		}
		onDisk[id] = true
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		dropped, err := r.dropUpload(ctx, id, sessions[id], cutoff)
		if err != nil {
			return err
		}
		if _, ok := sessions[id]; ok && dropped {
			stats.UploadsDeleted++
		}
	}
	// Hash states whose session file is gone (crash after the commit or
	// the cancel, before the state's removal).
	for _, e := range states {
		id, _ := hashStateOwner(e.Name())
		if info, err := e.Info(); onDisk[id] || err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		r.dropOrphanHashState(id)
	}
	// Records whose file is gone (crash between the two deletions).
	for id, key := range sessions {
		if onDisk[id] {
			continue
		}
		dropped, err := r.dropOrphanRecord(ctx, id, key)
		if err != nil {
			return err
		}
		if dropped {
			stats.UploadsDeleted++
		}
	}
	return nil
}

// dropOrphanHashState removes the hash state of a session whose file is
// gone (checked again under the session lock).
func (r *Registry) dropOrphanHashState(id string) {
	unlock := r.lockUpload(id)
	defer unlock()
	defer r.uploadLocks.Delete(id)
	if _, err := os.Stat(r.uploadPath(id)); errors.Is(err, fs.ErrNotExist) {
		r.dropHashState(id)
	}
}

// dropOrphanRecord deletes an upload record whose file is gone, unless the
// session completed or was cancelled meanwhile (then the record is gone too).
func (r *Registry) dropOrphanRecord(ctx context.Context, id, key string) (bool, error) {
	unlock := r.lockUpload(id)
	defer unlock()
	if _, err := os.Stat(r.uploadPath(id)); err == nil {
		return false, nil
	}
	if _, err := r.st.Get(ctx, key); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	_, err := r.st.Delete(ctx, key)
	return err == nil, err
}

func (r *Registry) dropUpload(ctx context.Context, id, key string, cutoff time.Time) (bool, error) {
	unlock := r.lockUpload(id)
	defer unlock()
	defer r.uploadLocks.Delete(id)
	path := r.uploadPath(id)
	// Re-check under the session lock: a chunk may just have arrived.
	if info, err := os.Stat(path); err != nil || !info.ModTime().Before(cutoff) {
		return false, nil
	}
	if key != "" {
		if _, err := r.st.Delete(ctx, key); err != nil {
			return false, err
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	r.dropHashState(id)
	return true, nil
}
