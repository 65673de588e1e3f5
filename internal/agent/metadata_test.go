package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/store/bolt"
)

var (
	mdStarted  = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	mdFinished = mdStarted.Add(90 * time.Second)
)

// timedRuntime adds what the metadata endpoint reads to the fake runtime:
// container times, cgroup statistics and block I/O.
type timedRuntime struct{ *fakeRuntime }

func (m timedRuntime) State(_ context.Context, id string) (runtime.State, error) {
	st := runtime.State{ID: id, Status: runtime.StatusRunning, CreatedAt: mdStarted.Add(-200 * time.Millisecond), StartedAt: mdStarted}
	if id[len(id)-len("side"):] == "side" {
		st.Status, st.ExitCode, st.FinishedAt = runtime.StatusStopped, 0, mdFinished
	}
	return st, nil
}

func (m timedRuntime) Stats(context.Context, string) (runtime.Stats, error) {
	return runtime.Stats{Read: time.Now(), MemoryUsage: 5 << 20, MemoryLimit: 512 << 20, PIDs: 3}, nil
}

func (m timedRuntime) BlkioStats(context.Context, string) (runtime.BlkioStats, error) {
	return runtime.BlkioStats{ServiceBytes: []runtime.BlkioEntry{{Major: 8, Op: "Read", Value: 4096}, {Major: 8, Op: "Write", Value: 8192}},
		Serviced: []runtime.BlkioEntry{{Major: 8, Op: "Read", Value: 1}}}, nil
}

// countingNetwork counts 1000 bytes in and 500 out on eth0 between reads.
type countingNetwork struct {
	*fakeNetwork
	mu    sync.Mutex
	reads uint64
}

func (m *countingNetwork) LinkStats(_ context.Context, netnsPath string) (map[string]network.LinkCounts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	return map[string]network.LinkCounts{"eth0": {RxBytes: 1000 * m.reads, RxPackets: 10 * m.reads, TxBytes: 500 * m.reads, TxPackets: 5 * m.reads}}, nil
}

// sizedImages says each container wrote 3 MiB, counting the asks in
// walks when set.
type sizedImages struct {
	*fakeImages
	walks *atomic.Int32
}

func (s sizedImages) DiskUsage(context.Context, string) (int64, error) {
	if s.walks != nil {
		s.walks.Add(1)
	}
	return 3 << 20, nil
}

// metadataRunner is a running task's runner as the endpoint sees it: a
// Fargate awsvpc task of two containers, run with container overrides.
func metadataRunner(t *testing.T) (*Agent, *runner, *control.Task) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctl := control.New(control.Config{}, st)
	ctx := context.Background()
	if err := ctl.RegisterNode(ctx, control.Node{ID: "local", CPU: 4096, Memory: 8192, MaxTaskCPU: 4096, MaxTaskMemory: 8192}); err != nil {
		t.Fatal(err)
	}
	port, mem := 8080, 256
	td, err := ctl.RegisterTaskDefinition(ctx, scope, &control.TaskDefinition{Family: "md", NetworkMode: "awsvpc",
		RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512", ContainerDefinitions: []control.ContainerDefinition{
			{Name: "app", Image: "app", Cpu: 128, Memory: &mem, PortMappings: []control.PortMapping{{ContainerPort: &port}}},
			{Name: "side", Image: "app", Cpu: 64, Memory: &mem},
		}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	appCPU, appMem := 200, 300
	res, err := ctl.RunTask(ctx, scope, control.RunTaskInput{TaskDefinition: td.TaskDefinitionArn, LaunchType: "FARGATE",
		NetworkConfiguration: &control.NetworkConfiguration{Subnets: []string{"subnet-1"}},
		Overrides: &control.TaskOverride{Cpu: "512", Memory: "1024",
			ContainerOverrides: []control.ContainerOverride{{Name: "app", Cpu: &appCPU, Memory: &appMem}}}})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("RunTask: %+v, %v", res, err)
	}
	task := res.Tasks[0]
	task.LastStatus, task.PullStartedAt, task.PullStoppedAt = control.TaskRunning, mdStarted.Add(-time.Second), mdStarted
	task.ExecutionStoppedAt = mdFinished
	a, err := New(Config{Node: "local", StateDir: t.TempDir(), MetadataEndpoint: "http://169.254.170.2/v4"},
		Deps{Control: ctl, Runtime: timedRuntime{newFakeRuntime()}, Network: &countingNetwork{fakeNetwork: &fakeNetwork{up: map[string]*network.Attachment{}}},
			Images: sizedImages{fakeImages: &fakeImages{}}, Storage: &fakeStorage{used: 6 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(a, control.TaskRef{Scope: scope, Cluster: task.Cluster, ID: task.ID}, task)
	r.h.storage.bounded.Store(true) // the task has its filesystem (6 MiB used)
	r.td = td
	r.h.network.att = &network.Attachment{NetNSPath: "/run/netns/x", IP: netip.MustParseAddr("10.0.0.7"), Prefix: netip.MustParsePrefix("10.0.0.0/24"),
		Gateway: netip.MustParseAddr("10.0.0.1"), MAC: "0a:00:00:00:00:07", SubnetID: "subnet-1", PrivateDNSName: "ip-10-0-0-7.ec2.internal"}
	a.meta.add(r, r.h.network.att.IP.String())
	return a, r, task
}

func getMetadata(t *testing.T, a *Agent, path string, out any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = "10.0.0.7:40000"
	w := httptest.NewRecorder()
	a.MetadataHandler().ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, w.Body)
	}
}

// TestMetadataTask: /task shows the task's and each container's real
// values: sizes as overridden, ports, the runtime's start and finish times,
// the network, ephemeral storage; Errors only when there are some.
func TestMetadataTask(t *testing.T) {
	a, _, task := metadataRunner(t)
	base := "/v4/" + metadataID(task.ID, "app")
	var md map[string]any
	getMetadata(t, a, base+"/task", &md)

	if md["ExecutionStoppedAt"] != mdFinished.Format(time.RFC3339) || md["PullStoppedAt"] != mdStarted.Format(time.RFC3339) {
		t.Errorf("ExecutionStoppedAt %v PullStoppedAt %v", md["ExecutionStoppedAt"], md["PullStoppedAt"])
	}
	if cpu, mem := jsonAt(md, "Limits", "CPU"), jsonAt(md, "Limits", "Memory"); cpu != 0.5 || mem != 1024.0 {
		t.Errorf("task Limits %v/%v, want the overrides' 0.5 vCPU / 1024 MiB", cpu, mem)
	}
	if es := jsonAt(md, "EphemeralStorageMetrics"); jsonAt(es, "Utilized") != 6.0 || jsonAt(es, "Reserved") != 20480.0 {
		t.Errorf("EphemeralStorageMetrics %v, want 6 MiB written of 20480 reserved", es)
	}
	if _, ok := md["Errors"]; ok {
		t.Errorf("Errors present without errors: %v", md["Errors"])
	}
	containers, _ := md["Containers"].([]any)
	if len(containers) != 2 {
		t.Fatalf("Containers %v", md["Containers"])
	}
	byName := map[string]any{}
	for _, c := range containers {
		byName[jsonAt(c, "Name").(string)] = c
	}
	app, side := byName["app"], byName["side"]
	if cpu, mem := jsonAt(app, "Limits", "CPU"), jsonAt(app, "Limits", "Memory"); cpu != 200.0 || mem != 300.0 {
		t.Errorf("app Limits %v/%v, want the container override's 200/300", cpu, mem)
	}
	if cpu, mem := jsonAt(side, "Limits", "CPU"), jsonAt(side, "Limits", "Memory"); cpu != 64.0 || mem != 256.0 {
		t.Errorf("side Limits %v/%v, want the definition's 64/256", cpu, mem)
	}
	if p := jsonAt(app, "Ports", 0); jsonAt(p, "ContainerPort") != 8080.0 || jsonAt(p, "HostPort") != 8080.0 || jsonAt(p, "Protocol") != "tcp" {
		t.Errorf("app Ports %v, want 8080/tcp on 8080", jsonAt(app, "Ports"))
	}
	if jsonAt(side, "Ports") != nil {
		t.Errorf("side has no port mappings, Ports %v", jsonAt(side, "Ports"))
	}
	if jsonAt(app, "CreatedAt") != mdStarted.Add(-200*time.Millisecond).Format(time.RFC3339Nano) {
		t.Errorf("app CreatedAt %v, want the runtime's record", jsonAt(app, "CreatedAt"))
	}
	if jsonAt(app, "StartedAt") != mdStarted.Format(time.RFC3339) || jsonAt(app, "FinishedAt") != nil {
		t.Errorf("app StartedAt %v FinishedAt %v, want the runtime's start and none", jsonAt(app, "StartedAt"), jsonAt(app, "FinishedAt"))
	}
	if jsonAt(side, "FinishedAt") != mdFinished.Format(time.RFC3339) {
		t.Errorf("side FinishedAt %v, want the runtime's", jsonAt(side, "FinishedAt"))
	}
	if rc, ok := app.(map[string]any)["RestartCount"]; !ok || rc != 0.0 {
		t.Errorf("RestartCount %v (present %v), want 0", rc, ok)
	}
	n := jsonAt(app, "Networks", 0)
	for k, want := range map[string]any{"NetworkMode": "awsvpc", "AttachmentIndex": 0.0, "MACAddress": "0a:00:00:00:00:07",
		"IPv4SubnetCIDRBlock": "10.0.0.0/24", "PrivateDNSName": "ip-10-0-0-7.ec2.internal", "SubnetGatewayIpv4Address": "10.0.0.1/24"} {
		if got := jsonAt(n, k); got != want {
			t.Errorf("Networks[0].%s = %v, want %v", k, got, want)
		}
	}
	if jsonAt(n, "IPv4Addresses", 0) != "10.0.0.7" {
		t.Errorf("Networks[0].IPv4Addresses %v", jsonAt(n, "IPv4Addresses"))
	}

	// The container's own endpoint is the same record.
	var c map[string]any
	getMetadata(t, a, base, &c)
	if c["Name"] != "app" || jsonAt(c, "Limits", "CPU") != 200.0 || jsonAt(c, "Ports", 0, "ContainerPort") != 8080.0 {
		t.Errorf("container metadata %v", c)
	}
}

// TestMetadataStats: /stats carries the cgroup's block I/O and the task
// namespace's interface counters, and from the second read on the rate
// between reads.
func TestMetadataStats(t *testing.T) {
	a, _, task := metadataRunner(t)
	base := "/v4/" + metadataID(task.ID, "app")
	var st map[string]any
	getMetadata(t, a, base+"/stats", &st)
	if got := jsonAt(st, "blkio_stats", "io_service_bytes_recursive", 1); jsonAt(got, "op") != "Write" || jsonAt(got, "value") != 8192.0 {
		t.Errorf("blkio io_service_bytes_recursive %v", jsonAt(st, "blkio_stats", "io_service_bytes_recursive"))
	}
	if l, ok := jsonAt(st, "blkio_stats", "io_queue_recursive").([]any); !ok || len(l) != 0 {
		t.Errorf("io_queue_recursive %v, want an empty list", jsonAt(st, "blkio_stats", "io_queue_recursive"))
	}
	if rx := jsonAt(st, "networks", "eth0", "rx_bytes"); rx != 1000.0 {
		t.Errorf("networks.eth0.rx_bytes %v, want 1000", rx)
	}
	if st["network_rate_stats"] != nil {
		t.Errorf("a first read has a rate: %v", st["network_rate_stats"])
	}
	time.Sleep(20 * time.Millisecond)
	getMetadata(t, a, base+"/stats", &st)
	if rx, _ := jsonAt(st, "network_rate_stats", "rx_bytes_per_sec").(float64); rx <= 0 {
		t.Errorf("network_rate_stats %v, want a positive rate", st["network_rate_stats"])
	}
	if st["preread"] == "0001-01-01T00:00:00Z" {
		t.Errorf("second read has no preread")
	}
	// /task/stats: one entry per container, keyed by container id.
	var all map[string]any
	getMetadata(t, a, base+"/task/stats", &all)
	if len(all) != 2 || jsonAt(all, runtime.ContainerID(task.ID, "side"), "networks", "eth0") == nil {
		t.Errorf("task stats %v", all)
	}
}

// jsonAt digs into decoded JSON.
func jsonAt(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// TestMetadataHealth: a container's Health shows the last check's exit
// code and output, and since when its status holds.
func TestMetadataHealth(t *testing.T) {
	a, r, task := metadataRunner(t)
	r.mu.Lock()
	for i := range r.task.Containers {
		if r.task.Containers[i].Name == "app" {
			r.task.Containers[i].HealthStatus = healthUnhealthy
		}
	}
	r.mu.Unlock()
	r.recordHealth("app", healthHealthy, 0, []byte("ok"), true)
	healthy, _ := r.healthOf("app")
	time.Sleep(time.Millisecond)
	r.recordHealth("app", healthUnhealthy, 7, []byte("connection refused"), true)
	first, _ := r.healthOf("app")
	if !first.Since.After(*healthy.Since) {
		t.Fatalf("statusSince %v did not move when HEALTHY (%v) turned UNHEALTHY", first.Since, healthy.Since)
	}
	r.recordHealth("app", healthUnhealthy, 7, []byte("connection refused again"), false)

	var md map[string]any
	getMetadata(t, a, "/v4/"+metadataID(task.ID, "app"), &md)
	h := jsonAt(md, "Health")
	if jsonAt(h, "status") != healthUnhealthy || jsonAt(h, "exitCode") != 7.0 || jsonAt(h, "output") != "connection refused again" {
		t.Fatalf("Health %v", h)
	}
	if jsonAt(h, "statusSince") != first.Since.Format(time.RFC3339Nano) {
		t.Errorf("statusSince %v, want the time the status turned UNHEALTHY, %v", jsonAt(h, "statusSince"), first.Since)
	}
	var side map[string]any
	getMetadata(t, a, "/v4/"+metadataID(task.ID, "side"), &side)
	if h := jsonAt(side, "Health"); h != nil {
		t.Errorf("side has no health check, Health %v", h)
	}
}

// TestMetadataEphemeralStorageCached: what the containers wrote is
// measured (a walk of their upper dirs) once per ephemeralUsageTTL
// however often, and however concurrently, the task asks.
func TestMetadataEphemeralStorageCached(t *testing.T) {
	a, r, task := metadataRunner(t)
	var walks atomic.Int32 // DiskUsage calls: one per container per measurement
	a.deps.Images = sizedImages{fakeImages: &fakeImages{}, walks: &walks}
	a.deps.Storage = nil
	r.h.storage.bounded.Store(false)
	path := "/v4/" + metadataID(task.ID, "app") + "/task"
	ask := func(n int) {
		t.Helper()
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.RemoteAddr = "10.0.0.7:40000"
				w := httptest.NewRecorder()
				a.MetadataHandler().ServeHTTP(w, req)
				codes[i] = w.Code
			})
		}
		wg.Wait()
		for _, c := range codes {
			if c != http.StatusOK {
				t.Fatalf("GET %s: %d", path, c)
			}
		}
	}
	ask(1)
	ask(1)
	if n := walks.Load(); n != 2 {
		t.Errorf("two requests within %s measured %d containers, want 2 (one measurement)", ephemeralUsageTTL, n)
	}
	// Once the measurement is old, the next requests measure once again,
	// together.
	r.h.metadata.ephemeral.mu.Lock()
	r.h.metadata.ephemeral.at = r.h.metadata.ephemeral.at.Add(-ephemeralUsageTTL)
	r.h.metadata.ephemeral.mu.Unlock()
	ask(8)
	if n := walks.Load(); n != 4 {
		t.Errorf("8 concurrent requests after %s measured %d containers in all, want 4", ephemeralUsageTTL, n)
	}
	var md map[string]any
	getMetadata(t, a, path, &md)
	if es := jsonAt(md, "EphemeralStorageMetrics"); jsonAt(es, "Utilized") != 6.0 {
		t.Errorf("EphemeralStorageMetrics %v, want 6 MiB from the cache", es)
	}
}
