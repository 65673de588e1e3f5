package distribution

import (
	"context"
	"testing"

	"github.com/fargo-run/fargo/internal/registry"
)

// TestLifecycleExpiredIsUnknown: an image a lifecycle policy expired is
// gone from /v2/ too, by tag and by digest, while the one kept still pulls.
func TestLifecycleExpiredIsUnknown(t *testing.T) {
	e := newEnv(t)
	e.createRepo("app")
	ctx := context.Background()
	old := pushTiny(t, e.reg, "app", "old", "layer of old").Image.Digest
	kept := pushTiny(t, e.reg, "app", "new", "layer of new").Image.Digest
	policy := `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`
	if _, err := e.reg.UpdateRepository(ctx, testScope, "app", func(r *registry.Repository) error {
		r.LifecyclePolicy = policy
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res, err := e.reg.ApplyLifecycle(ctx, testScope, "app")
	if err != nil || len(res) != 1 || res[0].Digest != old {
		t.Fatalf("expired %+v %v, want %s", res, err, old)
	}
	wantStatus(t, e.do("GET", "/v2/app/manifests/old", nil, nil), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, e.do("GET", "/v2/app/manifests/"+old, nil, nil), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, e.do("GET", "/v2/app/manifests/new", nil, nil), 200, "")
	wantStatus(t, e.do("HEAD", "/v2/app/manifests/"+kept, nil, nil), 200, "")
}
