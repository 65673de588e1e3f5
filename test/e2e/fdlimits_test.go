package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// fdTestLimit is the open-file limit the test gives fargo: low enough that
// the loads below would exhaust it without fargo's connection limits.
const fdTestLimit = 2048

// TestFDExhaustionIsolation is finding 2 of issue 17: from inside account
// A's task, thousands of idle keep-alive connections to the metadata
// endpoint, and from the host (another loopback address) hundreds of
// slow-body POSTs to the API. Meanwhile /healthz answers quickly, the API
// answers account B, B's task stays RUNNING, and fargo's open files stay
// bounded (its limit is lowered to fdTestLimit, so without the connection
// limits fargo runs out of them).
func TestFDExhaustionIsolation(t *testing.T) {
	awsCLI(t)
	in := newAgentInstanceEnv(t, "FARGO_DEV=1",
		"FARGO_METADATA_MAX_CONNS_PER_TASK=32", "FARGO_API_MAX_CONNS_PER_CLIENT=64")
	b := in.asAccount("222222222222")

	image := in.pushTaskImage("web")
	in.registerTaskDef("web", image, nil, nil)
	arnA := in.runTask("web")
	imageB := b.pushTaskImage("web")
	b.registerTaskDef("web", imageB, nil, nil)
	arnB := b.runTask("web")
	in.waitTaskStatus(arnA, "RUNNING", 90*time.Second)
	taskB := b.waitTaskStatus(arnB, "RUNNING", 90*time.Second)
	ipB := taskIP(t, taskB)
	waitHTTP(t, "http://"+ipB+":8080/", 10*time.Second)
	before := openFDs(t, in.cmd.Process.Pid)
	// Only the soft limit: the hard one bounds what runc may give the
	// containers.
	var lim unix.Rlimit
	if err := unix.Prlimit(in.cmd.Process.Pid, unix.RLIMIT_NOFILE, nil, &lim); err != nil {
		t.Fatal(err)
	}
	if err := unix.Prlimit(in.cmd.Process.Pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: fdTestLimit, Max: lim.Max}, nil); err != nil {
		t.Fatal(err)
	}

	// From A's netns: idle keep-alive connections to the metadata endpoint,
	// each after one request, as an SDK's pool leaves them.
	taskA := arnA[strings.LastIndex(arnA, "/")+1:]
	meta := openFromNetNS(t, filepath.Join("/run/netns", e2eNetPrefix+"-"+taskA), e2eMetadataIP+":80", 3000,
		"GET /v4/"+taskA+"/task HTTP/1.1\r\nHost: "+e2eMetadataIP+"\r\n\r\n")
	// From the host, another client address: POSTs that promise a body and
	// send a few bytes of it.
	slow := openSlowPOSTs(t, "127.0.0.2", in.listen, 600)
	t.Logf("metadata connections fargo kept: %d of 3000; slow POSTs sent: %d of 600; fargo's open files before the load: %d", meta, slow, before)

	// For 15 s: /healthz is quick, B's API answers, B's task runs.
	maxFDs := 0
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); {
		start := time.Now()
		c := &http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get("http://" + in.listen + "/healthz")
		if err != nil {
			t.Fatalf("/healthz under load: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || time.Since(start) > time.Second {
			t.Fatalf("/healthz under load: %s after %v", resp.Status, time.Since(start))
		}
		task := b.describeTask(arnB)
		if task["lastStatus"] != "RUNNING" || task["desiredStatus"] != "RUNNING" {
			t.Fatalf("account B's task is %v/%v under A's load: %v", task["lastStatus"], task["desiredStatus"], task)
		}
		if _, err := httpGet("http://" + ipB + ":8080/"); err != nil {
			t.Fatalf("account B's task under load: %v", err)
		}
		maxFDs = max(maxFDs, openFDs(t, in.cmd.Process.Pid))
		time.Sleep(time.Second)
	}
	t.Logf("fargo's open files under the load: at most %d", maxFDs)
	if bound := before + 32 + 64 + 100; maxFDs > bound {
		t.Fatalf("fargo holds %d open files under the load, want at most %d (%d before it)", maxFDs, bound, before)
	}
	if task := b.describeTask(arnB); task["lastStatus"] != "RUNNING" {
		t.Fatalf("account B's task after the load: %v", task)
	}

	// /metrics (finding 14) showed it: the refused connections, the
	// tasks, the agent's steps; and nothing of either account.
	metrics, err := httpGet("http://" + in.listen + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`fargo_tasks{last_status="RUNNING"} 2`,
		`fargo_connections_open{listener="metadata"}`,
		`fargo_agent_step_duration_seconds_count{step="start"} 2`,
		`fargo_agent_step_duration_seconds_count{step="pull"} 2`,
		`fargo_agent_step_duration_seconds_count{step="network"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, re := range []string{`fargo_connections_refused_total\{listener="metadata"\} [1-9]`, `fargo_connections_refused_total\{listener="api"\} [1-9]`} {
		if !regexp.MustCompile(re).MatchString(metrics) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
	for _, secret := range []string{"000000000000", "222222222222", "arn:", taskA, arnB[strings.LastIndex(arnB, "/")+1:], ipB} {
		if strings.Contains(metrics, secret) {
			t.Errorf("/metrics shows %q", secret)
		}
	}
}

// newAgentInstanceEnv is newAgentInstance with extra environment.
func newAgentInstanceEnv(t *testing.T, env ...string) *instance {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running tasks needs root (runc, netns, cgroups)")
	}
	in := newInstance(t, append([]string{"FARGO_NO_AGENT=0"}, env...)...)
	t.Cleanup(func() {
		in.stop()
		in.checkNoLeftovers()
	})
	in.start()
	return in
}

// asAccount is a view of a dev-mode instance whose AWS CLI profile "fargo"
// acts for another account (dev mode's <account>/test keys).
func (in *instance) asAccount(account string) *instance {
	t := in.t
	dir := t.TempDir()
	conf, err := os.ReadFile(filepath.Join(in.home, ".aws", "config"))
	if err != nil {
		t.Fatal(err)
	}
	creds := fmt.Sprintf("[fargo]\naws_access_key_id = %s\naws_secret_access_key = test\n", account)
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), conf, 0o600); err != nil {
		t.Fatal(err)
	}
	b := &instance{t: t, dataDir: in.dataDir, home: dir, listen: in.listen, cmd: in.cmd, out: in.out}
	b.env = append(filterEnv(in.env, "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"),
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"))
	return b
}

// openFDs counts a process's open files.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// openFromNetNS opens n connections to addr from the network namespace at
// nsPath, sends req on each and reads the answer's head (when the server
// keeps the connection), and leaves them open until the test ends. It
// returns how many the server kept open.
func openFromNetNS(t *testing.T, nsPath, addr string, n int, req string) int {
	t.Helper()
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	conns := make(chan []net.Conn, 1)
	go func() {
		// Sockets belong to the netns of the thread that creates them.
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		var cs []net.Conn
		if err := netns.Set(ns); err != nil {
			t.Error(err)
			conns <- cs
			return
		}
		for range n {
			c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
			if err != nil {
				continue
			}
			cs = append(cs, c)
		}
		conns <- cs
	}()
	cs := <-conns
	t.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
	})
	var kept atomic.Int64
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Write([]byte(req)); err != nil {
				return
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil && strings.HasPrefix(line, "HTTP/1.1 ") {
				kept.Add(1)
			}
			_ = c.SetDeadline(time.Time{})
		})
	}
	wg.Wait()
	return int(kept.Load())
}

// openSlowPOSTs opens n connections from the local address src to addr,
// each sending a POST's head that promises 1 MB and 10 bytes of it.
func openSlowPOSTs(t *testing.T, src, addr string, n int) int {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	head := "POST / HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/x-amz-json-1.1\r\n" +
		"X-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\nContent-Length: 1000000\r\n\r\n{\"a\":\"bbbb"
	var cs []net.Conn
	t.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
	})
	sent := 0
	for range n {
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			continue
		}
		cs = append(cs, c)
		if _, err := c.Write([]byte(head)); err == nil {
			sent++
		}
	}
	return sent
}
