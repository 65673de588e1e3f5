package elbv2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/lb"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// DataPlane serves what the control plane configures (internal/lb's
// Manager): Apply takes the whole configuration, Health answers the
// health the data plane sees of a target group's targets.
type DataPlane interface {
	Apply(ctx context.Context, cfg lb.Config) error
	Health(tgARN string) []lb.TargetHealth
}

// Addresses gives each load balancer an address of its own
// (internal/network's Manager implements it).
type Addresses interface {
	AcquireAddress(ctx context.Context, owner string) (netip.Addr, error)
	ReleaseAddress(ctx context.Context, owner string) error
}

// Config is what the service needs.
type Config struct {
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// DataPlane serves the load balancers (nil: none; the API still
	// works, targets stay initial).
	DataPlane DataPlane
	// Addresses gives load balancers their address (nil: none).
	Addresses Addresses
	// ProvisioningTime is how long a new load balancer stays
	// provisioning (0: 2s).
	ProvisioningTime time.Duration
	// TargetPrefixes bound ip targets (the task subnets); empty: any
	// private IPv4 address.
	TargetPrefixes []netip.Prefix
	// InstanceAddr is where instance targets (bridge-mode tasks' host
	// ports) are reached (zero: 127.0.0.1).
	InstanceAddr netip.Addr
}

// Service is the ELBv2 control plane of one fargo server.
type Service struct {
	cfg Config
	st  store.Store
	now func() time.Time
	log *slog.Logger

	// mu serialises changes: one change commits and is pushed to the
	// data plane before the next one starts.
	mu sync.Mutex
	// timers remove drained targets, by store key.
	timers map[string]*time.Timer
	closed bool
}

// New returns the service over st. Call Start to push the stored state
// to the data plane and re-arm draining timers.
func New(cfg Config, st store.Store) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ProvisioningTime == 0 {
		cfg.ProvisioningTime = 2 * time.Second
	}
	if !cfg.InstanceAddr.IsValid() {
		cfg.InstanceAddr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return &Service{cfg: cfg, st: st, now: cfg.Now, log: cfg.Logger, timers: map[string]*time.Timer{}}
}

// SetDataPlane installs the data plane (server wiring, before Start).
func (sv *Service) SetDataPlane(dp DataPlane) { sv.cfg.DataPlane = dp }

// SetAddresses installs the address allocator (server wiring, before Start).
func (sv *Service) SetAddresses(a Addresses) { sv.cfg.Addresses = a }

// Start re-arms the timers of draining targets (removing those whose
// delay passed while fargo was down) and pushes the stored configuration
// to the data plane.
func (sv *Service) Start(ctx context.Context) error {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var draining []Registration
	err := sv.st.View(ctx, func(tx store.ReadTx) error {
		kvs, err := tx.List(rootPrefix)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if recordKind(kv.Key) != "targets" {
				continue
			}
			var r Registration
			if err := json.Unmarshal(kv.Value, &r); err != nil {
				return fmt.Errorf("decode %s: %w", kv.Key, err)
			}
			if !r.DrainUntil.IsZero() {
				draining = append(draining, r)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range draining {
		s, tg, err := scopeOfTG(r.TargetGroupARN)
		if err != nil {
			continue
		}
		sv.armDrainLocked(targetKey(s, tg, r.ID, r.Port), r.DrainUntil)
	}
	// A listener the data plane cannot serve now (its port taken since)
	// must not keep fargo from starting: the records stay, the data
	// plane serves what it can.
	if err := sv.syncLocked(ctx); err != nil {
		sv.log.Warn("elbv2: the data plane did not take the stored configuration", "err", err)
	}
	return nil
}

// Close stops the draining timers (their records stay: Start re-arms them).
func (sv *Service) Close() {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.closed = true
	for k, t := range sv.timers {
		t.Stop()
		delete(sv.timers, k)
	}
}

// update commits fn in one transaction and pushes the new configuration
// to the data plane. Callers hold no lock.
func (sv *Service) update(ctx context.Context, fn func(tx store.Tx) error) error {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.updateLocked(ctx, fn)
}

func (sv *Service) updateLocked(ctx context.Context, fn func(tx store.Tx) error) error {
	if _, err := sv.st.Update(ctx, fn); err != nil {
		return err
	}
	if err := sv.syncLocked(ctx); err != nil {
		sv.log.Warn("elbv2: the data plane did not take the configuration", "err", err)
	}
	return nil
}

// view reads in one snapshot.
func (sv *Service) view(ctx context.Context, fn func(tx store.ReadTx) error) error {
	return sv.st.View(ctx, fn)
}

// Store layout helpers.
const rootPrefix = "elbv2/"

func prefix(s tenant.Scope) string { return s.KeyPrefix("elbv2") }

func lbKey(s tenant.Scope, name string) string { return prefix(s) + "lbs/" + name }
func lbsPrefix(s tenant.Scope) string          { return prefix(s) + "lbs/" }
func listenerKey(s tenant.Scope, lbName, id string) string {
	return prefix(s) + "listeners/" + lbName + "/" + id
}
func listenersPrefix(s tenant.Scope, lbName string) string {
	return prefix(s) + "listeners/" + lbName + "/"
}
func ruleKey(s tenant.Scope, lbName, lsID, id string) string {
	return prefix(s) + "rules/" + lbName + "/" + lsID + "/" + id
}
func rulesPrefix(s tenant.Scope, lbName, lsID string) string {
	return prefix(s) + "rules/" + lbName + "/" + lsID + "/"
}
func tgKey(s tenant.Scope, name string) string { return prefix(s) + "tgs/" + name }
func tgsPrefix(s tenant.Scope) string          { return prefix(s) + "tgs/" }
func targetKey(s tenant.Scope, tg, id string, port int) string {
	return fmt.Sprintf("%stargets/%s/%s/%d", prefix(s), tg, id, port)
}
func targetsPrefix(s tenant.Scope, tg string) string { return prefix(s) + "targets/" + tg + "/" }
func certKey(s tenant.Scope, id string) string       { return prefix(s) + "certs/" + id }

// recordKind is the kind segment of a key (lbs, listeners, ...):
// elbv2/<acct>/<region>/<kind>/...
func recordKind(key string) string {
	n := 0
	start := 0
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			n++
			if n == 3 {
				start = i + 1
			} else if n == 4 {
				return key[start:i]
			}
		}
	}
	return ""
}

// scopeOfTG reads the scope and name out of a target group ARN.
func scopeOfTG(arn string) (tenant.Scope, string, error) {
	s, err := scopeOfARN(arn)
	if err != nil {
		return s, "", err
	}
	p, err := parseARN(s, arn, "targetgroup", errTGNotFound)
	return s, p.tg, err
}

func scopeOfARN(arn string) (tenant.Scope, error) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:"+arnService+":")
	f := strings.SplitN(rest, ":", 3)
	if !ok || len(f) != 3 {
		return tenant.Scope{}, validationf("'%s' is not a valid ARN", arn)
	}
	return tenant.Scope{Region: f[0], Account: f[1]}, nil
}

// defaultVPC is the one VPC of a scope: load balancers are in it, and
// target groups forwarded to must name it.
func defaultVPC(s tenant.Scope) string {
	sum := sha256.Sum256([]byte("fargo/vpc/" + s.Account + "/" + s.Region))
	return "vpc-" + hex.EncodeToString(sum[:])[:17]
}

// DefaultVPC is the VPC id of the scope's load balancers.
func DefaultVPC(s tenant.Scope) string { return defaultVPC(s) }

// notFound turns store.ErrNotFound into e.
func notFound(err error, e error) error {
	if errors.Is(err, store.ErrNotFound) {
		return e
	}
	return err
}

// Now is the service's clock (the API shows states as of now).
func (sv *Service) Now() time.Time { return sv.now() }
