package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// fargo's hosts are the EC2 capacity of every cluster: each registered node
// appears in every cluster of every account as one ACTIVE container
// instance, with an id derived from the scope, cluster and node (stable
// across restarts, unrelated between accounts). The EC2 launch type places
// on them (RunTask) and StartTask starts tasks on the ones it names.

// ContainerInstance is a node as one cluster sees it.
type ContainerInstance struct {
	ARN          string
	ID           string
	Node         string
	RegisteredAt time.Time
	// Registered and Remaining are CPU units and MiB; Remaining counts
	// every task on the node (the host is shared by all accounts).
	RegisteredCPU, RegisteredMemory int
	RemainingCPU, RemainingMemory   int
	// RunningTasks and PendingTasks count this cluster's tasks only.
	RunningTasks, PendingTasks int
}

// ContainerInstanceID is the 32-hex id of a node in a cluster.
func ContainerInstanceID(s tenant.Scope, cluster, node string) string {
	sum := sha256.Sum256([]byte(s.Account + "/" + s.Region + "/" + cluster + "/" + node))
	return hex.EncodeToString(sum[:16])
}

// ContainerInstanceARN is the ARN of a node in a cluster.
func ContainerInstanceARN(s tenant.Scope, cluster, node string) string {
	return s.ARN("ecs", "container-instance/"+cluster+"/"+ContainerInstanceID(s, cluster, node))
}

// ListContainerInstances lists the ARNs of a cluster's container instances
// (status ACTIVE or empty; DRAINING and the rest have none).
func (c *Control) ListContainerInstances(ctx context.Context, s tenant.Scope, cluster, status string, p Page) ([]string, string, error) {
	switch status {
	case "", "ACTIVE":
	case "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED":
		return []string{}, "", nil
	default:
		return nil, "", InvalidParameterf("status must be one of ACTIVE, DRAINING, REGISTERING, DEREGISTERING, REGISTRATION_FAILED.")
	}
	cl, err := c.GetCluster(ctx, s, cluster)
	if err != nil {
		return nil, "", err
	}
	var arns []string
	err = c.st.View(ctx, func(tx store.ReadTx) error {
		nodes, _, err := nodeUsage(tx)
		for _, n := range nodes {
			arns = append(arns, ContainerInstanceARN(s, cl.Name, n.ID))
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return paginate("ListContainerInstances", arns, p)
}

// DescribeContainerInstances describes container instances by ARN or id;
// unknown ones are MISSING failures.
func (c *Control) DescribeContainerInstances(ctx context.Context, s tenant.Scope, cluster string, refs []string) ([]*ContainerInstance, []Failure, error) {
	if len(refs) == 0 {
		return nil, nil, InvalidParameterf("ContainerInstances cannot be empty.")
	}
	if len(refs) > 100 {
		return nil, nil, InvalidParameterf("ContainerInstances cannot have more than 100 elements")
	}
	cl, err := c.GetCluster(ctx, s, cluster)
	if err != nil {
		return nil, nil, err
	}
	var out []*ContainerInstance
	var failures []Failure
	err = c.st.View(ctx, func(tx store.ReadTx) error {
		byID, err := c.containerInstances(tx, s, cl.Name)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if ci, ok := byID[instanceRefID(ref)]; ok {
				out = append(out, ci)
			} else {
				failures = append(failures, Failure{ARN: ref, Reason: "MISSING"})
			}
		}
		return nil
	})
	return out, failures, err
}

// instanceRefID is the id of a container instance named by ARN or id.
func instanceRefID(ref string) string {
	return ref[strings.LastIndex(ref, "/")+1:]
}

// containerInstances are a cluster's container instances by id.
func (c *Control) containerInstances(tx store.ReadTx, s tenant.Scope, cluster string) (map[string]*ContainerInstance, error) {
	nodes, used, err := nodeUsage(tx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*ContainerInstance, len(nodes))
	for _, n := range nodes {
		ci := &ContainerInstance{
			ARN: ContainerInstanceARN(s, cluster, n.ID), ID: ContainerInstanceID(s, cluster, n.ID), Node: n.ID,
			RegisteredAt: n.RegisteredAt, RegisteredCPU: n.CPU, RegisteredMemory: n.Memory,
			RemainingCPU: max(n.CPU-used[n.ID].CPU, 0), RemainingMemory: max(n.Memory-used[n.ID].Memory, 0),
		}
		tks, err := tx.List(nodeTasksPrefix(n.ID))
		if err != nil {
			return nil, err
		}
		for _, kv := range tks {
			nt, err := decode[nodeTask](kv)
			if err != nil {
				return nil, err
			}
			if nt.Account != s.Account || nt.Region != s.Region || nt.Cluster != cluster {
				continue
			}
			t, err := get[Task](tx, taskKey(s, cluster, nt.ID))
			if err != nil {
				continue // purged meanwhile
			}
			switch {
			case t.LastStatus == TaskRunning:
				ci.RunningTasks++
			case TaskStatusIndex(t.LastStatus) < TaskStatusIndex(TaskRunning):
				ci.PendingTasks++
			}
		}
		out[ci.ID] = ci
	}
	return out, nil
}

// StartTaskInput is what StartTask asks for: RunTask's fields, and the
// container instances to start one task on each.
type StartTaskInput struct {
	RunTaskInput
	ContainerInstances []string
}

// StartTask starts one task of the EC2 launch type on each named container
// instance. An instance without room for it is a RESOURCE:* failure, an
// unknown one a MISSING failure.
func (c *Control) StartTask(ctx context.Context, s tenant.Scope, in StartTaskInput) (*RunTaskResult, error) {
	if len(in.ContainerInstances) == 0 {
		return nil, InvalidParameterf("Container instances cannot be empty.")
	}
	if len(in.ContainerInstances) > 10 {
		return nil, InvalidParameterf("Container instances cannot have more than 10 elements.")
	}
	cl, err := c.GetCluster(ctx, s, in.Cluster)
	if err != nil {
		return nil, err
	}
	var nodes []string
	var missing []Failure
	err = c.st.View(ctx, func(tx store.ReadTx) error {
		byID, err := c.containerInstances(tx, s, cl.Name)
		if err != nil {
			return err
		}
		for _, ref := range in.ContainerInstances {
			if ci, ok := byID[instanceRefID(ref)]; ok {
				nodes = append(nodes, ci.Node)
			} else {
				missing = append(missing, Failure{ARN: ref, Reason: "MISSING"})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	run := in.RunTaskInput
	run.LaunchType, run.CapacityProvider, run.Count = LaunchTypeEC2, "", len(nodes)
	run.onNodes = nodes
	res := &RunTaskResult{}
	if len(nodes) > 0 {
		if res, err = c.RunTask(ctx, s, run); err != nil {
			return nil, err
		}
	}
	res.Failures = append(res.Failures, missing...)
	return res, nil
}
