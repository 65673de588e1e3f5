package distribution

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestGCBesidePushes runs collections in a loop while 8 clients push: no
// push fails and every image pulls back whole.
func TestGCBesidePushes(t *testing.T) {
	e := newEnv(t)
	e.createRepo("busy")
	stop := make(chan struct{})
	var gcErr error
	var gcWG sync.WaitGroup
	gcWG.Add(1)
	go func() {
		defer gcWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := e.reg.CollectGarbage(t.Context()); err != nil {
				gcErr = err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, err := random.Image(2048, 2)
			if err == nil {
				err = remote.Write(e.ref(fmt.Sprintf("busy:v%d", i)), img, e.opts()...)
			}
			if err == nil {
				var got v1Image
				if got, err = remote.Image(e.ref(fmt.Sprintf("busy:v%d", i)), e.opts()...); err == nil {
					layers, _ := got.Layers()
					for _, l := range layers {
						rc, lerr := l.Compressed()
						if lerr != nil {
							err = lerr
							break
						}
						_, err = readAllErr(rc)
						rc.Close()
					}
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(stop)
	gcWG.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if gcErr != nil {
		t.Fatal(gcErr)
	}
}
