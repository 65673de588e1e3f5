package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// albGet GETs url through the load balancer and answers the body.
func albGet(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("%s: %q", resp.Status, b)
	}
	return string(b), nil
}

// albSpread sends n GETs to url and counts the answers by body ("hello
// from <hostname>"); any failure is fatal.
func albSpread(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		body, err := albGet(c, url)
		if err != nil {
			t.Fatalf("GET %s (request %d): %v", url, i, err)
		}
		seen[strings.TrimSpace(body)]++
	}
	return seen
}

// albHealth answers the target group's targets: IP -> TargetHealth.
func (in *instance) albHealth(tgARN string) map[string]map[string]any {
	in.t.Helper()
	out := map[string]map[string]any{}
	for _, d := range path(in.mustAWS("elbv2", "describe-target-health", "--target-group-arn", tgARN), "TargetHealthDescriptions").([]any) {
		out[elbStr(path(d, "Target", "Id"))] = path(d, "TargetHealth").(map[string]any)
	}
	return out
}

// albWaitHealthy waits until the target group's targets in a state other
// than draining are exactly the service's RUNNING tasks, all healthy.
func (in *instance) albWaitHealthy(tgARN, service string, timeout time.Duration) []map[string]any {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tasks := in.serviceTasks(service, "RUNNING")
		health := in.albHealth(tgARN)
		ok := len(tasks) > 0
		live := 0
		for _, h := range health {
			if h["State"] != "draining" {
				live++
			}
		}
		for _, task := range tasks {
			if task["lastStatus"] != "RUNNING" {
				ok = false
				continue
			}
			if h := health[taskIP(in.t, task)]; h == nil || h["State"] != "healthy" {
				ok = false
			}
		}
		if ok && live == len(tasks) {
			return tasks
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("target group %s: targets %v, service tasks %d, after %v\nfargo:\n%s", tgARN, health, len(tasks), timeout, in.out)
		}
		time.Sleep(time.Second)
	}
}

// albHostOf is the answer "hello from <hostname>" of a task: the test
// asks the task itself.
func albHostOf(t *testing.T, task map[string]any) string {
	t.Helper()
	return strings.TrimSpace(waitHTTP(t, "http://"+taskIP(t, task)+":8080/", 10*time.Second))
}

// TestALBService is issue 10's user story with the AWS CLI and real tasks:
// an ALB, an ip target group with a /health check, an HTTP listener on
// port 80, a service of 2 behind it; services-stable, both task IPs
// healthy, GETs to the ALB's address spread over both tasks; a rolling
// update under load with zero failed requests; one task's /health
// failing: unhealthy with AWS's reason, replaced by ECS with its stopped
// reason, no traffic to it meanwhile; kill -9 of fargo: listeners, target
// groups and registrations back and the ALB answering again.
func TestALBService(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("albweb")
	in.registerTaskDef("albweb", image, nil, nil) // albweb:1

	lb := path(in.mustAWS("elbv2", "create-load-balancer", "--name", "alb-e2e", "--subnets", "subnet-0123456789abcdef0"), "LoadBalancers", 0).(map[string]any)
	lbARN := elbStr(lb["LoadBalancerArn"])
	in.mustAWS("elbv2", "wait", "load-balancer-available", "--load-balancer-arns", lbARN)
	lb = path(in.mustAWS("elbv2", "describe-load-balancers", "--load-balancer-arns", lbARN), "LoadBalancers", 0).(map[string]any)
	addr := elbStr(path(lb, "AvailabilityZones", 0, "LoadBalancerAddresses", 0, "IpAddress"))
	if addr == "" {
		t.Fatalf("no address in describe-load-balancers: %v", lb)
	}
	url := "http://" + addr + ":80/"
	t.Logf("ALB %s at %s (%s)", lbARN, addr, lb["DNSName"])
	// Its DNS name resolves to that address through fargo's DNS server
	// (asked from the host, which speaks for the administrator's account).
	if ips, rcode, err := cloudMapA(elbStr(lb["DNSName"])); err != nil || len(ips) != 1 || ips[0] != addr {
		t.Fatalf("%s resolves to %v (rcode %d, %v), want [%s]", lb["DNSName"], ips, rcode, err, addr)
	}

	tg := path(in.mustAWS("elbv2", "create-target-group", "--name", "alb-e2e-tg", "--protocol", "HTTP", "--port", "8080",
		"--vpc-id", elbStr(lb["VpcId"]), "--target-type", "ip", "--health-check-path", "/health",
		"--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "2",
		"--healthy-threshold-count", "2", "--unhealthy-threshold-count", "2"), "TargetGroups", 0).(map[string]any)
	tgARN := elbStr(tg["TargetGroupArn"])
	in.mustAWS("elbv2", "modify-target-group-attributes", "--target-group-arn", tgARN, "--attributes",
		"Key=deregistration_delay.timeout_seconds,Value=5")
	lsARN := elbStr(path(in.mustAWS("elbv2", "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTP", "--port", "80",
		"--default-actions", "Type=forward,TargetGroupArn="+tgARN), "Listeners", 0, "ListenerArn"))

	// 1. The service behind it.
	in.mustAWS("ecs", "create-service", "--service-name", "albweb", "--task-definition", "albweb:1",
		"--desired-count", "2", "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig,
		"--load-balancers", "targetGroupArn="+tgARN+",containerName=app,containerPort=8080",
		"--health-check-grace-period-seconds", "30")
	start := time.Now()
	in.mustAWS("ecs", "wait", "services-stable", "--services", "albweb")
	t.Logf("services-stable after %v", time.Since(start).Round(time.Second))
	tasks := in.serviceTasks("albweb", "RUNNING")
	if len(tasks) != 2 {
		t.Fatalf("%d running tasks after services-stable", len(tasks))
	}
	// services-stable looks at running counts only (as on AWS), so the
	// targets may still be in their initial checks; a COMPLETED rollout
	// means they are healthy (ECS gates the deployment on them).
	completed := path(in.describeService("albweb"), "deployments", 0, "rolloutState") == "COMPLETED"
	health := in.albHealth(tgARN)
	waitArgs := []string{"elbv2", "wait", "target-in-service", "--target-group-arn", tgARN, "--targets"}
	for _, task := range tasks {
		ip := taskIP(t, task)
		if h := health[ip]; h == nil || (completed && h["State"] != "healthy") {
			t.Fatalf("after services-stable (rollout completed %v), target %s: %v (all: %v)", completed, ip, h, health)
		}
		waitArgs = append(waitArgs, "Id="+ip+",Port=8080")
	}
	in.mustAWS(waitArgs...)
	in.waitService("albweb", 60*time.Second, func(s map[string]any) bool {
		return path(s, "deployments", 0, "rolloutState") == "COMPLETED"
	})
	health = in.albHealth(tgARN)
	hosts := map[string]string{} // hostname answer -> task IP
	for _, task := range tasks {
		ip := taskIP(t, task)
		if h := health[ip]; h == nil || h["State"] != "healthy" {
			t.Fatalf("after target-in-service, target %s: %v (all: %v)", ip, h, health)
		}
		hosts[albHostOf(t, task)] = ip
	}
	if len(health) != 2 {
		t.Fatalf("after services-stable: targets %v", health)
	}
	// Tasks reach the ALB too (through their gateway).
	if body, err := httpGet("http://" + taskIP(t, tasks[0]) + ":8080/get?url=" + url); err != nil || !strings.HasPrefix(body, "hello from ") {
		t.Fatalf("the ALB from inside a task: %q, %v", body, err)
	}
	if !in.serviceEvent("albweb", "registered 1 targets in (target-group "+tgARN+")") {
		t.Errorf("no registration event: %v", in.describeService("albweb")["events"])
	}
	seen := albSpread(t, url, 100)
	t.Logf("100 GETs through the ALB: %v", seen)
	if len(seen) != 2 {
		t.Fatalf("answers %v, want both tasks", seen)
	}
	for body := range seen {
		if _, ok := hosts[body]; !ok {
			t.Fatalf("answer %q from no task of the service (%v)", body, hosts)
		}
	}

	// 2. A rolling update under a bounded load loop: no request fails.
	in.registerTaskDef("albweb", image, nil, map[string]any{
		"environment": []any{map[string]any{"name": "GREETING", "value": "two"}}}) // albweb:2
	var sent, failed atomic.Int64
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Two clients keep their connections alive, two connect anew
			// for every request.
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: i%2 == 1}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if _, err := albGet(c, url); err != nil {
					failed.Add(1)
					failures.Store(err.Error(), true)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	start = time.Now()
	in.mustAWS("ecs", "update-service", "--service", "albweb", "--task-definition", "albweb:2")
	in.waitRollout("albweb", "albweb:2", 240*time.Second)
	tasks = in.albWaitHealthy(tgARN, "albweb", 60*time.Second)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("rolling update in %v under load: %d requests, %d failed", time.Since(start).Round(time.Second), sent.Load(), failed.Load())
	if failed.Load() != 0 {
		var errs []string
		failures.Range(func(k, _ any) bool { errs = append(errs, k.(string)); return len(errs) < 10 })
		t.Fatalf("%d of %d requests failed during the rolling update: %v\nfargo:\n%s", failed.Load(), sent.Load(), errs, in.out)
	}
	hosts = map[string]string{}
	for _, task := range tasks {
		hosts[albHostOf(t, task)] = taskIP(t, task)
	}
	if seen := albSpread(t, url, 40); len(seen) != 2 {
		t.Fatalf("after the update, answers %v, want both new tasks %v", seen, hosts)
	} else {
		for body := range seen {
			if _, ok := hosts[body]; !ok {
				t.Fatalf("after the update, answer %q from no running task (%v)", body, hosts)
			}
		}
	}

	// 3. One task's /health starts failing (its /fill creates the file
	// /health looks for).
	sick := tasks[0]
	sickIP, sickHost := taskIP(t, sick), albHostOf(t, sick)
	if _, err := httpGet("http://" + sickIP + ":8080/fill?path=/unhealthy&mib=0"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		h := in.albHealth(tgARN)[sickIP]
		if h != nil && (h["State"] == "unhealthy" || h["State"] == "draining") {
			if h["State"] == "unhealthy" && (h["Reason"] != "Target.ResponseCodeMismatch" ||
				h["Description"] != "Health checks failed with these codes: [500]") {
				t.Fatalf("unhealthy target: %v", h)
			}
			t.Logf("sick target: %v", h)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target %s still %v after 60s", sickIP, h)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// From now on the sick task gets no request.
	seen = albSpread(t, url, 40)
	if seen[sickHost] != 0 {
		t.Fatalf("the unhealthy task got %d of 40 requests: %v", seen[sickHost], seen)
	}
	stopped := in.waitTaskStatus(elbStr(sick["taskArn"]), "STOPPED", 120*time.Second)
	wantReason := "Task failed ELB health checks in (target-group " + tgARN + ")"
	if stopped["stoppedReason"] != wantReason {
		t.Fatalf("replaced task stoppedReason %q, want %q", stopped["stoppedReason"], wantReason)
	}
	if want := "is unhealthy in (target-group " + tgARN + ") due to (reason Health checks failed with these codes: [500])"; !in.serviceEvent("albweb", want) {
		t.Errorf("no event %q: %v", want, in.describeService("albweb")["events"])
	}
	tasks = in.albWaitHealthy(tgARN, "albweb", 120*time.Second)
	if len(tasks) != 2 {
		t.Fatalf("%d tasks after the replacement", len(tasks))
	}

	// 4. kill -9: the listener, the target group and its registrations
	// come back and the ALB answers again.
	in.kill()
	in.start()
	if ls := path(in.mustAWS("elbv2", "describe-listeners", "--listener-arns", lsARN), "Listeners", 0); path(ls, "Port") != 80.0 {
		t.Fatalf("listener after kill -9: %v", ls)
	}
	if got := elbStr(path(in.mustAWS("elbv2", "describe-target-groups", "--names", "alb-e2e-tg"), "TargetGroups", 0, "TargetGroupArn")); got != tgARN {
		t.Fatalf("target group after kill -9: %q", got)
	}
	after := in.albHealth(tgARN)
	if len(after) != len(tasks) {
		t.Fatalf("after kill -9, targets %v, want the %d tasks'", after, len(tasks))
	}
	for _, task := range tasks {
		if after[taskIP(t, task)] == nil {
			t.Fatalf("target %s not registered after kill -9: %v", taskIP(t, task), after)
		}
	}
	waitHTTP(t, url, 30*time.Second)
	in.albWaitHealthy(tgARN, "albweb", 60*time.Second)
	if seen := albSpread(t, url, 40); len(seen) != 2 {
		t.Fatalf("after kill -9, answers %v, want both tasks", seen)
	}

	// Clean up through the API.
	in.mustAWS("ecs", "delete-service", "--service", "albweb", "--force")
	in.mustAWS("ecs", "wait", "services-inactive", "--services", "albweb")
	in.mustAWS("elbv2", "delete-load-balancer", "--load-balancer-arn", lbARN)
	in.mustAWS("elbv2", "delete-target-group", "--target-group-arn", tgARN)
}
