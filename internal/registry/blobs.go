package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// BlobInfo describes a blob.
type BlobInfo struct {
	Digest string
	Size   int64
}

// blobLink is stored under ecr/<account>/<region>/blobs/<repo>/<digest>: the
// blob is pullable from the repository.
type blobLink struct {
	Size     int64     `json:"size"`
	LinkedAt time.Time `json:"linkedAt"`
}

// blobPath is DataDir/blobs/<account>/<algo>/<hex[:2]>/<hex>. digest must
// have been validated.
func (r *Registry) blobPath(account, digest string) string {
	algo, hexPart, _ := parseDigest(digest)
	return filepath.Join(r.blobsDir, account, algo.name, hexPart[:2], hexPart)
}

// commitBlobFile moves the verified, fsync'd file src into the content store
// as digest, making it durable: rename, then fsync of the directory (and of
// any directory created on the way). If the blob is already present src is
// dropped and the existing file's mtime refreshed, so the GC grace period
// counts from this push. Callers hold gcMu shared.
func (r *Registry) commitBlobFile(account, digest, src string) error {
	dst := r.blobPath(account, digest)
	if _, err := os.Stat(dst); err == nil {
		now := r.now()
		_ = os.Remove(src)
		return os.Chtimes(dst, now, now)
	}
	if err := mkdirAllSync(filepath.Dir(dst)); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("registry: commit blob: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}

// writeBlobBytes stores b as digest (already computed from b).
func (r *Registry) writeBlobBytes(account, digest string, b []byte) error {
	f, err := os.CreateTemp(r.uploadsDir, "put-*")
	if err != nil {
		return err
	}
	name := f.Name()
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.commitBlobFile(account, digest, name)
	}
	if err != nil {
		_ = os.Remove(name)
	}
	return err
}

// mkdirAllSync creates dir and its missing parents, fsyncing the parent of
// each directory it creates so the new entries survive a crash.
func mkdirAllSync(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func blobNotFound(digest string) error {
	return errdefs.Newf(ErrBlobNotFound, "The layer with digest '%s' does not exist in the repository", digest)
}

// checkBlobArgs validates the repository name and digest.
func checkBlobArgs(repo, digest string) error {
	if err := ValidateRepositoryName(repo); err != nil {
		return err
	}
	return ValidateDigest(digest)
}

// StatBlob reports a blob linked into repo. Errors: ErrNameInvalid,
// ErrDigestInvalid, ErrRepositoryNotFound, ErrBlobNotFound.
func (r *Registry) StatBlob(ctx context.Context, scope tenant.Scope, repo, digest string) (BlobInfo, error) {
	if err := checkBlobArgs(repo, digest); err != nil {
		return BlobInfo{}, err
	}
	err := r.st.View(ctx, func(tx store.ReadTx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		_, err := getLink(tx, scope, repo, digest)
		return err
	})
	if err != nil {
		return BlobInfo{}, err
	}
	fi, err := os.Stat(r.blobPath(scope.Account, digest))
	if err != nil {
		// Linked but missing on disk: report it as absent so the client
		// pushes it again, and log the inconsistency.
		r.log.WarnContext(ctx, "linked blob missing on disk", "repository", repo, "digest", digest, "error", err)
		return BlobInfo{}, blobNotFound(digest)
	}
	return BlobInfo{Digest: digest, Size: fi.Size()}, nil
}

func getLink(tx store.ReadTx, scope tenant.Scope, repo, digest string) (blobLink, error) {
	kv, err := tx.Get(linkKey(scope, repo, digest))
	if errors.Is(err, store.ErrNotFound) {
		return blobLink{}, blobNotFound(digest)
	}
	if err != nil {
		return blobLink{}, err
	}
	var l blobLink
	if err := json.Unmarshal(kv.Value, &l); err != nil {
		return blobLink{}, fmt.Errorf("registry: decode %s: %w", kv.Key, err)
	}
	return l, nil
}

func putLink(tx store.Tx, scope tenant.Scope, repo, digest string, size int64, now time.Time) error {
	val, err := json.Marshal(blobLink{Size: size, LinkedAt: now.UTC()})
	if err != nil {
		return err
	}
	return tx.Put(linkKey(scope, repo, digest), val)
}

// OpenBlob opens a blob linked into repo for reading; the reader seeks, so
// callers serve byte ranges from it (http.ServeContent). The caller closes
// it. Errors: as StatBlob.
func (r *Registry) OpenBlob(ctx context.Context, scope tenant.Scope, repo, digest string) (io.ReadSeekCloser, BlobInfo, error) {
	info, err := r.StatBlob(ctx, scope, repo, digest)
	if err != nil {
		return nil, BlobInfo{}, err
	}
	f, err := os.Open(r.blobPath(scope.Account, digest))
	if err != nil {
		return nil, BlobInfo{}, blobNotFound(digest)
	}
	return f, info, nil
}

// MountBlob links a blob of repository from into repo, both in scope (the
// same account and region), without copying it. Errors: ErrNameInvalid,
// ErrDigestInvalid, ErrRepositoryNotFound (either repository),
// ErrBlobNotFound (not in from).
func (r *Registry) MountBlob(ctx context.Context, scope tenant.Scope, repo, from, digest string) (BlobInfo, error) {
	if err := checkBlobArgs(repo, digest); err != nil {
		return BlobInfo{}, err
	}
	if err := ValidateRepositoryName(from); err != nil {
		return BlobInfo{}, err
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	fi, err := os.Stat(r.blobPath(scope.Account, digest))
	if err != nil {
		return BlobInfo{}, blobNotFound(digest)
	}
	now := r.now()
	_, err = r.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		if _, err := getRepo(tx, scope, from); err != nil {
			return err
		}
		if _, err := getLink(tx, scope, from, digest); err != nil {
			return err
		}
		return putLink(tx, scope, repo, digest, fi.Size(), now)
	})
	if err != nil {
		return BlobInfo{}, err
	}
	return BlobInfo{Digest: digest, Size: fi.Size()}, nil
}

// MountBlobFromAny links a blob into repo from any repository of scope
// that holds it and that canRead accepts (it returns nil, or an
// errdefs.ErrPermissionDenied error to pass the repository over; the HTTP
// layer checks the caller's layer download right, so a mount never shows a
// blob the caller could not pull). Candidates are tried in name order. It
// is an anonymous mount: POST ?mount= without from. Errors: ErrNameInvalid,
// ErrDigestInvalid, ErrRepositoryNotFound (repo), ErrBlobNotFound (no
// readable repository holds it).
func (r *Registry) MountBlobFromAny(ctx context.Context, scope tenant.Scope, repo, digest string, canRead func(from string) error) (BlobInfo, error) {
	if err := checkBlobArgs(repo, digest); err != nil {
		return BlobInfo{}, err
	}
	var holders []string
	err := r.st.View(ctx, func(tx store.ReadTx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		prefix := scope.KeyPrefix("ecr") + "repos/"
		kvs, err := tx.List(prefix)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			name := strings.TrimPrefix(kv.Key, prefix)
			if _, err := tx.Get(linkKey(scope, name, digest)); err == nil {
				holders = append(holders, name)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return BlobInfo{}, err
	}
	sort.Strings(holders)
	for _, from := range holders {
		if err := canRead(from); errors.Is(err, errdefs.ErrPermissionDenied) {
			continue
		} else if err != nil {
			return BlobInfo{}, err
		}
		info, err := r.MountBlob(ctx, scope, repo, from, digest)
		if errors.Is(err, ErrBlobNotFound) || errors.Is(err, ErrRepositoryNotFound) {
			continue // unlinked or deleted since: try the next one
		}
		return info, err
	}
	return BlobInfo{}, blobNotFound(digest)
}

// DeleteBlob unlinks a blob from repo (the file goes at the next garbage
// collection if nothing else uses it). A blob that an image of the
// repository uses cannot be unlinked. Errors: ErrNameInvalid,
// ErrDigestInvalid, ErrRepositoryNotFound, ErrBlobNotFound, ErrBlobInUse.
func (r *Registry) DeleteBlob(ctx context.Context, scope tenant.Scope, repo, digest string) error {
	if err := checkBlobArgs(repo, digest); err != nil {
		return err
	}
	_, err := r.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		if _, err := getLink(tx, scope, repo, digest); err != nil {
			return err
		}
		images, err := listImages(tx, scope, repo)
		if err != nil {
			return err
		}
		for _, img := range images {
			for _, d := range img.blobDigests() {
				if d == digest {
					return errdefs.Newf(ErrBlobInUse, "The blob '%s' is used by image '%s' and cannot be deleted", digest, img.Digest)
				}
			}
		}
		return tx.Delete(linkKey(scope, repo, digest))
	})
	return err
}
