package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestCloudMapDNSAccounts: two accounts each have a private DNS namespace
// of the same name with a service of the same name; a task of each
// resolves the name to its own account's instance, and another account's
// namespace does not resolve at all (the query is forwarded, as for any
// name outside the account's zones).
func TestCloudMapDNSAccounts(t *testing.T) {
	in := newAgentInstance(t, "FARGO_DEV=1", "FARGO_DNS_UPSTREAMS=127.0.0.1:9")
	const acctA, acctB = "000000000000", "111111111111"
	b := in.asAccount(acctB)
	images := map[string]string{acctA: in.pushTaskImage("cm"), acctB: b.pushTaskImage("cm")}
	ips := map[string]string{acctA: "10.1.1.1", acctB: "10.2.2.2"}
	taskIPs := map[string]string{}
	for _, acct := range []string{acctA, acctB} {
		for _, ns := range []string{"shared.local", "only-" + acct + ".local"} {
			op := in.mustAWSAs(acct, "servicediscovery", "create-private-dns-namespace", "--name", ns, "--vpc", "vpc-1")
			got := in.mustAWSAs(acct, "servicediscovery", "get-operation", "--operation-id", op["OperationId"].(string))
			nsID := path(got, "Operation", "Targets", "NAMESPACE").(string)
			svc := in.mustAWSAs(acct, "servicediscovery", "create-service", "--name", "web", "--namespace-id", nsID,
				"--dns-config", "RoutingPolicy=MULTIVALUE,DnsRecords=[{Type=A,TTL=5}]")
			in.mustAWSAs(acct, "servicediscovery", "register-instance", "--service-id", path(svc, "Service", "Id").(string),
				"--instance-id", "i1", "--attributes", "AWS_INSTANCE_IPV4="+ips[acct])
		}
		arn := in.runImageAs(acct, "dnsclient", images[acct])
		taskIPs[acct] = taskIP(t, in.waitStatusAs(acct, arn, "RUNNING", 120*time.Second))
	}
	resolve := func(acct, name string) string {
		body, err := httpGet("http://" + taskIPs[acct] + ":8080/resolve?name=" + name)
		if err != nil {
			return "error: " + strings.TrimSpace(body)
		}
		return strings.TrimSpace(body)
	}
	waitHTTP(t, "http://"+taskIPs[acctA]+":8080/", 10*time.Second)
	waitHTTP(t, "http://"+taskIPs[acctB]+":8080/", 10*time.Second)
	for _, acct := range []string{acctA, acctB} {
		if got := resolve(acct, "web.shared.local"); got != ips[acct] {
			t.Errorf("account %s's task: web.shared.local is %q, want %s", acct, got, ips[acct])
		}
		if got := resolve(acct, "web.only-"+acct+".local"); got != ips[acct] {
			t.Errorf("account %s's task: its own only-namespace answers %q", acct, got)
		}
	}
	for acct, other := range map[string]string{acctA: acctB, acctB: acctA} {
		if got := resolve(acct, "web.only-"+other+".local"); !strings.HasPrefix(got, "error") {
			t.Errorf("account %s's task resolved account %s's namespace: %q", acct, other, got)
		}
	}
}
