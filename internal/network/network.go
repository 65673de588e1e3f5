package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/vishvananda/netlink"
)

// Request asks for a task's network.
type Request struct {
	TaskID  string // [A-Za-z0-9][A-Za-z0-9_.-]{0,99}, e.g. the 32-hex ECS task id
	Account string // the tenant: tasks of different accounts never reach each other
	Region  string
	// Hostname is reported back in the Attachment; empty means the EC2-style
	// private DNS name's first label ("ip-10-218-0-2").
	Hostname string
}

// Attachment is a task's network: what the runtime needs (NetNSPath), what
// DescribeTasks shows as the ElasticNetworkInterface attachment (SubnetID,
// ENIID, MAC, IP) and what the metadata endpoint reports.
type Attachment struct {
	TaskID         string
	NetNSPath      string       // join it: OCI linux.namespaces {type: network, path}
	IP             netip.Addr   // privateIPv4Address
	Prefix         netip.Prefix // the subnet, IPv4SubnetCIDRBlock
	Gateway        netip.Addr   // SubnetGatewayIpv4Address
	MAC            string       // macAddress
	HostVeth       string
	Bridge         string
	SubnetID       string // "subnet-" + 17 hex, stable per account+region
	ENIID          string // "eni-" + 17 hex, per task
	Hostname       string
	PrivateDNSName string // "ip-10-218-0-2.<region>.compute.internal"
}

// Manager creates and removes task networks on this host. It is safe for
// concurrent use.
type Manager struct {
	cfg Config
	log *slog.Logger
	fw  firewall

	mu      sync.Mutex
	st      *state
	proxies map[string][]*proxy // task id -> running port proxies
	closed  bool
}

var taskIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// New loads the state from cfg.StateDir, installs the nftables table and
// the metadata address. It does not touch existing tasks: call Recover
// after a restart.
func New(cfg Config) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("network: state dir: %w", err)
	}
	st, err := loadState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "network"),
		fw:      firewall{table: cfg.TableName, prefix: cfg.NamePrefix, metadata: cfg.MetadataIP, addresses: st.addressList()},
		st:      st,
		proxies: map[string][]*proxy{},
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.applyFirewallLocked(); err != nil {
		return nil, err
	}
	if err := ensureMetadataLink(cfg.metadataLinkName(), cfg.MetadataIP); err != nil {
		return nil, err
	}
	return m, nil
}

// MetadataIP is the address every task reaches the host at; it is local to
// the host from New until Close.
func (m *Manager) MetadataIP() netip.Addr { return m.cfg.MetadataIP }

// Setup creates the task's network: netns, veth pair, address, routes. It
// is idempotent: setting up a task that exists returns its attachment.
func (m *Manager) Setup(ctx context.Context, req Request) (*Attachment, error) {
	if !taskIDRE.MatchString(req.TaskID) {
		return nil, errdefs.Invalidf("network: invalid task id %q", req.TaskID)
	}
	if req.Account == "" || req.Region == "" || strings.Contains(req.Account+req.Region, "/") {
		return nil, errdefs.Invalidf("network: task %s: account and region are required", req.TaskID)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := m.log.With("task", req.TaskID, "account", req.Account, "region", req.Region)

	// Phase 1, locked: allocate, make sure the bridge exists. The pending
	// record (in memory: it reserves the address and keeps the bridge alive
	// while phase 2 runs unlocked) is written with the commit, once: objects
	// a crash leaves without a record are removed by Recover, by name.
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "network: manager closed")
	}
	if t, ok := m.st.Tasks[req.TaskID]; ok {
		defer m.mu.Unlock()
		switch {
		case t.Account != req.Account || t.Region != req.Region:
			return nil, errdefs.Conflictf("network: task %s belongs to %s/%s", req.TaskID, t.Account, t.Region)
		case t.busy || !t.Ready:
			return nil, errdefs.Conflictf("network: task %s is being set up or torn down", req.TaskID)
		}
		return m.attachmentLocked(t), nil
	}
	if owner := m.vethOwnerLocked(req.TaskID); owner != "" {
		m.mu.Unlock()
		return nil, errdefs.Conflictf("network: task %s: veth name %s is taken by task %s",
			req.TaskID, m.cfg.vethName(req.TaskID), owner)
	}
	sub, err := m.st.subnetFor(m.cfg, req.Account, req.Region)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	ip, err := m.st.allocIP(sub)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	eni, err := newENIID()
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	t := &taskInfo{TaskID: req.TaskID, Account: req.Account, Region: req.Region, IP: ip, ENIID: eni, Hostname: req.Hostname, busy: true}
	m.st.Tasks[req.TaskID] = t
	bridge, err := m.ensureBridgeLocked(sub)
	m.mu.Unlock()
	if err != nil {
		return nil, m.abortSetup(t, err)
	}

	// Phase 2, unlocked: kernel objects of this task only.
	att := m.attachmentFor(t, sub)
	if err := createNetNS(att.NetNSPath); err != nil {
		return nil, m.abortSetup(t, err)
	}
	err = plumbTask(taskLink{
		NetNS: att.NetNSPath, HostVeth: att.HostVeth, Bridge: bridge,
		IP: netip.PrefixFrom(ip, sub.CIDR.Bits()), Gateway: att.Gateway, MAC: att.MAC,
	})
	if err != nil {
		return nil, m.abortSetup(t, err)
	}

	// Phase 3, locked: commit (the state file's one write).
	m.mu.Lock()
	t.Ready, t.busy = true, false
	if err := m.st.save(m.cfg.StateDir); err != nil {
		t.Ready, t.busy = false, true
		m.mu.Unlock()
		return nil, m.abortSetup(t, err)
	}
	m.mu.Unlock()
	log.Info("task network set up", "ip", ip, "bridge", att.Bridge, "netns", att.NetNSPath)
	return att, nil
}

// abortSetup undoes a failed Setup and returns its error.
func (m *Manager) abortSetup(t *taskInfo, cause error) error {
	m.log.Warn("task network setup failed; undoing", "task", t.TaskID, "err", cause)
	if err := m.removeTaskObjects(t.TaskID); err != nil {
		m.log.Error("undo task network", "task", t.TaskID, "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.st.Tasks, t.TaskID)
	if err := m.st.save(m.cfg.StateDir); err != nil {
		m.log.Error("save network state", "err", err)
	}
	if err := m.pruneBridgeLocked(t.Account, t.Region); err != nil {
		m.log.Error("remove idle bridge", "err", err)
	}
	return cause
}

// Teardown removes the task's network: port proxies, veth, netns, address.
// The account's bridge goes with its last task. Tearing down an unknown task
// removes any leftovers of that name and succeeds.
func (m *Manager) Teardown(ctx context.Context, taskID string) error {
	if !taskIDRE.MatchString(taskID) {
		return errdefs.Invalidf("network: invalid task id %q", taskID)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	t, ok := m.st.Tasks[taskID]
	if ok && t.busy {
		m.mu.Unlock()
		return errdefs.Conflictf("network: task %s is being set up or torn down", taskID)
	}
	if ok {
		t.busy = true
	}
	proxies := m.proxies[taskID]
	delete(m.proxies, taskID)
	// An unknown task's leftovers are removed by name, but never a veth
	// whose (hashed) name belongs to another task.
	sharedVeth := m.vethOwnerLocked(taskID) != ""
	m.mu.Unlock()

	for _, p := range proxies {
		p.Close()
	}
	if sharedVeth {
		return deleteNetNS(m.netnsPath(taskID))
	}
	if err := m.removeTaskObjects(taskID); err != nil {
		if ok {
			m.mu.Lock()
			t.busy = false
			m.mu.Unlock()
		}
		return err
	}
	if !ok {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.st.Tasks, taskID)
	if err := m.st.save(m.cfg.StateDir); err != nil {
		m.st.Tasks[taskID] = t
		t.busy = false
		return err
	}
	m.log.Info("task network torn down", "task", taskID, "ip", t.IP)
	return m.pruneBridgeLocked(t.Account, t.Region)
}

// vethOwnerLocked returns the other task, if any, whose veth name is the
// one taskID hashes to.
func (m *Manager) vethOwnerLocked(taskID string) string {
	name := m.cfg.vethName(taskID)
	for id := range m.st.Tasks {
		if id != taskID && m.cfg.vethName(id) == name {
			return id
		}
	}
	return ""
}

// removeTaskObjects deletes the task's veth and netns if they exist.
func (m *Manager) removeTaskObjects(taskID string) error {
	return errors.Join(
		deleteLink(m.cfg.vethName(taskID)),
		deleteNetNS(m.netnsPath(taskID)),
	)
}

// Attachment returns a task's attachment.
func (m *Manager) Attachment(taskID string) (*Attachment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.st.Tasks[taskID]
	if !ok || !t.Ready {
		return nil, errdefs.NotFoundf("network: no network for task %s", taskID)
	}
	return m.attachmentLocked(t), nil
}

// Attachments lists the attachments of every task set up, sorted by task ID;
// after Recover the agent tears down those it no longer runs.
func (m *Manager) Attachments() []*Attachment {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Attachment
	for _, t := range m.st.Tasks {
		if t.Ready {
			out = append(out, m.attachmentLocked(t))
		}
	}
	slices.SortFunc(out, func(a, b *Attachment) int { return strings.Compare(a.TaskID, b.TaskID) })
	return out
}

// Close stops the port proxies. With no task left it also removes the
// metadata link and the nftables table; otherwise it leaves the kernel as
// it is so tasks keep running across an agent restart.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	for id, ps := range m.proxies {
		for _, p := range ps {
			p.Close()
		}
		delete(m.proxies, id)
	}
	if len(m.st.Tasks) > 0 {
		return nil
	}
	var errs []error
	for _, s := range m.st.Subnets {
		errs = append(errs, deleteLink(m.cfg.bridgeName(s.Index)))
	}
	errs = append(errs, deleteLink(m.cfg.metadataLinkName()), m.fw.remove())
	return errors.Join(errs...)
}

func (m *Manager) netnsPath(taskID string) string {
	return filepath.Join(m.cfg.NetNSDir, m.cfg.netnsName(taskID))
}

func (m *Manager) attachmentLocked(t *taskInfo) *Attachment {
	return m.attachmentFor(t, m.st.Subnets[subnetKey(t.Account, t.Region)])
}

func (m *Manager) attachmentFor(t *taskInfo, s *subnetInfo) *Attachment {
	a := t.IP.As4()
	label := fmt.Sprintf("ip-%d-%d-%d-%d", a[0], a[1], a[2], a[3])
	domain := t.Region + ".compute.internal"
	if t.Region == "us-east-1" {
		domain = "ec2.internal"
	}
	host := t.Hostname
	if host == "" {
		host = label
	}
	return &Attachment{
		TaskID:         t.TaskID,
		NetNSPath:      m.netnsPath(t.TaskID),
		IP:             t.IP,
		Prefix:         s.CIDR,
		Gateway:        gateway(s.CIDR),
		MAC:            macFor(t.IP),
		HostVeth:       m.cfg.vethName(t.TaskID),
		Bridge:         m.cfg.bridgeName(s.Index),
		SubnetID:       s.ID,
		ENIID:          t.ENIID,
		Hostname:       host,
		PrivateDNSName: label + "." + domain,
	}
}

// ensureBridgeLocked creates the subnet's bridge and, when it is new,
// rewrites the firewall to let its same-bridge traffic through.
func (m *Manager) ensureBridgeLocked(s *subnetInfo) (netlink.Link, error) {
	name := m.cfg.bridgeName(s.Index)
	existed, err := linkByName(name)
	if err != nil {
		return nil, err
	}
	l, err := ensureBridge(name, s.CIDR, m.cfg.MetadataIP)
	if err != nil {
		return nil, err
	}
	if existed == nil {
		if err := m.applyFirewallLocked(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// pruneBridgeLocked removes the account's bridge when no task uses it.
func (m *Manager) pruneBridgeLocked(account, region string) error {
	s, ok := m.st.Subnets[subnetKey(account, region)]
	if !ok || len(m.st.tasksIn(s)) > 0 {
		return nil
	}
	if err := deleteLink(m.cfg.bridgeName(s.Index)); err != nil {
		return err
	}
	return m.applyFirewallLocked()
}

// applyFirewallLocked writes the nftables table for the bridges of the
// subnets that have tasks (the ones that exist).
func (m *Manager) applyFirewallLocked() error {
	var bridges []string
	for _, s := range m.st.Subnets {
		name := m.cfg.bridgeName(s.Index)
		if l, err := linkByName(name); err == nil && l != nil {
			bridges = append(bridges, name)
		}
	}
	slices.Sort(bridges)
	return m.fw.apply(bridges)
}
