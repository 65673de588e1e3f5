package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// GetOperation reads an operation.
func (d *Directory) GetOperation(ctx context.Context, s tenant.Scope, id string) (*Operation, error) {
	if id == "" || len(id) > 255 {
		return nil, invalidf("OperationId must be 1-255 characters.")
	}
	var op *Operation
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		op, err = store.GetJSON[Operation](tx, operationKey(s, id))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Error{Kind: KindOperationNotFound, Message: "Operation not found: " + truncate(id)}
	}
	return op, err
}

// ListOperations lists operations; filters NAMESPACE_ID, SERVICE_ID,
// STATUS, TYPE (EQ, IN) and UPDATE_DATE (BETWEEN, epoch seconds) apply.
func (d *Directory) ListOperations(ctx context.Context, s tenant.Scope, filters []Filter, p Page) ([]*Operation, string, error) {
	for _, f := range filters {
		if err := checkFilter(f, map[string][]string{"NAMESPACE_ID": {"EQ"}, "SERVICE_ID": {"EQ"}, "STATUS": {"EQ", "IN"}, "TYPE": {"EQ", "IN"}, "UPDATE_DATE": {"BETWEEN"}}); err != nil {
			return nil, "", err
		}
	}
	var all []*Operation
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		all, err = store.ListJSON[Operation](tx, prefix(s)+"operations/")
		return err
	})
	if err != nil {
		return nil, "", err
	}
	var bad error
	all = slices.DeleteFunc(all, func(op *Operation) bool {
		for _, f := range filters {
			switch f.Name {
			case "UPDATE_DATE":
				lo, err1 := strconv.ParseFloat(f.Values[0], 64)
				hi, err2 := strconv.ParseFloat(f.Values[1], 64)
				if err1 != nil || err2 != nil {
					bad = invalidf("UPDATE_DATE values must be timestamps in epoch seconds.")
					return true
				}
				t := float64(op.UpdatedAt.UnixNano()) / float64(time.Second)
				if t < lo || t > hi {
					return true
				}
			default:
				v := map[string]string{"NAMESPACE_ID": op.Targets["NAMESPACE"], "SERVICE_ID": op.Targets["SERVICE"], "STATUS": op.Status, "TYPE": op.Type}[f.Name]
				if !f.match(v) {
					return true
				}
			}
		}
		return false
	})
	if bad != nil {
		return nil, "", bad
	}
	return pageOf(all, func(op *Operation) string { return op.ID }, "ListOperations", p)
}

// OperationRetention is how long operations stay readable
// (GetOperation, ListOperations) after their last update.
const OperationRetention = 7 * 24 * time.Hour

// PurgeOperations forgets the operations of every scope last updated
// before cutoff, a batch per transaction, and answers how many it removed.
func (d *Directory) PurgeOperations(ctx context.Context, cutoff time.Time) (int, error) {
	kvs, err := d.st.List(ctx, service+"/")
	if err != nil {
		return 0, err
	}
	var old []string
	for _, kv := range kvs {
		if !strings.Contains(kv.Key, "/operations/") {
			continue
		}
		var op Operation
		if err := json.Unmarshal(kv.Value, &op); err == nil && op.UpdatedAt.Before(cutoff) {
			old = append(old, kv.Key)
		}
	}
	n := 0
	for len(old) > 0 {
		batch := old[:min(len(old), 500)]
		old = old[len(batch):]
		if _, err := d.st.Update(ctx, func(tx store.Tx) error {
			for _, k := range batch {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return n, err
		}
		n += len(batch)
	}
	return n, nil
}
