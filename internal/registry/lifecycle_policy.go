package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Lifecycle policy text, as PutLifecyclePolicy validates it:
//
//	{"rules": [{
//	   "rulePriority": N ≥ 1, unique,
//	   "description": "...",                       optional
//	   "selection": {
//	     "tagStatus": "tagged" | "untagged" | "any",
//	     "tagPrefixList" | "tagPatternList": [...],  tagged only, exactly one
//	     "countType": "imageCountMoreThan"          no countUnit
//	                | "sinceImagePushed",           countUnit "days"
//	     "countNumber": N ≥ 1},
//	   "action": {"type": "expire"}}]}
//
// plus: the tagStatus "any" rule has the highest rulePriority, at most one
// rule selects untagged images, and a pattern has at most 4 '*'. The
// storage-class extensions (countType sinceImagePulled and
// sinceImageTransitioned, action transition, storageClass) are not
// supported: fargo keeps no pull times and has one storage class.
//
// ECR validates the structure with a JSON schema, and its messages are the
// schema validator's ("object has missing required properties ([...])");
// those are reproduced here, followed by ECR's own messages for the rules
// a schema cannot express.

// lifecycleConstraint prefixes every validation message.
const lifecycleConstraint = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: "

func lifecycleInvalid(format string, args ...any) error {
	return errdefs.Newf(errdefs.ErrInvalidArgument, lifecycleConstraint+format+"'", args...)
}

// Selection and action values.
const (
	lcTagged   = "tagged"
	lcUntagged = "untagged"
	lcAny      = "any"

	lcCountMoreThan    = "imageCountMoreThan"
	lcSinceImagePushed = "sinceImagePushed"
	lcDays             = "days"
	lcExpire           = "expire"

	// maxTagPatternWildcards is ECR's limit of '*' per tagPatternList entry.
	maxTagPatternWildcards = 4
)

// lifecycleRule is a validated rule.
type lifecycleRule struct {
	Priority    int
	Description string
	TagStatus   string   // lcTagged | lcUntagged | lcAny
	Prefixes    []string // tagPrefixList
	Patterns    []string // tagPatternList
	CountType   string   // lcCountMoreThan | lcSinceImagePushed
	CountNumber int
}

// ValidateLifecyclePolicy checks a lifecycle policy text as ECR's
// PutLifecyclePolicy does (the 100–30720 length limit is the API
// adapter's). Errors match errdefs.ErrInvalidArgument and carry ECR's
// whole message: "Invalid parameter at 'LifecyclePolicyText' failed to
// satisfy constraint: 'Lifecycle policy validation failure: ...'".
func ValidateLifecyclePolicy(text string) error {
	_, err := parseLifecyclePolicy(text)
	return err
}

// parseLifecyclePolicy validates text and returns its rules by priority.
func parseLifecyclePolicy(text string) ([]lifecycleRule, error) {
	top, err := lcObject([]byte(text))
	if err != nil {
		return nil, lifecycleInvalid("Could not map policyString into LifecyclePolicy.")
	}
	if err := lcProps(top, []string{"rules"}, []string{"rules"}); err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	if err := lcType(top["rules"], "array", &raws); err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, lifecycleInvalid("array is too short: must have at least 1 elements but instance has 0 elements")
	}
	rules := make([]lifecycleRule, 0, len(raws))
	for _, raw := range raws {
		rule, err := parseLifecycleRule(raw)
		if err != nil {
			return nil, err
		}
		rules = append(rules, rule)
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Priority < rules[j].Priority })
	untagged := 0
	for i, rule := range rules {
		if i > 0 && rules[i-1].Priority == rule.Priority {
			return nil, lifecycleInvalid("Rules must have unique rulePriority values, found %d more than once.", rule.Priority)
		}
		if rule.TagStatus == lcAny && i != len(rules)-1 {
			return nil, lifecycleInvalid("Rule for tagStatus=ANY must have the lowest priority per storage class")
		}
		if rule.TagStatus == lcUntagged {
			if untagged++; untagged > 1 {
				return nil, lifecycleInvalid("Only one rule can select Untagged images per storage class.")
			}
		}
	}
	return rules, nil
}

func parseLifecycleRule(raw json.RawMessage) (lifecycleRule, error) {
	var rule lifecycleRule
	var m map[string]json.RawMessage
	if err := lcType(raw, "object", &m); err != nil {
		return rule, err
	}
	if err := lcProps(m, []string{"action", "rulePriority", "selection"}, []string{"action", "description", "rulePriority", "selection"}); err != nil {
		return rule, err
	}
	if err := lcType(m["rulePriority"], "integer", &rule.Priority); err != nil {
		return rule, err
	}
	if err := lcMinimum(m["rulePriority"], rule.Priority); err != nil {
		return rule, err
	}
	if d, ok := m["description"]; ok {
		if err := lcType(d, "string", &rule.Description); err != nil {
			return rule, err
		}
	}

	var action map[string]json.RawMessage
	if err := lcType(m["action"], "object", &action); err != nil {
		return rule, err
	}
	if err := lcProps(action, []string{"type"}, []string{"type"}); err != nil {
		return rule, err
	}
	var typ string
	if err := lcType(action["type"], "string", &typ); err != nil {
		return rule, err
	}
	if err := lcEnum(typ, lcExpire); err != nil {
		return rule, err
	}

	var sel map[string]json.RawMessage
	if err := lcType(m["selection"], "object", &sel); err != nil {
		return rule, err
	}
	if err := lcProps(sel, []string{"countNumber", "countType", "tagStatus"},
		[]string{"countNumber", "countType", "countUnit", "tagPatternList", "tagPrefixList", "tagStatus"}); err != nil {
		return rule, err
	}
	if err := lcType(sel["tagStatus"], "string", &rule.TagStatus); err != nil {
		return rule, err
	}
	if err := lcEnum(rule.TagStatus, lcAny, lcTagged, lcUntagged); err != nil {
		return rule, err
	}
	// countType selects one of two sub-schemas: imageCountMoreThan without
	// countUnit, or sinceImagePushed with countUnit.
	if err := lcType(sel["countType"], "string", &rule.CountType); err != nil {
		return rule, err
	}
	unitRaw, hasUnit := sel["countUnit"]
	switch {
	case rule.CountType == lcCountMoreThan && !hasUnit, rule.CountType == lcSinceImagePushed && hasUnit:
	default:
		return rule, lifecycleInvalid("instance failed to match exactly one schema (matched 0 out of 2)")
	}
	if hasUnit {
		var unit string
		if err := lcType(unitRaw, "string", &unit); err != nil {
			return rule, err
		}
		if err := lcEnum(unit, lcDays); err != nil {
			return rule, err
		}
	}
	if err := lcType(sel["countNumber"], "integer", &rule.CountNumber); err != nil {
		return rule, err
	}
	if err := lcMinimum(sel["countNumber"], rule.CountNumber); err != nil {
		return rule, err
	}

	for _, l := range []struct {
		key string
		dst *[]string
	}{{"tagPrefixList", &rule.Prefixes}, {"tagPatternList", &rule.Patterns}} {
		raw, ok := sel[l.key]
		if !ok {
			continue
		}
		if err := lcType(raw, "array", new([]json.RawMessage)); err != nil {
			return rule, err
		}
		var items []json.RawMessage
		_ = json.Unmarshal(raw, &items)
		if len(items) == 0 {
			return rule, lifecycleInvalid("array is too short: must have at least 1 elements but instance has 0 elements")
		}
		for _, it := range items {
			var s string
			if err := lcType(it, "string", &s); err != nil {
				return rule, err
			}
			*l.dst = append(*l.dst, s)
		}
	}
	hasPrefix, hasPattern := rule.Prefixes != nil, rule.Patterns != nil
	switch {
	case hasPrefix && hasPattern:
		return rule, lifecycleInvalid("tagPrefixList and tagPatternList cannot both be specified.")
	case rule.TagStatus == lcTagged && !hasPrefix && !hasPattern:
		return rule, lifecycleInvalid("tagPrefixList or tagPatternList must be specified when tagStatus is tagged.")
	case rule.TagStatus != lcTagged && (hasPrefix || hasPattern):
		return rule, lifecycleInvalid("tagPrefixList and tagPatternList can only be specified when tagStatus is tagged.")
	}
	for _, p := range rule.Patterns {
		if strings.Count(p, "*") > maxTagPatternWildcards {
			return rule, lifecycleInvalid("tagPatternList entry '%s' has more than %d wildcards (*).", p, maxTagPatternWildcards)
		}
	}
	return rule, nil
}

// lcObject decodes a JSON object, rejecting anything else and trailing data.
func lcObject(b []byte) (map[string]json.RawMessage, error) {
	if jsonType(b) != "object" {
		return nil, fmt.Errorf("not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return m, nil
}

// lcProps checks required and allowed members, reporting them sorted as the
// schema validator does.
func lcProps(m map[string]json.RawMessage, required, allowed []string) error {
	var missing, extra []string
	for _, k := range required {
		if _, ok := m[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return lifecycleInvalid("object has missing required properties (%s)", jsonList(missing))
	}
	for k := range m {
		if !contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return lifecycleInvalid("object instance has properties which are not allowed by the schema: (%s)", jsonList(extra))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func jsonList(items []string) string {
	b, _ := json.Marshal(items)
	return string(b)
}

// lcType checks raw's JSON type and decodes it into dst.
func lcType(raw json.RawMessage, want string, dst any) error {
	got := jsonType(raw)
	if got != want && !(want == "number" && got == "integer") {
		return lifecycleInvalid("instance type (%s) does not match any allowed primitive type (allowed: [\"%s\"])", got, want)
	}
	if want == "integer" {
		// Decoding into an int fails for integers out of its range: treat
		// them as too large rather than as a type error.
		if err := json.Unmarshal(raw, dst); err != nil {
			return lifecycleInvalid("numeric instance is greater than the allowed maximum (maximum: %d, found: %s)", maxInt, strings.TrimSpace(string(raw)))
		}
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return lifecycleInvalid("Could not map policyString into LifecyclePolicy.")
	}
	return nil
}

const maxInt = int(^uint(0) >> 1)

func lcMinimum(raw json.RawMessage, n int) error {
	if n < 1 {
		return lifecycleInvalid("numeric instance is lower than the required minimum (minimum: 1, found: %s)", strings.TrimSpace(string(raw)))
	}
	return nil
}

func lcEnum(v string, allowed ...string) error {
	if contains(allowed, v) {
		return nil
	}
	q, _ := json.Marshal(v)
	return lifecycleInvalid("instance value (%s) not found in enum (possible values: %s)", q, jsonList(allowed))
}

// jsonType names the JSON type of a value as JSON Schema does (integer for
// numbers without fraction or exponent).
func jsonType(raw []byte) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "null"
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	if _, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return "integer"
	}
	if !bytes.ContainsAny(b, ".eE") {
		return "integer" // beyond int64
	}
	return "number"
}
