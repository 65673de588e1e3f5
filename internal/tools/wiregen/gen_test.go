package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// models maps each generated package to its model directory.
var models = map[string]string{
	"ecswire": "ecs", "ecrwire": "ecr", "logswire": "logs", "elbv2wire": "elbv2",
	"servicediscoverywire": "servicediscovery", "autoscalingwire": "application-autoscaling",
	"cloudwatchwire": "cloudwatch", "stswire": "sts",
}

func loadModel(t *testing.T, dir string) *Model {
	t.Helper()
	path, err := findModel(filepath.Join("..", "shared", "aws-models", dir, "service-2.json"))
	if err != nil {
		t.Skip("the AWS models (../shared/aws-models) are not beside this checkout")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m Model
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestGeneratedCodeIsUpToDate: the committed zz_generated.go files are what
// the generator makes from the models today.
func TestGeneratedCodeIsUpToDate(t *testing.T) {
	for pkg, dir := range models {
		t.Run(pkg, func(t *testing.T) {
			src, err := Generate(loadModel(t, dir), pkg)
			if err != nil {
				t.Fatal(err)
			}
			committed, err := os.ReadFile(filepath.Join("..", "..", "api", pkg, "zz_generated.go"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(src, committed) {
				t.Fatalf("internal/api/%s/zz_generated.go is stale: run make generate", pkg)
			}
		})
	}
}

func TestECSShapes(t *testing.T) {
	src, err := Generate(loadModel(t, "ecs"), "ecswire")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Family *string `json:\"family,omitempty\" xml:\"family,omitempty\"`",
		"HostPort *int32 `json:\"hostPort,omitempty\"",
		"FailedTasks *int32 `json:\"failedTasks,omitempty\"",
		"ContainerDefinitions []ContainerDefinition `json:\"containerDefinitions,omitempty\"",
		"RegisteredAt *wire.Timestamp",
		"LaunchTypeFargate = \"FARGATE\"",
		"\"RunTask\": {Input: \"RunTaskRequest\"",
		"\"ClusterNotFoundException\": {Status: 400",
		"\"ServerException\": {Status: 500",
	} {
		// gofmt aligns columns: compare with runs of blanks collapsed.
		re := regexp.MustCompile(strings.ReplaceAll(regexp.QuoteMeta(want), " ", `\s+`))
		if !re.Match(src) {
			t.Errorf("generated ECS code lacks %q", want)
		}
	}
}

func TestQueryListsWrapMembers(t *testing.T) {
	src, err := Generate(loadModel(t, "elbv2"), "elbv2wire")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "xml:\"LoadBalancers>member,omitempty\"") {
		t.Fatal("awsQuery lists must be wrapped in <member>")
	}
}
