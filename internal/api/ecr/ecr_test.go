package ecr

import (
	"slices"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/tenant"
)

func TestMapError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{errdefs.New(registry.ErrRepositoryNotFound, "m"), "RepositoryNotFoundException"},
		{errdefs.New(registry.ErrRepositoryAlreadyExists, "m"), "RepositoryAlreadyExistsException"},
		{errdefs.New(registry.ErrRepositoryNotEmpty, "m"), "RepositoryNotEmptyException"},
		{errdefs.New(registry.ErrImageNotFound, "m"), "ImageNotFoundException"},
		{registry.ImageAlreadyExists("1", "r", "d", "t"), "ImageAlreadyExistsException"},
		{errdefs.New(registry.ErrTagImmutable, "m"), "ImageTagAlreadyExistsException"},
		{errdefs.New(registry.ErrReferencedImagesNotFound, "m"), "ReferencedImagesNotFoundException"},
		{errdefs.New(registry.ErrManifestBlobUnknown, "m"), "LayersNotFoundException"},
		{errdefs.New(registry.ErrUploadNotFound, "m"), "UploadNotFoundException"},
		{errdefs.New(registry.ErrNameInvalid, "m"), "InvalidParameterException"},
		{errdefs.New(registry.ErrDenied, "m"), "AccessDeniedException"},
		{errdefs.New(registry.ErrManifestTooLarge, "m"), "LimitExceededException"},
		{errdefs.New(registry.ErrUploadEmpty, "m"), "EmptyUploadException"},
		{errdefs.New(registry.ErrLayerPartTooSmall, "m"), "LayerPartTooSmallException"},
		{errdefs.New(registry.ErrLayerAlreadyExists, "m"), "LayerAlreadyExistsException"},
		{errdefs.New(registry.ErrLayerDigestMismatch, "m"), "InvalidLayerException"},
		{errdefs.New(registry.ErrDigestInvalid, "m"), "InvalidParameterException"},
		{errdefs.New(registry.ErrRepositoryPolicyNotFound, "m"), "RepositoryPolicyNotFoundException"},
		{errdefs.New(registry.ErrLifecyclePolicyNotFound, "m"), "LifecyclePolicyNotFoundException"},
		{errdefs.New(registry.ErrLifecyclePreviewNotFound, "m"), "LifecyclePolicyPreviewNotFoundException"},
		{errdefs.New(errTooManyTags, "m"), "TooManyTagsException"},
		{errdefs.New(errInvalidTag, "m"), "InvalidTagParameterException"},
		{errdefs.New(errImageDigestMismatch, "m"), "ImageDigestDoesNotMatchException"},
		{errdefs.New(errScanNotFound, "m"), "ScanNotFoundException"},
		{errdefs.New(errdefs.ErrUnsupported, "m"), "ValidationException"},
		{errdefs.Invalidf("m"), "InvalidParameterException"},
	} {
		e := mapError(tc.err)
		if e == nil || e.Code != tc.code || e.Message != "m" && tc.code != "ImageAlreadyExistsException" {
			t.Errorf("%v: got %+v, want %s", tc.err, e, tc.code)
		}
	}
	e := mapError(&registry.LayerPartError{RegistryID: "1", Repository: "r", UploadID: "u", LastValidByteReceived: 9, Message: "m"})
	if e == nil || e.Code != "InvalidLayerPartException" || e.Message != "m" || e.Fields["lastValidByteReceived"] != int64(9) || e.Fields["uploadId"] != "u" {
		t.Errorf("LayerPartError mapped to %+v", e)
	}
	if e := mapError(errFoo{}); e != nil {
		t.Errorf("unknown error mapped to %+v", e)
	}
}

type errFoo struct{}

func (errFoo) Error() string { return "foo" }

func TestPaginate(t *testing.T) {
	items := []string{"e", "a", "d", "b", "c"}
	id := func(s string) string { return s }
	page, next, err := paginate("L", items, id, 2, nil)
	if err != nil || !slices.Equal(page, []string{"a", "b"}) || next == nil {
		t.Fatalf("first page %v %v %v", page, next, err)
	}
	page, next, err = paginate("L", append(items, "aa"), id, 4, next)
	if err != nil || !slices.Equal(page, []string{"c", "d", "e"}) || next != nil {
		t.Fatalf("last page %v %v %v", page, next, err)
	}
	for _, bad := range []string{"!!", "MQ"} {
		if _, _, err := paginate("L", items, id, 2, &bad); err == nil {
			t.Fatalf("bad token %q accepted", bad)
		}
	}
}

func TestRepoFromARN(t *testing.T) {
	for _, tc := range []struct {
		arn  string
		ok   bool
		repo string
	}{
		{"arn:aws:ecr:us-east-1:123456789012:repository/team/web", true, "team/web"},
		{"arn:aws:ecr:us-east-1:123456789012:repository/Web", false, ""},
		{"arn:aws:ecs:us-east-1:123456789012:repository/web", false, ""},
		{"arn:aws:ecr:us-east-1:1234:repository/web", false, ""},
		{"web", false, ""},
	} {
		arn := tc.arn
		scope, repo, err := repoFromARN(&arn)
		if (err == nil) != tc.ok || repo != tc.repo || (tc.ok && scope != (tenant.Scope{Account: "123456789012", Region: "us-east-1"})) {
			t.Errorf("%s: %v %q %v", tc.arn, scope, repo, err)
		}
	}
}

func TestHost(t *testing.T) {
	a := &Adapter{cfg: Config{RegistryHost: func() string { return "localhost:4566" }, DefaultRegion: "us-east-1"}}
	own := tenant.Scope{Account: "111111111111", Region: "us-east-1"}
	if h := a.host("111111111111", own); h != "localhost:4566" {
		t.Errorf("own account: %s", h)
	}
	if h := a.host("222222222222", own); h != "111111111111.dkr.ecr.us-east-1.localhost:4566" {
		t.Errorf("other account: %s", h)
	}
	if h := a.host("111111111111", tenant.Scope{Account: "111111111111", Region: "eu-west-1"}); h != "111111111111.dkr.ecr.eu-west-1.localhost:4566" {
		t.Errorf("other region: %s", h)
	}
}
