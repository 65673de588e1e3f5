package network

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// stateFile is the name of the IPAM state in Config.StateDir.
const stateFile = "network.json"

// stateVersion is bumped on incompatible changes of the file layout.
const stateVersion = 1

// state is everything the Manager remembers across restarts:
//
//	network.json
//	{ "version": 1,
//	  "subnets": { "<account>/<region>": {index, cidr, id} },
//	  "tasks":   { "<task id>": {account, region, ip, mac, eniId, ready, ports[]} } }
//
// A subnet index i is the i-th SubnetBits block of the pool; its bridge is
// Config.bridgeName(i). Everything else (veth, netns, gateway) is derived.
type state struct {
	Version int                    `json:"version"`
	Subnets map[string]*subnetInfo `json:"subnets"`
	Tasks   map[string]*taskInfo   `json:"tasks"`
	// Addresses are the load balancers' addresses, by owner (addresses.go).
	Addresses map[string]*addressInfo `json:"addresses,omitempty"`
	// durableSubnets are the subnets and addresses as the last save that
	// made its rename durable wrote them (JSON; in memory only).
	durableSubnets []byte
}

type subnetInfo struct {
	Account string       `json:"account"`
	Region  string       `json:"region"`
	Index   int          `json:"index"`
	CIDR    netip.Prefix `json:"cidr"`
	ID      string       `json:"id"`
}

type taskInfo struct {
	TaskID   string     `json:"taskId"`
	Account  string     `json:"account"`
	Region   string     `json:"region"`
	IP       netip.Addr `json:"ip"`
	ENIID    string     `json:"eniId"`
	Hostname string     `json:"hostname,omitempty"`
	// Ready is false from the allocation until Setup has created every
	// kernel object; Recover releases tasks that are not ready.
	Ready bool      `json:"ready"`
	Ports []Binding `json:"ports,omitempty"`
	// busy is set (in memory only) while Setup or Teardown works on the task
	// without holding the Manager's lock.
	busy bool
}

func subnetKey(account, region string) string { return account + "/" + region }

func newState() *state {
	return &state{Version: stateVersion, Subnets: map[string]*subnetInfo{}, Tasks: map[string]*taskInfo{}}
}

// loadState reads dir/network.json; a missing file is an empty state.
func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("network: read state: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("network: parse %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("network: state version %d, want %d: %w", st.Version, stateVersion, errdefs.ErrUnsupported)
	}
	if st.Subnets == nil {
		st.Subnets = map[string]*subnetInfo{}
	}
	if st.Tasks == nil {
		st.Tasks = map[string]*taskInfo{}
	}
	return st, nil
}

// save writes the state atomically: a crash leaves either the old or the new
// file, never a torn one (the new file's data is fsync'd before the rename).
// The rename itself is made durable (the directory fsync'd) only when the
// subnets or the load balancers' addresses changed: they outlive the
// host's restarts (an account keeps its subnet, a load balancer its
// address), whereas the tasks' records describe netns and veths, which a
// host crash ends anyway; a record lost with them is what Recover would
// release. A crash of fargo, the case that matters for the tasks, loses
// nothing either way: the rename is in the page cache.
func (st *state) save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("network: encode state: %w", err)
	}
	subnets, err := json.Marshal(struct {
		Subnets   map[string]*subnetInfo
		Addresses map[string]*addressInfo
	}{st.Subnets, st.Addresses})
	if err != nil {
		return fmt.Errorf("network: encode state: %w", err)
	}
	durable := !bytes.Equal(subnets, st.durableSubnets)
	if err := writeFileAtomic(filepath.Join(dir, stateFile), b, durable); err != nil {
		return err
	}
	if durable {
		st.durableSubnets = subnets
	}
	return nil
}

// writeFileAtomic writes path by a rename of a temporary file whose data
// is fsync'd first; syncDir makes the rename durable too.
func writeFileAtomic(path string, data []byte, syncDir bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("network: write state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("network: write state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("network: sync state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("network: close state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("network: replace state: %w", err)
	}
	if !syncDir {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("network: sync state dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("network: sync state dir: %w", err)
	}
	return nil
}

// subnetFor returns the account's subnet, allocating one when it has none:
// the lowest free index, else the lowest index of a subnet without tasks.
func (st *state) subnetFor(cfg Config, account, region string) (*subnetInfo, error) {
	key := subnetKey(account, region)
	if s, ok := st.Subnets[key]; ok {
		return s, nil
	}
	n := st.subnetCount(cfg) // without the block of load balancer addresses
	used := make(map[int]string, len(st.Subnets))
	for k, s := range st.Subnets {
		used[s.Index] = k
	}
	index := -1
	for i := range n {
		if _, ok := used[i]; !ok {
			index = i
			break
		}
	}
	if index < 0 {
		// Pool exhausted: reclaim the lowest subnet no task uses.
		busy := map[string]bool{}
		for _, t := range st.Tasks {
			busy[subnetKey(t.Account, t.Region)] = true
		}
		for i := range n {
			if k := used[i]; !busy[k] {
				delete(st.Subnets, k)
				index = i
				break
			}
		}
	}
	if index < 0 {
		return nil, errdefs.Newf(errdefs.ErrLimitExceeded, "network: no free subnet in pool %s", cfg.Pool)
	}
	s := &subnetInfo{
		Account: account,
		Region:  region,
		Index:   index,
		CIDR:    subnetCIDR(cfg, index),
		ID:      "subnet-" + hashHex("subnet/" + key)[:17],
	}
	st.Subnets[key] = s
	return s, nil
}

// subnetCIDR is the index-th block of SubnetBits in the pool.
func subnetCIDR(cfg Config, index int) netip.Prefix {
	base := cfg.Pool.Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += uint32(index) << (32 - cfg.SubnetBits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), cfg.SubnetBits)
}

// gateway is the first host address of a subnet, carried by its bridge.
func gateway(p netip.Prefix) netip.Addr { return p.Addr().Next() }

// allocIP returns the lowest address of the subnet that is neither the
// network, the gateway, the broadcast address nor held by a task.
func (st *state) allocIP(s *subnetInfo) (netip.Addr, error) {
	held := map[netip.Addr]bool{}
	for _, t := range st.Tasks {
		if s.CIDR.Contains(t.IP) {
			held[t.IP] = true
		}
	}
	for a := gateway(s.CIDR).Next(); s.CIDR.Contains(a); a = a.Next() {
		if !s.CIDR.Contains(a.Next()) {
			break // broadcast
		}
		if !held[a] {
			return a, nil
		}
	}
	return netip.Addr{}, errdefs.Newf(errdefs.ErrLimitExceeded,
		"network: subnet %s of account %s in %s is full", s.CIDR, s.Account, s.Region)
}

// tasksIn lists the IDs of the tasks in a subnet, sorted.
func (st *state) tasksIn(s *subnetInfo) []string {
	var ids []string
	for id, t := range st.Tasks {
		if t.Account == s.Account && t.Region == s.Region {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newENIID returns "eni-" and 17 random hex digits, as EC2 does.
func newENIID() (string, error) {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("network: eni id: %w", err)
	}
	return "eni-" + hex.EncodeToString(b[:])[:17], nil
}

// macFor is the task MAC: locally administered 0a:fa and the IPv4 octets.
func macFor(ip netip.Addr) string {
	a := ip.As4()
	return fmt.Sprintf("0a:fa:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3])
}
