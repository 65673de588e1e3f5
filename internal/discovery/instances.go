package discovery

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// RegisterInstance creates or replaces an instance of a service and
// returns the id of its operation.
func (d *Directory) RegisterInstance(ctx context.Context, s tenant.Scope, serviceID, id string, attrs map[string]string, creatorRequestID string) (string, error) {
	if !validInstanceID(id) {
		return "", invalidf("InstanceId %q is not valid: 1-64 characters of [0-9a-zA-Z_/:.@-].", truncate(id))
	}
	serviceID = serviceIDOf(s, serviceID)
	hash := hashOf([]any{serviceID, id, attrs})
	var opID string
	err := d.update(ctx, s, func(tx store.Tx) error {
		r, err := checkRequest(tx, s, creatorRequestID, hash)
		if err != nil || r != nil {
			if r != nil {
				opID = r.OperationID
			}
			return err
		}
		svc, err := getService(tx, s, serviceID)
		if err != nil {
			return err
		}
		if err := checkAttributes(svc, attrs); err != nil {
			return err
		}
		now := d.now().UTC()
		inst := &Instance{ID: id, ServiceID: svc.ID, Attributes: maps.Clone(attrs), CreatorRequestID: creatorRequestID, CreatedAt: now, UpdatedAt: now}
		if cur, err := store.GetJSON[Instance](tx, instanceKey(s, svc.ID, id)); err == nil {
			inst.CreatedAt, inst.Health = cur.CreatedAt, cur.Health
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if svc.CustomHealth && inst.Health == "" {
			inst.Health = Healthy
			if v := attrs[AttrInit]; v != "" {
				inst.Health = v
			}
		}
		if err := store.PutJSON(tx, instanceKey(s, svc.ID, id), inst); err != nil {
			return err
		}
		svc.Revision++
		if err := store.PutJSON(tx, serviceKey(s, svc.ID), svc); err != nil {
			return err
		}
		opID, err = d.newOperation(tx, s, OpRegisterInstance, map[string]string{"SERVICE": svc.ID, "INSTANCE": id})
		if err != nil {
			return err
		}
		return putRequest(tx, s, creatorRequestID, request{Hash: hash, OperationID: opID})
	})
	return opID, err
}

// DeregisterInstance removes an instance and returns its operation's id.
func (d *Directory) DeregisterInstance(ctx context.Context, s tenant.Scope, serviceID, id string) (string, error) {
	serviceID = serviceIDOf(s, serviceID)
	var opID string
	err := d.update(ctx, s, func(tx store.Tx) error {
		svc, err := getService(tx, s, serviceID)
		if err != nil {
			return err
		}
		if _, err := getInstance(tx, s, svc.ID, id); err != nil {
			return err
		}
		if err := tx.Delete(instanceKey(s, svc.ID, id)); err != nil {
			return err
		}
		svc.Revision++
		if err := store.PutJSON(tx, serviceKey(s, svc.ID), svc); err != nil {
			return err
		}
		opID, err = d.newOperation(tx, s, OpDeregisterInstance, map[string]string{"SERVICE": svc.ID, "INSTANCE": id})
		return err
	})
	return opID, err
}

func getInstance(tx store.ReadTx, s tenant.Scope, srv, id string) (*Instance, error) {
	if !validInstanceID(id) {
		return nil, errInstanceNotFound(truncate(id))
	}
	inst, err := store.GetJSON[Instance](tx, instanceKey(s, srv, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errInstanceNotFound(id)
	}
	return inst, err
}

// GetInstance reads an instance.
func (d *Directory) GetInstance(ctx context.Context, s tenant.Scope, serviceID, id string) (*Instance, error) {
	var inst *Instance
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		svc, err := getService(tx, s, serviceIDOf(s, serviceID))
		if err != nil {
			return err
		}
		inst, err = getInstance(tx, s, svc.ID, id)
		return err
	})
	return inst, err
}

// ListInstances lists a service's instances.
func (d *Directory) ListInstances(ctx context.Context, s tenant.Scope, serviceID string, p Page) ([]*Instance, string, error) {
	var all []*Instance
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		svc, err := getService(tx, s, serviceIDOf(s, serviceID))
		if err != nil {
			return err
		}
		all, err = store.ListJSON[Instance](tx, instancesPrefix(s, svc.ID))
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return pageOf(all, func(i *Instance) string { return i.ID }, "ListInstances", p)
}

// InstanceHealth is one instance's health.
type InstanceHealth struct {
	ID     string
	Status string
}

// GetInstancesHealthStatus answers the health of a service's instances
// (all, or the ids given).
func (d *Directory) GetInstancesHealthStatus(ctx context.Context, s tenant.Scope, serviceID string, ids []string, p Page) ([]InstanceHealth, string, error) {
	var all []*Instance
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		svc, err := getService(tx, s, serviceIDOf(s, serviceID))
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			all, err = store.ListJSON[Instance](tx, instancesPrefix(s, svc.ID))
			return err
		}
		for _, id := range ids {
			inst, err := getInstance(tx, s, svc.ID, id)
			if err != nil {
				return err
			}
			all = append(all, inst)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	page, next, err := pageOf(all, func(i *Instance) string { return i.ID }, "GetInstancesHealthStatus", p)
	out := make([]InstanceHealth, 0, len(page))
	for _, i := range page {
		out = append(out, InstanceHealth{ID: i.ID, Status: i.HealthStatus()})
	}
	return out, next, err
}

// UpdateInstanceCustomHealthStatus sets an instance's custom health. It
// takes effect at once (Cloud Map applies it within about 30 s).
func (d *Directory) UpdateInstanceCustomHealthStatus(ctx context.Context, s tenant.Scope, serviceID, id, status string) error {
	if status != Healthy && status != Unhealthy {
		return invalidf("Status must be HEALTHY or UNHEALTHY.")
	}
	return d.update(ctx, s, func(tx store.Tx) error {
		svc, err := getService(tx, s, serviceIDOf(s, serviceID))
		if err != nil {
			return err
		}
		if !svc.CustomHealth {
			return &Error{Kind: KindCustomHealthNotFound, Message: "The service has no HealthCheckCustomConfig."}
		}
		inst, err := getInstance(tx, s, svc.ID, id)
		if err != nil {
			return err
		}
		if inst.Health == status {
			return nil
		}
		inst.Health, inst.UpdatedAt = status, d.now().UTC()
		if err := store.PutJSON(tx, instanceKey(s, svc.ID, id), inst); err != nil {
			return err
		}
		svc.Revision++
		return store.PutJSON(tx, serviceKey(s, svc.ID), svc)
	})
}

// DiscoverQuery is a DiscoverInstances call.
type DiscoverQuery struct {
	Namespace, Service string
	// Health is HEALTHY (""), UNHEALTHY, ALL or HEALTHY_OR_ELSE_ALL.
	Health     string
	Query      map[string]string // all must match
	Optional   map[string]string // applied when some instance matches them
	MaxResults int               // 0: 100
}

// Discovered is one DiscoverInstances answer.
type Discovered struct {
	Namespace, Service string
	Instances          []*Instance
	Revision           int64
}

// lookupService finds a service by namespace and service name.
func lookupService(tx store.ReadTx, s tenant.Scope, nsName, svcName string) (*Service, *Namespace, error) {
	kv, err := tx.Get(nsNameKey(s, strings.ToLower(normalizeNamespaceName(nsName))))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errNamespaceNotFound(truncate(nsName))
	}
	if err != nil {
		return nil, nil, err
	}
	ns, err := getNamespace(tx, s, string(kv.Value))
	if err != nil {
		return nil, nil, err
	}
	kv, err = tx.Get(svcNameKey(s, ns.ID, svcName))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errServiceNotFound(truncate(svcName))
	}
	if err != nil {
		return nil, nil, err
	}
	svc, err := getService(tx, s, string(kv.Value))
	return svc, ns, err
}

// DiscoverInstances answers the instances of a service that match the
// query, in random order.
func (d *Directory) DiscoverInstances(ctx context.Context, s tenant.Scope, q DiscoverQuery) (*Discovered, error) {
	switch q.Health {
	case "":
		q.Health = Healthy
	case Healthy, Unhealthy, "ALL", "HEALTHY_OR_ELSE_ALL":
	default:
		return nil, invalidf("HealthStatus must be one of HEALTHY, UNHEALTHY, ALL, HEALTHY_OR_ELSE_ALL.")
	}
	if q.MaxResults == 0 {
		q.MaxResults = 100
	}
	if q.MaxResults < 1 || q.MaxResults > 1000 {
		return nil, invalidf("MaxResults must be between 1 and 1000.")
	}
	if q.Namespace == "" || q.Service == "" {
		return nil, invalidf("NamespaceName and ServiceName are required.")
	}
	out := &Discovered{}
	var all []*Instance
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		svc, ns, err := lookupService(tx, s, q.Namespace, q.Service)
		if err != nil {
			return err
		}
		out.Namespace, out.Service, out.Revision = ns.Name, svc.Name, svc.Revision
		all, err = store.ListJSON[Instance](tx, instancesPrefix(s, svc.ID))
		return err
	})
	if err != nil {
		return nil, err
	}
	matches := func(inst *Instance, params map[string]string) bool {
		for k, v := range params {
			if inst.Attributes[k] != v {
				return false
			}
		}
		return true
	}
	all = slices.DeleteFunc(all, func(i *Instance) bool { return !matches(i, q.Query) })
	if len(q.Optional) > 0 {
		if opt := slices.DeleteFunc(slices.Clone(all), func(i *Instance) bool { return !matches(i, q.Optional) }); len(opt) > 0 {
			all = opt
		}
	}
	var healthy, unhealthy []*Instance
	for _, i := range all {
		if i.HealthStatus() == Healthy {
			healthy = append(healthy, i)
		} else {
			unhealthy = append(unhealthy, i)
		}
	}
	switch q.Health {
	case Healthy:
		all = healthy
	case Unhealthy:
		all = unhealthy
	case "HEALTHY_OR_ELSE_ALL":
		if len(healthy) > 0 {
			all = healthy
		}
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	if len(all) > q.MaxResults {
		all = all[:q.MaxResults]
	}
	out.Instances = all
	return out, nil
}

// DiscoverInstancesRevision answers a service's instances revision.
func (d *Directory) DiscoverInstancesRevision(ctx context.Context, s tenant.Scope, nsName, svcName string) (int64, error) {
	if nsName == "" || svcName == "" {
		return 0, invalidf("NamespaceName and ServiceName are required.")
	}
	var rev int64
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		svc, _, err := lookupService(tx, s, nsName, svcName)
		if err == nil {
			rev = svc.Revision
		}
		return err
	})
	return rev, err
}
