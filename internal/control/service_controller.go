package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/scheduler"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// This file is the control plane's side of the service controller
// (internal/deploy): a consistent snapshot of one service to decide from,
// and the one transaction that applies a decision.
//
//	deploy: ServiceSnapshot ──► decide (pure) ──► ApplyServicePlan
//	                                                 │ one store.Update:
//	                                                 │  version check, stops,
//	                                                 │  placement + new tasks,
//	                                                 │  service record + events
//
// A plan carries the service Version it was computed from; if anything
// wrote the service since, ApplyServicePlan fails with ErrServiceChanged and
// the controller decides again. Tasks are created only here, in the same
// transaction that bumps the version, so a crash or a second controller can
// never start a task twice for the same decision.

// ServiceState is what the controller decides from.
type ServiceState struct {
	Ref     ServiceRef
	Service *Service
	// Tasks are the service's tasks, STOPPED ones still retained included.
	Tasks []*Task
	// TaskDefs are the task definitions of the live deployments and of the
	// last COMPLETED one, by ARN.
	TaskDefs map[string]*TaskDefinition
	// Nodes are the registered nodes (DAEMON services run one task each).
	Nodes []Node
	// Targets is the ELBv2 target health of the RUNNING tasks whose
	// deployment has load balancers, by task ID. ServiceSnapshot leaves
	// it nil; the service controller fills it from its TargetHealth (nil
	// when it has none: then load balancers do not gate task health).
	Targets map[string]TargetState
}

// TaskStart asks for one task of a deployment, on a given node or (empty)
// wherever the scheduler places it.
type TaskStart struct {
	Deployment string
	Node       string
}

// TaskStop asks a task to stop.
type TaskStop struct {
	ID       string
	StopCode string
	Reason   string
}

// ServicePlan is one controller decision about a service.
type ServicePlan struct {
	// Version is the service version the plan was computed from.
	Version int64
	// Service is the service record to write (deployments, events,
	// controller state).
	Service *Service
	Starts  []TaskStart
	Stops   []TaskStop
}

// ServicePlanResult is what applying a plan did.
type ServicePlanResult struct {
	Started []*Task
	// Unplaced holds one placement failure reason per task not started.
	Unplaced []string
}

// ActiveServiceRefs lists every ACTIVE or DRAINING service of every tenant.
func (c *Control) ActiveServiceRefs(ctx context.Context) ([]ServiceRef, error) {
	kvs, err := c.st.List(ctx, serviceIndexPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]ServiceRef, 0, len(kvs))
	for _, kv := range kvs {
		parts := strings.Split(strings.TrimPrefix(kv.Key, serviceIndexPrefix), "/")
		if len(parts) != 4 {
			continue
		}
		out = append(out, ServiceRef{Scope: tenant.Scope{Account: parts[0], Region: parts[1]}, Cluster: parts[2], Name: parts[3]})
	}
	return out, nil
}

// ServiceSnapshot reads a service, its tasks, task definitions and the
// nodes in one consistent view. ErrServiceNotFound if it is gone.
func (c *Control) ServiceSnapshot(ctx context.Context, ref ServiceRef) (*ServiceState, error) {
	st := &ServiceState{Ref: ref}
	err := c.st.View(ctx, func(tx store.ReadTx) error {
		svc, err := get[Service](tx, serviceKey(ref.Scope, ref.Cluster, ref.Name))
		if errors.Is(err, store.ErrNotFound) {
			return ErrServiceNotFound
		}
		if err != nil {
			return err
		}
		st.Service = svc
		if st.Tasks, err = serviceTasks(tx, ref.Scope, svc); err != nil {
			return err
		}
		setCounts(svc, st.Tasks)
		st.TaskDefs = map[string]*TaskDefinition{}
		arns := []string{}
		for _, d := range svc.Deployments {
			arns = append(arns, d.TaskDefinition)
		}
		if svc.LastCompleted != nil {
			arns = append(arns, svc.LastCompleted.TaskDefinition)
		}
		for _, arn := range arns {
			if _, ok := st.TaskDefs[arn]; ok {
				continue
			}
			td, err := c.taskDefByARN(tx, ref.Scope, arn)
			if err != nil {
				return err
			}
			st.TaskDefs[arn] = td
		}
		nodes, _, err := nodeUsage(tx)
		st.Nodes = nodes
		return err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (c *Control) taskDefByARN(tx store.ReadTx, s tenant.Scope, arn string) (*TaskDefinition, error) {
	fam, rev, err := ParseTaskDefinitionRef(s, arn)
	if err != nil {
		return nil, fmt.Errorf("service task definition %s: %w", arn, err)
	}
	return c.lookupTaskDef(tx, s, fam, rev, c.cachedTaskDef)
}

// ApplyServicePlan applies a controller decision in one transaction.
// Service tasks may use an INACTIVE task definition (as on AWS, a service
// keeps running the revision it was given).
func (c *Control) ApplyServicePlan(ctx context.Context, ref ServiceRef, plan ServicePlan) (*ServicePlanResult, error) {
	if plan.Service == nil {
		return nil, errors.New("service plan without a service")
	}
	res := &ServicePlanResult{}
	now := c.now().UTC()
	s := ref.Scope
	var svc *Service
	_, err := c.st.Update(ctx, func(tx store.Tx) error {
		*res = ServicePlanResult{}
		key := serviceKey(s, ref.Cluster, ref.Name)
		cur, err := get[Service](tx, key)
		if errors.Is(err, store.ErrNotFound) {
			return ErrServiceNotFound
		}
		if err != nil {
			return err
		}
		if cur.Version != plan.Version {
			return ErrServiceChanged
		}
		svc = plan.Service.Clone()
		svc.Version = cur.Version + 1
		for _, st := range plan.Stops {
			if _, err := stopInTx(tx, s, ref.Cluster, st.ID, st.StopCode, st.Reason); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if len(plan.Starts) > 0 {
			if err := c.startInTx(tx, s, svc, plan.Starts, now, res); err != nil {
				return err
			}
		}
		if n := len(res.Started); n > 0 {
			ids := make([]string, 0, n)
			for _, t := range res.Started {
				ids = append(ids, "(task "+t.ID+")")
			}
			svc.AddEvent(now, fmt.Sprintf("(service %s) has started %d tasks: %s.", svc.Name, n, strings.Join(ids, " ")))
		}
		if len(res.Unplaced) > 0 {
			msg := fmt.Sprintf("(service %s) was unable to place a task because no container instance met all of its requirements. Reason: %s.", svc.Name, res.Unplaced[0])
			if len(svc.Events) == 0 || svc.Events[0].Message != msg {
				svc.AddEvent(now, msg)
			}
			svc.Throttle.PlaceAfter = now.Add(PlacementRetryDelay)
		}
		if err := put(tx, key, svc); err != nil {
			return err
		}
		if svc.Status == ServiceInactive {
			return tx.Delete(serviceIndexKey(s, ref.Cluster, ref.Name))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range res.Started {
		c.log.Info("service task created", "cluster", ref.Cluster, "service", ref.Name, "task", t.ID, "deployment", t.StartedBy, "node", t.Node)
	}
	return res, nil
}

// startInTx places and creates service tasks.
func (c *Control) startInTx(tx store.Tx, s tenant.Scope, svc *Service, starts []TaskStart, now time.Time, res *ServicePlanResult) error {
	cl, err := get[Cluster](tx, clusterKey(s, svc.Cluster))
	if err != nil {
		return fmt.Errorf("service cluster: %w", err)
	}
	snap, err := schedulerNodes(tx)
	if err != nil {
		return err
	}
	for _, st := range starts {
		d := svc.Deployment(st.Deployment)
		if d == nil {
			continue
		}
		td, err := c.taskDefByARN(tx, s, d.TaskDefinition)
		if err != nil {
			return err
		}
		in := RunTaskInput{
			Cluster: svc.Cluster, TaskDefinition: d.TaskDefinition, Count: 1, LaunchType: d.LaunchType,
			NetworkConfiguration: d.NetworkConfiguration, Group: svc.Group(), StartedBy: d.ID,
			EnableExecuteCommand: svc.EnableExecuteCommand,
		}
		if svc.PropagateTags == "SERVICE" {
			in.Tags = svc.Tags
		} else if svc.PropagateTags == "TASK_DEFINITION" {
			in.Tags = td.Tags
		}
		if len(d.CapacityProvider) > 0 {
			in.CapacityProvider = d.CapacityProvider[0].CapacityProvider
		}
		if svc.SchedulingStrategy != SchedulingDaemon {
			if err := resolveLaunchType(&in, cl); err != nil {
				res.Unplaced = append(res.Unplaced, "ATTRIBUTE")
				continue
			}
		}
		cpu, mem, err := taskSize(td, nil, in.LaunchType)
		if err != nil {
			res.Unplaced = append(res.Unplaced, "ATTRIBUTE")
			continue
		}
		cands := snap
		if st.Node != "" {
			cands = nil
			for _, n := range snap {
				if n.ID == st.Node {
					cands = []scheduler.Node{n}
				}
			}
		}
		req := scheduler.Request{Count: 1, CPU: cpu, Memory: mem, Ports: taskHostPorts(td)}
		plan := scheduler.Place(cands, req)
		if len(plan.Nodes) == 0 {
			reason := scheduler.ReasonAgent
			if len(plan.Failures) > 0 {
				reason = plan.Failures[0]
			}
			res.Unplaced = append(res.Unplaced, reason)
			continue
		}
		node := plan.Nodes[0]
		useNode(snap, node, req)
		t := c.newTask(s, cl, td, in, node, cpu, mem, now)
		if err := put(tx, taskKey(s, cl.Name, t.ID), t); err != nil {
			return err
		}
		if err := putNodeTask(tx, s, t, req); err != nil {
			return err
		}
		res.Started = append(res.Started, t)
	}
	return nil
}

// WatchServices reports services that may need reconciling: a write to a
// service record or to one of its tasks sends its ref; a change of the
// nodes, or a watch that had to be restarted past what the store retains,
// sends the zero ServiceRef, meaning "reconcile everything". The channel
// closes when ctx ends.
func (c *Control) WatchServices(ctx context.Context) (<-chan ServiceRef, error) {
	rev, err := c.st.Revision(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan ServiceRef, 256)
	send := func(r ServiceRef) bool {
		select {
		case out <- r:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			// Both watches share wctx: when either closes (a slow receiver
			// is dropped by the store), both restart from the last revision.
			wctx, cancel := context.WithCancel(ctx)
			ecsEv, err1 := c.st.Watch(wctx, "ecs/", rev)
			nodeEv, err2 := c.st.Watch(wctx, nodesPrefix, rev)
			if err1 != nil || err2 != nil {
				cancel()
				if ctx.Err() != nil {
					return
				}
				// Compacted (or a transient error): start over from now
				// and have everything reconciled.
				if rev, err = c.st.Revision(ctx); err != nil {
					return
				}
				if !send(ServiceRef{}) {
					return
				}
				continue
			}
			c.pumpServiceEvents(ecsEv, nodeEv, &rev, send)
			cancel()
		}
	}()
	return out, nil
}

// pumpServiceEvents forwards events until either channel closes.
func (c *Control) pumpServiceEvents(ecsEv, nodeEv <-chan store.Event, rev *int64, send func(ServiceRef) bool) {
	for {
		select {
		case ev, ok := <-ecsEv:
			if !ok {
				return
			}
			*rev = max(*rev, ev.KV.Revision)
			if r, ok := serviceRefOf(ev); ok && !send(r) {
				return
			}
		case ev, ok := <-nodeEv:
			if !ok {
				return
			}
			*rev = max(*rev, ev.KV.Revision)
			if !send(ServiceRef{}) {
				return
			}
		}
	}
}

// serviceRefOf maps a store event under ecs/ to the service it concerns.
func serviceRefOf(ev store.Event) (ServiceRef, bool) {
	// ecs/<acct>/<region>/<kind>/<cluster>/<name>
	parts := strings.SplitN(ev.KV.Key, "/", 6)
	if len(parts) != 6 {
		return ServiceRef{}, false
	}
	s := tenant.Scope{Account: parts[1], Region: parts[2]}
	switch parts[3] {
	case "services":
		return ServiceRef{Scope: s, Cluster: parts[4], Name: parts[5]}, true
	case "tasks":
		if ev.Type != store.EventPut {
			return ServiceRef{}, false
		}
		// Only the group is needed: avoid decoding the whole task.
		v := string(ev.KV.Value)
		i := strings.Index(v, `"group":"`+serviceGroupPrefix)
		if i < 0 {
			return ServiceRef{}, false
		}
		rest := v[i+len(`"group":"`+serviceGroupPrefix):]
		j := strings.IndexByte(rest, '"')
		if j < 0 {
			return ServiceRef{}, false
		}
		return ServiceRef{Scope: s, Cluster: parts[4], Name: rest[:j]}, true
	}
	return ServiceRef{}, false
}
