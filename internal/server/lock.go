package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/hostlock"
	"github.com/fargo-run/fargo/internal/network"
)

// lockInstance takes, before anything is read or swept, the locks that
// keep a second fargo off this one's ground: the data directory's (its
// store, network state and containers), and with the agent the network
// prefix's, host-wide whatever the data directory: a second fargo on the
// prefix would sweep this one's netns files, links and nftables table as
// orphans. It refuses with the other fargo's pid and the setting to change.
func lockInstance(cfg config.Server) ([]*hostlock.Lock, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	prefix := cfg.NetworkPrefix
	if prefix == "" {
		prefix = network.DefaultNamePrefix
	}
	holder := fmt.Sprintf("fargo, data directory %s, network prefix %q, listening on %s", dir, prefix, cfg.Listen)
	dl, err := hostlock.Acquire(filepath.Join(dir, "fargo.lock"), holder)
	var held *hostlock.HeldError
	if errors.As(err, &held) {
		return nil, fmt.Errorf("data directory %s is in use by another fargo (%s); give this one a data directory of its own (--data-dir, FARGO_DATA_DIR)", dir, holderOf(held))
	} else if err != nil {
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	if cfg.NoAgent || os.Geteuid() != 0 {
		return []*hostlock.Lock{dl}, nil // no agent: no network objects
	}
	pl, err := hostlock.Acquire(hostlock.NetworkPrefixPath(prefix), holder)
	if errors.As(err, &held) {
		dl.Release()
		return nil, fmt.Errorf("network prefix %q is in use on this host by another fargo (%s); give this one a prefix of its own (--network-prefix, FARGO_NETWORK_PREFIX), and with it its own --task-pool and --metadata-ip", prefix, holderOf(held))
	} else if err != nil {
		dl.Release()
		return nil, fmt.Errorf("lock the network prefix: %w", err)
	}
	return []*hostlock.Lock{dl, pl}, nil
}

// holderOf describes the holder of a lock for a message.
func holderOf(e *hostlock.HeldError) string {
	s := "pid unknown"
	if e.PID > 0 {
		s = fmt.Sprintf("pid %d", e.PID)
	}
	if e.Holder != "" {
		s += ": " + e.Holder
	}
	return s
}

func releaseAll(locks []*hostlock.Lock) {
	for _, l := range locks {
		_ = l.Release()
	}
}
