package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	stdruntime "runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/agent"
	"github.com/fargo-run/fargo/internal/auth"
	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/connlimit"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/discovery/dnsserver"
	"github.com/fargo-run/fargo/internal/ephemeral"
	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/logs"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/tenant"
)

// node is this host's share of the work: the agent that runs the tasks the
// control plane places here, with the network, images and runtime it runs
// them on, and the task metadata endpoint.
type node struct {
	id     string
	agent  *agent.Agent
	net    *network.Manager
	images *image.Store
	// storage makes tasks' filesystems (nil: not enforced).
	storage *ephemeral.Manager
	meta    *http.Server
	metaLn  *connlimit.Listener
	// dns is the DNS server tasks resolve through (nil: off).
	dns *dnsserver.Server
	log *slog.Logger
}

// nodeDeps are what the node is built from.
type nodeDeps struct {
	control *control.Control
	logs    *logs.Service
	tokens  *auth.TokenIssuer
	// registryHost is the host:port of fargo's own registry (known once
	// the listener is bound).
	registryHost func() string
}

// buildNode builds the local node and reconciles the host with what a
// previous run left (network state, mounts). It does not start tasks yet.
func (s *Server) buildNode(ctx context.Context, d nodeDeps) (*node, error) {
	dir := s.cfg.DataDir
	log := s.log.With("component", "agent")
	id, err := nodeID(filepath.Join(dir, "node-id"))
	if err != nil {
		return nil, err
	}
	ncfg := network.Config{StateDir: filepath.Join(dir, "network"), NamePrefix: s.cfg.NetworkPrefix, Logger: s.log.With("component", "network")}
	if s.cfg.TaskPool != "" {
		ncfg.Pool = netip.MustParsePrefix(s.cfg.TaskPool) // validated by config
	}
	if s.cfg.MetadataIP != "" {
		ncfg.MetadataIP = netip.MustParseAddr(s.cfg.MetadataIP)
	}
	if s.cfg.NetworkPrefix != "" {
		ncfg.TableName = "fargo_" + s.cfg.NetworkPrefix
	}
	netm, err := network.New(ncfg)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	if err := netm.Recover(ctx); err != nil {
		log.Warn("network recovery was incomplete", "err", err)
	}
	rt, err := runtime.New(runtime.Config{
		Root:           filepath.Join(dir, "runc"),
		StateDir:       filepath.Join(dir, "containers"),
		MonitorCommand: monitorCommand(),
		Logger:         s.log.With("component", "runtime"),
		Fault:          crashFault(s.opts.Getenv("FARGO_FAULT"), log),
	})
	if err != nil {
		_ = netm.Close()
		return nil, fmt.Errorf("runtime: %w", err)
	}
	isOwn := func(host string) bool { return s.isOwnRegistryHost(host, d.registryHost()) }
	pool := network.DefaultPool
	if ncfg.Pool.IsValid() {
		pool = ncfg.Pool
	}
	policy, err := newPullPolicy(s.cfg.AllowRegistries, isOwn,
		[]netip.Prefix{pool, netip.PrefixFrom(netm.MetadataIP(), 32)})
	if err != nil {
		_ = netm.Close()
		return nil, err
	}
	imgs, err := image.New(image.Config{
		Root:        filepath.Join(dir, "images"),
		Logger:      s.log.With("component", "images"),
		Credentials: registryCredentials(d.tokens, isOwn, tenant.Scope{}),
		Transport:   policy.transport(),
	})
	if err != nil {
		_ = netm.Close()
		return nil, fmt.Errorf("images: %w", err)
	}
	storage, err := s.openStorage(dir, log)
	if err != nil {
		_ = netm.Close()
		_ = imgs.Close()
		return nil, err
	}
	cpus := stdruntime.NumCPU()
	memMiB := hostMemoryMiB()
	metaIP := netm.MetadataIP()
	deps := agent.Deps{
		Control: d.control,
		Images: imagesAdapter{Store: imgs, registryHost: d.registryHost, policy: policy, log: log.With("component", "images"),
			creds: func(s tenant.Scope) image.Credentials { return registryCredentials(d.tokens, isOwn, s) }},
		Network: netm,
		Runtime: rt,
		Logs:    logSink{svc: d.logs},
		Sweeper: sweeper{rt: rt, images: imgs, net: netm, log: log},
	}
	if storage != nil {
		deps.Storage = storage
	}
	ag, err := agent.New(agent.Config{
		Node:             id,
		StateDir:         filepath.Join(dir, "agent"),
		CPU:              int(float64(cpus*1024) * s.cfg.CPUOvercommit),
		Memory:           int(float64(memMiB) * s.cfg.MemoryOvercommit),
		MaxTaskCPU:       cpus * 1024,
		MaxTaskMemory:    memMiB,
		KeepTasks:        s.cfg.KeepTasks,
		MetadataEndpoint: "http://" + metaIP.String() + "/v4",
		Nameservers:      s.dnsNameservers(netm),
		Logger:           log,
		ObserveStep:      s.fm.observeStep,
	}, deps)
	if err != nil {
		_ = netm.Close()
		_ = imgs.Close()
		if storage != nil {
			storage.Close()
		}
		return nil, err
	}
	n := &node{id: id, agent: ag, net: netm, images: imgs, storage: storage, log: log}
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(metaIP, 80).String())
	if err != nil {
		n.close()
		return nil, fmt.Errorf("task metadata endpoint on %s: %w", metaIP, err)
	}
	// A task is its IP: MaxPerClient bounds each task's connections.
	n.metaLn = connlimit.New(ln, connlimit.Config{Max: s.cfg.MetadataMaxConns, MaxPerClient: s.cfg.MetadataMaxConnsPerTask})
	n.meta = newHTTPServer(s.cfg, ag.MetadataHandler(), log)
	if n.dns, err = s.startDNS(netm, id, pool); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// run serves the metadata endpoint and runs the agent until ctx ends; the
// agent then stops its tasks (unless KeepTasks) before run returns.
func (n *node) run(ctx context.Context) error {
	go func() {
		if err := n.meta.Serve(n.metaLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("task metadata endpoint", "err", err)
		}
	}()
	go every(ctx, time.Hour, n.collectImages)
	err := n.agent.Run(ctx)
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = n.meta.Shutdown(shut)
	return err
}

// imageRetention is how long an image stays in the layer cache after its
// last pull; layers of containers on disk stay whatever their age.
const imageRetention = 24 * time.Hour

// collectImages forgets images not pulled for imageRetention and removes
// the layers nothing uses any more.
func (n *node) collectImages(ctx context.Context) {
	imgs, err := n.images.Images()
	if err != nil {
		n.log.Warn("image garbage collection", "err", err)
		return
	}
	recent := map[string]bool{}
	for _, img := range imgs {
		if time.Since(img.Pulled) < imageRetention {
			recent[img.Digest] = true
		}
	}
	res, err := n.images.GC(ctx, func(digest string) bool { return recent[digest] })
	if err != nil {
		n.log.Warn("image garbage collection", "err", err)
	} else if len(res.Images)+len(res.Layers) > 0 {
		n.log.Info("image garbage collection", "images", len(res.Images), "layers", len(res.Layers))
	}
}

// close releases what run does not: the network manager's and image
// store's handles (tasks, netns and mounts stay as they are).
func (n *node) close() {
	if n.metaLn != nil {
		_ = n.metaLn.Close()
	}
	if n.dns != nil {
		_ = n.dns.Close()
	}
	_ = n.net.Close()
	_ = n.images.Close()
	if n.storage != nil {
		n.storage.Close()
	}
}

// spareEphemeralStorage is how many filesystems of Fargate's default size
// are kept formatted ahead, so that a task's start takes one (a rename and
// a mount) instead of formatting its own.
const spareEphemeralStorage = 2

// openStorage starts bounding tasks' ephemeral storage as the
// ephemeral-storage setting says (nil: not bounded).
func (s *Server) openStorage(dir string, log *slog.Logger) (*ephemeral.Manager, error) {
	if s.cfg.EphemeralStorage == config.EphemeralOff {
		log.Warn("tasks' ephemeral storage is not bounded (ephemeral-storage=off): tasks write to the host's disk")
		return nil, nil
	}
	m, err := ephemeral.Open(ephemeral.Config{Dir: filepath.Join(dir, "ephemeral"), Spares: spareEphemeralStorage,
		SpareSize: 20 << 30, Logger: s.log.With("component", "ephemeral")})
	switch {
	case err == nil:
		return m, nil
	case s.cfg.EphemeralStorage == config.EphemeralEnforce:
		return nil, err
	default:
		log.Warn("tasks' ephemeral storage is not bounded on this host: tasks write to the host's disk (ephemeral-storage=enforce refuses to start so)", "err", err)
		return nil, nil
	}
}

// isOwnRegistryHost reports whether an image reference's registry host is
// fargo's own registry: its listener's port on a loopback name.
func (s *Server) isOwnRegistryHost(host, own string) bool {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		return false
	}
	_, ownPort, _ := net.SplitHostPort(own)
	if port != ownPort {
		return false
	}
	if isLocalhostName(h) {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// monitorCommand is the container monitor: fargo-monitor beside the fargo
// executable when it is there (make build puts it there: a small binary
// that costs each container about a third of the memory), else fargo
// itself with its runtime-monitor subcommand (nil: runtime's default).
func monitorCommand() []string {
	self, err := os.Executable()
	if err != nil {
		return nil
	}
	mon := filepath.Join(filepath.Dir(self), "fargo-monitor")
	if fi, err := os.Stat(mon); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return []string{mon}
	}
	return nil
}

// crashFault is the runtime's fault hook for FARGO_FAULT=runtime.start:STEP,
// which only the crash tests set (test/e2e): fargo kills itself (SIGKILL,
// as kill -9 would) at that step of the first container start that
// reaches it. The steps are runtime.Config.Fault's: mkdir, config, meta,
// commit, monitor, started. Anything else: no hook.
func crashFault(spec string, log *slog.Logger) func(string) error {
	step, ok := strings.CutPrefix(spec, "runtime.start:")
	if !ok || step == "" {
		return nil
	}
	log.Warn("FARGO_FAULT is set: fargo will kill itself in a container start (a test setting)", "step", step)
	return func(s string) error {
		if s == step {
			log.Warn("FARGO_FAULT: killing fargo", "step", s)
			_ = unix.Kill(os.Getpid(), unix.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	}
}

// nodeID reads this host's node id, creating it on first start: the id
// outlives restarts so the agent finds its tasks again.
func nodeID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := "node-" + hex.EncodeToString(raw[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return id, nil
}

// hostMemoryMiB is the host's physical memory.
func hostMemoryMiB() int {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 1024
	}
	return int(uint64(si.Totalram) * uint64(si.Unit) >> 20)
}
