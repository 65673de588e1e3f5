package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Upload is an in-progress blob upload session.
type Upload struct {
	ID         string    `json:"id"`
	Repository string    `json:"repository"`
	StartedAt  time.Time `json:"startedAt"`
	// Offset is the number of bytes received so far (not stored: it is the
	// size of the upload file).
	Offset int64 `json:"-"`
}

func (r *Registry) uploadPath(id string) string { return filepath.Join(r.uploadsDir, id) }

func newUploadID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// validUploadID keeps ids to what newUploadID makes, so an id from a URL can
// never name another path.
func validUploadID(id string) bool { return len(id) == 32 && isLowerHex(id) }

func uploadNotFound(id string) error {
	return errdefs.Newf(ErrUploadNotFound, "Upload '%s' does not exist or has expired", truncate(id, 64))
}

func (r *Registry) lockUpload(id string) func() {
	m, _ := r.uploadLocks.LoadOrStore(id, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// StartUpload opens an upload session in repo. Errors: ErrNameInvalid,
// ErrRepositoryNotFound.
func (r *Registry) StartUpload(ctx context.Context, scope tenant.Scope, repo string) (Upload, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return Upload{}, err
	}
	id, err := newUploadID()
	if err != nil {
		return Upload{}, err
	}
	up := Upload{ID: id, Repository: repo, StartedAt: r.now().UTC()}
	val, err := json.Marshal(up)
	if err != nil {
		return Upload{}, err
	}
	// The file first: a crash before the record leaves an orphan file that
	// GC removes by age; the reverse would leave a session without data.
	f, err := os.OpenFile(r.uploadPath(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return Upload{}, err
	}
	f.Close()
	_, err = r.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		return tx.Put(uploadKey(scope, id), val)
	})
	if err != nil {
		os.Remove(r.uploadPath(id))
		return Upload{}, err
	}
	return up, nil
}

// getUpload reads the session and its offset; callers hold its lock.
func (r *Registry) getUpload(ctx context.Context, scope tenant.Scope, repo, id string) (Upload, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return Upload{}, err
	}
	if !validUploadID(id) {
		return Upload{}, uploadNotFound(id)
	}
	kv, err := r.st.Get(ctx, uploadKey(scope, id))
	if errors.Is(err, store.ErrNotFound) {
		return Upload{}, uploadNotFound(id)
	}
	if err != nil {
		return Upload{}, err
	}
	var up Upload
	if err := json.Unmarshal(kv.Value, &up); err != nil {
		return Upload{}, fmt.Errorf("registry: decode %s: %w", kv.Key, err)
	}
	if up.Repository != repo {
		return Upload{}, uploadNotFound(id)
	}
	fi, err := os.Stat(r.uploadPath(id))
	if err != nil {
		return Upload{}, uploadNotFound(id)
	}
	up.Offset = fi.Size()
	return up, nil
}

// UploadStatus returns the session with its current offset. Errors:
// ErrNameInvalid, ErrUploadNotFound.
func (r *Registry) UploadStatus(ctx context.Context, scope tenant.Scope, repo, id string) (Upload, error) {
	unlock := r.lockUpload(id)
	defer unlock()
	return r.getUpload(ctx, scope, repo, id)
}

// AppendUpload appends the bytes of body to the session. offset is where the
// chunk starts, or -1 to append wherever the upload is (streamed uploads); a
// chunk that does not start at the current offset fails with a *RangeError
// (ErrUploadRange) and changes nothing. A chunk that fails midway (client
// gone) is rolled back, so the upload only ever grows by whole chunks.
// Errors: ErrNameInvalid, ErrUploadNotFound, ErrUploadRange.
func (r *Registry) AppendUpload(ctx context.Context, scope tenant.Scope, repo, id string, offset int64, body io.Reader) (Upload, error) {
	unlock := r.lockUpload(id)
	defer unlock()
	up, err := r.getUpload(ctx, scope, repo, id)
	if err != nil {
		return Upload{}, err
	}
	if offset >= 0 && offset != up.Offset {
		return up, &RangeError{Offset: up.Offset}
	}
	h, err := r.resumeHash(id, streamAlgo, up.Offset)
	if err != nil {
		return up, err
	}
	n, err := appendFile(r.uploadPath(id), up.Offset, body, h)
	if err != nil {
		return up, err
	}
	up.Offset += n
	if err := r.saveHashState(id, streamAlgo, h, up.Offset); err != nil {
		// The old state, if any, still covers a prefix: the next
		// request re-reads the rest.
		r.log.WarnContext(ctx, "upload hash state not saved", "upload", id, "error", err)
	}
	return up, nil
}

// appendFile writes body at offset of path, hashing it into h; on error it
// truncates the file back to offset (h is then to be discarded).
func appendFile(path string, offset int64, body io.Reader, h hash.Hash) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := writeHashed(f, offset, body, h)
	if err != nil {
		_ = f.Truncate(offset)
		return 0, fmt.Errorf("registry: upload interrupted: %w", err)
	}
	return n, nil
}

// CompleteUpload verifies that the session's content has the given digest
// (hashed as it streamed in, see upload_hash.go; re-read only where that
// cannot be trusted) and makes it a blob of repo: the upload file is fsync'd, renamed into the
// content store, the directory fsync'd, and then the link written and the
// session removed in one transaction. On a digest mismatch the session stays
// as it was. Errors: ErrNameInvalid, ErrDigestInvalid, ErrUploadNotFound,
// ErrRepositoryNotFound.
func (r *Registry) CompleteUpload(ctx context.Context, scope tenant.Scope, repo, id, digest string) (BlobInfo, error) {
	algo, want, err := parseDigest(digest)
	if err != nil {
		return BlobInfo{}, err
	}
	unlock := r.lockUpload(id)
	defer unlock()
	up, err := r.getUpload(ctx, scope, repo, id)
	if err != nil {
		return BlobInfo{}, err
	}
	h, err := r.resumeHash(id, algo, up.Offset)
	if err != nil {
		return BlobInfo{}, err
	}
	if err := checkDigest(digest, algo, want, h); err != nil {
		return BlobInfo{}, err
	}
	path := r.uploadPath(id)
	if err := syncFile(path); err != nil {
		return BlobInfo{}, err
	}
	info := BlobInfo{Digest: digest, Size: up.Offset}
	if err := r.commitAndLink(ctx, scope, repo, path, info, uploadKey(scope, id)); err != nil {
		return BlobInfo{}, err
	}
	r.dropHashState(id)
	r.uploadLocks.Delete(id)
	return info, nil
}

// checkDigest compares the sum of h with want, the hex of digest.
func checkDigest(digest string, algo digestAlgo, want string, h hash.Hash) error {
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return errdefs.Newf(ErrDigestInvalid, "The provided digest '%s' does not match the digest of the uploaded content '%s:%s'", digest, algo.name, got)
	}
	return nil
}

// syncFile makes the file's data durable: most of it is already on its way
// (writeHashed started the writeback), so this mostly waits for the tail.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// commitAndLink moves the verified file into the content store and links it
// into repo, deleting dropKey (the upload session) in the same transaction.
func (r *Registry) commitAndLink(ctx context.Context, scope tenant.Scope, repo, path string, info BlobInfo, dropKey string) error {
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	if err := r.commitBlobFile(scope.Account, info.Digest, path); err != nil {
		return err
	}
	now := r.now()
	_, err := r.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		if dropKey != "" {
			if err := tx.Delete(dropKey); err != nil {
				return err
			}
		}
		return putLink(tx, scope, repo, info.Digest, info.Size, now)
	})
	return err
}

// CancelUpload discards the session and its data. Errors: ErrNameInvalid,
// ErrUploadNotFound.
func (r *Registry) CancelUpload(ctx context.Context, scope tenant.Scope, repo, id string) error {
	unlock := r.lockUpload(id)
	defer unlock()
	if _, err := r.getUpload(ctx, scope, repo, id); err != nil {
		return err
	}
	if _, err := r.st.Update(ctx, func(tx store.Tx) error { return tx.Delete(uploadKey(scope, id)) }); err != nil {
		return err
	}
	r.uploadLocks.Delete(id)
	r.dropHashState(id)
	return os.Remove(r.uploadPath(id))
}

// PutBlob stores body as a blob of repo in one go (a monolithic upload),
// verifying digest. If size >= 0 the body must be exactly that long
// (ErrSizeInvalid otherwise). Errors: ErrNameInvalid, ErrDigestInvalid,
// ErrSizeInvalid, ErrRepositoryNotFound.
func (r *Registry) PutBlob(ctx context.Context, scope tenant.Scope, repo, digest string, size int64, body io.Reader) (BlobInfo, error) {
	if err := checkBlobArgs(repo, digest); err != nil {
		return BlobInfo{}, err
	}
	if _, err := r.GetRepository(ctx, scope, repo); err != nil {
		return BlobInfo{}, err
	}
	algo, want, err := parseDigest(digest)
	if err != nil {
		return BlobInfo{}, err
	}
	f, err := os.CreateTemp(r.uploadsDir, "put-*")
	if err != nil {
		return BlobInfo{}, err
	}
	path := f.Name()
	h := algo.newFn()
	n, err := writeHashed(f, 0, body, h)
	if err == nil && size >= 0 && n != size {
		err = errdefs.Newf(ErrSizeInvalid, "The blob is %d bytes long but its declared length is %d", n, size)
	}
	if err == nil {
		err = checkDigest(digest, algo, want, h)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	info := BlobInfo{Digest: digest, Size: n}
	if err == nil {
		err = r.commitAndLink(ctx, scope, repo, path, info, "")
	}
	if err != nil {
		os.Remove(path)
		return BlobInfo{}, err
	}
	return info, nil
}
