package discovery

import (
	"context"
	"maps"
	"strings"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// View is an immutable snapshot of the private DNS namespaces of one
// account and region, with their services and instances: what the DNS
// server answers from. It is rebuilt after every change (and at start, by
// Load), so a DNS answer never waits on the store.
type View struct {
	// Zones by namespace name (lower case, no trailing dot).
	Zones map[string]*Zone
}

// Zone is one private DNS namespace.
type Zone struct {
	Namespace *Namespace
	// Services by lower-case name; only services with DNS records.
	Services map[string]*ServiceRecords
}

// ServiceRecords is a service and its instances.
type ServiceRecords struct {
	Service   *Service
	Instances []*Instance
}

// FindZone returns the zone name (lower case, no trailing dot) lies in,
// the longest match, and the part of name before it ("" at the apex).
func (v *View) FindZone(name string) (*Zone, string) {
	if v == nil {
		return nil, ""
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	rel := ""
	for rest := name; ; {
		if z, ok := v.Zones[rest]; ok {
			return z, strings.TrimSuffix(rel, ".")
		}
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			return nil, ""
		}
		rel += rest[:i+1]
		rest = rest[i+1:]
	}
}

// View answers the current snapshot of a scope (nil when it has no
// private DNS namespace).
func (d *Directory) View(s tenant.Scope) *View {
	return (*d.views.Load())[s]
}

// update runs fn in one store transaction and refreshes the scope's view
// once it is committed.
func (d *Directory) update(ctx context.Context, s tenant.Scope, fn func(tx store.Tx) error) error {
	if _, err := d.st.Update(ctx, fn); err != nil {
		return err
	}
	if err := d.refresh(ctx, s); err != nil {
		d.log.Warn("service discovery: DNS view refresh failed", "account", s.Account, "region", s.Region, "err", err)
	}
	return nil
}

// refresh rebuilds one scope's view from the store.
func (d *Directory) refresh(ctx context.Context, s tenant.Scope) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := &View{Zones: map[string]*Zone{}}
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		nss, err := store.ListJSON[Namespace](tx, prefix(s)+"namespaces/")
		if err != nil {
			return err
		}
		byID := map[string]*Zone{}
		for _, ns := range nss {
			if ns.Type != TypeDNSPrivate {
				continue
			}
			z := &Zone{Namespace: ns, Services: map[string]*ServiceRecords{}}
			v.Zones[strings.ToLower(ns.Name)] = z
			byID[ns.ID] = z
		}
		svcs, err := store.ListJSON[Service](tx, prefix(s)+"services/")
		if err != nil {
			return err
		}
		for _, svc := range svcs {
			z := byID[svc.NamespaceID]
			if z == nil || len(svc.Records) == 0 {
				continue
			}
			insts, err := store.ListJSON[Instance](tx, instancesPrefix(s, svc.ID))
			if err != nil {
				return err
			}
			z.Services[strings.ToLower(svc.Name)] = &ServiceRecords{Service: svc, Instances: insts}
		}
		return nil
	})
	if err != nil {
		return err
	}
	next := maps.Clone(*d.views.Load())
	if len(v.Zones) == 0 {
		delete(next, s)
	} else {
		next[s] = v
	}
	d.views.Store(&next)
	return nil
}

// Load builds the views of every scope from the store (at start, before
// the DNS server answers).
func (d *Directory) Load(ctx context.Context) error {
	kvs, err := d.st.List(ctx, service+"/")
	if err != nil {
		return err
	}
	scopes := map[tenant.Scope]bool{}
	for _, kv := range kvs {
		parts := strings.SplitN(kv.Key, "/", 4)
		if len(parts) == 4 {
			scopes[tenant.Scope{Account: parts[1], Region: parts[2]}] = true
		}
	}
	for s := range scopes {
		if err := d.refresh(ctx, s); err != nil {
			return err
		}
	}
	return nil
}
