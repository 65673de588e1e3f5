package agent

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/node"
)

// The network hook: a task of the awsvpc and bridge network modes gets a
// network namespace of its own (Deps.Network), with its ENI's address;
// host shares the host's, none has only loopback.
//
//	provision           namespace and address (PROVISIONING)
//	provisioned         /etc/hosts and /etc/hostname in the task's directory;
//	                    bridge: the port mappings published on the host
//	report(PENDING)     the ENI attachment ATTACHED, each container's
//	                    address and networkBindings
//	prestartContainer   the namespace to join, the hostname, the /etc files
//	cleanup             the namespace and its published ports
//	report(STOPPED)     the ENI attachment DELETED
type networkHook struct {
	// att is the task's network (nil without a namespace of its own).
	// Set before the task is in the metadata index, read by the
	// metadata endpoint.
	att      *network.Attachment
	bindings []node.ContainerStateChange
}

// hasOwnNetNS reports whether a network mode gives the task a network
// namespace of its own: awsvpc (with an ENI) and bridge (with published
// ports). host shares the host's; none has only loopback.
func hasOwnNetNS(mode string) bool {
	return mode == node.NetworkModeAwsvpc || mode == node.NetworkModeBridge
}

func (h *networkHook) provision(ctx context.Context, r *runner) (func() error, error) {
	if !hasOwnNetNS(r.td.NetworkMode) {
		return nil, nil
	}
	start := time.Now()
	att, err := r.a.deps.Network.Setup(ctx, network.Request{TaskID: r.ref.ID, Account: r.ref.Scope.Account, Region: r.ref.Scope.Region})
	r.a.observe(StepNetwork, start)
	if err != nil {
		return nil, r.a.failedToStartWith("ResourceInitializationError: failed to configure the task's network: ", err)
	}
	h.att = att
	return nil, nil
}

func (h *networkHook) provisioned(ctx context.Context, r *runner) error {
	if h.att == nil {
		return nil
	}
	if err := writeEtcFiles(r.dir, h.att, r.a.cfg.Nameservers); err != nil {
		return failedToStart("ResourceInitializationError: failed to write the task's /etc/hosts and /etc/hostname", err)
	}
	if r.td.NetworkMode == node.NetworkModeBridge {
		b, err := h.publishPorts(ctx, r)
		if err != nil {
			return r.a.failedToStartWith("ResourceInitializationError: failed to publish the task's ports: ", err)
		}
		h.bindings = b
	}
	return nil
}

func (h *networkHook) addToReport(r *runner, status string, ch *node.TaskStateChange) {
	switch status {
	case node.TaskPending:
		ch.Attachment = h.attachment(r, "ATTACHED")
		ch.Containers = append(append(ch.Containers, h.networkInterfaces(r)...), h.bindings...)
	case node.TaskStopped:
		ch.Attachment = h.attachment(r, "DELETED")
	}
}

func (h *networkHook) prestartContainer(_ context.Context, r *runner, c *specInput) error {
	c.att = h.att
	if h.att != nil {
		c.hostsDir = r.dir
		c.resolvConf = len(r.a.cfg.Nameservers) > 0
	}
	return nil
}

func (h *networkHook) cleanup(ctx context.Context, r *runner) bool {
	if r.td != nil && hasOwnNetNS(r.td.NetworkMode) {
		if err := r.a.deps.Network.Teardown(ctx, r.ref.ID); err != nil {
			r.log.Warn("network teardown", "err", err)
		}
	}
	return true
}

// attachment is the task's ENI attachment as DescribeTasks shows it.
func (h *networkHook) attachment(r *runner, status string) *node.TaskAttachment {
	if h.att == nil || len(r.task.Attachments) == 0 {
		return nil
	}
	at := r.task.Attachments[0]
	at.Status = status
	at.Details = []node.KeyValue{
		{Name: "subnetId", Value: detail(at.Details, "subnetId", h.att.SubnetID)},
		{Name: "networkInterfaceId", Value: h.att.ENIID},
		{Name: "macAddress", Value: h.att.MAC},
		{Name: "privateDnsName", Value: h.att.PrivateDNSName},
		{Name: "privateIPv4Address", Value: h.att.IP.String()},
	}
	return &at
}

func detail(kvs []node.KeyValue, name, def string) string {
	for _, kv := range kvs {
		if kv.Name == name && kv.Value != "" {
			return kv.Value
		}
	}
	return def
}

// networkInterfaces gives each container the task's ENI address.
func (h *networkHook) networkInterfaces(r *runner) []node.ContainerStateChange {
	if h.att == nil || len(r.task.Attachments) == 0 {
		return nil
	}
	var out []node.ContainerStateChange
	for _, c := range r.task.Containers {
		out = append(out, node.ContainerStateChange{Name: c.Name, NetworkInterfaces: []node.NetworkInterface{
			{AttachmentID: r.task.Attachments[0].ID, PrivateIPv4Address: h.att.IP.String()}}})
	}
	return out
}

// writeEtcFiles writes the task's /etc/hosts and /etc/hostname, and its
// /etc/resolv.conf when there are nameservers to name.
func writeEtcFiles(dir string, att *network.Attachment, nameservers []string) error {
	if len(nameservers) > 0 {
		var b strings.Builder
		for _, ns := range nameservers {
			fmt.Fprintf(&b, "nameserver %s\n", ns)
		}
		if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	host := "ip-" + strings.ReplaceAll(att.IP.String(), ".", "-")
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s %s\n", att.IP, att.PrivateDNSName, host)
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "hostname"), []byte(host+"\n"), 0o644)
}

// publishPorts publishes the bridge-mode task's port mappings on the host
// (hostPort 0 or absent: an ephemeral port; a containerPortRange: a run of
// ephemeral ports) and returns each container's networkBindings.
func (h *networkHook) publishPorts(ctx context.Context, r *runner) ([]node.ContainerStateChange, error) {
	var out []node.ContainerStateChange
	for _, cd := range r.td.ContainerDefinitions {
		if len(cd.PortMappings) == 0 {
			continue
		}
		want := make([]network.PortMapping, 0, len(cd.PortMappings))
		for _, pm := range cd.PortMappings {
			m, err := hostPortMapping(pm)
			if err != nil {
				return nil, err
			}
			want = append(want, m)
		}
		got, err := r.a.deps.Network.PublishPorts(ctx, r.ref.ID, want)
		if err != nil {
			return nil, err
		}
		published, err := network.FoldBindings(want, got)
		if err != nil {
			return nil, err
		}
		bindings := make([]node.NetworkBinding, len(published))
		for i, p := range published {
			bindings[i] = networkBinding(p, cd.PortMappings[i].ContainerPortRange != "")
		}
		out = append(out, node.ContainerStateChange{Name: cd.Name, NetworkBindings: bindings})
	}
	return out, nil
}

// hostPortMapping is a port mapping as the network publishes it.
func hostPortMapping(pm node.PortMapping) (network.PortMapping, error) {
	hostPort, containerPort := derefInt(pm.HostPort), derefInt(pm.ContainerPort)
	m := network.PortMapping{HostPort: uint16(hostPort), ContainerPort: uint16(containerPort), Protocol: cmp.Or(pm.Protocol, "tcp"), Count: 1}
	if pm.ContainerPortRange != "" {
		lo, hi, ok := node.ParsePortRange(pm.ContainerPortRange)
		if !ok || hostPort != 0 {
			return network.PortMapping{}, errdefs.Invalidf("port range %q is invalid", pm.ContainerPortRange)
		}
		m.ContainerPort, m.Count = uint16(lo), uint16(hi-lo+1)
	} else if containerPort <= 0 || containerPort > 65535 || hostPort < 0 || hostPort > 65535 {
		return network.PortMapping{}, errdefs.Invalidf("port mapping %d:%d is out of range", hostPort, containerPort)
	}
	return m, nil
}

// networkBinding is a published port mapping as DescribeTasks shows it: a
// range's first and last ports as its containerPortRange and hostPortRange.
func networkBinding(p network.PublishedRange, isRange bool) node.NetworkBinding {
	first, last := p.First, p.Last
	ip := "0.0.0.0"
	if first.HostIP.IsValid() && !first.HostIP.IsUnspecified() {
		ip = first.HostIP.String()
	}
	b := node.NetworkBinding{BindIP: ip, ContainerPort: int(first.ContainerPort), HostPort: int(first.HostPort), Protocol: first.Protocol}
	if isRange {
		b.ContainerPort, b.HostPort = 0, 0
		b.ContainerPortRange = fmt.Sprintf("%d-%d", first.ContainerPort, last.ContainerPort)
		b.HostPortRange = fmt.Sprintf("%d-%d", first.HostPort, last.HostPort)
	}
	return b
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
