package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ecslbTaskDef is an awsvpc Fargate task definition whose container "web"
// maps port 80.
const ecslbTaskDef = `{
  "family": "lbweb",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256", "memory": "512",
  "containerDefinitions": [{
    "name": "web", "image": "public.ecr.aws/nginx/nginx:latest", "essential": true,
    "portMappings": [{"containerPort": 80, "protocol": "tcp"}]
  }]
}`

// ecslbMissingTG is a target group ARN of fargo's account and region that
// no one created.
const ecslbMissingTG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/nope/0123456789abcdef"

// ecslbCreate runs create-service with the given --load-balancers and
// extra arguments and answers the CLI's error.
func (in *instance) ecslbCreate(name string, lbs []string, extra ...string) (map[string]any, error) {
	in.t.Helper()
	args := []string{"ecs", "create-service", "--service-name", name, "--task-definition", "lbweb",
		"--desired-count", "0", "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig}
	if len(lbs) > 0 {
		args = append(args, "--load-balancers")
		args = append(args, lbs...)
	}
	return in.aws(append(args, extra...)...)
}

// TestECSLoadBalancerValidation: with the AWS CLI, CreateService refuses
// loadBalancers that cannot work with ECS's InvalidParameterException
// and its messages (a target group that does not exist, a container or
// port the task definition does not map, more than 5), leaving no service
// behind; healthCheckGracePeriodSeconds is accepted without a load
// balancer, as AWS now accepts it.
func TestECSLoadBalancerValidation(t *testing.T) {
	awsCLI(t)
	in := newInstance(t)
	in.start()
	tdFile := filepath.Join(t.TempDir(), "td.json")
	if err := os.WriteFile(tdFile, []byte(ecslbTaskDef), 0o644); err != nil {
		t.Fatal(err)
	}
	in.mustAWS("ecs", "register-task-definition", "--cli-input-json", "file://"+tdFile)

	// Without the ELBv2 API (before it is wired in), fargo says so; with
	// it, a target group that does not exist gets AWS's answer.
	missingTG := "Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions."
	if _, err := in.aws("elbv2", "describe-target-groups"); err != nil {
		t.Logf("no ELBv2 API on this fargo (%v): expecting the no-ELBv2 answer", err)
		missingTG = "This fargo server runs without ELBv2, so a service cannot use load balancers"
	}
	lb := func(tg, container, port string) string {
		return "targetGroupArn=" + tg + ",containerName=" + container + ",containerPort=" + port
	}
	six := []string{}
	for range 6 {
		six = append(six, lb(ecslbMissingTG, "web", "80"))
	}
	for _, tc := range []struct {
		name string
		lbs  []string
		want string
	}{
		{"missing target group", []string{lb(ecslbMissingTG, "web", "80")}, missingTG},
		{"port not mapped", []string{lb(ecslbMissingTG, "web", "8080")}, "The container web did not have a container port 8080 defined."},
		{"unknown container", []string{lb(ecslbMissingTG, "api", "80")}, "The container api does not exist in the task definition."},
		{"six load balancers", six, "load balancers can have at most 5 items."},
	} {
		_, err := in.ecslbCreate("lb", tc.lbs)
		if err == nil || !strings.Contains(err.Error(), "(InvalidParameterException)") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant InvalidParameterException %q", tc.name, err, tc.want)
		}
	}
	d := in.mustAWS("ecs", "describe-services", "--services", "lb")
	if path(d, "failures", 0, "reason") != "MISSING" || len(path(d, "services").([]any)) != 0 {
		t.Fatalf("a refused create left a service: %v", d)
	}

	// The grace period alone is accepted and echoed; left out, it is 0.
	out := in.mustAWS("ecs", "create-service", "--service-name", "grace", "--task-definition", "lbweb", "--desired-count", "0",
		"--launch-type", "FARGATE", "--network-configuration", awsvpcConfig, "--health-check-grace-period-seconds", "45")
	if g := path(out, "service", "healthCheckGracePeriodSeconds"); g != 45.0 {
		t.Fatalf("healthCheckGracePeriodSeconds %v, want 45", g)
	}
	out = in.mustAWS("ecs", "create-service", "--service-name", "nograce", "--task-definition", "lbweb", "--desired-count", "0",
		"--launch-type", "FARGATE", "--network-configuration", awsvpcConfig)
	if g := path(out, "service", "healthCheckGracePeriodSeconds"); g != 0.0 {
		t.Fatalf("healthCheckGracePeriodSeconds %v, want 0", g)
	}
	// An update that adds a load balancer to it is checked the same way.
	if _, err := in.aws("ecs", "update-service", "--service", "grace", "--load-balancers", lb(ecslbMissingTG, "web", "8080")); err == nil ||
		!strings.Contains(err.Error(), "The container web did not have a container port 8080 defined.") {
		t.Fatalf("update-service: %v", err)
	}
}
