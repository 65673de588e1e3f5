package discovery

import (
	"net/netip"
	"strconv"
	"strings"
)

// AWS's limits on instances (RegisterInstance): at most 30 attributes,
// keys up to 255 and values up to 1,024 characters, and all keys and
// values together up to 5,000 characters.
const (
	MaxAttributes     = 30
	MaxAttrKeyLen     = 255
	MaxAttrValueLen   = 1024
	MaxAttributesSize = 5000
	MaxTags           = 200
)

// validLabel reports whether s is one label of a Cloud Map DNS name:
// 1-63 letters, digits, hyphens and underscores, neither starting nor
// ending with a hyphen.
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidDNSName reports whether name (without a trailing dot) is a DNS
// name of labels validLabel accepts, at most max characters long.
func ValidDNSName(name string, max int) bool {
	if name == "" || len(name) > max {
		return false
	}
	for l := range strings.SplitSeq(name, ".") {
		if !validLabel(l) {
			return false
		}
	}
	return true
}

// normalizeNamespaceName lower-cases a DNS namespace name and drops one
// trailing dot, as Route 53 stores zone names.
func normalizeNamespaceName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// printable reports whether s is in [!-~]+ (the HTTP namespace pattern).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// validInstanceID is the model's InstanceId: 1-64 of [0-9a-zA-Z_/:.@-].
func validInstanceID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_/:.@-", c) >= 0) {
			return false
		}
	}
	return true
}

// validAttrValue is the model's AttrValue: printable ASCII and inner
// spaces or tabs, no leading or trailing blank.
func validAttrValue(v string) bool {
	if v == "" {
		return true
	}
	if v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= '!' && c <= '~' || c == ' ' || c == '\t') {
			return false
		}
	}
	return true
}

// checkAttributes applies AWS's limits and the rules of the reserved
// attributes a service's DNS records need.
func checkAttributes(svc *Service, attrs map[string]string) error {
	if len(attrs) == 0 {
		return invalidf("Attributes must not be empty.")
	}
	if len(attrs) > MaxAttributes {
		return &Error{Kind: KindResourceLimitExceeded, Message: "The number of attributes exceeds the limit of 30."}
	}
	size := 0
	for k, v := range attrs {
		if !printable(k) || len(k) > MaxAttrKeyLen {
			return invalidf("Attribute key %q is not valid: 1-255 printable ASCII characters.", truncate(k))
		}
		if len(v) > MaxAttrValueLen || !validAttrValue(v) {
			return invalidf("Attribute %s has an invalid value: up to 1024 printable ASCII characters.", truncate(k))
		}
		size += len(k) + len(v)
	}
	if size > MaxAttributesSize {
		return invalidf("The total size of all attributes (keys and values) exceeds 5,000 characters.")
	}
	if v, ok := attrs[AttrIPv4]; ok {
		if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
			return invalidf("AWS_INSTANCE_IPV4 %q is not a valid IPv4 address.", truncate(v))
		}
	}
	if v, ok := attrs[AttrIPv6]; ok {
		if a, err := netip.ParseAddr(v); err != nil || !a.Is6() || a.Is4In6() {
			return invalidf("AWS_INSTANCE_IPV6 %q is not a valid IPv6 address.", truncate(v))
		}
	}
	if v, ok := attrs[AttrPort]; ok {
		if p, err := strconv.Atoi(v); err != nil || p < 0 || p > 65535 {
			return invalidf("AWS_INSTANCE_PORT %q is not a port number (0-65535).", truncate(v))
		}
	}
	if _, ok := attrs[AttrAlias]; ok {
		return &Error{Kind: KindUnsupported, Message: "fargo does not support AWS_ALIAS_DNS_NAME (alias records to Elastic Load Balancing)."}
	}
	if v, ok := attrs[AttrInit]; ok && v != Healthy && v != Unhealthy {
		return invalidf("AWS_INIT_HEALTH_STATUS must be HEALTHY or UNHEALTHY.")
	}
	if svc == nil || svc.Type == "HTTP" {
		return nil
	}
	// A DNS service needs what its records are made of.
	switch {
	case svc.HasRecord(RecordCNAM):
		if attrs[AttrCNAME] == "" {
			return invalidf("AWS_INSTANCE_CNAME is required for a service with a CNAME record.")
		}
	case svc.HasRecord(RecordSRV):
		if attrs[AttrPort] == "" {
			return invalidf("AWS_INSTANCE_PORT is required for a service with an SRV record.")
		}
		fallthrough
	default:
		_, v4 := attrs[AttrIPv4]
		_, v6 := attrs[AttrIPv6]
		if svc.HasRecord(RecordA) && !svc.HasRecord(RecordAAAA) && !v4 {
			return invalidf("AWS_INSTANCE_IPV4 is required for a service with an A record.")
		}
		if svc.HasRecord(RecordAAAA) && !svc.HasRecord(RecordA) && !v6 {
			return invalidf("AWS_INSTANCE_IPV6 is required for a service with an AAAA record.")
		}
		if svc.HasRecord(RecordA) && svc.HasRecord(RecordAAAA) && !v4 && !v6 {
			return invalidf("AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6 is required for a service with A and AAAA records.")
		}
	}
	return nil
}

// checkTags applies the model's limits.
func checkTags(tags []Tag) error {
	if len(tags) > MaxTags {
		return &Error{Kind: KindTooManyTags, Message: "The number of tags exceeds the limit of 200."}
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 || strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return invalidf("Tag key must be 1-128 characters not starting with aws:, and its value up to 256.")
		}
		if seen[t.Key] {
			return invalidf("Duplicate tag key %q.", truncate(t.Key))
		}
		seen[t.Key] = true
	}
	return nil
}

// mergeTags adds or replaces tags.
func mergeTags(cur, add []Tag) []Tag {
	out := append([]Tag(nil), cur...)
	for _, t := range add {
		found := false
		for i := range out {
			if out[i].Key == t.Key {
				out[i].Value, found = t.Value, true
			}
		}
		if !found {
			out = append(out, t)
		}
	}
	return out
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
