package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

const otherAccount = "222222222222"

func (e *env) setPolicy(repo, text string) {
	e.t.Helper()
	if _, err := e.reg.UpdateRepository(context.Background(), testScope, repo, func(r *Repository) error {
		r.Policy = text
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

func TestRegistryAuthorize(t *testing.T) {
	e := newEnv(t)
	e.createRepo("app")
	ctx := context.Background()
	other := Principal{Account: otherAccount}
	if err := e.reg.Authorize(ctx, Principal{Account: testAccount}, testScope, "app", "ecr:SetRepositoryPolicy"); err != nil {
		t.Fatalf("same account: %v", err)
	}
	err := e.reg.Authorize(ctx, other, testScope, "app", "ecr:DescribeImages")
	if !errors.Is(err, ErrDenied) || !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Fatalf("no policy: %v", err)
	}
	wantMsg := "User in account '222222222222' is not authorized to perform: ecr:DescribeImages on resource: " +
		"arn:aws:ecr:us-east-1:123456789012:repository/app because no resource-based policy allows the ecr:DescribeImages action"
	if errdefs.Message(err) != wantMsg {
		t.Fatalf("message %q", errdefs.Message(err))
	}
	e.setPolicy("app", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"ecr:Describe*"}]}`)
	if err := e.reg.Authorize(ctx, other, testScope, "app", "ecr:DescribeImages"); err != nil {
		t.Fatalf("allowed: %v", err)
	}
	if err := e.reg.Authorize(ctx, other, testScope, "app", "ecr:SetRepositoryPolicy"); !errors.Is(err, ErrDenied) {
		t.Fatalf("other action: %v", err)
	}
	// Registry-wide actions and unknown repositories stay closed.
	for _, repo := range []string{"", "missing", "Bad_Name"} {
		if err := e.reg.Authorize(ctx, other, testScope, repo, "ecr:DescribeImages"); !errors.Is(err, ErrDenied) {
			t.Fatalf("repo %q: %v", repo, err)
		}
	}
	// An unusable stored policy grants nothing.
	e.setPolicy("app", `{"Statement":"nope"}`)
	if err := e.reg.Authorize(ctx, other, testScope, "app", "ecr:DescribeImages"); !errors.Is(err, ErrDenied) {
		t.Fatalf("bad policy: %v", err)
	}
	// Another region is another registry.
	west := tenant.Scope{Account: testAccount, Region: "eu-west-1"}
	if err := e.reg.Authorize(ctx, other, west, "app", "ecr:DescribeImages"); !errors.Is(err, ErrDenied) {
		t.Fatalf("other region: %v", err)
	}
}
