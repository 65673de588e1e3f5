package network

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// chainPriority runs fargo's chains just before the usual filter chains
// (docker's, firewalld's), so their accepts cannot open a hole in ours: a
// drop in any base chain is final.
const chainPriority nftables.ChainPriority = 0 - 5

// firewall owns the nftables table described in the package doc. Every
// change rewrites the whole table in one netlink batch, which the kernel
// applies atomically.
type firewall struct {
	table    string
	prefix   string
	metadata netip.Addr
	// addresses are the load balancers' addresses (addresses.go), which
	// tasks may reach on the host like the metadata address.
	addresses []netip.Addr
}

// apply makes the table match the given bridges (the live ones).
func (fw firewall) apply(bridges []string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("network: nftables: %w", err)
	}
	t := c.AddTable(&nftables.Table{Name: fw.table, Family: nftables.TableFamilyINet})
	prio := chainPriority
	accept := nftables.ChainPolicyAccept
	fwd := c.AddChain(&nftables.Chain{
		Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: &prio, Policy: &accept,
	})
	in := c.AddChain(&nftables.Chain{
		Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: &prio, Policy: &accept,
	})
	c.FlushChain(fwd)
	c.FlushChain(in)

	add := func(ch *nftables.Chain, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs})
	}
	// forward: same bridge (bridged traffic under br_netfilter) passes,
	// anything else to or from a fargo link is dropped.
	for _, br := range bridges {
		add(fwd, rule(ifname(expr.MetaKeyIIFNAME, br, true), ifname(expr.MetaKeyOIFNAME, br, true), verdict(expr.VerdictAccept))...)
	}
	add(fwd, rule(ifname(expr.MetaKeyIIFNAME, fw.prefix, false), counterDrop())...)
	add(fwd, rule(ifname(expr.MetaKeyOIFNAME, fw.prefix, false), counterDrop())...)

	// input: from a task, only replies, the metadata address and ICMP.
	fromTask := ifname(expr.MetaKeyIIFNAME, fw.prefix, false)
	add(in, rule(fromTask, ctEstablished(), verdict(expr.VerdictAccept))...)
	add(in, rule(fromTask, ip4Daddr(fw.metadata), verdict(expr.VerdictAccept))...)
	for _, a := range fw.addresses {
		add(in, rule(fromTask, ip4Daddr(a), verdict(expr.VerdictAccept))...)
	}
	add(in, rule(fromTask, l4proto(unix.IPPROTO_ICMP), verdict(expr.VerdictAccept))...)
	add(in, rule(fromTask, l4proto(unix.IPPROTO_ICMPV6), verdict(expr.VerdictAccept))...)
	add(in, rule(fromTask, counterDrop())...)

	if err := c.Flush(); err != nil {
		return fmt.Errorf("network: write nftables table inet %s: %w", fw.table, err)
	}
	return nil
}

// remove deletes the table; a missing table is fine.
func (fw firewall) remove() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("network: nftables: %w", err)
	}
	ok, err := fw.exists(c)
	if err != nil || !ok {
		return err
	}
	c.DelTable(&nftables.Table{Name: fw.table, Family: nftables.TableFamilyINet})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("network: delete nftables table inet %s: %w", fw.table, err)
	}
	return nil
}

func (fw firewall) exists(c *nftables.Conn) (bool, error) {
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("network: list nftables tables: %w", err)
	}
	for _, t := range ts {
		if t.Name == fw.table {
			return true, nil
		}
	}
	return false, nil
}

func rule(groups ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// ifname matches an interface name exactly, or by prefix (like nft's
// "fgo*"), which compares only the prefix bytes.
func ifname(key expr.MetaKey, name string, exact bool) []expr.Any {
	data := []byte(name)
	if exact {
		data = make([]byte, unix.IFNAMSIZ)
		copy(data, name)
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data},
	}
}

func ctEstablished() []expr.Any {
	mask := binary.NativeEndian.AppendUint32(nil, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func ip4Daddr(a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

func l4proto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func counterDrop() []expr.Any {
	return []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}
}
