package autoscaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Key prefixes (see the package doc).
const (
	targetsPrefix    = "autoscaling/targets/"
	policiesPrefix   = "autoscaling/policies/"
	scheduledPrefix  = "autoscaling/scheduled/"
	activitiesPrefix = "autoscaling/activities/"
	triggersPrefix   = "autoscaling/triggers/"
	pendingPrefix    = "autoscaling/pending/"
)

// retention is how long activities and trigger records are kept (AWS
// keeps activities six weeks).
const retention = 6 * 7 * 24 * time.Hour

func sp(s tenant.Scope) string { return s.Account + "/" + s.Region + "/" }

func targetKey(s tenant.Scope, rid string) string { return targetsPrefix + sp(s) + rid }

func policyKey(s tenant.Scope, rid, name string) string {
	return policiesPrefix + sp(s) + rid + "/" + name
}

func scheduledKey(s tenant.Scope, rid, name string) string {
	return scheduledPrefix + sp(s) + rid + "/" + name
}

func activityKey(s tenant.Scope, rid string, start time.Time, id string) string {
	return fmt.Sprintf("%s%s%s/%020d-%s", activitiesPrefix, sp(s), rid, start.UnixNano(), id)
}

func triggerKey(s tenant.Scope, id string) string { return triggersPrefix + sp(s) + id }

func pendingKey(s tenant.Scope, id string) string { return pendingPrefix + sp(s) + id }

// trigger records that a trigger id was acted on.
type trigger struct {
	Time     time.Time `json:"time"`
	Activity string    `json:"activity,omitempty"`
}

// pending is an activity whose desired count is still to be set.
type pending struct {
	Scope tenant.Scope `json:"scope"`
	Key   string       `json:"key"` // the activity's key
}

func putJSON(tx store.Tx, key string, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(key, buf)
}

// getJSON reads key into a new T; nil when absent.
func getJSON[T any](tx store.ReadTx, key string) (*T, error) {
	kv, err := tx.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

// listJSON decodes every value under prefix.
func listJSON[T any](tx store.ReadTx, prefix string) ([]*T, error) {
	kvs, err := tx.List(prefix)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(kvs))
	for _, kv := range kvs {
		v := new(T)
		if err := json.Unmarshal(kv.Value, v); err != nil {
			return nil, fmt.Errorf("%s: %w", kv.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}
