package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// This file checks the store's secondary indexes against the primary
// records they are derived from, as bbolt checks its pages: every write
// path keeps them in step inside its one transaction, so a mismatch is a
// bug (or a crash that tore a transaction, which the store must prevent).
// The control tests run Check after every test, and the crash tests after
// every restart (`fargo check`).

// Check reads the whole ECS state in one snapshot and returns every
// inconsistency between an index and its records (errors.Join), nil when
// there is none.
func (c *Control) Check(ctx context.Context) error { return Check(ctx, c.st) }

// Check is Control.Check over a store.
func Check(ctx context.Context, st store.Store) error {
	var errs []error
	err := st.View(ctx, func(tx store.ReadTx) error {
		var err error
		errs, err = checkTx(tx)
		return err
	})
	if err != nil {
		return err
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// checkState is what checkTx has read, by key.
type checkState struct {
	tasks    map[string]*Task           // task key
	taskDefs map[string]*TaskDefinition // task definition key
	families map[string]*family         // family key
	tdStatus map[string]bool            // status index key
	services map[string]*Service        // service key
	tokens   map[string]*clientTokenRecord
	// scopes: the tenant of each record, by key.
	scopes map[string]tenant.Scope
}

// checkTx reads every ECS record and index and compares them. Its error is
// a failure to read; the inconsistencies are its list.
func checkTx(tx store.ReadTx) ([]error, error) {
	cs := &checkState{tasks: map[string]*Task{}, taskDefs: map[string]*TaskDefinition{}, families: map[string]*family{},
		tdStatus: map[string]bool{}, services: map[string]*Service{}, tokens: map[string]*clientTokenRecord{}, scopes: map[string]tenant.Scope{}}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	kvs, err := tx.List("ecs/")
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		// ecs/<account>/<region>/<kind>/<rest>
		parts := strings.SplitN(kv.Key, "/", 5)
		if len(parts) != 5 {
			bad("%s: not a key of the ECS layout", kv.Key)
			continue
		}
		s := tenant.Scope{Account: parts[1], Region: parts[2]}
		cs.scopes[kv.Key] = s
		var derr error
		switch parts[3] {
		case "tasks":
			cs.tasks[kv.Key], derr = decode[Task](kv)
		case "taskdefs":
			cs.taskDefs[kv.Key], derr = decode[TaskDefinition](kv)
		case "families":
			cs.families[kv.Key], derr = decode[family](kv)
		case "tdstatus":
			cs.tdStatus[kv.Key] = true
		case "services":
			cs.services[kv.Key], derr = decode[Service](kv)
		case "clienttokens":
			cs.tokens[kv.Key], derr = decode[clientTokenRecord](kv)
		}
		if derr != nil {
			bad("%s: %v", kv.Key, derr)
		}
	}
	errs = append(errs, cs.checkTaskDefs()...)
	errs = append(errs, cs.checkTokens()...)
	more, err := cs.checkNodeTasks(tx)
	if err != nil {
		return nil, err
	}
	errs = append(errs, more...)
	more, err = cs.checkServiceIndex(tx)
	if err != nil {
		return nil, err
	}
	return append(errs, more...), nil
}

// checkTaskDefs: each revision has exactly the status index entry of its
// status, each index entry a revision of that status, and each family
// record counts its revisions right.
func (cs *checkState) checkTaskDefs() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	type famCount struct{ last, latestActive, active int }
	counts := map[string]*famCount{} // family key
	for key, td := range cs.taskDefs {
		if td == nil {
			continue
		}
		s := cs.scopes[key]
		if want := taskDefKey(s, td.Family, td.Revision); key != want {
			bad("task definition %s: stored under %s, its family and revision say %s", td.TaskDefinitionArn, key, want)
		}
		for _, status := range []string{TaskDefinitionActive, TaskDefinitionInactive, TaskDefinitionDeleteInProgress} {
			has := cs.tdStatus[statusKey(s, status, td.Family, td.Revision)]
			if has != (status == td.Status) {
				bad("task definition %s is %s: status index %s has %v", td.TaskDefinitionArn, td.Status, status, has)
			}
		}
		fk := familyKey(s, td.Family)
		fc := counts[fk]
		if fc == nil {
			fc = &famCount{}
			counts[fk] = fc
		}
		fc.last = max(fc.last, td.Revision)
		if td.Status == TaskDefinitionActive {
			fc.active++
			fc.latestActive = max(fc.latestActive, td.Revision)
		}
	}
	for key := range cs.tdStatus {
		s := cs.scopes[key]
		// ecs/<account>/<region>/tdstatus/<STATUS>/<family>/<rev>
		parts := strings.Split(strings.TrimPrefix(key, keyPrefix(s)+"tdstatus/"), "/")
		rev := 0
		if len(parts) == 3 {
			rev, _ = strconv.Atoi(parts[2])
		}
		if rev < 1 {
			bad("status index %s: not <status>/<family>/<revision>", key)
			continue
		}
		td := cs.taskDefs[taskDefKey(s, parts[1], rev)]
		switch {
		case td == nil:
			bad("status index %s: no task definition %s:%d", key, parts[1], rev)
		case td.Status != parts[0]:
			bad("status index %s: task definition %s:%d is %s", key, parts[1], rev, td.Status)
		}
	}
	for key, f := range cs.families {
		if f == nil {
			continue
		}
		s := cs.scopes[key]
		if want := familyKey(s, f.Name); key != want {
			bad("family %s: stored under %s", f.Name, key)
		}
		fc := counts[key]
		if fc == nil {
			fc = &famCount{}
		}
		if f.LastRevision < fc.last {
			bad("family %s: last revision %d, but revision %d exists", key, f.LastRevision, fc.last)
		}
		if f.LatestActive != fc.latestActive {
			bad("family %s: latest ACTIVE revision %d, the revisions say %d", key, f.LatestActive, fc.latestActive)
		}
		if f.ActiveCount != fc.active {
			bad("family %s: %d ACTIVE revisions counted, %d stored", key, f.ActiveCount, fc.active)
		}
	}
	for key := range counts {
		if cs.families[key] == nil {
			bad("family %s: revisions without a family record", key)
		}
	}
	return errs
}

// checkTokens: a client token record names the tasks it started, each of
// them stored in the token's tenant with that token (a token is deleted
// with the first of its tasks to be purged).
func (cs *checkState) checkTokens() []error {
	var errs []error
	for key, rec := range cs.tokens {
		if rec == nil {
			continue
		}
		s := cs.scopes[key]
		token := strings.TrimPrefix(key, keyPrefix(s)+"clienttokens/")
		if rec.Hash == "" || len(rec.Tasks) == 0 {
			errs = append(errs, fmt.Errorf("client token %s: no request hash or no tasks", key))
		}
		for _, tk := range rec.Tasks {
			t := cs.tasks[tk]
			switch {
			case !strings.HasPrefix(tk, keyPrefix(s)+"tasks/"):
				errs = append(errs, fmt.Errorf("client token %s: task %s is not a task of its tenant", key, tk))
			case t == nil:
				errs = append(errs, fmt.Errorf("client token %s: task %s does not exist", key, tk))
			case t.ClientToken != token:
				errs = append(errs, fmt.Errorf("client token %s: task %s has client token %q", key, tk, t.ClientToken))
			}
		}
	}
	return errs
}

// checkNodeTasks: every task not yet STOPPED has one node index entry,
// under its node, with its desired status and size; every entry names
// such a task.
func (cs *checkState) checkNodeTasks(tx store.ReadTx) ([]error, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	kvs, err := tx.List("nodetasks/")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{} // task key
	for _, kv := range kvs {
		node, _, _ := strings.Cut(strings.TrimPrefix(kv.Key, "nodetasks/"), "/")
		ref, ok := parseNodeTaskKey(node, kv.Key)
		if !ok {
			bad("node task %s: not nodetasks/<node>/<account>/<region>/<cluster>/<id>", kv.Key)
			continue
		}
		nt, err := decode[nodeTask](kv)
		if err != nil {
			bad("node task %s: %v", kv.Key, err)
			continue
		}
		if nt.Account != ref.Scope.Account || nt.Region != ref.Scope.Region || nt.Cluster != ref.Cluster || nt.ID != ref.ID {
			bad("node task %s: names task %s/%s/%s/%s", kv.Key, nt.Account, nt.Region, nt.Cluster, nt.ID)
		}
		tk := taskKey(ref.Scope, ref.Cluster, ref.ID)
		t := cs.tasks[tk]
		if t == nil {
			bad("node task %s: task %s does not exist", kv.Key, tk)
			continue
		}
		seen[tk] = true
		if t.Node != node {
			bad("node task %s: task %s is placed on node %q", kv.Key, tk, t.Node)
		}
		if !t.Active() {
			bad("node task %s: task %s is STOPPED", kv.Key, tk)
		}
		if nt.DesiredStatus != t.DesiredStatus {
			bad("node task %s: desired status %s, task %s has %s", kv.Key, nt.DesiredStatus, tk, t.DesiredStatus)
		}
		if strconv.Itoa(nt.CPU) != t.Cpu || strconv.Itoa(nt.Memory) != t.Memory {
			bad("node task %s: holds %d CPU %d MiB, task %s is %s CPU %s MiB", kv.Key, nt.CPU, nt.Memory, tk, t.Cpu, t.Memory)
		}
	}
	for tk, t := range cs.tasks {
		if t == nil {
			continue
		}
		s := cs.scopes[tk]
		if want := taskKey(s, t.Cluster, t.ID); tk != want {
			bad("task %s: stored under %s", want, tk)
		}
		if t.Active() && !seen[tk] {
			bad("task %s is %s on node %q: no node task entry", tk, t.LastStatus, t.Node)
		}
	}
	return errs, nil
}

// checkServiceIndex: the controller's work list holds exactly the services
// that are not INACTIVE.
func (cs *checkState) checkServiceIndex(tx store.ReadTx) ([]error, error) {
	var errs []error
	kvs, err := tx.List(serviceIndexPrefix)
	if err != nil {
		return nil, err
	}
	indexed := map[string]bool{} // service key
	for _, kv := range kvs {
		parts := strings.Split(strings.TrimPrefix(kv.Key, serviceIndexPrefix), "/")
		if len(parts) != 4 {
			errs = append(errs, fmt.Errorf("service index %s: not serviceindex/<account>/<region>/<cluster>/<name>", kv.Key))
			continue
		}
		sk := serviceKey(tenant.Scope{Account: parts[0], Region: parts[1]}, parts[2], parts[3])
		indexed[sk] = true
		switch svc := cs.services[sk]; {
		case svc == nil:
			errs = append(errs, fmt.Errorf("service index %s: service %s does not exist", kv.Key, sk))
		case svc.Status == ServiceInactive:
			errs = append(errs, fmt.Errorf("service index %s: service %s is INACTIVE", kv.Key, sk))
		}
	}
	for sk, svc := range cs.services {
		if svc == nil {
			continue
		}
		if want := serviceKey(cs.scopes[sk], svc.Cluster, svc.Name); sk != want {
			errs = append(errs, fmt.Errorf("service %s: stored under %s", want, sk))
		}
		if svc.Status != ServiceInactive && !indexed[sk] {
			errs = append(errs, fmt.Errorf("service %s is %s: not in the service index", sk, svc.Status))
		}
	}
	return errs, nil
}
