package network

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
)

// Recover reconciles the state file with the kernel after a restart:
//
//	state record, netns and veth (on its bridge) all there -> kept, bridge and
//	                                                            proxies restored
//	record not ready, or its netns or veth missing       -> objects removed, IP released
//	netns file / veth / bridge with the prefix, no record -> removed
//
// It then rewrites the nftables table. Call it once after New, before Setup.
// Errors on single objects are logged and joined; Recover goes on with the
// rest.
func (m *Manager) Recover(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	keepVeth := map[string]bool{}
	keepNS := map[string]bool{}
	keepBridge := map[string]bool{}

	for id, t := range m.st.Tasks {
		if err := ctx.Err(); err != nil {
			return err
		}
		if t.busy {
			continue // a Setup or Teardown of this process owns it
		}
		s := m.st.Subnets[subnetKey(t.Account, t.Region)]
		ok := t.Ready && s != nil && isNetNS(m.netnsPath(id))
		var veth netlink.Link
		if ok {
			var err error
			veth, err = linkByName(m.cfg.vethName(id))
			ok = err == nil && veth != nil
		}
		if ok {
			br, err := m.ensureBridgeNoFirewallLocked(s)
			if err == nil && veth.Attrs().MasterIndex != br.Attrs().Index {
				err = netlink.LinkSetMaster(veth, br)
			}
			if err == nil {
				err = netlink.LinkSetUp(veth)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("network: restore task %s: %w", id, err))
			}
			keepVeth[veth.Attrs().Name] = true
			keepNS[filepath.Base(m.netnsPath(id))] = true
			keepBridge[m.cfg.bridgeName(s.Index)] = true
			m.restoreProxiesLocked(t)
			continue
		}
		m.log.Warn("releasing orphaned task network", "task", id, "ip", t.IP)
		if err := m.removeTaskObjects(id); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(m.st.Tasks, id)
	}
	if err := m.st.save(m.cfg.StateDir); err != nil {
		errs = append(errs, err)
	}

	// Links with the prefix that no live task claims. The metadata link stays.
	links, err := prefixedLinks(m.cfg.NamePrefix)
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		name := l.Attrs().Name
		if name == m.cfg.metadataLinkName() || keepVeth[name] || keepBridge[name] {
			continue
		}
		if _, isVeth := l.(*netlink.Veth); !isVeth {
			if _, isBridge := l.(*netlink.Bridge); !isBridge {
				continue // not ours
			}
		}
		m.log.Warn("removing orphaned link", "link", name)
		if err := deleteLink(name); err != nil {
			errs = append(errs, err)
		}
	}

	// Netns files with the prefix that no live task claims.
	ents, err := os.ReadDir(m.cfg.NetNSDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("network: read %s: %w", m.cfg.NetNSDir, err))
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), m.cfg.NamePrefix+"-") || keepNS[e.Name()] {
			continue
		}
		m.log.Warn("removing orphaned netns", "netns", e.Name())
		if err := deleteNetNS(filepath.Join(m.cfg.NetNSDir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}

	errs = append(errs, ensureMetadataLink(m.cfg.metadataLinkName(), m.cfg.MetadataIP), m.applyFirewallLocked())
	errs = append(errs, m.restoreAddressesLocked())
	return errors.Join(errs...)
}

// ensureBridgeNoFirewallLocked is ensureBridge for a subnet; Recover
// rewrites the firewall once at the end.
func (m *Manager) ensureBridgeNoFirewallLocked(s *subnetInfo) (netlink.Link, error) {
	return ensureBridge(m.cfg.bridgeName(s.Index), s.CIDR, m.cfg.MetadataIP)
}

// restoreProxiesLocked re-publishes a recovered task's ports on the same
// host ports; a port taken meanwhile is logged and dropped.
func (m *Manager) restoreProxiesLocked(t *taskInfo) {
	if len(m.proxies[t.TaskID]) > 0 {
		return
	}
	var kept []Binding
	for _, b := range t.Ports {
		p, err := startProxy(b, netip.AddrPortFrom(t.IP, b.ContainerPort), m.log.With("task", t.TaskID))
		if err != nil {
			m.log.Error("restore published port", "task", t.TaskID, "port", b.HostPort, "err", err)
			continue
		}
		m.proxies[t.TaskID] = append(m.proxies[t.TaskID], p)
		kept = append(kept, b)
	}
	t.Ports = kept
}
