package registry

import (
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Streamed digests. A blob is hashed as its bytes arrive, not re-read at
// the end: an upload session's hash state (sha256, the digest every client
// uses; the algorithm is only known at the final PUT) is saved after each
// chunk beside the data, in uploads/<id>.hash, with the offset it covers, so
// the next PATCH or the PUT, in this process or after a restart, resumes
// from it. The state is a shortcut, never the authority:
//
//	state absent, unreadable, of another algorithm  re-read the whole file
//	or beyond the file's size (truncated)
//	state older than the file (crash mid-chunk)     re-read only the tail
//	state of another boot                           re-read the whole file
//
// The boot check is what makes trusting the state safe: the state vouches
// for bytes the kernel accepted (write returned) before it was saved, and a
// killed process keeps them (page cache); after an OS crash unsynced pages
// may be lost or zeroed, so only a state of the running kernel counts.
//
// Writeback starts as the data streams (every writebackChunk bytes, and at
// the end of each chunk), so the fsync before the commit has little left.

const (
	hashStateSuffix = ".hash"
	writebackChunk  = 64 << 20
	copyBufSize     = 1 << 20
)

// streamAlgo is the algorithm hashed as upload sessions stream in.
var streamAlgo = digestAlgos[0] // sha256

// hashState is the JSON of uploads/<id>.hash.
type hashState struct {
	Algo   string `json:"algo"`
	Offset int64  `json:"offset"` // bytes of the upload file State covers
	Boot   string `json:"boot"`
	State  []byte `json:"state"` // the hash's MarshalBinary
}

// bootID identifies the running kernel boot; if the kernel does not say, a
// random id confines states to this process (a restart re-reads).
var bootID = sync.OnceValue(func() string {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "process-" + hex.EncodeToString(b[:])
})

func (r *Registry) hashStatePath(id string) string { return r.uploadPath(id) + hashStateSuffix }

// resumeHash returns a hash of algo over the first size bytes of upload id,
// from the saved state where it can be trusted, reading from the file only
// what the state does not cover. Callers hold the session lock.
func (r *Registry) resumeHash(id string, algo digestAlgo, size int64) (hash.Hash, error) {
	h, from := r.loadHashState(id, algo, size)
	if from == size {
		return h, nil
	}
	f, err := os.Open(r.uploadPath(id))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.Copy(h, io.NewSectionReader(f, from, size-from))
	r.rehashed.Add(n)
	if err == nil && n != size-from {
		err = fmt.Errorf("registry: upload %s shrank while hashing", id)
	}
	if err != nil {
		return nil, err
	}
	return h, nil
}

// loadHashState returns the saved hash and the offset it covers, or a new
// hash and 0 when the state cannot be trusted for a file of size bytes.
func (r *Registry) loadHashState(id string, algo digestAlgo, size int64) (hash.Hash, int64) {
	h := algo.newFn()
	b, err := os.ReadFile(r.hashStatePath(id))
	if err != nil {
		return h, 0
	}
	var s hashState
	if json.Unmarshal(b, &s) != nil || s.Algo != algo.name || s.Boot != bootID() || s.Offset < 0 || s.Offset > size {
		return algo.newFn(), 0
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.State); err != nil {
		return algo.newFn(), 0
	}
	return h, s.Offset
}

// saveHashState records that h covers the first offset bytes of upload id:
// written to a temporary file and renamed over the old state, so a reader
// sees the old state or the new one. No fsync: a state only counts in the
// boot that wrote it. Callers hold the session lock.
func (r *Registry) saveHashState(id string, algo digestAlgo, h hash.Hash, offset int64) error {
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	b, err := json.Marshal(hashState{Algo: algo.name, Offset: offset, Boot: bootID(), State: st})
	if err != nil {
		return err
	}
	path := r.hashStatePath(id)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// dropHashState removes the state of upload id (and a leftover temporary).
func (r *Registry) dropHashState(id string) {
	path := r.hashStatePath(id)
	_ = os.Remove(path)
	_ = os.Remove(path + ".tmp")
}

// hashStateOwner returns the upload id a file name of the uploads directory
// belongs to if it is a hash state (or its temporary).
func hashStateOwner(name string) (string, bool) {
	id, rest, ok := strings.Cut(name, ".")
	if !ok || !validUploadID(id) || (rest != hashStateSuffix[1:] && rest != hashStateSuffix[1:]+".tmp") {
		return "", false
	}
	return id, true
}

// copyBufs are writeHashed's buffers; hashBufs of them per copy in flight.
var copyBufs = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

const hashBufs = 4

// writeHashed copies body to f (positioned at off) and into h, and returns
// the number of bytes copied. Hashing runs beside the copy (another
// goroutine, on the same buffers), so a chunk streams at the speed of the
// slower of the two rather than of their sum. It starts the writeback of
// every writebackChunk bytes written, and of the tail at the end, without
// waiting for it. On error h is to be discarded.
func writeHashed(f *os.File, off int64, body io.Reader, h hash.Hash) (n int64, err error) {
	free := make(chan *[copyBufSize]byte, hashBufs)
	for range hashBufs {
		free <- copyBufs.Get().(*[copyBufSize]byte)
	}
	type piece struct {
		buf *[copyBufSize]byte
		n   int
	}
	work := make(chan piece, hashBufs)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for p := range work {
			h.Write(p.buf[:p.n])
			free <- p.buf
		}
	}()
	defer func() {
		close(work)
		<-hashed
		for range hashBufs {
			copyBufs.Put(<-free)
		}
	}()
	var flushed int64
	for {
		buf := <-free
		m, rerr := body.Read(buf[:])
		if m == 0 {
			free <- buf
		} else {
			work <- piece{buf, m} // hashed while it is written
			if _, err := f.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
			if n-flushed >= writebackChunk {
				startWriteback(f, off+flushed, n-flushed)
				flushed = n
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return n, rerr
		}
	}
	if n > flushed {
		startWriteback(f, off+flushed, n-flushed)
	}
	return n, nil
}

// startWriteback asks the kernel to start writing the range to disk and
// returns without waiting; durability still comes from the fsync before the
// commit, this only leaves it less to do. Errors are for that fsync to see.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
