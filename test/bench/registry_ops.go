package main

// The registry benchmark's workloads: generated images, push and pull
// through go-containerregistry, concurrent request loops and the raw disk
// write probe.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// genLayer is an uncompressed layer of size pseudo-random (incompressible)
// bytes, regenerated from its seed on every read, so a 1 GiB layer costs no
// memory or disk on the client.
type genLayer struct {
	seed   uint64
	size   int64
	digest v1.Hash
}

func regNewGenLayer(seed uint64, size int64) (*genLayer, error) {
	l := &genLayer{seed: seed, size: size}
	h := sha256.New()
	if _, err := io.Copy(h, l.reader()); err != nil {
		return nil, err
	}
	l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	return l, nil
}

func (l *genLayer) reader() io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], l.seed)
	return io.LimitReader(rand.NewChaCha8(key), l.size)
}

func (l *genLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *genLayer) DiffID() (v1.Hash, error)            { return l.digest, nil }
func (l *genLayer) Size() (int64, error)                { return l.size, nil }
func (l *genLayer) MediaType() (types.MediaType, error) { return types.OCIUncompressedLayer, nil }
func (l *genLayer) Compressed() (io.ReadCloser, error)  { return io.NopCloser(l.reader()), nil }
func (l *genLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(l.reader()), nil
}

// genImage is an OCI image of the given layers.
func regGenImage(layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.AppendLayers(img, layers...)
}

// regBigImage has one layer of mb MiB.
func regBigImage(mb int) (v1.Image, error) {
	l, err := regNewGenLayer(1, int64(mb)<<20)
	if err != nil {
		return nil, err
	}
	return regGenImage(l)
}

// regManyLayersImage has n layers of 4 to 64 KiB (the same sizes every run);
// it returns the image and its total layer bytes.
func regManyLayersImage(n int) (v1.Image, int64, error) {
	sizes := rand.New(rand.NewPCG(7, 7))
	layers := make([]v1.Layer, n)
	var total int64
	for i := range layers {
		size := int64(4<<10 + sizes.IntN(60<<10+1))
		l, err := regNewGenLayer(uint64(1000+i), size)
		if err != nil {
			return nil, 0, err
		}
		layers[i], total = l, total+size
	}
	img, err := regGenImage(layers...)
	return img, total, err
}

// regClient is one registry as go-containerregistry and raw HTTP see it.
type regClient struct {
	name   string
	host   string // 127.0.0.1:<port>
	auth   authn.Authenticator
	header string // Authorization header value ("" = none)
	tr     *http.Transport
}

func newRegClient(name, url string, auth authn.Authenticator, header string, conns int) *regClient {
	return &regClient{
		name: name, host: url[len("http://"):], auth: auth, header: header,
		tr: &http.Transport{MaxIdleConns: 2 * conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns},
	}
}

func (c *regClient) ref(repo, tag string) (name.Reference, error) {
	return name.NewTag(c.host+"/"+repo+":"+tag, name.Insecure)
}

func (c *regClient) options(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithAuth(c.auth), remote.WithTransport(c.tr), remote.WithContext(ctx), remote.WithJobs(regJobs)}
}

// push writes img as repo:tag and returns how long it took.
func (c *regClient) push(ctx context.Context, repo, tag string, img v1.Image) (time.Duration, error) {
	ref, err := c.ref(repo, tag)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := remote.Write(ref, img, c.options(ctx)...); err != nil {
		return 0, fmt.Errorf("push %s to %s: %w", ref, c.name, err)
	}
	return time.Since(start), nil
}

// pull reads repo:tag's manifest, config and every layer (regJobs at a
// time, digests verified by go-containerregistry) to io.Discard, and
// returns how long it took and the layer bytes read.
func (c *regClient) pull(ctx context.Context, repo, tag string) (time.Duration, int64, error) {
	ref, err := c.ref(repo, tag)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	img, err := remote.Image(ref, c.options(ctx)...)
	if err != nil {
		return 0, 0, fmt.Errorf("pull %s from %s: %w", ref, c.name, err)
	}
	if _, err := img.RawConfigFile(); err != nil {
		return 0, 0, fmt.Errorf("pull %s config from %s: %w", ref, c.name, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return 0, 0, fmt.Errorf("pull %s from %s: %w", ref, c.name, err)
	}
	var (
		mu       sync.Mutex
		total    int64
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan v1.Layer)
	)
	for range regJobs {
		wg.Go(func() {
			for l := range next {
				n, err := regReadLayer(l)
				mu.Lock()
				total += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for _, l := range layers {
		next <- l
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return 0, 0, fmt.Errorf("pull %s from %s: %w", ref, c.name, firstErr)
	}
	return time.Since(start), total, nil
}

func regReadLayer(l v1.Layer) (int64, error) {
	rc, err := l.Compressed()
	if err != nil {
		return 0, err
	}
	// 1 MiB reads, as containerd copies (io.Discard's own ReadFrom reads
	// 8 KiB at a time, which makes the client the bottleneck).
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, rc, make([]byte, 1<<20))
	if cerr := rc.Close(); err == nil {
		err = cerr // the digest check reports here
	}
	return n, err
}

// manifestRequest is a GET of repo:tag's manifest as docker sends it, on
// the wire.
func (c *regClient) manifestRequest(repo, tag string) ([][]byte, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+c.host+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(types.OCIManifestSchema1)+", "+string(types.DockerManifestSchema2))
	if c.header != "" {
		req.Header.Set("Authorization", c.header)
	}
	b, err := wireBytes(req)
	return [][]byte{b}, err
}

// manifestOK judges a manifest GET's answer.
func manifestOK(status int, body []byte) error {
	if status != http.StatusOK || len(body) == 0 {
		return fmt.Errorf("GET manifest: %d %.200s", status, body)
	}
	return nil
}

// diskWrite writes size bytes of incompressible data to a new file in dir
// in 1 MiB writes and fsyncs it (dd bs=1M conv=fsync), and returns the time
// from the first write to the end of the fsync. The file is removed.
func regDiskWrite(ctx context.Context, dir string, size int64) (time.Duration, error) {
	f, err := os.CreateTemp(dir, "disk-probe-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1<<20)
	var key [32]byte
	key[0] = 42
	_, _ = rand.NewChaCha8(key).Read(buf)
	start := time.Now()
	for off := int64(0); off < size; off += int64(len(buf)) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		binary.LittleEndian.PutUint64(buf, uint64(off)) // no two blocks alike
		if _, err := f.Write(buf[:min(int64(len(buf)), size-off)]); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
