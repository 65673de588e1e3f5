package e2e

import (
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// elbTargetIP is an address inside this e2e instance's task pool (ip
// targets outside it are InvalidTarget).
func elbTargetIP(t *testing.T, host int) string {
	t.Helper()
	p, err := netip.ParsePrefix(e2eTaskPool)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Addr().As4()
	a[2], a[3] = 9, byte(host)
	return netip.AddrFrom4(a).String()
}

// elbExpectErr runs an AWS CLI call that must fail with code.
func elbExpectErr(t *testing.T, in *instance, code string, args ...string) {
	t.Helper()
	_, err := in.aws(args...)
	if err == nil || !strings.Contains(err.Error(), "("+code+")") {
		t.Fatalf("aws %s: %v, want %s", strings.Join(args, " "), err, code)
	}
}

func elbStr(v any) string { s, _ := v.(string); return s }

// TestELBv2CLI drives the ELBv2 API with the AWS CLI: a load balancer and
// its waiter, a target group with AWS's health check defaults, a listener
// and rules, targets and their health states, attributes and tags, the
// errors AWS answers for bad input, the target-deregistered waiter, and
// everything still there after kill -9 (a drain deadline included).
func TestELBv2CLI(t *testing.T) {
	in := newInstance(t)
	in.start()

	lb := path(in.mustAWS("elbv2", "create-load-balancer", "--name", "web-alb", "--subnets", "subnet-aaa", "subnet-bbb",
		"--security-groups", "sg-123", "--tags", "Key=team,Value=web"), "LoadBalancers", 0).(map[string]any)
	lbARN := elbStr(lb["LoadBalancerArn"])
	if !regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web-alb/[0-9a-f]{16}$`).MatchString(lbARN) {
		t.Fatalf("load balancer ARN %q", lbARN)
	}
	if dns := elbStr(lb["DNSName"]); !regexp.MustCompile(`^web-alb-\d+\.us-east-1\.elb\.amazonaws\.com$`).MatchString(dns) {
		t.Fatalf("DNS name %q", dns)
	}
	if st := path(lb, "State", "Code"); st != "provisioning" {
		t.Fatalf("a new load balancer is %v, want provisioning", st)
	}
	if lb["Type"] != "application" || lb["Scheme"] != "internet-facing" || lb["IpAddressType"] != "ipv4" {
		t.Fatalf("load balancer %v", lb)
	}
	start := time.Now()
	in.mustAWS("elbv2", "wait", "load-balancer-available", "--load-balancer-arns", lbARN)
	t.Logf("load-balancer-available after %v", time.Since(start).Round(time.Second))
	lb = path(in.mustAWS("elbv2", "describe-load-balancers", "--names", "web-alb"), "LoadBalancers", 0).(map[string]any)
	if path(lb, "State", "Code") != "active" {
		t.Fatalf("after the waiter: %v", lb["State"])
	}
	vpc := elbStr(lb["VpcId"])

	// Bad load balancers.
	elbExpectErr(t, in, "ValidationError", "elbv2", "create-load-balancer", "--name", strings.Repeat("a", 33), "--subnets", "subnet-a")
	elbExpectErr(t, in, "DuplicateLoadBalancerName", "elbv2", "create-load-balancer", "--name", "web-alb", "--subnets", "subnet-zzz")

	tg := path(in.mustAWS("elbv2", "create-target-group", "--name", "web-tg", "--protocol", "HTTP", "--port", "80",
		"--vpc-id", vpc, "--target-type", "ip", "--health-check-path", "/health"), "TargetGroups", 0).(map[string]any)
	tgARN := elbStr(tg["TargetGroupArn"])
	if !regexp.MustCompile(`:targetgroup/web-tg/[0-9a-f]{16}$`).MatchString(tgARN) {
		t.Fatalf("target group ARN %q", tgARN)
	}
	for k, want := range map[string]any{"HealthCheckIntervalSeconds": 30.0, "HealthCheckTimeoutSeconds": 5.0, "HealthyThresholdCount": 5.0,
		"UnhealthyThresholdCount": 2.0, "HealthCheckPath": "/health", "HealthCheckPort": "traffic-port", "TargetType": "ip"} {
		if tg[k] != want {
			t.Fatalf("target group %s = %v, want %v", k, tg[k], want)
		}
	}
	if path(tg, "Matcher", "HttpCode") != "200" {
		t.Fatalf("matcher %v", tg["Matcher"])
	}
	elbExpectErr(t, in, "DuplicateTargetGroupName", "elbv2", "create-target-group", "--name", "web-tg", "--protocol", "HTTP", "--port", "81", "--vpc-id", vpc, "--target-type", "ip")

	ls := path(in.mustAWS("elbv2", "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTP", "--port", "80",
		"--default-actions", "Type=forward,TargetGroupArn="+tgARN), "Listeners", 0).(map[string]any)
	lsARN := elbStr(ls["ListenerArn"])
	if !strings.HasPrefix(lsARN, strings.Replace(lbARN, ":loadbalancer/", ":listener/", 1)+"/") {
		t.Fatalf("listener ARN %q", lsARN)
	}
	elbExpectErr(t, in, "DuplicateListener", "elbv2", "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTP", "--port", "80",
		"--default-actions", "Type=fixed-response,FixedResponseConfig={StatusCode=404}")

	in.mustAWS("elbv2", "create-rule", "--listener-arn", lsARN, "--priority", "10",
		"--conditions", "Field=path-pattern,Values=/api/*", "--actions", "Type=forward,TargetGroupArn="+tgARN)
	elbExpectErr(t, in, "PriorityInUse", "elbv2", "create-rule", "--listener-arn", lsARN, "--priority", "10",
		"--conditions", "Field=host-header,Values=example.com", "--actions", "Type=fixed-response,FixedResponseConfig={StatusCode=503}")
	in.mustAWS("elbv2", "create-rule", "--listener-arn", lsARN, "--priority", "20",
		"--conditions", `[{"Field":"http-header","HttpHeaderConfig":{"HttpHeaderName":"X-Env","Values":["dev"]}}]`,
		"--actions", `[{"Type":"redirect","RedirectConfig":{"Protocol":"HTTPS","Port":"443","StatusCode":"HTTP_301"}}]`)
	rules := path(in.mustAWS("elbv2", "describe-rules", "--listener-arn", lsARN), "Rules").([]any)
	if len(rules) != 3 || path(rules, 0, "Priority") != "10" || path(rules, 1, "Priority") != "20" ||
		path(rules, 2, "Priority") != "default" || path(rules, 2, "IsDefault") != true {
		t.Fatalf("rules %v", rules)
	}
	if path(rules, 1, "Conditions", 0, "HttpHeaderConfig", "HttpHeaderName") != "X-Env" || path(rules, 1, "Actions", 0, "RedirectConfig", "Host") != "#{host}" {
		t.Fatalf("rule 20 %v", rules[1])
	}

	tgs := path(in.mustAWS("elbv2", "describe-target-groups", "--load-balancer-arn", lbARN), "TargetGroups").([]any)
	if len(tgs) != 1 || path(tgs, 0, "LoadBalancerArns", 0) != lbARN {
		t.Fatalf("target groups of the load balancer: %v", tgs)
	}
	elbExpectErr(t, in, "ResourceInUse", "elbv2", "delete-target-group", "--target-group-arn", tgARN)

	// Targets.
	ip1, ip2 := elbTargetIP(t, 11), elbTargetIP(t, 12)
	in.mustAWS("elbv2", "register-targets", "--target-group-arn", tgARN, "--targets", "Id="+ip1+",Port=8080", "Id="+ip2)
	elbExpectErr(t, in, "InvalidTarget", "elbv2", "register-targets", "--target-group-arn", tgARN, "--targets", "Id=8.8.8.8")
	th := path(in.mustAWS("elbv2", "describe-target-health", "--target-group-arn", tgARN), "TargetHealthDescriptions").([]any)
	if len(th) != 2 {
		t.Fatalf("target health %v", th)
	}
	for _, d := range th {
		if path(d, "TargetHealth", "State") != "initial" || path(d, "TargetHealth", "Reason") != "Elb.RegistrationInProgress" {
			t.Fatalf("a new target: %v", d)
		}
	}
	th = path(in.mustAWS("elbv2", "describe-target-health", "--target-group-arn", tgARN, "--targets", "Id="+elbTargetIP(t, 99)), "TargetHealthDescriptions").([]any)
	if path(th, 0, "TargetHealth", "State") != "unused" || path(th, 0, "TargetHealth", "Reason") != "Target.NotRegistered" {
		t.Fatalf("an unregistered target: %v", th)
	}

	// Attributes.
	attrs := path(in.mustAWS("elbv2", "describe-target-group-attributes", "--target-group-arn", tgARN), "Attributes").([]any)
	if !elbHasAttr(attrs, "deregistration_delay.timeout_seconds", "300") || !elbHasAttr(attrs, "stickiness.enabled", "false") {
		t.Fatalf("target group attributes %v", attrs)
	}
	in.mustAWS("elbv2", "modify-target-group-attributes", "--target-group-arn", tgARN, "--attributes",
		"Key=deregistration_delay.timeout_seconds,Value=45", "Key=slow_start.duration_seconds,Value=30")
	in.mustAWS("elbv2", "modify-load-balancer-attributes", "--load-balancer-arn", lbARN, "--attributes", "Key=idle_timeout.timeout_seconds,Value=120")
	if a := path(in.mustAWS("elbv2", "describe-load-balancer-attributes", "--load-balancer-arn", lbARN), "Attributes").([]any); !elbHasAttr(a, "idle_timeout.timeout_seconds", "120") {
		t.Fatalf("load balancer attributes %v", a)
	}
	in.mustAWS("elbv2", "add-tags", "--resource-arns", tgARN, lsARN, "--tags", "Key=env,Value=dev")
	tags := path(in.mustAWS("elbv2", "describe-tags", "--resource-arns", lbARN, tgARN), "TagDescriptions").([]any)
	if len(tags) != 2 || path(tags, 0, "Tags", 0, "Key") != "team" || path(tags, 1, "Tags", 0, "Value") != "dev" {
		t.Fatalf("tags %v", tags)
	}

	// Draining: deregister, kill -9 within the delay, the target is still
	// draining after the restart and gone once the delay has passed.
	in.mustAWS("elbv2", "deregister-targets", "--target-group-arn", tgARN, "--targets", "Id="+ip1+",Port=8080")
	d := path(in.mustAWS("elbv2", "describe-target-health", "--target-group-arn", tgARN, "--targets", "Id="+ip1+",Port=8080"), "TargetHealthDescriptions", 0, "TargetHealth").(map[string]any)
	if d["State"] != "draining" || d["Reason"] != "Target.DeregistrationInProgress" {
		t.Fatalf("a deregistered target: %v", d)
	}

	in.kill()
	in.start()
	d = path(in.mustAWS("elbv2", "describe-target-health", "--target-group-arn", tgARN, "--targets", "Id="+ip1+",Port=8080"), "TargetHealthDescriptions", 0, "TargetHealth").(map[string]any)
	if d["State"] != "draining" {
		t.Fatalf("a draining target after kill -9: %v", d)
	}
	lb = path(in.mustAWS("elbv2", "describe-load-balancers", "--load-balancer-arns", lbARN), "LoadBalancers", 0).(map[string]any)
	if path(lb, "State", "Code") != "active" {
		t.Fatalf("after kill -9: %v", lb)
	}
	if n := len(path(in.mustAWS("elbv2", "describe-rules", "--listener-arn", lsARN), "Rules").([]any)); n != 3 {
		t.Fatalf("after kill -9: %d rules", n)
	}
	if a := path(in.mustAWS("elbv2", "describe-load-balancer-attributes", "--load-balancer-arn", lbARN), "Attributes").([]any); !elbHasAttr(a, "idle_timeout.timeout_seconds", "120") {
		t.Fatalf("after kill -9: load balancer attributes %v", a)
	}
	start = time.Now()
	in.mustAWS("elbv2", "wait", "target-deregistered", "--target-group-arn", tgARN, "--targets", "Id="+ip1+",Port=8080")
	t.Logf("target-deregistered after %v", time.Since(start).Round(time.Second))
	th = path(in.mustAWS("elbv2", "describe-target-health", "--target-group-arn", tgARN), "TargetHealthDescriptions").([]any)
	if len(th) != 1 || path(th, 0, "Target", "Id") != ip2 || path(th, 0, "Target", "Port") != 80.0 {
		t.Fatalf("after the drain: %v", th)
	}

	// Deletion.
	elbExpectErr(t, in, "OperationNotPermitted", "elbv2", "delete-rule", "--rule-arn", elbStr(path(rules, 2, "RuleArn")))
	in.mustAWS("elbv2", "delete-load-balancer", "--load-balancer-arn", lbARN)
	elbExpectErr(t, in, "ListenerNotFound", "elbv2", "describe-listeners", "--listener-arns", lsARN)
	in.mustAWS("elbv2", "delete-target-group", "--target-group-arn", tgARN)
	elbExpectErr(t, in, "TargetGroupNotFound", "elbv2", "describe-target-groups", "--target-group-arns", tgARN)
	if n := len(path(in.mustAWS("elbv2", "describe-load-balancers"), "LoadBalancers").([]any)); n != 0 {
		t.Fatalf("%d load balancers after delete", n)
	}
}

func elbHasAttr(attrs []any, key, value string) bool {
	for _, a := range attrs {
		if path(a, "Key") == key && path(a, "Value") == value {
			return true
		}
	}
	return false
}

// TestELBv2Boto3 drives the ELBv2 API with boto3
// (testdata/elbv2_boto3.py): waiters, paginators and error codes as
// botocore parses them.
func TestELBv2Boto3(t *testing.T) {
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 is not installed (python3 -m pip install boto3)")
	}
	in := newInstance(t)
	in.start()
	cmd := exec.Command("python3", "testdata/elbv2_boto3.py", e2eTaskPool)
	cmd.Env = in.env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "elbv2 boto3 ok") {
		t.Fatalf("elbv2 boto3: %v\n%s\nfargo:\n%s", err, out, in.out)
	}
}
