package control

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/memo"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// family is the per-family bookkeeping record: revisions are never reused,
// and "latest ACTIVE" is answered without scanning every revision.
type family struct {
	Name         string `json:"name"`
	LastRevision int    `json:"lastRevision"`
	LatestActive int    `json:"latestActive"` // 0: none ACTIVE
	ActiveCount  int    `json:"activeCount"`
}

func familyKey(s tenant.Scope, name string) string { return keyPrefix(s) + "families/" + name }

func taskDefKey(s tenant.Scope, fam string, rev int) string {
	return keyPrefix(s) + "taskdefs/" + fam + "/" + revKey(rev)
}

func statusKey(s tenant.Scope, status, fam string, rev int) string {
	return keyPrefix(s) + "tdstatus/" + status + "/" + fam + "/" + revKey(rev)
}

// TaskDefinitionARN returns the ARN of family:rev in scope s.
func TaskDefinitionARN(s tenant.Scope, fam string, rev int) string {
	return s.ARN("ecs", "task-definition/"+fam+":"+strconv.Itoa(rev))
}

// parseFamilyRevision splits "family:rev" (rev 0 when absent).
func parseFamilyRevision(id string) (string, int, error) {
	fam, revStr, hasRev := strings.Cut(id, ":")
	if !nameRe.MatchString(fam) {
		return "", 0, ErrTaskDefNotFound
	}
	if !hasRev {
		return fam, 0, nil
	}
	rev, err := strconv.Atoi(revStr)
	if err != nil || rev < 1 {
		return "", 0, errdefs.New(errdefs.ErrInvalidArgument, "Invalid revision number. Number: "+clip(revStr))
	}
	return fam, rev, nil
}

// ParseTaskDefinitionRef resolves "family", "family:revision" or a
// task-definition ARN of scope s. Revision 0 means "the latest ACTIVE".
func ParseTaskDefinitionRef(s tenant.Scope, ref string) (string, int, error) {
	if strings.HasPrefix(ref, "arn:") {
		res, err := parseARN(s, ref)
		if err != nil || res.kind != "task-definition" {
			return "", 0, ErrTaskDefNotFound
		}
		fam, rev, err := parseFamilyRevision(res.id)
		if err != nil {
			return "", 0, err
		}
		if rev == 0 {
			return "", 0, ErrTaskDefNotFound
		}
		return fam, rev, nil
	}
	return parseFamilyRevision(ref)
}

// RegisterTaskDefinition validates td, gives it the family's next revision
// and stores it ACTIVE.
func (c *Control) RegisterTaskDefinition(ctx context.Context, s tenant.Scope, td *TaskDefinition, registeredBy string) (*TaskDefinition, error) {
	if err := PrepareTaskDefinition(td); err != nil {
		return nil, err
	}
	if err := ValidateTags(td.Tags); err != nil {
		return nil, err
	}
	td.Status = TaskDefinitionActive
	td.RegisteredBy = registeredBy
	now := c.now().UTC()
	_, err := c.st.Update(ctx, func(tx store.Tx) error {
		fam, err := get[family](tx, familyKey(s, td.Family))
		if errors.Is(err, store.ErrNotFound) {
			fam = &family{Name: td.Family}
		} else if err != nil {
			return err
		}
		fam.LastRevision++
		fam.LatestActive = fam.LastRevision
		fam.ActiveCount++
		// td is written anew on every attempt: Update may run this twice.
		td.Revision = fam.LastRevision
		td.TaskDefinitionArn = TaskDefinitionARN(s, td.Family, td.Revision)
		td.RegisteredAt = now
		if err := put(tx, familyKey(s, td.Family), fam); err != nil {
			return err
		}
		if err := tx.Put(statusKey(s, TaskDefinitionActive, td.Family, td.Revision), nil); err != nil {
			return err
		}
		return put(tx, taskDefKey(s, td.Family, td.Revision), td)
	})
	if err != nil {
		return nil, err
	}
	return td, nil
}

// DescribeTaskDefinition returns a revision: "family" means its latest
// ACTIVE revision; an explicit revision is returned whatever its status.
func (c *Control) DescribeTaskDefinition(ctx context.Context, s tenant.Scope, ref string) (*TaskDefinition, error) {
	fam, rev, err := ParseTaskDefinitionRef(s, ref)
	if err != nil {
		if errors.Is(err, errdefs.ErrInvalidArgument) {
			return nil, ErrTaskDefNotFound
		}
		return nil, err
	}
	var out *TaskDefinition
	err = c.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = c.lookupTaskDef(tx, s, fam, rev, c.cachedTaskDef)
		return err
	})
	return out, err
}

// cachedGet reads key's record through c.decoded (see cachedDecode).
func cachedGet[T any](c *Control, tx store.ReadTx, key string) (*T, error) {
	kv, err := tx.Get(key)
	if err != nil {
		return nil, err
	}
	return cachedDecode[T](c, kv)
}

// cachedDecode decodes kv through c.decoded, valid while the key's revision
// is unchanged: decoding the JSON is most of the cost of reads such as
// DescribeTaskDefinition and ListClusters. Callers must not modify what it
// returns.
func cachedDecode[T any](c *Control, kv store.KV) (*T, error) {
	return memo.Decode[T](&c.decoded, kv)
}

// cachedTaskDef reads a task definition through the decoded cache; callers
// must not modify it.
func (c *Control) cachedTaskDef(tx store.ReadTx, key string) (*TaskDefinition, error) {
	return cachedGet[TaskDefinition](c, tx, key)
}

// readTaskDef decodes a task definition afresh (for callers that modify it).
func readTaskDef(tx store.ReadTx, key string) (*TaskDefinition, error) {
	return get[TaskDefinition](tx, key)
}

func (c *Control) lookupTaskDef(tx store.ReadTx, s tenant.Scope, fam string, rev int, read func(store.ReadTx, string) (*TaskDefinition, error)) (*TaskDefinition, error) {
	if rev == 0 {
		f, err := cachedGet[family](c, tx, familyKey(s, fam))
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrTaskDefNotFound
		}
		if err != nil {
			return nil, err
		}
		if f.LatestActive == 0 {
			return nil, ErrTaskDefNotFound
		}
		rev = f.LatestActive
	}
	td, err := read(tx, taskDefKey(s, fam, rev))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTaskDefNotFound
	}
	return td, err
}

// DeregisterTaskDefinition makes a revision INACTIVE. A bare family is an
// error: AWS never picks the revision for the caller.
func (c *Control) DeregisterTaskDefinition(ctx context.Context, s tenant.Scope, ref string) (*TaskDefinition, error) {
	fam, rev, err := ParseTaskDefinitionRef(s, ref)
	if err != nil {
		return nil, err
	}
	if rev == 0 {
		return nil, errdefs.Invalidf("A revision must be specified: use family:revision or the full task definition ARN instead of %q.", clip(ref))
	}
	var out *TaskDefinition
	now := c.now().UTC()
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		td, err := c.lookupTaskDef(tx, s, fam, rev, readTaskDef)
		if err != nil {
			return err
		}
		if td.Status == TaskDefinitionActive {
			if err := c.setStatus(tx, s, td, TaskDefinitionInactive); err != nil {
				return err
			}
			td.DeregisteredAt = &now
			if err := put(tx, taskDefKey(s, fam, rev), td); err != nil {
				return err
			}
		}
		out = td
		return nil
	})
	return out, err
}

// setStatus moves a revision between statuses, keeping the status index and
// the family record in step.
func (c *Control) setStatus(tx store.Tx, s tenant.Scope, td *TaskDefinition, status string) error {
	if err := tx.Delete(statusKey(s, td.Status, td.Family, td.Revision)); err != nil {
		return err
	}
	if err := tx.Put(statusKey(s, status, td.Family, td.Revision), nil); err != nil {
		return err
	}
	if td.Status == TaskDefinitionActive {
		f, err := get[family](tx, familyKey(s, td.Family))
		if err != nil {
			return err
		}
		f.ActiveCount--
		if f.LatestActive == td.Revision {
			f.LatestActive = 0
			active, err := tx.List(keyPrefix(s) + "tdstatus/" + TaskDefinitionActive + "/" + td.Family + "/")
			if err != nil {
				return err
			}
			for i := len(active) - 1; i >= 0; i-- {
				r, _ := strconv.Atoi(active[i].Key[strings.LastIndexByte(active[i].Key, '/')+1:])
				if r != td.Revision {
					f.LatestActive = r
					break
				}
			}
		}
		if err := put(tx, familyKey(s, td.Family), f); err != nil {
			return err
		}
	}
	td.Status = status
	return nil
}

// DeleteTaskDefinitions moves INACTIVE revisions to DELETE_IN_PROGRESS.
// ACTIVE or unknown revisions come back as failures.
func (c *Control) DeleteTaskDefinitions(ctx context.Context, s tenant.Scope, refs []string) ([]*TaskDefinition, []Failure, error) {
	if len(refs) == 0 || len(refs) > 10 {
		return nil, nil, InvalidParameterf("taskDefinitions must contain between 1 and 10 elements.")
	}
	var out []*TaskDefinition
	var failures []Failure
	now := c.now().UTC()
	_, err := c.st.Update(ctx, func(tx store.Tx) error {
		out, failures = nil, nil
		for _, ref := range refs {
			fam, rev, err := ParseTaskDefinitionRef(s, ref)
			if err == nil && rev == 0 {
				err = errdefs.Invalidf("The specified task definition does not include a revision.")
			}
			if err != nil {
				failures = append(failures, Failure{ARN: ref, Reason: "The specified task definition identifier is invalid. Specify a valid name or ARN and try again."})
				continue
			}
			td, err := c.lookupTaskDef(tx, s, fam, rev, readTaskDef)
			if errors.Is(err, ErrTaskDefNotFound) {
				failures = append(failures, Failure{ARN: TaskDefinitionARN(s, fam, rev), Reason: "The specified task definition does not exist. Specify a valid account, family, revision and try again."})
				continue
			}
			if err != nil {
				return err
			}
			if td.Status == TaskDefinitionActive {
				failures = append(failures, Failure{ARN: td.TaskDefinitionArn, Reason: "The specified task definition is still in ACTIVE status. Please deregister the target and try again."})
				continue
			}
			if td.Status == TaskDefinitionInactive {
				if err := c.setStatus(tx, s, td, TaskDefinitionDeleteInProgress); err != nil {
					return err
				}
				td.DeleteRequestedAt = &now
				if err := put(tx, taskDefKey(s, fam, rev), td); err != nil {
					return err
				}
			}
			out = append(out, td)
		}
		return nil
	})
	return out, failures, err
}

// ListTaskDefinitions lists revision ARNs with a status, optionally of one
// family, sorted by family then revision.
func (c *Control) ListTaskDefinitions(ctx context.Context, s tenant.Scope, fam, status string, desc bool, p Page) ([]string, string, error) {
	if status == "" {
		status = TaskDefinitionActive
	}
	if status != TaskDefinitionActive && status != TaskDefinitionInactive && status != TaskDefinitionDeleteInProgress {
		return nil, "", InvalidParameterf("status must be one of ACTIVE, INACTIVE, DELETE_IN_PROGRESS.")
	}
	prefix := keyPrefix(s) + "tdstatus/" + status + "/"
	if fam != "" {
		prefix += fam + "/"
	}
	kvs, err := c.st.List(ctx, prefix)
	if err != nil {
		return nil, "", err
	}
	// The key of a revision is its index key's tail, "<family>/<padded
	// revision>": family, then revision order.
	type rev struct{ key, arn string }
	revs := make([]rev, 0, len(kvs))
	for _, kv := range kvs {
		key := strings.TrimPrefix(kv.Key, keyPrefix(s)+"tdstatus/"+status+"/")
		f, r, _ := strings.Cut(key, "/")
		n, _ := strconv.Atoi(r)
		revs = append(revs, rev{key, TaskDefinitionARN(s, f, n)})
	}
	page, next, err := paginateBy("ListTaskDefinitions", revs, func(r rev) string { return r.key }, desc, p)
	if err != nil {
		return nil, "", err
	}
	arns := make([]string, len(page))
	for i, r := range page {
		arns[i] = r.arn
	}
	return arns, next, nil
}

// ListTaskDefinitionFamilies lists family names starting with prefix.
// status ACTIVE: families with an ACTIVE revision; INACTIVE: families with
// none; ALL or empty: both.
func (c *Control) ListTaskDefinitionFamilies(ctx context.Context, s tenant.Scope, prefix, status string, p Page) ([]string, string, error) {
	switch status {
	case "", "ALL", TaskDefinitionActive, TaskDefinitionInactive:
	default:
		return nil, "", InvalidParameterf("status must be one of ACTIVE, INACTIVE, ALL.")
	}
	kvs, err := c.st.List(ctx, keyPrefix(s)+"families/"+prefix)
	if err != nil {
		return nil, "", err
	}
	var names []string
	for _, kv := range kvs {
		f, err := decode[family](kv)
		if err != nil {
			return nil, "", err
		}
		active := f.ActiveCount > 0
		if (status == TaskDefinitionActive && !active) || (status == TaskDefinitionInactive && active) {
			continue
		}
		names = append(names, f.Name)
	}
	return paginate("ListTaskDefinitionFamilies", names, p)
}
