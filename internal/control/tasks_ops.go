package control

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// taskID resolves a task reference (an id or an ARN) of a cluster.
func taskID(s tenant.Scope, cluster, ref string) (string, bool) {
	if strings.HasPrefix(ref, "arn:") {
		res, err := parseARN(s, ref)
		if err != nil || res.kind != "task" {
			return "", false
		}
		cl, id, ok := strings.Cut(res.id, "/")
		if !ok || cl != cluster {
			return "", false
		}
		ref = id
	}
	if len(ref) != 32 || strings.Trim(ref, "0123456789abcdef") != "" {
		return "", false
	}
	return ref, true
}

// DescribeTasks returns the tasks named (ids or ARNs) of a cluster and
// MISSING failures for the rest.
func (c *Control) DescribeTasks(ctx context.Context, s tenant.Scope, cluster string, refs []string) ([]*Task, []Failure, error) {
	if len(refs) == 0 {
		return nil, nil, InvalidParameterf("Tasks cannot be empty.")
	}
	if len(refs) > 100 {
		return nil, nil, InvalidParameterf("Tasks cannot have more than 100 elements")
	}
	cl, err := c.GetCluster(ctx, s, cluster)
	if err != nil {
		return nil, nil, err
	}
	var out []*Task
	var failures []Failure
	err = c.st.View(ctx, func(tx store.ReadTx) error {
		for _, ref := range refs {
			id, ok := taskID(s, cl.Name, ref)
			var t *Task
			var err error
			if ok {
				t, err = get[Task](tx, taskKey(s, cl.Name, id))
			}
			if !ok || errors.Is(err, store.ErrNotFound) {
				failures = append(failures, Failure{ARN: missingTaskARN(s, cl.Name, ref), Reason: "MISSING"})
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	return out, failures, err
}

func missingTaskARN(s tenant.Scope, cluster, ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	return s.ARN("ecs", "task/"+cluster+"/"+ref)
}

// ListTasksFilter narrows ListTasks.
type ListTasksFilter struct {
	Family        string
	StartedBy     string
	ServiceName   string
	DesiredStatus string // RUNNING (default), PENDING or STOPPED
	LaunchType    string
	// ContainerInstance is a container instance's ARN or id: only tasks
	// placed on it (EC2 launch type) match.
	ContainerInstance string
}

// ListTasks lists task ARNs of an ACTIVE cluster.
func (c *Control) ListTasks(ctx context.Context, s tenant.Scope, cluster string, f ListTasksFilter, p Page) ([]string, string, error) {
	if f.StartedBy != "" && (f.Family != "" || f.ServiceName != "") {
		return nil, "", InvalidParameterf("startedBy may not be specified with family or serviceName.")
	}
	switch f.DesiredStatus {
	case "":
		f.DesiredStatus = TaskRunning
	case TaskRunning, TaskPending, TaskStopped:
	default:
		return nil, "", InvalidParameterf("desiredStatus must be one of RUNNING, PENDING, STOPPED.")
	}
	cl, err := c.ActiveCluster(ctx, s, cluster)
	if err != nil {
		return nil, "", err
	}
	instance := ""
	if f.ContainerInstance != "" {
		if instance, err = containerInstanceRef(s, cl.Name, f.ContainerInstance); err != nil {
			return nil, "", err
		}
	}
	tasks, err := c.clusterTasks(ctx, s, cl.Name)
	if err != nil {
		return nil, "", err
	}
	var arns []string
	for _, t := range tasks {
		switch {
		case f.DesiredStatus == TaskPending && !(t.DesiredStatus == TaskRunning && TaskStatusIndex(t.LastStatus) < TaskStatusIndex(TaskRunning)):
			continue
		case f.DesiredStatus != TaskPending && t.DesiredStatus != f.DesiredStatus:
			continue
		case f.Family != "" && t.Family != f.Family:
			continue
		case f.StartedBy != "" && t.StartedBy != f.StartedBy:
			continue
		case f.ServiceName != "" && t.Group != "service:"+f.ServiceName:
			continue
		case f.LaunchType != "" && t.LaunchType != f.LaunchType:
			continue
		case instance != "" && (t.ContainerInstanceARN == "" || ContainerInstanceID(s, cl.Name, t.Node) != instance):
			continue
		}
		arns = append(arns, t.ARN)
	}
	return paginate("ListTasks", arns, p)
}

// containerInstanceRef is the id of a container instance of cluster named
// by id or ARN (AWS takes either). An ARN of another cluster names none of
// this cluster's instances: no id matches "-".
func containerInstanceRef(s tenant.Scope, cluster, ref string) (string, error) {
	if !strings.HasPrefix(ref, "arn:") {
		return ref, nil
	}
	res, err := parseARN(s, ref)
	if errors.Is(err, ErrResourceNotFound) {
		return "-", nil
	}
	if err != nil {
		return "", err
	}
	cl, id, ok := strings.Cut(res.id, "/")
	if res.kind != "container-instance" || !ok {
		return "", InvalidParameterf("Invalid ARN: %s", clip(ref))
	}
	if cl != cluster {
		return "-", nil
	}
	return id, nil
}

// clusterTasks reads every task record of a cluster.
func (c *Control) clusterTasks(ctx context.Context, s tenant.Scope, cluster string) ([]*Task, error) {
	kvs, err := c.st.List(ctx, keyPrefix(s)+"tasks/"+cluster+"/")
	if err != nil {
		return nil, err
	}
	out := make([]*Task, 0, len(kvs))
	for _, kv := range kvs {
		t, err := decode[Task](kv)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// StopTask asks a task to stop: its desired status becomes STOPPED and the
// agent stops its containers (SIGTERM, then SIGKILL after stopTimeout).
func (c *Control) StopTask(ctx context.Context, s tenant.Scope, cluster, ref, reason string) (*Task, error) {
	if len(reason) > 255 {
		return nil, InvalidParameterf("reason must be at most 255 characters.")
	}
	if reason == "" {
		reason = "Task stopped by user"
	}
	return c.requestStop(ctx, s, cluster, ref, StopUserInitiated, reason)
}

// requestStop sets a task's desired status to STOPPED with a stop code and
// reason (the first ones given win).
func (c *Control) requestStop(ctx context.Context, s tenant.Scope, cluster, ref, code, reason string) (*Task, error) {
	cl, err := c.ActiveCluster(ctx, s, cluster)
	if err != nil {
		return nil, err
	}
	id, ok := taskID(s, cl.Name, ref)
	if !ok {
		return nil, InvalidParameterf("The referenced task was not found.")
	}
	var out *Task
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		t, err := stopInTx(tx, s, cl.Name, id, code, reason)
		if errors.Is(err, store.ErrNotFound) {
			return InvalidParameterf("The referenced task was not found.")
		}
		out = t
		return err
	})
	return out, err
}

// stopInTx sets a task's desired status to STOPPED with a stop code and
// reason (the first ones given win) and tells its node, in tx. It returns
// the task as stored, or store.ErrNotFound. Every stop goes through it:
// StopTask's and the service controller's (ApplyServicePlan).
func stopInTx(tx store.Tx, s tenant.Scope, cluster, id, code, reason string) (*Task, error) {
	key := taskKey(s, cluster, id)
	t, err := get[Task](tx, key)
	if err != nil {
		return nil, err
	}
	if t.DesiredStatus == TaskStopped {
		return t, nil
	}
	t.DesiredStatus = TaskStopped
	if t.StopCode == "" {
		t.StopCode, t.StoppedReason = code, reason
	}
	t.Version++
	if err := put(tx, key, t); err != nil {
		return nil, err
	}
	return t, touchNodeTask(tx, t, s)
}

// touchNodeTask keeps a task's node index entry in step with the task:
// every write of the entry wakes the node's agent, so it is rewritten only
// when what the agent must do changes (the desired status), and removed
// once the task is STOPPED. The agent's own state reports change neither.
func touchNodeTask(tx store.Tx, t *Task, s tenant.Scope) error {
	key := nodeTaskKey(t.Node, s, t.Cluster, t.ID)
	nt, err := get[nodeTask](tx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if t.LastStatus == TaskStopped {
		return tx.Delete(key)
	}
	if nt.DesiredStatus == t.DesiredStatus {
		return nil
	}
	nt.DesiredStatus = t.DesiredStatus
	return put(tx, key, nt)
}

// UpdateTaskState applies an agent's report to a task in one transaction
// and returns the task as stored.
func (c *Control) UpdateTaskState(ctx context.Context, ref TaskRef, ch TaskStateChange) (*Task, error) {
	var out *Task
	now := c.now().UTC()
	_, err := c.st.Update(ctx, func(tx store.Tx) error {
		t, err := get[Task](tx, taskKey(ref.Scope, ref.Cluster, ref.ID))
		if err != nil {
			return err
		}
		out = t
		if !applyChange(t, ch, now) {
			return nil
		}
		if err := put(tx, taskKey(ref.Scope, ref.Cluster, ref.ID), t); err != nil {
			return err
		}
		return touchNodeTask(tx, t, ref.Scope)
	})
	if err == nil && ch.LastStatus != "" {
		c.log.Debug("task state", "cluster", ref.Cluster, "task", ref.ID, "status", out.LastStatus)
	}
	return out, err
}

// TaskDefinitionOf returns the task definition revision a task runs.
func (c *Control) TaskDefinitionOf(ctx context.Context, s tenant.Scope, t *Task) (*TaskDefinition, error) {
	return c.DescribeTaskDefinition(ctx, s, t.TaskDefinitionARN)
}

// countTasks counts a cluster's running and pending tasks.
func (c *Control) countTasks(ctx context.Context, s tenant.Scope, cluster string) (running, pending int, err error) {
	tasks, err := c.clusterTasks(ctx, s, cluster)
	if err != nil {
		return 0, 0, err
	}
	for _, t := range tasks {
		switch {
		case t.LastStatus == TaskRunning:
			running++
		case slices.Contains([]string{TaskProvisioning, TaskPending, TaskActivating}, t.LastStatus):
			pending++
		}
	}
	return running, pending, nil
}

// PurgeStoppedTasks deletes tasks STOPPED longer than the retention, and
// in the same transaction the client tokens that started them: a token
// expires with its tasks, so reusing it later runs new ones.
func (c *Control) PurgeStoppedTasks(ctx context.Context) (int, error) {
	kvs, err := c.st.List(ctx, "ecs/")
	if err != nil {
		return 0, err
	}
	cutoff := c.now().Add(-StoppedTaskRetention)
	type purged struct {
		key, token string
		scope      tenant.Scope
	}
	var old []purged
	for _, kv := range kvs {
		// ecs/<account>/<region>/tasks/<cluster>/<id>
		parts := strings.Split(kv.Key, "/")
		if len(parts) != 6 || parts[3] != "tasks" {
			continue
		}
		t, err := decode[Task](kv)
		if err != nil {
			return 0, err
		}
		if t.LastStatus == TaskStopped && t.StoppedAt.Before(cutoff) {
			old = append(old, purged{key: kv.Key, token: t.ClientToken, scope: tenant.Scope{Account: parts[1], Region: parts[2]}})
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		for _, p := range old {
			if err := tx.Delete(p.key); err != nil {
				return err
			}
			if p.token == "" {
				continue
			}
			// The token may have been used again since (after an
			// earlier purge): only a record naming this task goes.
			tk := tokenKey(p.scope, p.token)
			rec, err := get[clientTokenRecord](tx, tk)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if slices.Contains(rec.Tasks, p.key) {
				if err := tx.Delete(tk); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return len(old), err
}
