package dnsserver

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/fargo-run/fargo/internal/discovery"
)

// MaxMultivalue is how many records a MULTIVALUE answer holds at most, as
// Route 53 answers multivalue record sets.
const MaxMultivalue = 8

// The SOA of fargo's zones: Route 53's private hosted zones' values, with
// the namespace's SOA TTL as the negative-caching TTL.
const (
	soaNS      = "ns-1536.awsdns-00.co.uk."
	soaMbox    = "awsdns-hostmaster.amazon.com."
	soaRefresh = 7200
	soaRetry   = 900
	soaExpire  = 1209600
)

func soa(z *discovery.Zone) *dns.SOA {
	ttl := uint32(z.Namespace.SOATTL)
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: dns.Fqdn(strings.ToLower(z.Namespace.Name)), Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:  soaNS, Mbox: soaMbox, Serial: 1, Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire, Minttl: ttl,
	}
}

// answerZone answers a question about a name inside zone z (rel is the
// part of the name before the zone, "" at the apex) into m, which is
// authoritative: records, NODATA (no records, NOERROR, SOA in authority)
// or NXDOMAIN.
func answerZone(m *dns.Msg, z *discovery.Zone, rel string, q dns.Question) {
	m.Authoritative = true
	nodata := func() { m.Ns = append(m.Ns, soa(z)) }
	if rel == "" {
		if q.Qtype == dns.TypeSOA || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, soa(z))
			return
		}
		nodata()
		return
	}
	if sr := z.Services[rel]; sr != nil && len(sr.Instances) > 0 {
		answerService(m, z, sr, q)
		if len(m.Answer) == 0 {
			nodata()
		}
		return
	}
	if id, svcName, ok := strings.Cut(rel, "."); ok {
		if sr := z.Services[svcName]; sr != nil && sr.Service.HasRecord(discovery.RecordSRV) {
			for _, inst := range sr.Instances {
				if strings.EqualFold(inst.ID, id) {
					answerInstance(m, sr.Service, inst, q)
					if len(m.Answer) == 0 {
						nodata()
					}
					return
				}
			}
		}
	}
	// An empty non-terminal (a dotted service name's parent, or a
	// service's name above its instances' SRV targets) exists: NODATA.
	for name, sr := range z.Services {
		if len(sr.Instances) > 0 && strings.HasSuffix(name, "."+rel) {
			nodata()
			return
		}
	}
	m.Rcode = dns.RcodeNameError
	nodata()
}

func ttlOf(svc *discovery.Service, typ string) uint32 {
	for _, r := range svc.Records {
		if r.Type == typ {
			return uint32(r.TTL)
		}
	}
	return 0
}

// pick chooses the instances an answer holds: the healthy ones (all of
// them when none is: Route 53's all-unhealthy fallback) that have the
// attribute the record needs, up to 8 shuffled for MULTIVALUE, one at
// random for WEIGHTED.
func pick(svc *discovery.Service, insts []*discovery.Instance, attr string) []*discovery.Instance {
	var healthy, all []*discovery.Instance
	for _, i := range insts {
		if i.Attributes[attr] == "" {
			continue
		}
		all = append(all, i)
		if i.HealthStatus() == discovery.Healthy {
			healthy = append(healthy, i)
		}
	}
	out := healthy
	if len(out) == 0 {
		out = all
	}
	out = append([]*discovery.Instance(nil), out...)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	n := MaxMultivalue
	if svc.RoutingPolicy == discovery.Weighted {
		n = 1
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func addrRR(name string, ttl uint32, v string) dns.RR {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return nil
	}
	if a.Is4() {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: a.AsSlice()}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: a.AsSlice()}
}

func answerService(m *dns.Msg, z *discovery.Zone, sr *discovery.ServiceRecords, q dns.Question) {
	svc, name := sr.Service, dns.Fqdn(strings.ToLower(q.Name))
	if svc.HasRecord(discovery.RecordCNAM) {
		for _, i := range pick(svc, sr.Instances, discovery.AttrCNAME) {
			m.Answer = append(m.Answer, &dns.CNAME{
				Hdr:    dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttlOf(svc, discovery.RecordCNAM)},
				Target: dns.Fqdn(i.Attributes[discovery.AttrCNAME]),
			})
		}
		return
	}
	want := func(t uint16) bool { return q.Qtype == t || q.Qtype == dns.TypeANY }
	if want(dns.TypeA) && svc.HasRecord(discovery.RecordA) {
		for _, i := range pick(svc, sr.Instances, discovery.AttrIPv4) {
			if rr := addrRR(name, ttlOf(svc, discovery.RecordA), i.Attributes[discovery.AttrIPv4]); rr != nil {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if want(dns.TypeAAAA) && svc.HasRecord(discovery.RecordAAAA) {
		for _, i := range pick(svc, sr.Instances, discovery.AttrIPv6) {
			if rr := addrRR(name, ttlOf(svc, discovery.RecordAAAA), i.Attributes[discovery.AttrIPv6]); rr != nil {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if want(dns.TypeSRV) && svc.HasRecord(discovery.RecordSRV) {
		zone := dns.Fqdn(strings.ToLower(z.Namespace.Name))
		for _, i := range pick(svc, sr.Instances, discovery.AttrPort) {
			port, err := strconv.Atoi(i.Attributes[discovery.AttrPort])
			if err != nil {
				continue
			}
			target := strings.ToLower(i.ID) + "." + strings.ToLower(svc.Name) + "." + zone
			m.Answer = append(m.Answer, &dns.SRV{
				Hdr:      dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: ttlOf(svc, discovery.RecordSRV)},
				Priority: 1, Weight: 1, Port: uint16(port), Target: target,
			})
			m.Extra = append(m.Extra, instanceAddrs(svc, i, target)...)
		}
	}
}

// instanceAddrs are the A/AAAA records of an SRV target name.
func instanceAddrs(svc *discovery.Service, i *discovery.Instance, name string) []dns.RR {
	var out []dns.RR
	if v := i.Attributes[discovery.AttrIPv4]; v != "" && svc.HasRecord(discovery.RecordA) {
		if rr := addrRR(name, ttlOf(svc, discovery.RecordA), v); rr != nil {
			out = append(out, rr)
		}
	}
	if v := i.Attributes[discovery.AttrIPv6]; v != "" && svc.HasRecord(discovery.RecordAAAA) {
		if rr := addrRR(name, ttlOf(svc, discovery.RecordAAAA), v); rr != nil {
			out = append(out, rr)
		}
	}
	return out
}

// answerInstance answers an SRV target name (<instance>.<service>.<zone>).
func answerInstance(m *dns.Msg, svc *discovery.Service, i *discovery.Instance, q dns.Question) {
	for _, rr := range instanceAddrs(svc, i, dns.Fqdn(strings.ToLower(q.Name))) {
		if q.Qtype == dns.TypeANY || rr.Header().Rrtype == q.Qtype {
			m.Answer = append(m.Answer, rr)
		}
	}
}

// answerExtra answers a name an ExtraNames hook knows (a load balancer's
// DNS name): its addresses of the asked type; NODATA when it has none of
// that type.
func answerExtra(m *dns.Msg, addrs []netip.Addr, q dns.Question) {
	name := dns.Fqdn(strings.ToLower(q.Name))
	for _, a := range addrs {
		if a.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY) || a.Is6() && !a.Is4In6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY) {
			if rr := addrRR(name, ExtraTTL, a.String()); rr != nil {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
}

// ExtraTTL is the TTL of ExtraNames answers (an ALB's DNS name: Route 53
// answers them with 60 s).
const ExtraTTL = 60
