package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
)

func lcRule(prio int, sel string) string {
	return fmt.Sprintf(`{"rulePriority":%d,"description":"rule %d","selection":{%s},"action":{"type":"expire"}}`, prio, prio, sel)
}

func lcPolicy(rules ...string) string { return `{"rules":[` + strings.Join(rules, ",") + `]}` }

func TestValidateLifecyclePolicy(t *testing.T) {
	const cnt = `"countType":"imageCountMoreThan","countNumber":1`
	const age = `"countType":"sinceImagePushed","countUnit":"days","countNumber":14`
	valid := []string{
		lcPolicy(lcRule(1, `"tagStatus":"untagged",`+age)),
		lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":["prod","v"],`+cnt), lcRule(2, `"tagStatus":"untagged",`+cnt), lcRule(10, `"tagStatus":"any",`+age)),
		lcPolicy(lcRule(5, `"tagStatus":"tagged","tagPatternList":["*test*1*2*3","test*1*2*3*"],`+cnt)),
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}`,
	}
	for i, text := range valid {
		if err := ValidateLifecyclePolicy(text); err != nil {
			t.Errorf("valid[%d]: %v", i, err)
		}
	}
	tests := []struct {
		name, text, want string
	}{
		{"not json", `{"rules":`, "Could not map policyString into LifecyclePolicy."},
		{"array", `[]`, "Could not map policyString into LifecyclePolicy."},
		{"no rules", `{"rule":[]}`, `object has missing required properties (["rules"])`},
		{"unknown top", `{"rules":[],"x":1}`, `object instance has properties which are not allowed by the schema: (["x"])`},
		{"rules object", `{"rules":{}}`, `instance type (object) does not match any allowed primitive type (allowed: ["array"])`},
		{"rules empty", `{"rules":[]}`, "array is too short: must have at least 1 elements but instance has 0 elements"},
		{"rule string", `{"rules":["x"]}`, `instance type (string) does not match any allowed primitive type (allowed: ["object"])`},
		{"rule missing", `{"rules":[{"selection":{}}]}`, `object has missing required properties (["action","rulePriority"])`},
		{"rule unknown", lcPolicy(`{"rulePriority":1,"selection":{"tagStatus":"any",` + cnt + `},"action":{"type":"expire"},"foo":1,"bar":2}`),
			`object instance has properties which are not allowed by the schema: (["bar","foo"])`},
		{"priority string", lcPolicy(`{"rulePriority":"1","selection":{"tagStatus":"any",` + cnt + `},"action":{"type":"expire"}}`),
			`instance type (string) does not match any allowed primitive type (allowed: ["integer"])`},
		{"priority fraction", lcPolicy(`{"rulePriority":1.5,"selection":{"tagStatus":"any",` + cnt + `},"action":{"type":"expire"}}`),
			`instance type (number) does not match any allowed primitive type (allowed: ["integer"])`},
		{"priority zero", lcPolicy(lcRule(0, `"tagStatus":"any",`+cnt)), "numeric instance is lower than the required minimum (minimum: 1, found: 0)"},
		{"priority negative", lcPolicy(lcRule(-3, `"tagStatus":"any",`+cnt)), "numeric instance is lower than the required minimum (minimum: 1, found: -3)"},
		{"description number", lcPolicy(`{"rulePriority":1,"description":5,"selection":{"tagStatus":"any",` + cnt + `},"action":{"type":"expire"}}`),
			`instance type (integer) does not match any allowed primitive type (allowed: ["string"])`},
		{"action missing type", lcPolicy(`{"rulePriority":1,"selection":{"tagStatus":"any",` + cnt + `},"action":{}}`), `object has missing required properties (["type"])`},
		{"action unknown", lcPolicy(`{"rulePriority":1,"selection":{"tagStatus":"any",` + cnt + `},"action":{"type":"expire","x":1}}`),
			`object instance has properties which are not allowed by the schema: (["x"])`},
		{"action type", lcPolicy(`{"rulePriority":1,"selection":{"tagStatus":"any",` + cnt + `},"action":{"type":"delete"}}`),
			`instance value ("delete") not found in enum (possible values: ["expire"])`},
		{"selection missing", lcPolicy(lcRule(1, `"tagStatus":"any"`)), `object has missing required properties (["countNumber","countType"])`},
		{"selection unknown", lcPolicy(lcRule(1, `"tagStatus":"any","storageClass":"archive",`+cnt)),
			`object instance has properties which are not allowed by the schema: (["storageClass"])`},
		{"tagStatus", lcPolicy(lcRule(1, `"tagStatus":"TAGGED",`+cnt)), `instance value ("TAGGED") not found in enum (possible values: ["any","tagged","untagged"])`},
		{"countType", lcPolicy(lcRule(1, `"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":1`)),
			"instance failed to match exactly one schema (matched 0 out of 2)"},
		{"countUnit with count", lcPolicy(lcRule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":1`)),
			"instance failed to match exactly one schema (matched 0 out of 2)"},
		{"no countUnit with age", lcPolicy(lcRule(1, `"tagStatus":"any","countType":"sinceImagePushed","countNumber":1`)),
			"instance failed to match exactly one schema (matched 0 out of 2)"},
		{"countUnit", lcPolicy(lcRule(1, `"tagStatus":"any","countType":"sinceImagePushed","countUnit":"hours","countNumber":1`)),
			`instance value ("hours") not found in enum (possible values: ["days"])`},
		{"countNumber zero", lcPolicy(lcRule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0`)),
			"numeric instance is lower than the required minimum (minimum: 1, found: 0)"},
		{"countNumber string", lcPolicy(lcRule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":"5"`)),
			`instance type (string) does not match any allowed primitive type (allowed: ["integer"])`},
		{"tagged without list", lcPolicy(lcRule(1, `"tagStatus":"tagged",`+cnt)), "tagPrefixList or tagPatternList must be specified when tagStatus is tagged."},
		{"tagged with both", lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":["a"],"tagPatternList":["a*"],`+cnt)),
			"tagPrefixList and tagPatternList cannot both be specified."},
		{"untagged with list", lcPolicy(lcRule(1, `"tagStatus":"untagged","tagPrefixList":["a"],`+cnt)),
			"tagPrefixList and tagPatternList can only be specified when tagStatus is tagged."},
		{"any with pattern", lcPolicy(lcRule(1, `"tagStatus":"any","tagPatternList":["a*"],`+cnt)),
			"tagPrefixList and tagPatternList can only be specified when tagStatus is tagged."},
		{"empty list", lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":[],`+cnt)), "array is too short: must have at least 1 elements but instance has 0 elements"},
		{"list item number", lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":[1],`+cnt)),
			`instance type (integer) does not match any allowed primitive type (allowed: ["string"])`},
		{"five wildcards", lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPatternList":["test*1*2*3*4*5*6"],`+cnt)),
			"tagPatternList entry 'test*1*2*3*4*5*6' has more than 4 wildcards (*)."},
		{"duplicate priority", lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":["a"],`+cnt), lcRule(1, `"tagStatus":"untagged",`+cnt)),
			"Rules must have unique rulePriority values, found 1 more than once."},
		{"any not last", lcPolicy(lcRule(1, `"tagStatus":"any",`+cnt), lcRule(2, `"tagStatus":"untagged",`+cnt)),
			"Rule for tagStatus=ANY must have the lowest priority per storage class"},
		{"two any", lcPolicy(lcRule(1, `"tagStatus":"any",`+cnt), lcRule(2, `"tagStatus":"any",`+age)),
			"Rule for tagStatus=ANY must have the lowest priority per storage class"},
		{"two untagged", lcPolicy(lcRule(1, `"tagStatus":"untagged",`+cnt), lcRule(2, `"tagStatus":"untagged",`+age)),
			"Only one rule can select Untagged images per storage class."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateLifecyclePolicy(tt.text)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error %v", err)
			}
			want := "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: " + tt.want + "'"
			if got := errdefs.Message(err); got != want {
				t.Fatalf("message\n got %s\nwant %s", got, want)
			}
		})
	}
}

// lcEnv is a registry with a movable clock and helpers to push tiny images
// of a given age.
type lcEnv struct {
	*env
	clock *testClock
	now   time.Time
	names map[string]string // digest -> test name
}

func newLCEnv(t *testing.T) *lcEnv {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{t: now}
	e := newEnv(t, func(c *Config) { c.Now = clock.Now })
	return &lcEnv{env: e, clock: clock, now: now, names: map[string]string{}}
}

// push pushes image name into repo, ageDays days before now, with tags
// (none: untagged, pushed by digest).
func (e *lcEnv) push(repo, name string, ageDays float64, tags ...string) string {
	e.t.Helper()
	e.clock.mu.Lock()
	e.clock.t = e.now.Add(-time.Duration(ageDays * float64(24*time.Hour)))
	e.clock.mu.Unlock()
	defer func() {
		e.clock.mu.Lock()
		e.clock.t = e.now
		e.clock.mu.Unlock()
	}()
	ref := tags
	if len(ref) == 0 {
		ref = []string{"untagged-" + name}
	}
	var digest string
	for _, tag := range ref {
		digest = pushTiny(e.t, e.reg, repo, tag, "layer of "+name).Image.Digest
	}
	if len(tags) == 0 {
		// Untag it: re-point the tag elsewhere and back off.
		if _, err := e.reg.PutManifest(context.Background(), testScope, repo, digest, "", mustManifest(e.t, e.reg, repo, digest)); err != nil {
			e.t.Fatal(err)
		}
		e.untag(repo, ref[0], digest)
	}
	e.names[digest] = name
	return digest
}

func mustManifest(t *testing.T, r *Registry, repo, digest string) []byte {
	t.Helper()
	_, b, err := r.GetManifest(context.Background(), testScope, repo, digest)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// untag removes tag from digest while keeping the image: it pushes a
// placeholder under the tag (moving it) and deletes the placeholder.
func (e *lcEnv) untag(repo, tag, digest string) {
	e.t.Helper()
	ph := pushTiny(e.t, e.reg, repo, tag, "placeholder "+digest).Image.Digest
	if _, err := e.reg.DeleteImage(context.Background(), testScope, repo, ImageID{Digest: ph}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *lcEnv) expired(results []LifecycleResult) []string {
	var out []string
	for _, r := range results {
		out = append(out, fmt.Sprintf("%s@%d", e.names[r.Digest], r.RulePriority))
	}
	return out
}

type lcImage struct {
	name string
	age  float64
	tags []string
}

func TestPreviewLifecycle(t *testing.T) {
	const keep1 = `"countType":"imageCountMoreThan","countNumber":1`
	// The ECR user guide's examples A and B.
	exampleA := []lcImage{{"A", 10, []string{"beta-1", "prod-1"}}, {"B", 9, []string{"beta-2", "prod-2"}}, {"C", 8, []string{"beta-3"}}}
	exampleB := []lcImage{{"A", 10, []string{"beta-1", "prod-1"}}, {"B", 9, []string{"beta-2", "prod-2"}}, {"C", 8, []string{"beta-3", "prod-3"}}}
	mixed := []lcImage{
		{"u1", 30, nil}, {"u2", 20, nil}, {"u3", 2, nil},
		{"v1", 40, []string{"v1.0"}}, {"v2", 25, []string{"v2.0", "latest-old"}}, {"v3", 1, []string{"v3.0", "latest"}},
		{"dev1", 16, []string{"dev-1"}}, {"dev2", 14, []string{"dev-2"}}, {"dev3", 13, []string{"dev-3"}},
	}
	tests := []struct {
		name   string
		images []lcImage
		policy string
		want   []string // name@priority, oldest first
	}{
		{"example A prefixes", exampleA, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":["prod"],`+keep1), lcRule(2, `"tagStatus":"tagged","tagPrefixList":["beta"],`+keep1)),
			[]string{"A@1"}},
		{"example A patterns", exampleA, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPatternList":["prod*"],`+keep1), lcRule(2, `"tagStatus":"tagged","tagPatternList":["beta*"],`+keep1)),
			[]string{"A@1"}},
		{"example B", exampleB, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":["beta","prod"],`+keep1), lcRule(2, `"tagStatus":"tagged","tagPrefixList":["beta"],`+keep1)),
			[]string{"A@1", "B@1"}},
		{"untagged count", mixed, lcPolicy(lcRule(1, `"tagStatus":"untagged",`+keep1)), []string{"u1@1", "u2@1"}},
		{"untagged age", mixed, lcPolicy(lcRule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":20`)), []string{"u1@1"}},
		{"age is strictly older", mixed, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":["dev"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14`)),
			[]string{"dev1@1"}},
		{"any count", mixed, lcPolicy(lcRule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":7`)), []string{"v1@1", "u1@1"}},
		{"any age", mixed, lcPolicy(lcRule(3, `"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":15`)),
			[]string{"v1@3", "u1@3", "v2@3", "u2@3", "dev1@3"}},
		{"prefix needs every entry", mixed, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":["v","latest"],"countType":"imageCountMoreThan","countNumber":1`)),
			[]string{"v2@1"}},
		{"prefix any tag", mixed, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPrefixList":["latest"],"countType":"imageCountMoreThan","countNumber":1`)),
			[]string{"v2@1"}},
		{"pattern without wildcard is exact", mixed, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPatternList":["v2"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1`)),
			nil},
		{"exact pattern", mixed, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPatternList":["v2.0"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1`)),
			[]string{"v2@1"}},
		{"pattern wildcards", mixed, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPatternList":["v*.0","*-old"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1`)),
			[]string{"v2@1"}},
		{"pattern middle", mixed, lcPolicy(lcRule(1, `"tagStatus":"tagged","tagPatternList":["d*v-*"],"countType":"imageCountMoreThan","countNumber":2`)),
			[]string{"dev1@1"}},
		{"priority order and at most one rule", mixed, lcPolicy(
			lcRule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":10`),
			lcRule(2, `"tagStatus":"tagged","tagPrefixList":["dev"],"countType":"imageCountMoreThan","countNumber":1`),
			lcRule(9, `"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":10`)),
			[]string{"v1@9", "u1@1", "v2@9", "u2@1", "dev1@2", "dev2@2"}},
		{"a matching earlier rule protects", mixed, lcPolicy(
			lcRule(1, `"tagStatus":"tagged","tagPatternList":["v*"],"countType":"imageCountMoreThan","countNumber":9999`),
			lcRule(2, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1`)),
			[]string{"u1@2", "u2@2", "dev1@2", "dev2@2", "dev3@2", "u3@2"}},
		{"nothing to expire", mixed, lcPolicy(lcRule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":100`)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLCEnv(t)
			e.createRepo("app")
			for _, img := range tt.images {
				e.push("app", img.name, img.age, img.tags...)
			}
			res, err := e.reg.PreviewLifecycle(context.Background(), testScope, "app", tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.expired(res); !slices.Equal(got, tt.want) {
				t.Fatalf("expired %v, want %v", got, tt.want)
			}
			for _, r := range res {
				if r.Action != LifecycleActionExpire || r.PushedAt.IsZero() {
					t.Fatalf("result %+v", r)
				}
			}
			// A preview changes nothing.
			imgs, _ := e.reg.DescribeImages(context.Background(), testScope, "app", nil)
			if len(imgs) != len(tt.images) {
				t.Fatalf("%d images after preview, want %d", len(imgs), len(tt.images))
			}
		})
	}
}

func TestPreviewLifecycleErrors(t *testing.T) {
	e := newLCEnv(t)
	ctx := context.Background()
	e.createRepo("app")
	_, err := e.reg.PreviewLifecycle(ctx, testScope, "app", "")
	if !errors.Is(err, ErrLifecyclePolicyNotFound) || !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("no policy: %v", err)
	}
	if want := "Lifecycle policy does not exist for the repository with name 'app' in the registry with id '123456789012'"; errdefs.Message(err) != want {
		t.Fatalf("message %q", errdefs.Message(err))
	}
	if _, err := e.reg.PreviewLifecycle(ctx, testScope, "app", `{"rules":[]}`); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("bad text: %v", err)
	}
	if _, err := e.reg.PreviewLifecycle(ctx, testScope, "nope", lcPolicy(lcRule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1`))); !errors.Is(err, ErrRepositoryNotFound) {
		t.Fatalf("missing repo: %v", err)
	}
	if _, err := e.reg.ApplyLifecycle(ctx, testScope, "app"); !errors.Is(err, ErrLifecyclePolicyNotFound) {
		t.Fatalf("apply without policy: %v", err)
	}
	if _, err := e.reg.LifecycleEvaluatedAt(ctx, testScope, "nope"); !errors.Is(err, ErrRepositoryNotFound) {
		t.Fatalf("evaluatedAt of missing repo: %v", err)
	}
}

func TestApplyLifecycle(t *testing.T) {
	e := newLCEnv(t)
	ctx := context.Background()
	policy := lcPolicy(
		lcRule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7`),
		lcRule(2, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2`))
	e.createRepo("app", func(r *Repository) { r.LifecyclePolicy = policy })
	e.push("app", "old-untagged", 10, nil...)
	e.push("app", "new-untagged", 1, nil...)
	e.push("app", "v1", 5, "v1")
	e.push("app", "v2", 4, "v2", "stable")
	e.push("app", "v3", 3, "v3")

	if at, err := e.reg.LifecycleEvaluatedAt(ctx, testScope, "app"); err != nil || !at.IsZero() {
		t.Fatalf("evaluatedAt before: %v %v", at, err)
	}
	preview, err := e.reg.PreviewLifecycle(ctx, testScope, "app", "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.reg.ApplyLifecycle(ctx, testScope, "app")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"old-untagged@1", "v1@2", "v2@2"}
	if got := e.expired(res); !slices.Equal(got, want) || !slices.Equal(e.expired(preview), want) {
		t.Fatalf("applied %v, previewed %v, want %v", got, e.expired(preview), want)
	}
	imgs, err := e.reg.DescribeImages(ctx, testScope, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, img := range imgs {
		left = append(left, e.names[img.Digest])
	}
	if !slices.Equal(left, []string{"new-untagged", "v3"}) {
		t.Fatalf("left %v", left)
	}
	// Tags went with their images, and the registry serves them no more.
	ids, _ := e.reg.ListImages(ctx, testScope, "app", TagStatusTagged)
	if len(ids) != 1 || ids[0].Tag != "v3" {
		t.Fatalf("tags %+v", ids)
	}
	// (Over /v2/, an expired image answers MANIFEST_UNKNOWN: see
	// distribution's TestLifecycleExpiredIsUnknown.)
	for _, ref := range []string{"stable", res[0].Digest} {
		if _, _, err := e.reg.GetManifest(ctx, testScope, "app", ref); !errors.Is(err, ErrImageNotFound) {
			t.Fatalf("manifest %s after expiry: %v", ref, err)
		}
	}

	at, err := e.reg.LifecycleEvaluatedAt(ctx, testScope, "app")
	if err != nil || !at.Equal(e.now) {
		t.Fatalf("evaluatedAt %v %v, want %v", at, err, e.now)
	}

	// Applying again is stable: nothing more goes.
	e.clock.Add(time.Minute)
	res, err = e.reg.ApplyLifecycle(ctx, testScope, "app")
	if err != nil || len(res) != 0 {
		t.Fatalf("second apply: %v %v", e.expired(res), err)
	}
	if at, _ := e.reg.LifecycleEvaluatedAt(ctx, testScope, "app"); !at.Equal(e.now.Add(time.Minute)) {
		t.Fatalf("evaluatedAt %v", at)
	}

	// A repository created again under the same name starts afresh, and
	// DeleteRepository took the lifecycle record with it.
	if _, err := e.reg.DeleteRepository(ctx, testScope, "app", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.st.Get(ctx, lifecycleKey(testScope, "app")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lifecycle record after DeleteRepository: %v", err)
	}
	e.clock.Add(time.Minute)
	e.createRepo("app")
	if at, err := e.reg.LifecycleEvaluatedAt(ctx, testScope, "app"); err != nil || !at.IsZero() {
		t.Fatalf("evaluatedAt after re-create: %v %v", at, err)
	}
}

func TestLifecycleSkipsIndexChildren(t *testing.T) {
	e := newLCEnv(t)
	ctx := context.Background()
	e.createRepo("multi")
	child := e.push("multi", "child", 30, nil...)
	_, b, err := e.reg.GetManifest(ctx, testScope, "multi", child)
	if err != nil {
		t.Fatal(err)
	}
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` +
		child + `","size":` + itoa(len(b)) + `,"platform":{"architecture":"amd64","os":"linux"}}]}`
	if _, err := e.reg.PutManifest(ctx, testScope, "multi", "latest", "", []byte(index)); err != nil {
		t.Fatal(err)
	}
	res, err := e.reg.PreviewLifecycle(ctx, testScope, "multi", lcPolicy(lcRule(1, `"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1`)))
	if err != nil || len(res) != 0 {
		t.Fatalf("expired %v %v", e.expired(res), err)
	}
}

func TestRunLifecycle(t *testing.T) {
	e := newLCEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	policy := lcPolicy(lcRule(1, `"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1`))
	e.createRepo("team/app", func(r *Repository) { r.LifecyclePolicy = policy })
	e.createRepo("nopolicy")
	e.push("team/app", "old", 2, "old")
	e.push("team/app", "new", 1, "new")
	e.push("nopolicy", "a", 2, "a")
	e.push("nopolicy", "b", 1, "b")
	// Another scope, same policy.
	west := testScope
	west.Region = "eu-west-1"
	if _, err := e.reg.CreateRepository(ctx, west, Repository{Name: "team/app", LifecyclePolicy: policy}); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	go func() {
		e.reg.RunLifecycle(ctx, 10*time.Millisecond)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		at1, _ := e.reg.LifecycleEvaluatedAt(context.Background(), testScope, "team/app")
		at2, _ := e.reg.LifecycleEvaluatedAt(context.Background(), west, "team/app")
		if !at1.IsZero() && !at2.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lifecycle never ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunLifecycle did not stop")
	}
	for repo, want := range map[string]int{"team/app": 1, "nopolicy": 2} {
		imgs, err := e.reg.DescribeImages(context.Background(), testScope, repo, nil)
		if err != nil || len(imgs) != want {
			t.Fatalf("%s: %d images (%v), want %d", repo, len(imgs), err, want)
		}
	}
	if at, _ := e.reg.LifecycleEvaluatedAt(context.Background(), testScope, "nopolicy"); !at.IsZero() {
		t.Fatalf("repository without policy evaluated at %v", at)
	}
}
