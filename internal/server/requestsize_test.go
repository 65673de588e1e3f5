package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/api/logswire"
	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/fargotest"
)

// allocated returns how many bytes the process allocates while f runs
// (runtime.MemStats.TotalAlloc): the in-process server's share is what a
// refused request made it read or decode.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// taskDef is a RegisterTaskDefinition body with one environment value of n
// bytes.
func taskDef(family string, n int) string {
	return fmt.Sprintf(`{"family":%q,"requiresCompatibilities":["FARGATE"],"networkMode":"awsvpc","cpu":"256","memory":"512",`+
		`"containerDefinitions":[{"name":"c","image":"busybox","environment":[{"name":"BIG","value":%q}]}]}`, family, strings.Repeat("x", n))
}

// TestRequestSizeLimits: every AWS API refuses a body over its operation's
// limit before reading it (413 RequestEntityTooLargeException, without
// allocating anything like the body), and then applies the service's own
// limits to what it decoded (task definition 64 KiB, overrides 8 KiB, Logs
// batch and event sizes, ECR policy texts); nothing is stored either way.
func TestRequestSizeLimits(t *testing.T) {
	s := fargotest.Start(t)
	const account = "123412341234"
	creds := aws.Credentials{AccessKeyID: account, SecretAccessKey: config.DevSecretAccessKey}
	send := func(target, service, body string) rawAnswer {
		return signedCall(t, s, target, body, creds, service, "us-east-1", time.Now())
	}
	const big = 30 << 20
	refusedCheaply := func(name, target, service, body string) {
		t.Helper()
		var a rawAnswer
		n := allocated(func() { a = send(target, service, body) })
		if a.status != 413 || a.body["__type"] != "RequestEntityTooLargeException" {
			t.Errorf("%s of %d bytes: %d %.300s", name, len(body), a.status, a.raw)
		}
		if n > 8<<20 {
			t.Errorf("%s of %d bytes: %d bytes allocated while refusing it", name, len(body), n)
		}
	}

	// ECS.
	if a := send(ecsTarget+"CreateCluster", "ecs", `{}`); a.status != 200 {
		t.Fatal(a.raw)
	}
	refusedCheaply("RegisterTaskDefinition", ecsTarget+"RegisterTaskDefinition", "ecs", taskDef("huge", big))
	send(ecsTarget+"RegisterTaskDefinition", "ecs", taskDef("big", 70<<10)).want(t, 400, "ClientException",
		"Max allowed length is '65536' bytes.")
	if a := send(ecsTarget+"ListTaskDefinitionFamilies", "ecs", `{}`); !strings.Contains(a.raw, `"families":[]`) {
		t.Errorf("a refused task definition was stored: %s", a.raw)
	}
	if a := send(ecsTarget+"RegisterTaskDefinition", "ecs", taskDef("ok", 60<<10)); a.status != 200 {
		t.Fatalf("a 60 KiB task definition: %d %.300s", a.status, a.raw)
	}
	override := func(n int) string {
		return fmt.Sprintf(`{"taskDefinition":"ok","launchType":"FARGATE",`+
			`"networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet-1"]}},`+
			`"overrides":{"containerOverrides":[{"name":"c","environment":[{"name":"X","value":%q}]}]}}`, strings.Repeat("y", n))
	}
	refusedCheaply("RunTask", ecsTarget+"RunTask", "ecs", override(20<<20))
	send(ecsTarget+"RunTask", "ecs", override(9<<10)).want(t, 400, "InvalidParameterException",
		"Container Overrides length must be at most 8192")
	send(ecsTarget+"StartTask", "ecs", strings.Replace(override(9<<10), `"launchType":"FARGATE",`, `"containerInstances":["x"],`, 1)).
		want(t, 400, "InvalidParameterException", "Container Overrides length must be at most 8192")
	if a := send(ecsTarget+"ListTasks", "ecs", `{}`); !strings.Contains(a.raw, `"taskArns":[]`) {
		t.Errorf("a refused RunTask started a task: %s", a.raw)
	}

	// ECR.
	ecr := ecrwire.TargetPrefix + "."
	refusedCheaply("CreateRepository", ecr+"CreateRepository", "ecr", `{"repositoryName":"repo","x":"`+strings.Repeat("z", big)+`"}`)
	refusedCheaply("PutImage", ecr+"PutImage", "ecr", `{"repositoryName":"repo","imageManifest":"`+strings.Repeat("z", big)+`"}`)
	if a := send(ecr+"CreateRepository", "ecr", `{"repositoryName":"repo"}`); a.status != 200 {
		t.Fatal(a.raw)
	}
	send(ecr+"SetRepositoryPolicy", "ecr", `{"repositoryName":"repo","policyText":"`+strings.Repeat(" ", 10241)+`"}`).
		want(t, 400, "InvalidParameterException", "10240")
	send(ecr+"PutLifecyclePolicy", "ecr", `{"repositoryName":"repo","lifecyclePolicyText":"`+strings.Repeat(" ", 30721)+`"}`).
		want(t, 400, "InvalidParameterException", "30720")
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"a":"` + strings.Repeat("m", 5<<20) + `"}}`
	mb, _ := json.Marshal(manifest)
	if a := send(ecr+"PutImage", "ecr", `{"repositoryName":"repo","imageTag":"t","imageManifest":`+string(mb)+`}`); a.status != 400 || a.body["__type"] != "LimitExceededException" {
		t.Errorf("PutImage of a 5 MiB manifest: %d %.300s", a.status, a.raw)
	}
	// Layer parts stay allowed up to ECR's 20 MiB (base64 in JSON).
	a := send(ecr+"InitiateLayerUpload", "ecr", `{"repositoryName":"repo"}`)
	upload, _ := a.body["uploadId"].(string)
	part := base64.StdEncoding.EncodeToString(make([]byte, 6<<20))
	if a := send(ecr+"UploadLayerPart", "ecr", fmt.Sprintf(`{"repositoryName":"repo","uploadId":%q,"partFirstByte":0,"partLastByte":%d,"layerPartBlob":%q}`,
		upload, 6<<20-1, part)); a.status != 200 {
		t.Errorf("UploadLayerPart of 6 MiB: %d %.300s", a.status, a.raw)
	}
	if a := send(ecr+"DescribeImages", "ecr", `{"repositoryName":"repo"}`); !strings.Contains(a.raw, `"imageDetails":[]`) {
		t.Errorf("a refused image was stored: %s", a.raw)
	}

	// Logs.
	logs := logswire.TargetPrefix + "."
	for _, b := range []string{`{"logGroupName":"g"}`, `{"logGroupName":"g","logStreamName":"s"}`} {
		op := "CreateLogGroup"
		if strings.Contains(b, "logStreamName") {
			op = "CreateLogStream"
		}
		if a := send(logs+op, "logs", b); a.status != 200 {
			t.Fatal(a.raw)
		}
	}
	now := time.Now().UnixMilli()
	events := func(sizes ...int) string {
		var ev []string
		for _, n := range sizes {
			ev = append(ev, fmt.Sprintf(`{"timestamp":%d,"message":%q}`, now, strings.Repeat("l", n)))
		}
		return `{"logGroupName":"g","logStreamName":"s","logEvents":[` + strings.Join(ev, ",") + `]}`
	}
	refusedCheaply("PutLogEvents", logs+"PutLogEvents", "logs", events(big))
	send(logs+"PutLogEvents", "logs", events(1048576-26+1)).want(t, 400, "InvalidParameterException",
		"Log event too large: 1048577 bytes exceeds limit of 1048576")
	send(logs+"PutLogEvents", "logs", events(200000, 200000, 200000, 200000, 200000, 200000)).want(t, 400, "InvalidParameterException",
		"Upload too large: 1200156 bytes exceeds limit of 1048576")
	if a := send(logs+"PutLogEvents", "logs", events(262144-26, 262144-26, 262144-26)); a.status != 200 {
		t.Errorf("a batch of three 256 KiB events: %d %.300s", a.status, a.raw)
	}
	if a := send(logs+"GetLogEvents", "logs", `{"logGroupName":"g","logStreamName":"s","startFromHead":true}`); strings.Count(a.raw, `"message"`) != 3 {
		t.Errorf("want only the 3 accepted events stored, got %.200s", a.raw)
	}

	// STS (awsQuery).
	var q rawAnswer
	form := "Action=GetCallerIdentity&Version=2011-06-15&Pad=" + strings.Repeat("p", big)
	n := allocated(func() {
		q = signedCall(t, s, "", form, creds, "sts", "us-east-1", time.Now())
	})
	if q.status != 413 || !strings.Contains(q.raw, "<Code>RequestEntityTooLargeException</Code>") || n > 8<<20 {
		t.Errorf("STS with a %d-byte form: %d %.300s, %d bytes allocated", big, q.status, q.raw, n)
	}
}
