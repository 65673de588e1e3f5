package discovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/paging"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// DefaultSOATTL is the SOA TTL of a private DNS namespace created without
// one (the negative-answer TTL of its zone).
const DefaultSOATTL = 15

// NamespaceInput is what CreateHttpNamespace and CreatePrivateDnsNamespace
// ask for.
type NamespaceInput struct {
	Name             string
	Type             string
	Description      string
	Vpc              string
	SOATTL           *int64
	CreatorRequestID string
	Tags             []Tag
}

// Filter is one filter of a List call: Name is the field, Condition EQ,
// IN, BEGINS_WITH or BETWEEN.
type Filter struct {
	Name      string
	Condition string
	Values    []string
}

// Page asks for one page of a list.
type Page struct {
	Limit int
	Token string
}

func hashOf(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// checkRequest looks up a CreatorRequestId: a repeat of the same call
// answers its first result (ok), another call with the same id is a
// DuplicateRequest.
func checkRequest(tx store.ReadTx, s tenant.Scope, id, hash string) (*request, error) {
	if id == "" {
		return nil, nil
	}
	if len(id) > 64 {
		return nil, invalidf("CreatorRequestId must be at most 64 characters.")
	}
	r, err := store.GetJSON[request](tx, requestKey(s, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Hash != hash {
		return nil, &Error{Kind: KindDuplicateRequest, Message: "The CreatorRequestId was already used by another request.", OperationID: r.OperationID}
	}
	return r, nil
}

func putRequest(tx store.Tx, s tenant.Scope, id string, r request) error {
	if id == "" {
		return nil
	}
	return store.PutJSON(tx, requestKey(s, id), r)
}

// newOperation records a finished operation in tx.
func (d *Directory) newOperation(tx store.Tx, s tenant.Scope, typ string, targets map[string]string) (string, error) {
	now := d.now().UTC()
	op := Operation{ID: newOperationID(), Type: typ, Status: OpSuccess, Targets: targets, CreatedAt: now, UpdatedAt: now}
	return op.ID, store.PutJSON(tx, operationKey(s, op.ID), op)
}

// checkNamespaceInput validates a namespace and normalizes its name.
func checkNamespaceInput(in *NamespaceInput) error {
	if strings.HasPrefix(in.Name, "arn:") {
		return invalidf("Namespace name must not be an ARN.")
	}
	switch in.Type {
	case TypeDNSPublic:
		return &Error{Kind: KindUnsupported, Message: "fargo does not support public DNS namespaces (they need a domain registered on the internet); use a private DNS namespace (CreatePrivateDnsNamespace) or an HTTP namespace."}
	case TypeDNSPrivate:
		if in.Vpc == "" {
			return invalidf("Vpc is required for a private DNS namespace.")
		}
		if len(in.Vpc) > 64 {
			return invalidf("Vpc must be at most 64 characters.")
		}
		in.Name = normalizeNamespaceName(in.Name)
		if !ValidDNSName(in.Name, 253) {
			return invalidf("Namespace name %q is not a valid DNS name: labels of 1-63 letters, digits, hyphens or underscores, 253 characters in all.", truncate(in.Name))
		}
		if in.SOATTL != nil && (*in.SOATTL < 0 || *in.SOATTL > 2147483647) {
			return invalidf("SOA TTL must be between 0 and 2147483647.")
		}
	case TypeHTTP:
		if !printable(in.Name) || len(in.Name) > 1024 {
			return invalidf("Namespace name must be 1-1024 printable ASCII characters.")
		}
	default:
		return invalidf("Unknown namespace type %q.", truncate(in.Type))
	}
	if len(in.Description) > 1024 {
		return invalidf("Description must be at most 1024 characters.")
	}
	return checkTags(in.Tags)
}

// CreateNamespace creates an HTTP or private DNS namespace and returns
// the id of its (finished) operation.
func (d *Directory) CreateNamespace(ctx context.Context, s tenant.Scope, in NamespaceInput) (string, error) {
	if err := checkNamespaceInput(&in); err != nil {
		return "", err
	}
	hash := hashOf(in)
	ns := &Namespace{
		ID: newID("ns-", 16), Name: in.Name, Type: in.Type, Description: in.Description, Vpc: in.Vpc,
		CreatorRequestID: in.CreatorRequestID, CreatedAt: d.now().UTC(), Tags: in.Tags,
	}
	ns.ARN = s.ARN(service, "namespace/"+ns.ID)
	if in.Type == TypeDNSPrivate {
		ns.HostedZoneID = hostedZoneID()
		ns.SOATTL = DefaultSOATTL
		if in.SOATTL != nil {
			ns.SOATTL = *in.SOATTL
		}
	}
	var opID string
	err := d.update(ctx, s, func(tx store.Tx) error {
		r, err := checkRequest(tx, s, in.CreatorRequestID, hash)
		if err != nil || r != nil {
			if r != nil {
				opID = r.OperationID
			}
			return err
		}
		nameKey := nsNameKey(s, strings.ToLower(in.Name))
		if kv, err := tx.Get(nameKey); err == nil {
			other, _ := store.GetJSON[Namespace](tx, namespaceKey(s, string(kv.Value)))
			e := &Error{Kind: KindNamespaceAlreadyExists, Message: fmt.Sprintf("Namespace %s already exists.", in.Name), NamespaceID: string(kv.Value)}
			if other != nil {
				e.CreatorRequestID = other.CreatorRequestID
			}
			return e
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := store.PutJSON(tx, namespaceKey(s, ns.ID), ns); err != nil {
			return err
		}
		if err := tx.Put(nameKey, []byte(ns.ID)); err != nil {
			return err
		}
		opID, err = d.newOperation(tx, s, OpCreateNamespace, map[string]string{"NAMESPACE": ns.ID})
		if err != nil {
			return err
		}
		return putRequest(tx, s, in.CreatorRequestID, request{Hash: hash, OperationID: opID, ResourceID: ns.ID})
	})
	if err == nil {
		d.log.Info("namespace created", "account", s.Account, "namespace", ns.Name, "id", ns.ID, "type", ns.Type)
	}
	return opID, err
}

// NamespaceUpdate is what UpdateHttpNamespace and UpdatePrivateDnsNamespace
// change (nil: unchanged).
type NamespaceUpdate struct {
	Type        string // the namespace type the call is for
	Description *string
	SOATTL      *int64
}

// UpdateNamespace changes a namespace's description or SOA TTL.
func (d *Directory) UpdateNamespace(ctx context.Context, s tenant.Scope, id string, u NamespaceUpdate) (string, error) {
	if u.Description != nil && len(*u.Description) > 1024 {
		return "", invalidf("Description must be at most 1024 characters.")
	}
	if u.SOATTL != nil && (*u.SOATTL < 0 || *u.SOATTL > 2147483647) {
		return "", invalidf("SOA TTL must be between 0 and 2147483647.")
	}
	var opID string
	err := d.update(ctx, s, func(tx store.Tx) error {
		ns, err := getNamespace(tx, s, id)
		if err != nil {
			return err
		}
		if ns.Type != u.Type {
			return invalidf("Namespace %s is of type %s, not %s.", id, ns.Type, u.Type)
		}
		if u.Description != nil {
			ns.Description = *u.Description
		}
		if u.SOATTL != nil {
			ns.SOATTL = *u.SOATTL
		}
		if err := store.PutJSON(tx, namespaceKey(s, ns.ID), ns); err != nil {
			return err
		}
		opID, err = d.newOperation(tx, s, OpUpdateNamespace, map[string]string{"NAMESPACE": ns.ID})
		return err
	})
	return opID, err
}

func getNamespace(tx store.ReadTx, s tenant.Scope, id string) (*Namespace, error) {
	if !strings.HasPrefix(id, "ns-") || len(id) > 64 || strings.Contains(id, "/") {
		return nil, errNamespaceNotFound(truncate(id))
	}
	ns, err := store.GetJSON[Namespace](tx, namespaceKey(s, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNamespaceNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return ns, countServices(tx, s, ns)
}

func countServices(tx store.ReadTx, s tenant.Scope, ns *Namespace) error {
	kvs, err := tx.List(prefix(s) + "svcnames/" + ns.ID + "/")
	ns.ServiceCount = len(kvs)
	return err
}

// DeleteNamespace deletes a namespace that has no services left.
func (d *Directory) DeleteNamespace(ctx context.Context, s tenant.Scope, id string) (string, error) {
	var opID string
	err := d.update(ctx, s, func(tx store.Tx) error {
		ns, err := getNamespace(tx, s, id)
		if err != nil {
			return err
		}
		svcs, err := tx.List(prefix(s) + "svcnames/" + ns.ID + "/")
		if err != nil {
			return err
		}
		if len(svcs) > 0 {
			return &Error{Kind: KindResourceInUse, Message: fmt.Sprintf("Namespace %s has %d associated services; delete them first.", ns.ID, len(svcs))}
		}
		if err := tx.Delete(namespaceKey(s, ns.ID)); err != nil {
			return err
		}
		if err := tx.Delete(nsNameKey(s, strings.ToLower(ns.Name))); err != nil {
			return err
		}
		opID, err = d.newOperation(tx, s, OpDeleteNamespace, map[string]string{"NAMESPACE": ns.ID})
		return err
	})
	return opID, err
}

// GetNamespace reads a namespace.
func (d *Directory) GetNamespace(ctx context.Context, s tenant.Scope, id string) (*Namespace, error) {
	var ns *Namespace
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		ns, err = getNamespace(tx, s, id)
		return err
	})
	return ns, err
}

// ListNamespaces lists namespaces; filters TYPE (EQ, IN), NAME and
// HTTP_NAME (EQ, BEGINS_WITH) all apply.
func (d *Directory) ListNamespaces(ctx context.Context, s tenant.Scope, filters []Filter, p Page) ([]*Namespace, string, error) {
	for _, f := range filters {
		if err := checkFilter(f, map[string][]string{"TYPE": {"EQ", "IN"}, "NAME": {"EQ", "BEGINS_WITH"}, "HTTP_NAME": {"EQ", "BEGINS_WITH"}, "RESOURCE_OWNER": {"EQ"}}); err != nil {
			return nil, "", err
		}
	}
	var all []*Namespace
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		all, err = store.ListJSON[Namespace](tx, prefix(s)+"namespaces/")
		for _, ns := range all {
			if err == nil {
				err = countServices(tx, s, ns)
			}
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	all = slices.DeleteFunc(all, func(ns *Namespace) bool {
		for _, f := range filters {
			v := map[string]string{"TYPE": ns.Type, "NAME": ns.Name, "HTTP_NAME": ns.Name, "RESOURCE_OWNER": "SELF"}[f.Name]
			if !f.match(v) {
				return true
			}
		}
		return false
	})
	return pageOf(all, func(ns *Namespace) string { return ns.ID }, "ListNamespaces", p)
}

func checkFilter(f Filter, allowed map[string][]string) error {
	conds, ok := allowed[f.Name]
	if !ok {
		return invalidf("Unknown filter name %q.", truncate(f.Name))
	}
	if f.Condition == "" {
		f.Condition = "EQ"
	}
	if !slices.Contains(conds, f.Condition) {
		return invalidf("Filter %s does not support condition %s.", f.Name, truncate(f.Condition))
	}
	if len(f.Values) == 0 || (f.Condition == "EQ" || f.Condition == "BEGINS_WITH") && len(f.Values) != 1 ||
		f.Condition == "BETWEEN" && len(f.Values) != 2 {
		return invalidf("Filter %s has the wrong number of values for condition %s.", f.Name, f.Condition)
	}
	return nil
}

// match applies a string filter (EQ, IN, BEGINS_WITH).
func (f Filter) match(v string) bool {
	switch f.Condition {
	case "BEGINS_WITH":
		return strings.HasPrefix(v, f.Values[0])
	default:
		return slices.Contains(f.Values, v)
	}
}

func pageOf[T any](items []T, key func(T) string, list string, p Page) ([]T, string, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	out, next, err := paging.Slice(items, key, paging.Page{List: list, Limit: limit, Token: p.Token})
	if err != nil {
		return nil, "", invalidf("Invalid NextToken.")
	}
	return out, next, nil
}
