package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// The attributes ECS gives the instances of its tasks.
const (
	AttrAZ         = "AVAILABILITY_ZONE"
	AttrRegion     = "REGION"
	AttrCluster    = "ECS_CLUSTER_NAME"
	AttrECSService = "ECS_SERVICE_NAME"
	AttrFamily     = "ECS_TASK_DEFINITION_FAMILY"
)

// ServiceRegistry answers ECS's questions about a Cloud Map service named
// in serviceRegistries (control.Registries).
func (d *Directory) ServiceRegistry(ctx context.Context, s tenant.Scope, arn string) (control.RegistryInfo, error) {
	id, ok := strings.CutPrefix(arn, s.ARN(service, "service/"))
	if !ok {
		return control.RegistryInfo{}, errServiceNotFound(truncate(arn))
	}
	svc, err := d.GetService(ctx, s, id)
	if err != nil {
		return control.RegistryInfo{}, err
	}
	info := control.RegistryInfo{ARN: svc.ARN}
	for _, r := range svc.Records {
		info.RecordTypes = append(info.RecordTypes, r.Type)
	}
	return info, nil
}

// Registrar registers the tasks of ECS services that name Cloud Map
// services in serviceRegistries, as ECS does: in ACTIVATING, with the
// task's address and port and ECS's attributes, under the task id as
// instance id; it deregisters them in DEACTIVATING, with nothing to drain.
type Registrar struct {
	d *Directory
	// hostAddr is the address host-mode tasks are registered with (the
	// address tasks reach the host at).
	hostAddr string
}

// Registrar returns the ECS registrar (control.Registrar) of the
// directory; hostAddr is what host-mode tasks are registered with.
func (d *Directory) Registrar(hostAddr string) *Registrar {
	return &Registrar{d: d, hostAddr: hostAddr}
}

var _ control.Registrar = (*Registrar)(nil)

// taskScope reads the account and region of a task from its ARN.
func taskScope(t *control.Task) (tenant.Scope, bool) {
	p := strings.SplitN(t.ARN, ":", 6)
	if len(p) != 6 {
		return tenant.Scope{}, false
	}
	return tenant.Scope{Account: p[4], Region: p[3]}, true
}

// taskIPv4 is the task's private address: its ENI's, else its
// containers' network interface.
func taskIPv4(t *control.Task) string {
	for _, a := range t.Attachments {
		for _, kv := range a.Details {
			if kv.Name == "privateIPv4Address" && kv.Value != "" {
				return kv.Value
			}
		}
	}
	for _, c := range t.Containers {
		for _, ni := range c.NetworkInterfaces {
			if ni.PrivateIPv4Address != "" {
				return ni.PrivateIPv4Address
			}
		}
	}
	return ""
}

// attributes are the instance attributes ECS registers a task with.
func (r *Registrar) attributes(s tenant.Scope, t *control.Task, svc *control.Service, reg control.ServiceRegistry) map[string]string {
	ip := taskIPv4(t)
	if ip == "" {
		ip = r.hostAddr // networkMode host: the task listens on the host
	}
	attrs := map[string]string{
		AttrIPv4: ip, AttrAZ: t.AvailabilityZone, AttrRegion: s.Region,
		AttrCluster: t.Cluster, AttrECSService: svc.Name, AttrFamily: t.Family,
	}
	if attrs[AttrAZ] == "" {
		attrs[AttrAZ] = s.Region + "a"
	}
	port := reg.Port
	if port == 0 && reg.ContainerPort != 0 {
		port = reg.ContainerPort
	}
	if port != 0 {
		attrs[AttrPort] = strconv.Itoa(port)
	}
	if t.HealthStatus == "UNHEALTHY" {
		attrs[AttrInit] = Unhealthy
	}
	return attrs
}

func registryID(s tenant.Scope, arn string) (string, bool) {
	return strings.CutPrefix(arn, s.ARN(service, "service/"))
}

// Register registers an ACTIVATING task in its service's registries.
func (r *Registrar) Register(ctx context.Context, t *control.Task, svc *control.Service) error {
	s, ok := taskScope(t)
	if !ok {
		return nil
	}
	for _, reg := range svc.ServiceRegistries {
		id, ok := registryID(s, reg.RegistryARN)
		if !ok {
			return errServiceNotFound(truncate(reg.RegistryARN))
		}
		attrs := r.attributes(s, t, svc, reg)
		if _, err := r.d.RegisterInstance(ctx, s, id, t.ID, attrs, ""); err != nil {
			return err
		}
		r.d.log.Info("task registered in Cloud Map", "account", s.Account, "cluster", t.Cluster, "task", t.ID, "service", id, "ip", attrs[AttrIPv4])
	}
	return nil
}

// Deregister removes a DEACTIVATING task from every Cloud Map service it
// is registered in (its service's registries, and any it was registered
// in before the service changed them). Nothing drains.
func (r *Registrar) Deregister(ctx context.Context, t *control.Task, _ *control.Service) (time.Duration, error) {
	s, ok := taskScope(t)
	if !ok {
		return 0, nil
	}
	return 0, r.d.deregisterTask(ctx, s, t.ID)
}

// deregisterTask removes a task's instances from all services of a scope.
func (d *Directory) deregisterTask(ctx context.Context, s tenant.Scope, taskID string) error {
	kvs, err := d.st.List(ctx, prefix(s)+"instances/")
	if err != nil {
		return err
	}
	var errs []error
	for _, kv := range kvs {
		rest := strings.TrimPrefix(kv.Key, prefix(s)+"instances/")
		srv, id, ok := strings.Cut(rest, "/")
		if !ok || id != taskID {
			continue
		}
		if _, err := d.DeregisterInstance(ctx, s, srv, id); err != nil && !isNotFound(err) {
			errs = append(errs, err)
			continue
		}
		d.log.Info("task deregistered from Cloud Map", "account", s.Account, "task", id, "service", srv)
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Kind == KindInstanceNotFound || e.Kind == KindServiceNotFound)
}

// TaskState is what the reconciler needs to know of a task.
type TaskState struct {
	// Live: the task exists and is meant to run (desired RUNNING, not
	// STOPPED yet).
	Live bool
	// Health is the task's health status (HEALTHY, UNHEALTHY, UNKNOWN).
	Health string
}

// Tasks answers the state of ECS tasks (the server adapts control).
// Tasks it does not know are left out of the answer.
type Tasks interface {
	TaskStates(ctx context.Context, s tenant.Scope, cluster string, ids []string) (map[string]TaskState, error)
}

// Reconcile brings ECS-registered instances in line with their tasks: it
// deregisters the instances of tasks that are gone or stopping (stopped
// while fargo was down, or whose deregistration failed), and makes the
// custom health of the others follow their task's health. The server
// runs it at start, before the DNS server answers, and then periodically.
func (d *Directory) Reconcile(ctx context.Context, tasks Tasks) error {
	kvs, err := d.st.List(ctx, service+"/")
	if err != nil {
		return err
	}
	type group struct {
		s       tenant.Scope
		cluster string
	}
	type ref struct {
		srv  string
		inst *Instance
	}
	groups := map[group][]ref{}
	for _, kv := range kvs {
		parts := strings.Split(kv.Key, "/")
		// servicediscovery/<acct>/<region>/instances/<srv>/<id>
		if len(parts) != 6 || parts[3] != "instances" {
			continue
		}
		var inst Instance
		if err := json.Unmarshal(kv.Value, &inst); err != nil {
			return err
		}
		cluster := inst.Attributes[AttrCluster]
		if cluster == "" || inst.Attributes[AttrECSService] == "" || !isTaskID(inst.ID) {
			continue // not registered by ECS
		}
		g := group{tenant.Scope{Account: parts[1], Region: parts[2]}, cluster}
		groups[g] = append(groups[g], ref{parts[4], &inst})
	}
	var errs []error
	for g, refs := range groups {
		ids := make([]string, 0, len(refs))
		for _, r := range refs {
			ids = append(ids, r.inst.ID)
		}
		states, err := tasks.TaskStates(ctx, g.s, g.cluster, ids)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range refs {
			st, ok := states[r.inst.ID]
			switch {
			case !ok || !st.Live:
				if _, err := d.DeregisterInstance(ctx, g.s, r.srv, r.inst.ID); err != nil && !isNotFound(err) {
					errs = append(errs, err)
				} else {
					d.log.Info("deregistered the Cloud Map instance of a task that is gone", "account", g.s.Account, "cluster", g.cluster, "task", r.inst.ID)
				}
			case r.inst.Health != "" && (st.Health == Healthy || st.Health == Unhealthy) && st.Health != r.inst.Health:
				err := d.UpdateInstanceCustomHealthStatus(ctx, g.s, r.srv, r.inst.ID, st.Health)
				if err != nil && !isNotFound(err) {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// isTaskID reports whether id looks like an ECS task id (32 hex digits).
func isTaskID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// NamespaceRegistries answers the ARNs of the services of a namespace
// named by name or ARN (ECS's ListServicesByNamespace).
func (d *Directory) NamespaceRegistries(ctx context.Context, s tenant.Scope, namespace string) ([]string, error) {
	var arns []string
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		id, ok := strings.CutPrefix(namespace, s.ARN(service, "namespace/"))
		if !ok {
			kv, err := tx.Get(nsNameKey(s, strings.ToLower(normalizeNamespaceName(namespace))))
			if err != nil {
				return control.ErrNamespaceNotFound
			}
			id = string(kv.Value)
		}
		if _, err := getNamespace(tx, s, id); err != nil {
			return control.ErrNamespaceNotFound
		}
		kvs, err := tx.List(prefix(s) + "svcnames/" + id + "/")
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			arns = append(arns, s.ARN(service, "service/"+string(kv.Value)))
		}
		return nil
	})
	return arns, err
}
