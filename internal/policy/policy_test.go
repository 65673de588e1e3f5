package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
	repoA = "arn:aws:ecr:us-east-1:111111111111:repository/app"
)

func TestParseValid(t *testing.T) {
	for name, text := range map[string]string{
		"single statement object": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*"}}`,
		"old version, Id, Sid":    `{"Version":"2008-10-17","Id":"x","Statement":[{"Sid":"Pull 1","Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":["ecr:BatchGetImage"]}]}`,
		"no version":              `{"Statement":[{"Effect":"Deny","Principal":{"AWS":["*"]},"NotAction":"ecr:Batch*"}]}`,
		"principal ARNs": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":[
			"arn:aws:iam::222222222222:root","arn:aws:iam::222222222222:user/ci","arn:aws:iam::222222222222:role/path/r",
			"arn:aws:sts::222222222222:assumed-role/r/s"],"Service":"codebuild.amazonaws.com"},"Action":"ecr:*"}]}`,
		"not principal": `{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"111111111111"},"Action":"*"}]}`,
		"resource":      `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"arn:aws:ecr:*:*:repository/*"}]}`,
		"conditions": `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":{
			"StringEquals":{"aws:PrincipalAccount":["222222222222"]},"StringNotLike":{"aws:PrincipalArn":"*:role/bad*"},
			"ArnLike":{"aws:SourceArn":"arn:aws:codebuild:*:*:project/*"},"Bool":{"aws:SecureTransport":true},
			"NumericLessThan":{"s3:max-keys":10},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},
			"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.1.1"]},"Null":{"aws:PrincipalOrgID":"true"},
			"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":"o-1/*"},"StringEqualsIfExists":{"aws:SourceAccount":"1"}}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(text); err != nil {
				t.Fatalf("Parse: %v (%s)", err, detail(err))
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	for name, text := range map[string]string{
		"not json":            `{`,
		"not object":          `[]`,
		"trailing":            `{"Statement":[]} x`,
		"bad version":         `{"Version":"2020-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`,
		"unknown top":         `{"Statment":[]}`,
		"no statement":        `{"Version":"2012-10-17"}`,
		"empty statement":     `{"Statement":[]}`,
		"bad effect":          stmt(`{"Effect":"allow","Principal":"*","Action":"*"}`),
		"no effect":           stmt(`{"Principal":"*","Action":"*"}`),
		"no principal":        stmt(`{"Effect":"Allow","Action":"*"}`),
		"both principals":     stmt(`{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"*"}`),
		"string principal":    stmt(`{"Effect":"Allow","Principal":"222222222222","Action":"*"}`),
		"bad AWS principal":   stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:*"},"Action":"*"}`),
		"short account":       stmt(`{"Effect":"Allow","Principal":{"AWS":"2222"},"Action":"*"}`),
		"unknown principal":   stmt(`{"Effect":"Allow","Principal":{"Foo":"x"},"Action":"*"}`),
		"empty principal":     stmt(`{"Effect":"Allow","Principal":{},"Action":"*"}`),
		"no action":           stmt(`{"Effect":"Allow","Principal":"*"}`),
		"both actions":        stmt(`{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*"}`),
		"bad action":          stmt(`{"Effect":"Allow","Principal":"*","Action":"BatchGetImage"}`),
		"empty action list":   stmt(`{"Effect":"Allow","Principal":"*","Action":[]}`),
		"action number":       stmt(`{"Effect":"Allow","Principal":"*","Action":5}`),
		"unknown element":     stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Foo":1}`),
		"duplicate sid":       stmt(`{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*"},{"Sid":"a","Effect":"Deny","Principal":"*","Action":"*"}`),
		"bad sid":             stmt(`{"Sid":"a/b","Effect":"Allow","Principal":"*","Action":"*"}`),
		"unknown operator":    stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringFoo":{"k":"v"}}}`),
		"bad set prefix":      stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"ForSome:StringLike":{"k":"v"}}}`),
		"null with set":       stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"ForAnyValue:Null":{"k":"true"}}}`),
		"bad bool":            stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"k":"yes"}}}`),
		"bad number":          stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"NumericEquals":{"k":"x"}}}`),
		"bad ip":              stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"IpAddress":{"k":"10.0.0.0/99"}}}`),
		"object value":        stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"k":{"a":1}}}}`),
		"no condition keys":   stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{}}}`),
		"resource both":       stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","NotResource":"*"}`),
		"statement is string": `{"Statement":"x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(text)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error %v is not ErrInvalidArgument", err)
			}
			if errdefs.Message(err) != InvalidPolicyMessage {
				t.Fatalf("message %q", errdefs.Message(err))
			}
			t.Log(detail(err))
		})
	}
}

func TestParseRepositoryPolicy(t *testing.T) {
	ok := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"}]}`
	if _, err := ParseRepositoryPolicy(ok); err != nil {
		t.Fatal(err)
	}
	for _, el := range []string{"Resource", "NotResource"} {
		text := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","` + el + `":"*"}]}`
		if _, err := ParseRepositoryPolicy(text); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("%s: %v", el, err)
		}
	}
}

func mustParse(t *testing.T, text string) *Document {
	t.Helper()
	d, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse: %v (%s)", err, detail(err))
	}
	return d
}

// req is a request from account b's root for action on repoA.
func req(acct, action string) Request {
	return Request{PrincipalAccount: acct, PrincipalARN: "arn:aws:iam::" + acct + ":root", Action: action, Resource: repoA}
}

func TestEvaluate(t *testing.T) {
	allow := func(principal, action string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":` + principal + `,"Action":` + action + `}]}`
	}
	withCond := func(cond string) string {
		return `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*","Condition":` + cond + `}]}`
	}
	userB := Request{PrincipalAccount: acctB, PrincipalARN: "arn:aws:iam::222222222222:user/ci", Action: "ecr:BatchGetImage"}
	session := Request{PrincipalAccount: acctB, PrincipalARN: "arn:aws:sts::222222222222:assumed-role/deploy/s1", Action: "ecr:BatchGetImage"}
	svc := Request{PrincipalARN: "codebuild.amazonaws.com", Action: "ecr:BatchGetImage", Context: map[string][]string{"aws:SourceAccount": {acctA}}}
	tests := []struct {
		name   string
		policy string
		req    Request
		want   Decision
	}{
		{"account id", allow(`{"AWS":"222222222222"}`, `"ecr:BatchGetImage"`), req(acctB, "ecr:BatchGetImage"), Allow},
		{"account root arn", allow(`{"AWS":"arn:aws:iam::222222222222:root"}`, `"ecr:BatchGetImage"`), req(acctB, "ecr:BatchGetImage"), Allow},
		{"root covers users", allow(`{"AWS":"222222222222"}`, `"ecr:*"`), userB, Allow},
		{"other account", allow(`{"AWS":"222222222222"}`, `"ecr:*"`), req("333333333333", "ecr:BatchGetImage"), NotApplicable},
		{"user arn", allow(`{"AWS":"arn:aws:iam::222222222222:user/ci"}`, `"ecr:*"`), userB, Allow},
		{"user arn not root", allow(`{"AWS":"arn:aws:iam::222222222222:user/ci"}`, `"ecr:*"`), req(acctB, "ecr:BatchGetImage"), NotApplicable},
		{"role covers session", allow(`{"AWS":"arn:aws:iam::222222222222:role/deploy"}`, `"ecr:*"`), session, Allow},
		{"wildcard principal", allow(`"*"`, `"ecr:*"`), req("333333333333", "ecr:PutImage"), Allow},
		{"wildcard AWS principal", allow(`{"AWS":"*"}`, `"ecr:*"`), req("333333333333", "ecr:PutImage"), Allow},
		{"service principal", allow(`{"Service":"codebuild.amazonaws.com"}`, `"ecr:*"`), svc, Allow},
		{"service principal other", allow(`{"Service":"ecs.amazonaws.com"}`, `"ecr:*"`), svc, NotApplicable},
		{"action list", allow(`"*"`, `["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]`), req(acctB, "ecr:GetDownloadUrlForLayer"), Allow},
		{"action not listed", allow(`"*"`, `["ecr:BatchGetImage"]`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"action prefix wildcard", allow(`"*"`, `"ecr:Batch*"`), req(acctB, "ecr:BatchCheckLayerAvailability"), Allow},
		{"action case-insensitive", allow(`"*"`, `"ECR:batchgetimage"`), req(acctB, "ecr:BatchGetImage"), Allow},
		{"action question mark", allow(`"*"`, `"ecr:?utImage"`), req(acctB, "ecr:PutImage"), Allow},
		{"action all", allow(`"*"`, `"*"`), req(acctB, "ecr:PutImage"), Allow},
		{"other service", allow(`"*"`, `"s3:*"`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"not action", `{"Statement":{"Effect":"Allow","Principal":"*","NotAction":"ecr:Put*"}}`, req(acctB, "ecr:BatchGetImage"), Allow},
		{"not action excluded", `{"Statement":{"Effect":"Allow","Principal":"*","NotAction":"ecr:Put*"}}`, req(acctB, "ecr:PutImage"), NotApplicable},
		{"explicit deny wins", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"},{"Effect":"Deny","Principal":{"AWS":"222222222222"},"Action":"ecr:PutImage"}]}`, req(acctB, "ecr:PutImage"), Deny},
		{"deny other action", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"},{"Effect":"Deny","Principal":{"AWS":"222222222222"},"Action":"ecr:PutImage"}]}`, req(acctB, "ecr:BatchGetImage"), Allow},
		{"deny only", `{"Statement":{"Effect":"Deny","Principal":"*","Action":"ecr:*"}}`, req(acctB, "ecr:BatchGetImage"), Deny},
		{"not principal deny", `{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"222222222222"},"Action":"ecr:*"}}`, req("333333333333", "ecr:BatchGetImage"), Deny},
		{"not principal spared", `{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"222222222222"},"Action":"ecr:*"}}`, req(acctB, "ecr:BatchGetImage"), NotApplicable},
		{"resource match", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"arn:aws:ecr:*:111111111111:repository/*"}}`, req(acctB, "ecr:PutImage"), Allow},
		{"resource mismatch", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","Resource":"arn:aws:ecr:*:111111111111:repository/other"}}`, req(acctB, "ecr:PutImage"), NotApplicable},
		{"not resource", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*","NotResource":"arn:aws:ecr:*:*:repository/app"}}`, req(acctB, "ecr:PutImage"), NotApplicable},

		{"StringEquals account", withCond(`{"StringEquals":{"aws:PrincipalAccount":["222222222222","333333333333"]}}`), req(acctB, "ecr:PutImage"), Allow},
		{"StringEquals key case", withCond(`{"StringEquals":{"AWS:PRINCIPALACCOUNT":"222222222222"}}`), req(acctB, "ecr:PutImage"), Allow},
		{"StringEquals mismatch", withCond(`{"StringEquals":{"aws:PrincipalAccount":"333333333333"}}`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"StringNotEquals", withCond(`{"StringNotEquals":{"aws:PrincipalAccount":"333333333333"}}`), req(acctB, "ecr:PutImage"), Allow},
		{"StringNotEquals listed", withCond(`{"StringNotEquals":{"aws:PrincipalAccount":["333333333333","222222222222"]}}`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"StringEqualsIgnoreCase", withCond(`{"StringEqualsIgnoreCase":{"aws:PrincipalArn":"ARN:AWS:IAM::222222222222:ROOT"}}`), req(acctB, "ecr:PutImage"), Allow},
		{"StringLike", withCond(`{"StringLike":{"aws:PrincipalArn":"arn:aws:iam::2222*:root"}}`), req(acctB, "ecr:PutImage"), Allow},
		{"StringLike case-sensitive", withCond(`{"StringLike":{"aws:PrincipalArn":"ARN:*"}}`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"StringNotLike", withCond(`{"StringNotLike":{"aws:PrincipalArn":"*:user/*"}}`), req(acctB, "ecr:PutImage"), Allow},
		{"StringNotLike match", withCond(`{"StringNotLike":{"aws:PrincipalArn":"*:user/*"}}`), userB, NotApplicable},
		{"ArnEquals", withCond(`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::222222222222:root"}}`), req(acctB, "ecr:PutImage"), Allow},
		{"ArnLike", withCond(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`), userB, Allow},
		{"ArnLike segments", withCond(`{"ArnLike":{"aws:PrincipalArn":"arn:*:root"}}`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"ArnNotLike", withCond(`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`), userB, NotApplicable},
		{"Bool", withCond(`{"Bool":{"aws:SecureTransport":"true"}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:SecureTransport", "true"), Allow},
		{"Bool false", withCond(`{"Bool":{"aws:SecureTransport":false}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:SecureTransport", "true"), NotApplicable},
		{"Bool missing", withCond(`{"Bool":{"aws:SecureTransport":true}}`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"OrgID never present", withCond(`{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"missing key negated", withCond(`{"StringNotEquals":{"aws:PrincipalOrgID":"o-123"}}`), req(acctB, "ecr:PutImage"), Allow},
		{"IfExists missing", withCond(`{"StringEqualsIfExists":{"aws:SourceAccount":"111111111111"}}`), req(acctB, "ecr:PutImage"), Allow},
		{"IfExists present mismatch", withCond(`{"StringEqualsIfExists":{"aws:SourceAccount":"111111111111"}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:SourceAccount", acctB), NotApplicable},
		{"SourceAccount service", `{"Statement":{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"ecr:*","Condition":{"StringEquals":{"aws:SourceAccount":"111111111111"}}}}`, svc, Allow},
		{"Null true", withCond(`{"Null":{"aws:PrincipalOrgID":"true"}}`), req(acctB, "ecr:PutImage"), Allow},
		{"Null false", withCond(`{"Null":{"aws:PrincipalOrgID":"false"}}`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"userid", withCond(`{"StringLike":{"aws:userid":"AIDA*"}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:userid", "AIDAXYZ"), Allow},
		{"ForAnyValue", withCond(`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:TagKeys", "c", "b"), Allow},
		{"ForAnyValue missing", withCond(`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}}`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"ForAllValues", withCond(`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:TagKeys", "a", "b"), Allow},
		{"ForAllValues extra", withCond(`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:TagKeys", "a", "c"), NotApplicable},
		{"ForAllValues missing", withCond(`{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}`), req(acctB, "ecr:PutImage"), Allow},
		{"IpAddress", withCond(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:SourceIp", "10.1.2.3"), Allow},
		{"NotIpAddress", withCond(`{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.1"]}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:SourceIp", "192.0.2.1"), NotApplicable},
		{"Numeric", withCond(`{"NumericLessThanEquals":{"n":10}}`), withCtx(req(acctB, "ecr:PutImage"), "n", "10"), Allow},
		{"Date", withCond(`{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`), withCtx(req(acctB, "ecr:PutImage"), "aws:CurrentTime", "2026-05-01T00:00:00Z"), Allow},
		{"conditions AND", withCond(`{"StringEquals":{"aws:PrincipalAccount":"222222222222"},"Bool":{"aws:SecureTransport":"true"}}`), req(acctB, "ecr:PutImage"), NotApplicable},
		{"condition deny", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:*"},{"Effect":"Deny","Principal":"*","Action":"ecr:*","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-1"}}}]}`, req(acctB, "ecr:PutImage"), Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.policy).Evaluate(tt.req); got != tt.want {
				t.Fatalf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func withCtx(r Request, key string, vals ...string) Request {
	r.Context = map[string][]string{key: vals}
	return r
}

func TestGlob(t *testing.T) {
	for _, tt := range []struct {
		p, s string
		want bool
	}{
		{"", "", true}, {"*", "", true}, {"*", "abc", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*a*b*c*", "xxaxxbxxcxx", true}, {"*a*b*c*", "xxcxxbxxa", false},
		{"ecr:Batch*", "ecr:BatchGetImage", true}, {strings.Repeat("*a", 20), strings.Repeat("a", 19), false},
	} {
		if got := Glob(tt.p, tt.s); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v", tt.p, tt.s, got)
		}
	}
}

func TestDecisionString(t *testing.T) {
	if Allow.String() != "Allow" || Deny.String() != "Deny" || NotApplicable.String() != "NotApplicable" {
		t.Fatal("Decision.String")
	}
	var zero Decision
	if zero != NotApplicable {
		t.Fatal("zero Decision")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*"}}`,
		`{"Statement":[{"Sid":"a","Effect":"Deny","NotPrincipal":{"AWS":["111111111111","arn:aws:iam::222222222222:root"]},"NotAction":"ecr:Batch*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"Service":"x.amazonaws.com"},"Action":"*","Resource":"arn:*","Condition":{"ForAllValues:StringLike":{"k":["a*",1,true]},"Null":{"j":"false"},"IpAddressIfExists":{"aws:SourceIp":"::1/128"}}}]}`,
		`{"Statement":[]}`, `[]`, `{`, `null`, ``,
	} {
		f.Add(s, "ecr:BatchGetImage", "k")
	}
	f.Fuzz(func(t *testing.T, text, action, key string) {
		doc, err := Parse(text)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) || err.Error() != InvalidPolicyMessage {
				t.Fatalf("error %v", err)
			}
			return
		}
		r := Request{PrincipalAccount: acctB, PrincipalARN: "arn:aws:iam::222222222222:root", Action: action, Resource: repoA,
			Context: map[string][]string{key: {action}}}
		d1, d2 := doc.Evaluate(r), doc.Evaluate(r)
		if d1 != d2 {
			t.Fatalf("nondeterministic: %v %v", d1, d2)
		}
		// Deny statements can only lower a decision: dropping them never
		// turns an Allow into something else.
		var allows Document
		for _, st := range doc.Statements {
			if st.Effect == EffectAllow {
				allows.Statements = append(allows.Statements, st)
			}
		}
		if d1 == Allow && allows.Evaluate(r) != Allow {
			t.Fatal("Allow without an Allow statement")
		}
	})
}
