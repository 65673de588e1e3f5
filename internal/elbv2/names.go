package elbv2

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/fargo-run/fargo/internal/tenant"
)

const arnService = "elasticloadbalancing"

// newID returns 16 random hex digits (the id part of ELBv2 ARNs).
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func lbARN(s tenant.Scope, name, id string) string {
	return s.ARN(arnService, "loadbalancer/app/"+name+"/"+id)
}

func tgARN(s tenant.Scope, name, id string) string {
	return s.ARN(arnService, "targetgroup/"+name+"/"+id)
}

// dnsName is <name>-<digits>.<region>.elb.amazonaws.com, with internal-
// in front for internal load balancers, as AWS names them.
func dnsName(s tenant.Scope, name, id, scheme string) string {
	sum := sha256.Sum256([]byte(id))
	n := binary.BigEndian.Uint32(sum[:4])%900000000 + 100000000
	host := fmt.Sprintf("%s-%d.%s.elb.amazonaws.com", name, n, s.Region)
	if scheme == SchemeInternal {
		host = "internal-" + host
	}
	return strings.ToLower(host)
}

// arnParts is a parsed ELBv2 ARN.
type arnParts struct {
	kind  string // loadbalancer, targetgroup, listener, listener-rule
	lb    string // load balancer name (listener, rule, load balancer)
	lbID  string
	tg    string // target group name
	tgID  string
	lsID  string // listener id
	ruleI string // rule id
}

// parseARN checks that arn is an ELBv2 ARN of the scope and of the kind
// wanted, and splits it. A malformed ARN is a ValidationError; an ARN of
// another scope is not found (notFound).
func parseARN(s tenant.Scope, arn, kind string, notFound error) (arnParts, error) {
	invalid := validationf("'%s' is not a valid %s ARN", arn, kindWord(kind))
	rest, ok := strings.CutPrefix(arn, "arn:aws:"+arnService+":")
	if !ok {
		return arnParts{}, invalid
	}
	fields := strings.SplitN(rest, ":", 3)
	if len(fields) != 3 {
		return arnParts{}, invalid
	}
	region, acct, res := fields[0], fields[1], fields[2]
	parts := strings.Split(res, "/")
	p := arnParts{kind: parts[0]}
	if p.kind != kind {
		return arnParts{}, invalid
	}
	switch kind {
	case "loadbalancer":
		if len(parts) != 4 || parts[1] != "app" {
			return arnParts{}, invalid
		}
		p.lb, p.lbID = parts[2], parts[3]
	case "targetgroup":
		if len(parts) != 3 {
			return arnParts{}, invalid
		}
		p.tg, p.tgID = parts[1], parts[2]
	case "listener":
		if len(parts) != 5 || parts[1] != "app" {
			return arnParts{}, invalid
		}
		p.lb, p.lbID, p.lsID = parts[2], parts[3], parts[4]
	case "listener-rule":
		if len(parts) != 6 || parts[1] != "app" {
			return arnParts{}, invalid
		}
		p.lb, p.lbID, p.lsID, p.ruleI = parts[2], parts[3], parts[4], parts[5]
	}
	for _, f := range parts[1:] {
		if f == "" || strings.ContainsAny(f, "\x00") {
			return arnParts{}, invalid
		}
	}
	if region != s.Region || acct != s.Account {
		return arnParts{}, notFound
	}
	return p, nil
}

func kindWord(kind string) string {
	switch kind {
	case "loadbalancer":
		return "load balancer"
	case "targetgroup":
		return "target group"
	case "listener-rule":
		return "listener rule"
	}
	return kind
}

// validName checks a load balancer or target group name: 1-32
// alphanumerics and hyphens, no hyphen at either end; load balancer
// names must not begin with internal-.
func validName(what, name string) error {
	switch {
	case name == "":
		return validationf("%s name cannot be empty", what)
	case len(name) > 32:
		return validationf("%s name '%s' cannot be longer than '32' characters", what, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return validationf("%s name '%s' can only contain characters that are alphanumeric characters or hyphens(-)", what, name)
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return validationf("%s name '%s' cannot begin or end with '-'", what, name)
	}
	if what == "Load balancer" && strings.HasPrefix(strings.ToLower(name), "internal-") {
		return validationf("Load balancer name '%s' cannot begin with 'internal-'", name)
	}
	return nil
}
