package discovery

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

var scope = tenant.Scope{Account: "123456789012", Region: "us-east-1"}

func newDir(t *testing.T) *Directory {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return New(Config{}, st)
}

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// fixture: namespace internal.local and service orders (A+SRV, custom
// health).
func withService(t *testing.T, d *Directory) (*Namespace, *Service) {
	t.Helper()
	ctx := context.Background()
	op, err := d.CreateNamespace(ctx, scope, NamespaceInput{Name: "Internal.Local.", Type: TypeDNSPrivate, Vpc: "vpc-1"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := d.GetOperation(ctx, scope, op)
	if err != nil || o.Status != OpSuccess {
		t.Fatalf("operation %v %v", o, err)
	}
	ns, err := d.GetNamespace(ctx, scope, o.Targets["NAMESPACE"])
	if err != nil || ns.Name != "internal.local" {
		t.Fatalf("namespace %v %v", ns, err)
	}
	svc, err := d.CreateService(ctx, scope, ServiceInput{Name: "orders", NamespaceID: ns.ID, CustomHealth: true,
		DNS: &DNSConfig{Records: []DNSRecord{{Type: "A", TTL: 10}, {Type: "SRV", TTL: 10}}}})
	if err != nil {
		t.Fatal(err)
	}
	return ns, svc
}

func TestInstanceLimits(t *testing.T) {
	d := newDir(t)
	_, svc := withService(t, d)
	ctx := context.Background()
	base := func() map[string]string {
		return map[string]string{AttrIPv4: "10.0.0.1", AttrPort: "80"}
	}
	many := base()
	for i := range 29 {
		many["k"+string(rune('a'+i%26))+strings.Repeat("x", i)] = "v"
	}
	big := base()
	big["a"] = strings.Repeat("v", 1024)
	big["b"] = strings.Repeat("v", 1024)
	big["c"] = strings.Repeat("v", 1024)
	big["d"] = strings.Repeat("v", 1024)
	big["e"] = strings.Repeat("v", 1000)
	for _, c := range []struct {
		name  string
		id    string
		attrs map[string]string
		kind  Kind
	}{
		{"31 attributes", "i1", many, KindResourceLimitExceeded},
		{"over 5000 characters", "i1", big, KindInvalidInput},
		{"value over 1024", "i1", map[string]string{AttrIPv4: "10.0.0.1", AttrPort: "1", "v": strings.Repeat("x", 1025)}, KindInvalidInput},
		{"no IPv4 for an A record", "i1", map[string]string{AttrPort: "80"}, KindInvalidInput},
		{"no port for an SRV record", "i1", map[string]string{AttrIPv4: "10.0.0.1"}, KindInvalidInput},
		{"bad port", "i1", map[string]string{AttrIPv4: "10.0.0.1", AttrPort: "65536"}, KindInvalidInput},
		{"bad instance id", "i 1", base(), KindInvalidInput},
		{"leading blank in a value", "i1", map[string]string{AttrIPv4: "10.0.0.1", AttrPort: "1", "k": " v"}, KindInvalidInput},
	} {
		if _, err := d.RegisterInstance(ctx, scope, svc.ID, c.id, c.attrs, ""); kindOf(err) != c.kind {
			t.Errorf("%s: %v, want kind %d", c.name, err, c.kind)
		}
	}
	if n, _, _ := d.ListInstances(ctx, scope, svc.ID, Page{}); len(n) != 0 {
		t.Fatalf("refused registrations left instances: %v", n)
	}
}

func TestCreatorRequestID(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	in := NamespaceInput{Name: "a.local", Type: TypeDNSPrivate, Vpc: "vpc-1", CreatorRequestID: "r1"}
	op1, err := d.CreateNamespace(ctx, scope, in)
	if err != nil {
		t.Fatal(err)
	}
	op2, err := d.CreateNamespace(ctx, scope, in)
	if err != nil || op2 != op1 {
		t.Fatalf("retry: %s %v, want %s", op2, err, op1)
	}
	in.Name = "b.local"
	_, err = d.CreateNamespace(ctx, scope, in)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindDuplicateRequest || e.OperationID != op1 {
		t.Fatalf("another request with the same id: %v", err)
	}
	_, err = d.CreateNamespace(ctx, scope, NamespaceInput{Name: "A.local", Type: TypeDNSPrivate, Vpc: "vpc-2"})
	if kindOf(err) != KindNamespaceAlreadyExists {
		t.Fatalf("same name: %v", err)
	}
}

// fakeTasks answers TaskStates from a map.
type fakeTasks map[string]TaskState

func (f fakeTasks) TaskStates(_ context.Context, _ tenant.Scope, _ string, ids []string) (map[string]TaskState, error) {
	out := map[string]TaskState{}
	for _, id := range ids {
		if st, ok := f[id]; ok {
			out[id] = st
		}
	}
	return out, nil
}

func TestRegistrarAndReconcile(t *testing.T) {
	d := newDir(t)
	_, svc := withService(t, d)
	ctx := context.Background()
	r := d.Registrar("169.254.170.2")
	ecsSvc := &control.Service{Name: "orders", ServiceRegistries: []control.ServiceRegistry{{RegistryARN: svc.ARN, ContainerName: "app", ContainerPort: 8080}}}
	task := func(id, ip string) *control.Task {
		return &control.Task{ID: id, ARN: "arn:aws:ecs:us-east-1:123456789012:task/default/" + id, Cluster: "default", Family: "orders",
			AvailabilityZone: "us-east-1b", Attachments: []control.TaskAttachment{{Details: []control.KeyValue{{Name: "privateIPv4Address", Value: ip}}}}}
	}
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 32)
	for id, ip := range map[string]string{a: "10.0.0.2", b: "10.0.0.3"} {
		if err := r.Register(ctx, task(id, ip), ecsSvc); err != nil {
			t.Fatal(err)
		}
	}
	inst, err := d.GetInstance(ctx, scope, svc.ID, a)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{AttrIPv4: "10.0.0.2", AttrPort: "8080", AttrAZ: "us-east-1b", AttrRegion: "us-east-1",
		AttrCluster: "default", AttrECSService: "orders", AttrFamily: "orders"}
	for k, v := range want {
		if inst.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, inst.Attributes[k], v)
		}
	}
	// b's task is gone, a's is unhealthy.
	if err := d.Reconcile(ctx, fakeTasks{a: {Live: true, Health: Unhealthy}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetInstance(ctx, scope, svc.ID, b); kindOf(err) != KindInstanceNotFound {
		t.Fatalf("the gone task's instance: %v", err)
	}
	if inst, _ := d.GetInstance(ctx, scope, svc.ID, a); inst == nil || inst.Health != Unhealthy {
		t.Fatalf("a's health: %+v", inst)
	}
	z, _ := d.View(scope).FindZone("orders.internal.local.")
	if len(z.Services["orders"].Instances) != 1 {
		t.Fatalf("view after reconcile: %+v", z.Services["orders"])
	}
	if _, err := r.Deregister(ctx, task(a, ""), ecsSvc); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Deregister(ctx, task(a, ""), ecsSvc); err != nil {
		t.Fatalf("deregistering twice: %v", err)
	}
	if z, _ := d.View(scope).FindZone("orders.internal.local."); len(z.Services["orders"].Instances) != 0 {
		t.Fatal("deregistered instance still in the view")
	}
	info, err := d.ServiceRegistry(ctx, scope, svc.ARN)
	if err != nil || len(info.RecordTypes) != 2 {
		t.Fatalf("ServiceRegistry: %+v %v", info, err)
	}
	other := tenant.Scope{Account: "210987654321", Region: "us-east-1"}
	if _, err := d.ServiceRegistry(ctx, other, svc.ARN); kindOf(err) != KindServiceNotFound {
		t.Fatalf("another account's registry: %v", err)
	}
}

func TestDeleteInUse(t *testing.T) {
	d := newDir(t)
	ns, svc := withService(t, d)
	ctx := context.Background()
	if _, err := d.DeleteNamespace(ctx, scope, ns.ID); kindOf(err) != KindResourceInUse {
		t.Fatalf("namespace with a service: %v", err)
	}
	if _, err := d.RegisterInstance(ctx, scope, svc.ID, "i1", map[string]string{AttrIPv4: "10.0.0.1", AttrPort: "80"}, ""); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteService(ctx, scope, svc.ID); kindOf(err) != KindResourceInUse {
		t.Fatalf("service with an instance: %v", err)
	}
}

// FuzzValidDNSName: whatever the name validation accepts is a DNS name
// with labels of at most 63 octets, and needs no escaping.
func FuzzValidDNSName(f *testing.F) {
	for _, s := range []string{"internal.local", "a", "-a.b", "a..b", "x_y.z", strings.Repeat("a", 64), "a.b.", "é.local"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidDNSName(s, 253) {
			return
		}
		if _, ok := dns.IsDomainName(s); !ok {
			t.Fatalf("%q accepted but not a domain name", s)
		}
		for _, l := range dns.SplitDomainName(s) {
			if len(l) == 0 || len(l) > 63 {
				t.Fatalf("%q accepted with label %q", s, l)
			}
		}
		if strings.ContainsAny(s, "\\ \"()@;$") || dns.Fqdn(s) != s+"." {
			t.Fatalf("%q accepted but needs escaping", s)
		}
		if normalizeNamespaceName(normalizeNamespaceName(s)) != normalizeNamespaceName(s) {
			t.Fatalf("normalizing %q is not idempotent", s)
		}
	})
}

// FuzzCheckAttributes: attributes are accepted or refused with an
// InvalidInput-class error, never a panic, and accepted ones respect the
// limits.
func FuzzCheckAttributes(f *testing.F) {
	f.Add("AWS_INSTANCE_IPV4", "10.0.0.1", "AWS_INSTANCE_PORT", "80")
	f.Add("k", " v", "AWS_INSTANCE_IPV6", "::1")
	svc := &Service{Type: "DNS_HTTP", Records: []DNSRecord{{Type: "A"}, {Type: "SRV"}}}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		attrs := map[string]string{k1: v1, k2: v2}
		err := checkAttributes(svc, attrs)
		if err != nil {
			if kindOf(err) == 0 {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		for k, v := range attrs {
			if len(k) > MaxAttrKeyLen || len(v) > MaxAttrValueLen || !printable(k) {
				t.Fatalf("accepted %q=%q", k, v)
			}
		}
	})
}

func TestPurgeOperations(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	op, err := d.CreateNamespace(ctx, scope, NamespaceInput{Name: "x", Type: TypeHTTP})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.PurgeOperations(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("purged %d fresh operations: %v", n, err)
	}
	if n, err := d.PurgeOperations(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("purged %d: %v", n, err)
	}
	if _, err := d.GetOperation(ctx, scope, op); kindOf(err) != KindOperationNotFound {
		t.Fatalf("purged operation: %v", err)
	}
}
