package server_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/fargotest"
)

// TestECRRepositoryNameAsMessageStates: CreateRepository accepts exactly the
// names that the regular expression quoted in its own error message
// matches (2-256 characters).
func TestECRRepositoryNameAsMessageStates(t *testing.T) {
	s := fargotest.Start(t)
	creds := aws.Credentials{AccessKeyID: "123412341299", SecretAccessKey: config.DevSecretAccessKey}
	create := func(name string) rawAnswer {
		return signedCall(t, s, ecrwire.TargetPrefix+".CreateRepository", fmt.Sprintf(`{"repositoryName":%q}`, name), creds, "ecr", "us-east-1", time.Now())
	}
	a := create("Bad_Name")
	msg, _ := a.body["message"].(string)
	m := regexp.MustCompile(`must satisfy regular expression '(.*)''$`).FindStringSubmatch(msg)
	if a.body["__type"] != "InvalidParameterException" || m == nil {
		t.Fatalf("Bad_Name: %d %s", a.status, a.raw)
	}
	stated := regexp.MustCompile(`^(?:` + m[1] + `)$`)
	for _, name := range []string{
		"ab", "web", "team/web", "a.b", "a_b", "a-b", "a__b", "a--b", "a---b", "a___b", "a._b", "a-.b",
		"-ab", "ab-", "a//b", "/ab", "ab/", "a/b/c/d", "a.b_c-d/e", "A", "aB", "a b", "a..b", "a/-b", "a/.b", "9z",
	} {
		a := create(name)
		accepted := a.status == 200
		want := stated.MatchString(name) && len(name) >= 2 && len(name) <= 256
		if accepted != want {
			t.Errorf("%q: accepted %v, but the message's regular expression %s says %v (%s)", name, accepted, m[1], want, a.raw)
		}
		if !accepted && !strings.Contains(a.raw, "InvalidParameterException") {
			t.Errorf("%q refused with %s", name, a.raw)
		}
	}
}

// TestECSFieldValidationOverTheWire: the checks AWS makes on container
// memory, roles and environment names answer ClientException through the
// API, and store nothing.
func TestECSFieldValidationOverTheWire(t *testing.T) {
	s := fargotest.Start(t)
	creds := aws.Credentials{AccessKeyID: "123412341298", SecretAccessKey: config.DevSecretAccessKey}
	send := func(op, body string) rawAnswer {
		return signedCall(t, s, ecsTarget+op, body, creds, "ecs", "us-east-1", time.Now())
	}
	td := func(extra, container string) string {
		return `{"family":"v",` + extra + `"containerDefinitions":[{"name":"c","image":"busybox","memory":64` + container + `}]}`
	}
	send("RegisterTaskDefinition", `{"family":"v","containerDefinitions":[{"name":"c","image":"busybox","memory":5}]}`).
		want(t, 400, "ClientException", "at least 6 MiB")
	send("RegisterTaskDefinition", td(`"taskRoleArn":"arn:aws:s3:::bucket",`, "")).want(t, 400, "ClientException", "Role is not valid")
	send("RegisterTaskDefinition", td(`"executionRoleArn":"exec role",`, "")).want(t, 400, "ClientException", "Role is not valid")
	send("RegisterTaskDefinition", td("", `,"environment":[{"name":"A=B","value":"x"}]`)).want(t, 400, "ClientException", "Environment variable name")
	if a := send("ListTaskDefinitions", `{}`); !strings.Contains(a.raw, `"taskDefinitionArns":[]`) {
		t.Fatalf("a refused task definition was stored: %s", a.raw)
	}
	if a := send("RegisterTaskDefinition", td(`"taskRoleArn":"app-role","executionRoleArn":"arn:aws:iam::123412341298:role/exec",`, "")); a.status != 200 {
		t.Fatalf("valid roles refused: %s", a.raw)
	}
	if a := send("CreateCluster", `{}`); a.status != 200 {
		t.Fatal(a.raw)
	}
	send("CreateService", `{"serviceName":"s","taskDefinition":"v","desiredCount":0,"role":"arn:aws:iam::123412341298:user/bob"}`).
		want(t, 400, "ClientException", "Role is not valid")
	send("RunTask", `{"taskDefinition":"v","overrides":{"containerOverrides":[{"name":"c","environment":[{"name":"","value":"x"}]}]}}`).
		want(t, 400, "ClientException", "Environment variable name")
}
