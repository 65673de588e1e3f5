package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// ensureLayer makes sure the layer with diffID is unpacked, doing the work
// at most once however many goroutines (pulling however many images) ask
// for it at the same time.
func (s *Store) ensureLayer(ctx context.Context, l v1.Layer, diffID v1.Hash) error {
	dir, err := s.layerDir(diffID.String())
	if err != nil {
		return err
	}
	_, err = s.once(ctx, "layer/"+diffID.Hex, func() (any, error) {
		if _, err := os.Stat(dir); err == nil {
			return nil, nil // done by an earlier flight (or process)
		}
		return nil, s.unpackLayer(ctx, l, diffID, dir)
	})
	return err
}

// once runs fn for key unless a call for key is already running, in which
// case it waits for and shares that call's result. fn must itself check
// whether its work is already done: a caller arriving just after a flight
// ended starts a new one.
//
// A flight runs with its first caller's context. If that caller gives up,
// the others see a cancellation that is not theirs: they go round again
// and one of them starts a new flight.
func (s *Store) once(ctx context.Context, key string, fn func() (any, error)) (any, error) {
	for {
		ch := s.flights.DoChan(key, fn)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case res := <-ch:
			if res.Err != nil && isContextErr(res.Err) && ctx.Err() == nil {
				continue
			}
			return res.Val, res.Err
		}
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// unpackLayer downloads the blob of l, verifies both its digest and diffID
// while unpacking it into a temporary directory, and renames that into dir.
func (s *Store) unpackLayer(ctx context.Context, l v1.Layer, diffID v1.Hash, dir string) (err error) {
	start := time.Now()
	digest, err := l.Digest()
	if err != nil {
		return err
	}
	log := s.log.With("layer", digest.String(), "diffID", diffID.String())
	tmp, err := os.MkdirTemp(s.tmpDir(), diffID.Hex[:12]+"-")
	if err != nil {
		return fmt.Errorf("unpack layer: %w", err)
	}
	defer func() {
		if err != nil {
			if rerr := os.RemoveAll(tmp); rerr != nil {
				log.Warn("remove failed unpack", "path", tmp, "err", rerr)
			}
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("unpack layer: %w", err)
	}

	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	blobHash := sha256.New()
	blob := &countingReader{r: io.TeeReader(rc, blobHash)}
	dec, err := decompress(bufio.NewReaderSize(blob, 64<<10))
	if err != nil {
		return fmt.Errorf("layer %s: %w", digest, err)
	}
	defer dec.Close()
	diffHash := sha256.New()
	if err := unpack(ctx, tmp, io.TeeReader(dec, diffHash), log); err != nil {
		return fmt.Errorf("layer %s: %w", digest, err)
	}
	// The tar may end before its stream does (padding, compressed
	// trailers): read everything so that both digests cover all bytes.
	if _, err := io.Copy(io.Discard, io.TeeReader(dec, diffHash)); err != nil {
		return fmt.Errorf("layer %s: %w", digest, err)
	}
	if _, err := io.Copy(io.Discard, blob); err != nil {
		return fmt.Errorf("layer %s: %w", digest, err)
	}
	if err := checkDigest("layer", digest, blobHash); err != nil {
		return err
	}
	if err := checkDigest("layer diffID", diffID, diffHash); err != nil {
		return err
	}
	// Make the tree durable before it is published, so a power loss can
	// not leave a complete-looking layer with empty files.
	if err := syncfs(tmp); err != nil {
		return fmt.Errorf("unpack layer: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			// Someone else (another Store process before us) won.
			os.RemoveAll(tmp)
			return nil
		}
		return fmt.Errorf("unpack layer: %w", err)
	}
	s.unpacked.Add(1)
	log.Debug("layer unpacked", "bytes", blob.n, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func checkDigest(what string, want v1.Hash, h hash.Hash) error {
	got := fmt.Sprintf("%x", h.Sum(nil))
	if want.Algorithm != "sha256" || got != want.Hex {
		return errdefs.Newf(errdefs.ErrUnavailable, "%s digest mismatch: want %s, got sha256:%s", what, want, got)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decompress sniffs the stream: registries do not always label media types
// faithfully, and the magic numbers never lie.
func decompress(br *bufio.Reader) (io.ReadCloser, error) {
	magic, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	default:
		return io.NopCloser(br), nil
	}
}

func syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
