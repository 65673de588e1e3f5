package server_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/logswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/fargotest"
)

// walkService is one awsJson service of the empty-answer walk: its model
// tables (generated) and the member values that make its calls valid
// against the walk's fixtures (a cluster, a repository, a log group and
// stream, all empty).
type walkService struct {
	name, target, signing string
	ops                   map[string]wire.OperationInfo
	newInput, newOutput   func(string) any
	values                map[string]any
	perOp                 map[string]map[string]any // per operation: more values; nil drops one
	mustCheck             []string
}

// TestEmptyListsArePresent walks every operation of ECS, ECR and Logs that
// fargo implements (driven from the models, so new operations are covered
// as they are implemented), calls it in a fresh account so that the answer
// is empty, and checks that every top-level list member of the output
// shape is present as a JSON array: AWS answers ListTasks with
// {"taskArns":[]}, never {}.
func TestEmptyListsArePresent(t *testing.T) {
	s := fargotest.Start(t)
	const account = "210987654321"
	akid, secret := account, config.DevSecretAccessKey
	now := time.Now()
	post := func(target, signing, body string) rawAnswer {
		return call(t, s, target, body, akid, secret, signing, now)
	}
	for _, c := range []struct{ target, signing, body string }{
		{ecsTarget + "CreateCluster", "ecs", `{"clusterName":"walk"}`},
		{ecrwire.TargetPrefix + ".CreateRepository", "ecr", `{"repositoryName":"walk"}`},
		{logswire.TargetPrefix + ".CreateLogGroup", "logs", `{"logGroupName":"walk"}`},
		{logswire.TargetPrefix + ".CreateLogStream", "logs", `{"logGroupName":"walk","logStreamName":"walk"}`},
		// DescribeTaskDefinition encodes its own answer: walk it too.
		{ecsTarget + "RegisterTaskDefinition", "ecs", `{"family":"walkdef","containerDefinitions":[{"name":"c","image":"busybox","memory":64}]}`},
	} {
		if a := post(c.target, c.signing, c.body); a.status != 200 {
			t.Fatalf("%s: %d %s", c.target, a.status, a.raw)
		}
	}
	region := s.Config.Region
	missing := "0123456789abcdef0123456789abcdef"
	services := []walkService{{
		name: "ecs", target: ecswire.TargetPrefix, signing: ecswire.SigningName,
		ops: ecswire.Operations, newInput: ecswire.NewInput, newOutput: ecswire.NewOutput,
		values: map[string]any{
			"cluster": "walk", "clusters": []string{"walk"}, "service": "nope", "services": []string{"nope"},
			"tasks": []string{missing}, "containerInstances": []string{missing},
			"taskDefinition": "nope:1", "taskDefinitions": []string{"nope:1"},
			"targetType": "container-instance", "attributes": []map[string]string{{"name": "nope"}},
			"resourceArn": "arn:aws:ecs:" + region + ":" + account + ":cluster/walk",
		},
		perOp: map[string]map[string]any{
			"DescribeTaskDefinition": {"taskDefinition": "walkdef"},
			"RegisterTaskDefinition": {"family": "walkreg", "containerDefinitions": []map[string]any{{"name": "c", "image": "busybox", "memory": 64}}},
		},
		mustCheck: []string{"RegisterTaskDefinition", "DescribeTaskDefinition", "ListClusters", "DescribeClusters", "ListTasks", "DescribeTasks", "ListServices",
			"DescribeServices", "ListTaskDefinitions", "ListTaskDefinitionFamilies", "ListContainerInstances"},
	}, {
		name: "ecr", target: ecrwire.TargetPrefix, signing: ecrwire.SigningName,
		ops: ecrwire.Operations, newInput: ecrwire.NewInput, newOutput: ecrwire.NewOutput,
		values: map[string]any{
			"repositoryName": "walk", "repositoryNames": []string{"walk"},
			"imageIds": []map[string]string{{"imageTag": "nope"}}, "imageId": map[string]string{"imageTag": "nope"},
			"layerDigests": []string{"sha256:" + strings.Repeat("0", 64)},
			"resourceArn":  "arn:aws:ecr:" + region + ":" + account + ":repository/walk",
		},
		perOp: map[string]map[string]any{
			"DescribeImages":        {"imageIds": nil},
			"PutImageTagMutability": {"imageTagMutability": "MUTABLE"},
		},
		mustCheck: []string{"ListImages", "DescribeImages", "BatchGetImage", "DescribeRepositories"},
	}, {
		name: "logs", target: logswire.TargetPrefix, signing: logswire.SigningName,
		ops: logswire.Operations, newInput: logswire.NewInput, newOutput: logswire.NewOutput,
		values: map[string]any{
			"logGroupName": "walk", "logStreamName": "walk", "logStreamNames": []string{"walk"},
		},
		mustCheck: []string{"DescribeLogGroups", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents"},
	}}
	for _, svc := range services {
		checked := map[string]bool{}
		for _, op := range sortedOps(svc.ops) {
			lists := topLevelLists(svc.newOutput(op))
			if len(lists) == 0 {
				continue
			}
			body := walkInput(svc.newInput(op), svc.values, svc.perOp[op])
			a := post(svc.target+"."+op, svc.signing, body)
			if a.status != 200 {
				if a.body["__type"] != "UnknownOperationException" {
					t.Logf("%s %s %s: %d %s (not checked)", svc.name, op, body, a.status, a.raw)
				}
				continue
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(a.raw), &got); err != nil {
				t.Errorf("%s %s: answer is not a JSON object: %s", svc.name, op, a.raw)
				continue
			}
			for _, m := range lists {
				v, ok := got[m]
				if !ok || len(v) == 0 || v[0] != '[' {
					t.Errorf("%s %s answered %s: list member %q is not there as an array", svc.name, op, a.raw, m)
				}
			}
			checked[op] = true
		}
		for _, op := range svc.mustCheck {
			if !checked[op] {
				t.Errorf("%s %s was not checked (it failed on the walk's input)", svc.name, op)
			}
		}
		t.Logf("%s: checked %d operations", svc.name, len(checked))
	}
}

func sortedOps(ops map[string]wire.OperationInfo) []string {
	names := make([]string, 0, len(ops))
	for n, info := range ops {
		if info.Output != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// topLevelLists returns the JSON names of the list members of an output
// struct (blobs are []byte and not lists).
func topLevelLists(out any) []string {
	if out == nil {
		return nil
	}
	t := reflect.TypeOf(out).Elem()
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() != reflect.Slice || f.Type.Elem().Kind() == reflect.Uint8 {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// walkInput is the JSON input of an operation: every member of its input
// shape that the service's fixture values name.
func walkInput(in any, values, perOp map[string]any) string {
	body := map[string]any{}
	if in != nil {
		t := reflect.TypeOf(in).Elem()
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if v, ok := values[name]; ok {
				body[name] = v
			}
		}
	}
	for k, v := range perOp {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	b, _ := json.Marshal(body)
	return string(b)
}
