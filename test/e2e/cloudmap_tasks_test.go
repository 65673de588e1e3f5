package e2e

import (
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// cloudMapA asks fargo's DNS server, from the host, for name's A records
// (nil and the error when it does not answer).
func cloudMapA(name string) ([]string, int, error) {
	c := &dns.Client{Timeout: time.Second}
	m, _, err := c.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name), dns.TypeA), net.JoinHostPort(e2eMetadataIP, "53"))
	if err != nil {
		return nil, 0, err
	}
	var ips []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	sort.Strings(ips)
	return ips, m.Rcode, nil
}

// cloudMapTaskIPs are the sorted addresses of a service's RUNNING tasks.
func (in *instance) cloudMapTaskIPs(service string) []string {
	var ips []string
	for _, task := range in.serviceTasks(service, "RUNNING") {
		if task["lastStatus"] == "RUNNING" {
			ips = append(ips, taskIP(in.t, task))
		}
	}
	sort.Strings(ips)
	return ips
}

// cloudMapWaitA polls the DNS server until ok accepts the answer.
func cloudMapWaitA(t *testing.T, name string, timeout time.Duration, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ips, _, err := cloudMapA(name)
		if err == nil && ok(ips) {
			return ips
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answers %v (%v) after %v", name, ips, err, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCloudMapTasksDNS is issue 12's session with real tasks: a private
// DNS namespace and a Cloud Map service; an ECS service of 3 registered in
// it through serviceRegistries; another task resolves the name with its
// own resolver and reaches the service by name; discover-instances answers
// the same set with ECS's attributes; scale to 1; kill the last task and
// see its record go before its replacement's comes; kill -9 fargo and the
// answer is right at once; a task stopped while fargo was down leaves DNS.
func TestCloudMapTasksDNS(t *testing.T) {
	in := newAgentInstance(t, "FARGO_DNS_UPSTREAMS=127.0.0.1:9") // nothing leaves the host
	image := in.pushTaskImage("cm")
	in.registerTaskDef("orders", image, nil, nil)
	in.registerTaskDef("client", image, nil, nil)

	op := in.mustAWS("servicediscovery", "create-private-dns-namespace", "--name", "internal.local", "--vpc", "vpc-0123")
	got := in.mustAWS("servicediscovery", "get-operation", "--operation-id", op["OperationId"].(string))
	nsID, _ := path(got, "Operation", "Targets", "NAMESPACE").(string)
	if path(got, "Operation", "Status") != "SUCCESS" || nsID == "" {
		t.Fatalf("get-operation: %v", got)
	}
	svc := in.mustAWS("servicediscovery", "create-service", "--name", "orders", "--namespace-id", nsID,
		"--dns-config", "RoutingPolicy=MULTIVALUE,DnsRecords=[{Type=A,TTL=5},{Type=SRV,TTL=5}]",
		"--health-check-custom-config", "FailureThreshold=1")
	registry, _ := path(svc, "Service", "Arn").(string)
	srvID, _ := path(svc, "Service", "Id").(string)

	// ECS's checks: an SRV registry under awsvpc needs a port; the
	// registry must exist.
	for _, bad := range []string{"registryArn=" + registry, "registryArn=" + strings.Replace(registry, srvID, "srv-0000000000000000", 1) + ",port=8080"} {
		if _, err := in.aws("ecs", "create-service", "--service-name", "bad", "--task-definition", "orders",
			"--desired-count", "1", "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig,
			"--service-registries", bad); err == nil || !strings.Contains(err.Error(), "InvalidParameterException") {
			t.Fatalf("create-service with serviceRegistries %s: %v", bad, err)
		}
	}

	in.mustAWS("ecs", "create-service", "--service-name", "orders", "--task-definition", "orders",
		"--desired-count", "3", "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig,
		"--service-registries", "registryArn="+registry+",containerName=app,containerPort=8080")
	in.mustAWS("ecs", "create-service", "--service-name", "client", "--task-definition", "client",
		"--desired-count", "1", "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig)
	in.mustAWS("ecs", "wait", "services-stable", "--services", "orders", "client")
	if regs := path(in.describeService("orders"), "serviceRegistries"); path(regs, 0, "registryArn") != registry || path(regs, 0, "containerPort") != 8080.0 {
		t.Fatalf("describe-services serviceRegistries: %v", regs)
	}
	byNS := in.mustAWS("ecs", "list-services-by-namespace", "--namespace", "internal.local")
	if arns, _ := byNS["serviceArns"].([]any); len(arns) != 1 || !strings.HasSuffix(arns[0].(string), ":service/default/orders") {
		t.Fatalf("list-services-by-namespace: %v", byNS)
	}
	if _, err := in.aws("ecs", "list-services-by-namespace", "--namespace", "nope.local"); err == nil || !strings.Contains(err.Error(), "NamespaceNotFoundException") {
		t.Fatalf("list-services-by-namespace of a missing namespace: %v", err)
	}
	want := in.cloudMapTaskIPs("orders")
	if len(want) != 3 {
		t.Fatalf("orders tasks: %v", want)
	}
	// From the host, with a DNS client.
	if ips := cloudMapWaitA(t, "orders.internal.local", 5*time.Second, func(ips []string) bool { return slices.Equal(ips, want) }); len(ips) != 3 {
		t.Fatal(ips)
	}

	// From inside the client task, with its own resolver (/etc/resolv.conf).
	clientIP := in.cloudMapTaskIPs("client")[0]
	body := waitHTTP(t, "http://"+clientIP+":8080/resolve?name=orders.internal.local", 10*time.Second)
	resolved := strings.Fields(body)
	sort.Strings(resolved)
	if !slices.Equal(resolved, want) {
		t.Fatalf("inside a task, orders.internal.local is %v, want %v", resolved, want)
	}
	srv := strings.Split(strings.TrimSpace(waitHTTP(t, "http://"+clientIP+":8080/resolve?name=orders.internal.local&type=SRV", 10*time.Second)), "\n")
	if len(srv) != 3 || !strings.HasSuffix(srv[0], ".orders.internal.local. 8080") {
		t.Fatalf("SRV inside a task: %q", srv)
	}
	if body := waitHTTP(t, "http://"+clientIP+":8080/get?url=http://orders.internal.local:8080/", 10*time.Second); !strings.HasPrefix(body, "hello from") {
		t.Fatalf("wget by name from a task: %q", body)
	}

	// discover-instances answers the same set, with ECS's attributes.
	text, err := in.cloudMapAWSv1("servicediscovery", "discover-instances", "--namespace-name", "internal.local",
		"--service-name", "orders", "--query-parameters", "ECS_SERVICE_NAME=orders")
	if err != nil {
		t.Fatalf("discover-instances: %v\n%s", err, text)
	}
	var disc struct {
		Instances []struct {
			InstanceId string
			Attributes map[string]string
		}
	}
	if err := json.Unmarshal([]byte(text), &disc); err != nil {
		t.Fatalf("discover-instances: %v\n%s", err, text)
	}
	var discovered []string
	for _, i := range disc.Instances {
		a := i.Attributes
		if len(i.InstanceId) != 32 || a["AWS_INSTANCE_PORT"] != "8080" || a["ECS_CLUSTER_NAME"] != "default" || a["ECS_SERVICE_NAME"] != "orders" ||
			a["ECS_TASK_DEFINITION_FAMILY"] != "orders" || a["REGION"] != "us-east-1" || a["AVAILABILITY_ZONE"] == "" {
			t.Errorf("instance %s attributes %v", i.InstanceId, a)
		}
		discovered = append(discovered, a["AWS_INSTANCE_IPV4"])
	}
	sort.Strings(discovered)
	if !slices.Equal(discovered, want) {
		t.Fatalf("discover-instances: %v, want %v", discovered, want)
	}

	// Scale to 1: within seconds only one address answers.
	start := time.Now()
	in.mustAWS("ecs", "update-service", "--service", "orders", "--desired-count", "1")
	one := cloudMapWaitA(t, "orders.internal.local", 30*time.Second, func(ips []string) bool { return len(ips) == 1 })
	t.Logf("scaled to 1: DNS answered one address after %v", time.Since(start))
	in.mustAWS("ecs", "wait", "services-stable", "--services", "orders")
	if now := in.cloudMapTaskIPs("orders"); !slices.Equal(now, one) {
		t.Fatalf("DNS answers %v, the running task is %v", one, now)
	}

	// Kill the task: its record goes before its replacement's comes.
	victim := in.serviceTasks("orders", "RUNNING")[0]
	runtimeID := containerOf(victim)["runtimeId"].(string)
	if out, err := exec.Command("runc", "--root", filepath.Join(in.dataDir, "runc"), "kill", runtimeID, "KILL").CombinedOutput(); err != nil {
		t.Fatalf("runc kill: %v: %s", err, out)
	}
	// The replacement may get the freed address again: what matters is
	// that the answer goes empty (NXDOMAIN) before an address comes back.
	deadline := time.Now().Add(90 * time.Second)
	var seen [][]string
	for gone := false; ; {
		ips, _, err := cloudMapA("orders.internal.local")
		if err == nil {
			if len(seen) == 0 || !slices.Equal(seen[len(seen)-1], ips) {
				seen = append(seen, ips)
			}
			if len(ips) > 1 {
				t.Fatalf("the killed task's record and its replacement's answered together: %v", seen)
			}
			gone = gone || len(ips) == 0
			if gone && len(ips) == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replacement in DNS after 90s: %v", seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("DNS answers while the task was replaced: %v", seen)
	in.mustAWS("ecs", "wait", "services-stable", "--services", "orders")
	current := in.cloudMapTaskIPs("orders")

	// kill -9 fargo: the answer is right as soon as it is back.
	in.kill()
	in.start()
	if ips, _, err := cloudMapA("orders.internal.local"); err != nil || !slices.Equal(ips, current) {
		t.Fatalf("right after a restart: %v (%v), want %v", ips, err, current)
	}

	// A task that stops while fargo is down leaves DNS once fargo is back.
	task := in.serviceTasks("orders", "RUNNING")[0]
	in.kill()
	if out, err := exec.Command("runc", "--root", filepath.Join(in.dataDir, "runc"), "kill", containerOf(task)["runtimeId"].(string), "KILL").CombinedOutput(); err != nil {
		t.Fatalf("runc kill: %v: %s", err, out)
	}
	in.start()
	cloudMapWaitA(t, "orders.internal.local", 60*time.Second, func(ips []string) bool { return !slices.Contains(ips, current[0]) })
	in.mustAWS("ecs", "wait", "services-stable", "--services", "orders")
	final := cloudMapWaitA(t, "orders.internal.local", 30*time.Second, func(ips []string) bool { return len(ips) == 1 })
	if now := in.cloudMapTaskIPs("orders"); !slices.Equal(now, final) {
		t.Fatalf("after the restart DNS answers %v, the running task is %v", final, now)
	}

	// Deleting the service deregisters its tasks.
	in.mustAWS("ecs", "delete-service", "--service", "orders", "--force")
	in.mustAWS("ecs", "delete-service", "--service", "client", "--force")
	in.mustAWS("ecs", "wait", "services-inactive", "--services", "orders", "client")
	if ips, rcode, err := cloudMapA("orders.internal.local"); err != nil || len(ips) != 0 || rcode != dns.RcodeNameError {
		t.Fatalf("after delete-service: %v rcode %d %v", ips, rcode, err)
	}
	in.mustAWS("servicediscovery", "delete-service", "--id", srvID)
	in.mustAWS("servicediscovery", "delete-namespace", "--id", nsID)
}
