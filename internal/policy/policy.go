// Package policy is the IAM policy language as ECR repository policies use
// it: Parse checks a JSON policy document the way SetRepositoryPolicy does,
// and (*Document).Evaluate decides a request with IAM's logic for a
// resource-based policy.
//
//	text --Parse--> Document{Statements}
//	Request{principal, action, resource, context}
//	  for each statement: principal ∧ action ∧ resource ∧ every condition
//	    matched Deny  --> Deny (wins over everything)
//	    matched Allow --> Allow, unless some statement denies
//	  nothing matched --> NotApplicable (the caller's default: deny)
//
// Supported: Version 2012-10-17 and 2008-10-17, Id, Statement as one object
// or a list; Sid, Effect, Principal / NotPrincipal ("*" or AWS, Service,
// Federated, CanonicalUser), Action / NotAction and Resource / NotResource
// (with * and ? wildcards), and Condition with the String*, Numeric*,
// Date*, Bool, BinaryEquals, IpAddress / NotIpAddress, Arn* and Null
// operators, the ...IfExists suffix and the ForAnyValue: / ForAllValues:
// set prefixes. Policy variables (${aws:username}) are not substituted:
// they compare literally.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Policy versions IAM accepts. A document without Version is 2008-10-17.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Effect is a statement's Effect.
type Effect string

// Effects.
const (
	EffectAllow Effect = "Allow"
	EffectDeny  Effect = "Deny"
)

// Document is a parsed policy.
type Document struct {
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one statement of a policy. Exactly one of Principal and
// NotPrincipal is set, exactly one of Action and NotAction, and at most
// one of Resource and NotResource.
type Statement struct {
	Sid          string
	Effect       Effect
	Principal    *Principal
	NotPrincipal *Principal
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Conditions   []Condition
}

// Principal is a Principal or NotPrincipal element. Any is the bare "*".
type Principal struct {
	Any           bool
	AWS           []string
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// Condition is one key of one condition operator block:
// "Condition": {Operator: {Key: Values}}.
type Condition struct {
	Operator string // as written, e.g. "ForAnyValue:StringLike"
	Key      string // as written; keys compare case-insensitively
	Values   []string

	op       *operator
	base     string // operator without set prefix and IfExists
	set      string // "", forAnyValue or forAllValues
	ifExists bool
}

// Error is the error Parse returns: its message is the one ECR shows for
// every invalid repository policy (ECR gives no detail); Detail says what
// is wrong, for logs and tests. It matches errdefs.ErrInvalidArgument.
type Error struct {
	Detail string
}

// InvalidPolicyMessage is ECR's message for a policy SetRepositoryPolicy
// rejects, whatever the reason.
const InvalidPolicyMessage = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"

func (e *Error) Error() string { return InvalidPolicyMessage }

// Unwrap returns errdefs.ErrInvalidArgument.
func (e *Error) Unwrap() error { return errdefs.ErrInvalidArgument }

// detail returns the Detail of a *Error, else the error's text.
func detail(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return err.Error()
}

func invalid(format string, args ...any) error {
	return &Error{Detail: fmt.Sprintf(format, args...)}
}

// Parse parses and validates a policy document. Errors are *Error.
func Parse(text string) (*Document, error) {
	top, err := object([]byte(text), "policy")
	if err != nil {
		return nil, err
	}
	doc := &Document{Version: Version2008}
	var stmts json.RawMessage
	for k, v := range top {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &doc.Version); err != nil {
				return nil, invalid("Version must be a string")
			}
			if doc.Version != Version2012 && doc.Version != Version2008 {
				return nil, invalid("unsupported Version %q", doc.Version)
			}
		case "Id":
			if err := json.Unmarshal(v, &doc.ID); err != nil {
				return nil, invalid("Id must be a string")
			}
		case "Statement":
			stmts = v
		default:
			return nil, invalid("unknown element %q", k)
		}
	}
	if stmts == nil {
		return nil, invalid("missing Statement")
	}
	var raws []json.RawMessage
	if t := firstByte(stmts); t == '[' {
		if err := json.Unmarshal(stmts, &raws); err != nil {
			return nil, invalid("Statement: %v", err)
		}
		if len(raws) == 0 {
			return nil, invalid("Statement is empty")
		}
	} else {
		raws = []json.RawMessage{stmts}
	}
	sids := map[string]bool{}
	for i, raw := range raws {
		st, err := parseStatement(raw)
		if err != nil {
			return nil, invalid("Statement[%d]: %s", i, detail(err))
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, invalid("Statement[%d]: duplicate Sid %q", i, st.Sid)
			}
			sids[st.Sid] = true
		}
		doc.Statements = append(doc.Statements, st)
	}
	return doc, nil
}

// ParseRepositoryPolicy is Parse plus the rule SetRepositoryPolicy adds:
// a repository policy applies to its own repository, so statements carry
// no Resource or NotResource (ECR rejects them with the usual message;
// awsdocs/amazon-ecr-user-guide#20, aws/aws-cdk#24314).
func ParseRepositoryPolicy(text string) (*Document, error) {
	doc, err := Parse(text)
	if err != nil {
		return nil, err
	}
	for i, st := range doc.Statements {
		if st.Resource != nil || st.NotResource != nil {
			return nil, invalid("Statement[%d]: a repository policy cannot name a Resource", i)
		}
	}
	return doc, nil
}

// sidRE is IAM's Sid alphabet (letters and digits). ECR also accepts
// spaces in Sids in practice, which this allows too.
var sidRE = regexp.MustCompile(`^[A-Za-z0-9 _.-]*$`)

func parseStatement(raw json.RawMessage) (Statement, error) {
	var st Statement
	m, err := object(raw, "statement")
	if err != nil {
		return st, err
	}
	for k, v := range m {
		var err error
		switch k {
		case "Sid":
			if json.Unmarshal(v, &st.Sid) != nil || !sidRE.MatchString(st.Sid) {
				err = invalid("invalid Sid")
			}
		case "Effect":
			var e string
			if json.Unmarshal(v, &e) != nil || (e != string(EffectAllow) && e != string(EffectDeny)) {
				err = invalid("Effect must be Allow or Deny")
			}
			st.Effect = Effect(e)
		case "Principal":
			st.Principal, err = parsePrincipal(v)
		case "NotPrincipal":
			st.NotPrincipal, err = parsePrincipal(v)
		case "Action":
			st.Action, err = actions(v, k)
		case "NotAction":
			st.NotAction, err = actions(v, k)
		case "Resource":
			st.Resource, err = stringList(v, k)
		case "NotResource":
			st.NotResource, err = stringList(v, k)
		case "Condition":
			st.Conditions, err = parseConditions(v)
		default:
			err = invalid("unknown element %q", k)
		}
		if err != nil {
			return st, err
		}
	}
	switch {
	case st.Effect == "":
		return st, invalid("missing Effect")
	case (st.Principal == nil) == (st.NotPrincipal == nil):
		return st, invalid("a resource policy statement needs exactly one of Principal and NotPrincipal")
	case (st.Action == nil) == (st.NotAction == nil):
		return st, invalid("exactly one of Action and NotAction is required")
	case st.Resource != nil && st.NotResource != nil:
		return st, invalid("Resource and NotResource are exclusive")
	}
	return st, nil
}

// object decodes a JSON object into its members, rejecting trailing data.
func object(b []byte, what string) (map[string]json.RawMessage, error) {
	if firstByte(b) != '{' {
		return nil, invalid("%s must be a JSON object", what)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return nil, invalid("%s: %v", what, err)
	}
	if dec.More() {
		return nil, invalid("%s: trailing data", what)
	}
	return m, nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// stringList decodes a string or a non-empty list of non-empty strings.
func stringList(v json.RawMessage, elem string) ([]string, error) {
	var one string
	if json.Unmarshal(v, &one) == nil {
		if one == "" {
			return nil, invalid("%s: empty value", elem)
		}
		return []string{one}, nil
	}
	var list []string
	if json.Unmarshal(v, &list) != nil || len(list) == 0 {
		return nil, invalid("%s must be a string or a non-empty list of strings", elem)
	}
	for _, s := range list {
		if s == "" {
			return nil, invalid("%s: empty value", elem)
		}
	}
	return list, nil
}

// actionRE is "*" or "<service>:<action pattern>".
var actionRE = regexp.MustCompile(`^(\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$`)

func actions(v json.RawMessage, elem string) ([]string, error) {
	list, err := stringList(v, elem)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if !actionRE.MatchString(a) {
			return nil, invalid("%s: invalid action %q", elem, a)
		}
	}
	return list, nil
}

// awsPrincipalRE matches the ARNs IAM accepts as AWS principals.
var awsPrincipalRE = regexp.MustCompile(`^arn:aws[a-z-]*:(iam::[0-9]{12}:(root|user/.+|role/.+|federated-user/.+)|sts::[0-9]{12}:(assumed-role/.+/.+|federated-user/.+))$`)

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

func parsePrincipal(v json.RawMessage) (*Principal, error) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		if s != "*" {
			return nil, invalid("a string Principal must be \"*\"")
		}
		return &Principal{Any: true}, nil
	}
	m, err := object(v, "Principal")
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, invalid("empty Principal")
	}
	p := &Principal{}
	for k, raw := range m {
		list, err := stringList(raw, "Principal "+k)
		if err != nil {
			return nil, err
		}
		switch k {
		case "AWS":
			for _, a := range list {
				if a != "*" && !accountRE.MatchString(a) && !awsPrincipalRE.MatchString(a) {
					return nil, invalid("invalid AWS principal %q", a)
				}
			}
			p.AWS = list
		case "Service":
			for _, a := range list {
				if strings.ContainsAny(a, " \t\n") {
					return nil, invalid("invalid Service principal %q", a)
				}
			}
			p.Service = list
		case "Federated":
			p.Federated = list
		case "CanonicalUser":
			p.CanonicalUser = list
		default:
			return nil, invalid("unknown principal type %q", k)
		}
	}
	return p, nil
}
