// Package control is the ECS control plane's domain: clusters, task
// definitions, tasks, services and nodes, their
// rules, and how they are kept in the store. It knows nothing about wire
// formats; internal/api/ecs converts to and from the AWS shapes.
//
// Store layout (all under ecs/<account>/<region>/, see internal/store):
//
//	clusters/<name>                      Cluster (JSON)
//	families/<family>                    family: last revision, latest ACTIVE revision
//	taskdefs/<family>/<rev %010d>        TaskDefinition (JSON)
//	tdstatus/<STATUS>/<family>/<rev>     index of revisions by status (empty value)
//	tasks/<cluster>/<id>                 Task (JSON); service tasks have group "service:NAME"
//	clienttokens/<token>                 RunTask idempotency record
//	services/<cluster>/<name>            Service (JSON): config, live deployments,
//	                                     deployment history, events, controller state
//
// and, outside any tenant:
//
//	nodes/<id>                                    Node
//	nodetasks/<node>/<acct>/<region>/<cluster>/<id>   active task index (agents watch it)
//	serviceindex/<acct>/<region>/<cluster>/<name>     ACTIVE/DRAINING services (the controller's work list)
//
// Every state change is one store.Update transaction, so a crash leaves
// either the old state or the new one, never half of it. Check (check.go)
// verifies that the indexes (families, tdstatus, clienttokens, nodetasks,
// serviceindex) agree with the records they index.
package control

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/memo"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Sentinel errors the API adapter maps to specific AWS codes. Each belongs
// to an errdefs class.
var (
	ErrClusterNotFound    = errdefs.New(errdefs.ErrNotFound, "Cluster not found.")
	ErrTaskDefNotFound    = errdefs.New(errdefs.ErrNotFound, "Unable to describe task definition.")
	ErrResourceNotFound   = errdefs.New(errdefs.ErrNotFound, "The specified resource could not be found.")
	ErrInvalidParameter   = errdefs.New(errdefs.ErrInvalidArgument, "invalid parameter")
	ErrClusterHasServices = errdefs.New(errdefs.ErrConflict, "The Cluster cannot be deleted while Services are active.")
	ErrClusterHasTasks    = errdefs.New(errdefs.ErrConflict, "The Cluster cannot be deleted while Tasks are active.")
	ErrClusterHasInstance = errdefs.New(errdefs.ErrConflict, "The Cluster cannot be deleted while Container Instances are active.")
)

// InvalidParameterf returns an error the API answers as
// InvalidParameterException (rather than ClientException).
func InvalidParameterf(format string, args ...any) error {
	return &paramError{msg: fmt.Sprintf(format, args...)}
}

type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }
func (e *paramError) Is(target error) bool {
	return target == ErrInvalidParameter || target == errdefs.ErrInvalidArgument
}

// Config is what the control plane needs.
type Config struct {
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger logs state changes.
	Logger *slog.Logger
	// AllowHostAccess lets tasks reach the host (see hostaccess.go).
	AllowHostAccess bool
}

// Control is the ECS control plane of one fargo server.
type Control struct {
	st     store.Store
	now    func() time.Time
	log    *slog.Logger
	seeded sync.Map // tenant.Scope -> struct{}: default cluster exists
	// decoded holds decoded records by store key (see cachedGet).
	decoded memo.Map
	// allowHostAccess: Config.AllowHostAccess.
	allowHostAccess bool
	// registrars attach service tasks to load balancers and service
	// registries (registrar.go).
	registrars []Registrar
	// targetGroups answers about the ELBv2 target groups services name
	// in loadBalancers (service_lb.go); nil: no ELBv2.
	targetGroups TargetGroups
	// registries answers about the Cloud Map services serviceRegistries
	// name (registries.go).
	registries Registries
}

// New returns a control plane over st.
func New(cfg Config, st store.Store) *Control {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Control{st: st, now: cfg.Now, log: cfg.Logger, allowHostAccess: cfg.AllowHostAccess}
}

func keyPrefix(s tenant.Scope) string { return s.KeyPrefix("ecs") }

// get reads and decodes one JSON record; store.ErrNotFound passes through.
func get[T any](tx store.ReadTx, key string) (*T, error) {
	kv, err := tx.Get(key)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, nil
}

// put encodes and writes one JSON record.
func put(tx store.Tx, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return tx.Put(key, b)
}
