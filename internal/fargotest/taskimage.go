package fargotest

import (
	"archive/tar"
	"bytes"
	"io"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// RootfsFile is one regular file of the test image's root filesystem.
type RootfsFile struct {
	Name string
	Mode int64
	Body []byte
}

// TaskAppRootfs are the files of the test image (and of a bare runc
// bundle of the same program): /etc/passwd, /etc/group and the static
// taskapp binary (test/e2e/testdata/taskapp) as /taskapp.
func TaskAppRootfs(taskapp []byte) []RootfsFile {
	return []RootfsFile{
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")},
		{"etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")},
		{"taskapp", 0o755, taskapp},
	}
}

// TaskAppImage is the tests' container image: one layer of TaskAppRootfs,
// entrypoint ["/taskapp"], command ["serve"] (it listens on :8080). The
// same binary always gives the same digest.
func TaskAppImage(taskapp []byte) (v1.Image, error) {
	return Image([]string{"etc/"}, TaskAppRootfs(taskapp), func(c *v1.Config) {
		c.Entrypoint = []string{"/taskapp"}
		c.Cmd = []string{"serve"}
		c.Env = append(c.Env, "APP_FROM_IMAGE=yes")
	})
}

// defaultPath is the PATH of the tests' images.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Image is a linux image of one layer: the directories dirs (names end
// in "/"), then files; its config has the default PATH, then config
// changes it. The same input always gives the same digest.
func Image(dirs []string, files []RootfsFile, config func(*v1.Config)) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: f.Mode, Size: int64(len(f.Body)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = []string{defaultPath}
	if config != nil {
		config(&cf.Config)
	}
	return mutate.ConfigFile(img, cf)
}
