// Package server is the composition root of fargo's control plane: it opens
// the store, loads the keys, builds the domain services and the API router,
// and runs the one listener until its context ends. Only cmd (through
// internal/cli) and tests import it.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fargo-run/fargo/internal/api"
	"github.com/fargo-run/fargo/internal/api/sigv4"
	"github.com/fargo-run/fargo/internal/auth"
	"github.com/fargo-run/fargo/internal/autoscaling"
	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/connlimit"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/deploy"
	"github.com/fargo-run/fargo/internal/discovery"
	"github.com/fargo-run/fargo/internal/elbv2"
	"github.com/fargo-run/fargo/internal/hostlock"
	"github.com/fargo-run/fargo/internal/lb"
	"github.com/fargo-run/fargo/internal/logs"
	cwmetrics "github.com/fargo-run/fargo/internal/metrics"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/registry/distribution"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Options are the server's process-level dependencies.
type Options struct {
	// Logger is the structured log (nil: discard).
	Logger *slog.Logger
	// Getenv reads the environment (for the AWS CLI profile paths).
	Getenv func(string) string
	// Banner receives the human-readable "how to use me" text (nil: none).
	Banner io.Writer
}

// Server is a running-to-be fargo control plane.
type Server struct {
	cfg    config.Server
	opts   Options
	log    *slog.Logger
	st     *bolt.Store
	keys   *auth.Keyring
	admin  auth.Key
	fresh  bool // the admin key was created by this start
	router *api.Router
	ln     net.Listener
	apiLn  *connlimit.Listener // ln within the connection limits
	images *registry.Registry
	tokens *auth.TokenIssuer
	ctl    *control.Control
	// discovery is Cloud Map; its DNS server runs with the node.
	discovery *discovery.Directory
	// logsStore holds the Logs service's groups, streams and events.
	logsStore *bolt.Store
	// elb is the ELBv2 control plane (elbv2.go).
	elb *elbv2.Service
	// lbs is the load balancers' data plane (nil without a node).
	lbs *lb.Manager
	// metricData holds CloudWatch's metric data; metrics is CloudWatch.
	metricData *cwmetrics.Data
	metrics    *cwmetrics.Service
	// logsMetrics publishes AWS/Logs from what the Logs service stores.
	logsMetrics *cwmetrics.LogsPublisher
	// scaling is Application Auto Scaling.
	scaling *autoscaling.Service
	node    *node // nil with NoAgent
	// locks are the data directory's and the network prefix's (see
	// lockInstance), held until Close.
	locks []*hostlock.Lock
	fm    *fargoMetrics
}

// New opens the data directory and builds the server; it does not listen
// yet. Callers must call Run (or Close).
func New(ctx context.Context, cfg config.Server, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	raiseFileLimit(cfg, opts.Logger)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	locks, err := lockInstance(cfg)
	if err != nil {
		return nil, err
	}
	fm := newFargoMetrics()
	st, err := bolt.Open(filepath.Join(cfg.DataDir, "fargo.db"), bolt.Options{Logger: opts.Logger, ObserveWrite: fm.observeWrite("control")})
	if err != nil {
		releaseAll(locks)
		return nil, fmt.Errorf("open store in %s: %w", cfg.DataDir, err)
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.Logger, st: st, locks: locks, fm: fm}
	if err := s.build(ctx); err != nil {
		_ = s.Close() // what build opened, and the store
		return nil, err
	}
	return s, nil
}

func (s *Server) build(ctx context.Context) error {
	keys, err := auth.Open(ctx, s.st, auth.Options{
		Dev: s.cfg.Dev, DevAccount: s.cfg.AccountID, DevSecret: config.DevSecretAccessKey,
		KeyFile: filepath.Join(s.cfg.DataDir, auth.KeyFileName), Logger: s.log.With("component", "auth"),
	})
	if err != nil {
		return err
	}
	admin, fresh, err := keys.EnsureAdmin(ctx, s.cfg.AccountID)
	if err != nil {
		return err
	}
	s.keys, s.admin, s.fresh = keys, admin, fresh

	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return err
	}
	metrics, err := api.NewMetrics(reg)
	if err != nil {
		return err
	}
	tokens, err := auth.NewTokenIssuer(ctx, s.st, nil)
	if err != nil {
		return err
	}
	images, err := registry.New(registry.Config{
		DataDir:      filepath.Join(s.cfg.DataDir, "registry"),
		DefaultScope: tenant.Scope{Account: s.cfg.AccountID, Region: s.cfg.Region},
	}, s.st, s.log.With("component", "registry"))
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	v2, err := distribution.New(images, distribution.Config{Auth: registryAuth{tokens: tokens}, Logger: s.log.With("component", "registry")})
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	ctl := control.New(control.Config{Logger: s.log, AllowHostAccess: s.cfg.AllowHostAccess}, s.st)
	// Log events live in a store of their own: a chatty task's output must
	// not slow the control plane's transactions or wake its watchers.
	logsStore, err := bolt.Open(filepath.Join(s.cfg.DataDir, "logs.db"), bolt.Options{Logger: s.log, WatchHistory: 16, ObserveWrite: s.fm.observeWrite("logs")})
	if err != nil {
		return fmt.Errorf("open the logs store in %s: %w", s.cfg.DataDir, err)
	}
	s.logsStore = logsStore
	period := s.cfg.MetricsPeriod
	if period == 0 {
		period = time.Minute
	}
	// Metric data lives in a file of its own (see internal/metrics).
	metricData, err := cwmetrics.OpenData(filepath.Join(s.cfg.DataDir, "metrics.db"), period < time.Minute)
	if err != nil {
		return err
	}
	s.metricData = metricData
	s.metrics = cwmetrics.New(cwmetrics.Config{Period: period, Logger: s.log.With("component", "cloudwatch")}, metricData, s.st)
	s.logsMetrics = cwmetrics.NewLogsPublisher(s.metrics)
	logsSvc := logs.New(logs.Config{Logger: s.log.With("component", "logs"), Observe: s.logsMetrics.Observe}, logsStore)
	dir := discovery.New(discovery.Config{Logger: s.log.With("component", "discovery")}, s.st)
	if err := dir.Load(ctx); err != nil {
		return fmt.Errorf("service discovery: %w", err)
	}
	s.discovery = dir
	elb, err := s.buildELBv2(ctl)
	if err != nil {
		return err
	}
	// Application Auto Scaling acts on services through control and on
	// alarms through CloudWatch, whose alarm actions it carries out.
	s.scaling = autoscaling.New(autoscaling.Config{Period: period, Logger: s.log.With("component", "autoscaling")},
		s.st, autoscaling.ControlECS{Control: ctl}, s.metrics)
	s.metrics.SetActionSink(s.scaling)
	jsonSvcs, querySvcs := services(deps{
		control: ctl, registry: images, tokens: tokens, store: s.st, logs: logsSvc, elbv2: elb, discovery: dir, metrics: s.metrics,
		scaling: s.scaling, log: s.log, cfg: s.cfg,
		registryHost: s.registryHost,
	})
	s.router = api.NewRouter(api.Config{
		MaxBodyBytes: s.cfg.MaxBodyBytes,
		Verifier:     &sigv4.Verifier{Credentials: keys},
		Logger:       s.log,
		Registry:     s.fm.registry(v2),
		Metrics:      promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, metrics, jsonSvcs, querySvcs)
	s.images, s.tokens, s.ctl = images, tokens, ctl
	// ECS checks loadBalancers against ELBv2 and serviceRegistries against
	// Cloud Map, and registers service tasks in both (before the agent
	// starts tasks).
	ctl.SetRegistries(dir)
	ctl.SetRegistrars(elb, dir.Registrar(s.hostAddr()))
	s.reconcileDiscovery(ctx) // before the DNS server answers: no stale records
	if !s.cfg.NoAgent && os.Geteuid() != 0 {
		// Running tasks needs root (runc, netns, cgroups); the API and the
		// registry do not. Say so instead of failing the whole server.
		s.log.Warn("not running as root: this host will run no tasks (RunTask places nothing); run fargo as root to run tasks, or pass --no-agent to silence this")
	} else if !s.cfg.NoAgent {
		n, err := s.buildNode(ctx, nodeDeps{control: ctl, logs: logsSvc, tokens: tokens, registryHost: s.registryHost})
		if err != nil {
			return fmt.Errorf("this host's agent (run with --no-agent for the control plane alone): %w", err)
		}
		s.node = n
	}
	if err := s.startELBv2(ctx); err != nil {
		return err
	}
	s.SetDNSExtraNames(s.elb) // load balancers' DNS names resolve beside Cloud Map's
	return s.fm.register(reg, s)
}

// Listen binds the listener (Run calls it when needed). Tests listen on
// port 0 and read Addr.
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.ln = ln
	s.apiLn = connlimit.New(ln, connlimit.Config{Max: s.cfg.APIMaxConns, MaxPerClient: s.cfg.APIMaxConnsPerClient})
	return nil
}

// Addr is the listener's address (after Listen).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Endpoint is the URL clients use: the listener's address, with an
// unspecified host replaced by loopback.
func (s *Server) Endpoint() string {
	host, port, _ := net.SplitHostPort(s.Addr())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// registryHost is the host:port of the registry in repository URIs: the
// listener's address, with loopback spelled "localhost" (docker allows
// plain HTTP to it).
func (s *Server) registryHost() string {
	if s.ln == nil {
		return s.cfg.Listen
	}
	_, port, _ := net.SplitHostPort(s.Addr())
	return net.JoinHostPort("localhost", port)
}

// Handler is the server's http.Handler (for in-process tests).
func (s *Server) Handler() http.Handler { return s.router }

// AdminKey is the administrator key pair.
func (s *Server) AdminKey() auth.Key { return s.admin }

// Run serves until ctx ends, then shuts down gracefully and closes the
// store. It always closes the server.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	if err := s.Listen(); err != nil {
		return err
	}
	if err := s.announce(); err != nil {
		return err
	}
	hs := newHTTPServer(s.cfg, s.router, s.log)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(s.apiLn) }()
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { every(bg, 5*time.Minute, s.purgeStoppedTasks) })
	wg.Go(func() { s.images.RunLifecycle(bg, 0) }) // hourly, as ECR evaluates them
	wg.Go(func() { every(bg, time.Hour, s.collectGarbage) })
	wg.Go(func() { every(bg, 5*time.Second, s.reconcileDiscovery) })
	wg.Go(func() { every(bg, time.Hour, s.purgeOperations) })
	healthyAfter := s.cfg.HealthyAfter
	if healthyAfter == 0 {
		healthyAfter = -1 // deploy.Config: 0 is its default, negative is no wait
	}
	svcCtl := deploy.New(deploy.Config{Logger: s.log.With("component", "deploy"), MinHealthyTime: healthyAfter, TargetHealth: s.elb}, s.ctl)
	wg.Go(func() {
		if err := svcCtl.Run(bg); err != nil {
			s.log.Error("service controller stopped", "err", err)
		}
	})
	wg.Go(func() { s.metrics.Run(bg) })
	wg.Go(func() { s.logsMetrics.Run(bg) })
	wg.Go(func() { s.scaling.Run(bg) })
	if s.node != nil {
		pub := cwmetrics.NewECSPublisher(s.metrics, agentUsage{s.node.agent})
		wg.Go(func() { pub.Run(bg) })
		wg.Go(func() {
			if err := s.node.run(bg); err != nil {
				s.log.Error("agent stopped", "err", err)
			}
		})
	}
	// Once the listener stops, the agent stops the tasks (unless
	// KeepTasks) and the store closes only after it is done.
	defer func() {
		stopBG()
		wg.Wait()
	}()
	s.router.SetReady(true)
	s.log.Info("fargo ready", "endpoint", s.Endpoint(), "account", s.cfg.AccountID, "region", s.cfg.Region, "dev", s.cfg.Dev, "data_dir", s.cfg.DataDir)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.router.SetReady(false)
	s.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("shutdown", "err", err)
	}
	return nil
}

// Close releases the store, the listener and the node's handles.
func (s *Server) Close() error {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	// The load balancers stop listening before their addresses go with
	// the node's network.
	if s.elb != nil {
		s.elb.Close()
	}
	if s.lbs != nil {
		_ = s.lbs.Close()
	}
	if s.node != nil {
		s.node.close()
	}
	if s.logsStore != nil {
		_ = s.logsStore.Close()
	}
	if s.metricData != nil {
		_ = s.metricData.Close()
	}
	err := s.st.Close()
	releaseAll(s.locks)
	return err
}

// every runs fn every interval until ctx ends (the server's housekeeping:
// purging stopped tasks, collecting the registry's garbage).
func every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// collectGarbage removes unreferenced blobs and abandoned uploads from the
// registry's storage.
func (s *Server) collectGarbage(ctx context.Context) {
	if _, err := s.images.CollectGarbage(ctx); err != nil {
		s.log.Warn("registry garbage collection", "err", err)
	}
}

// purgeStoppedTasks forgets stopped tasks once they are past their
// retention (AWS keeps them describable for at least an hour).
func (s *Server) purgeStoppedTasks(ctx context.Context) {
	if n, err := s.ctl.PurgeStoppedTasks(ctx); err != nil {
		s.log.Warn("purge stopped tasks", "err", err)
	} else if n > 0 {
		s.log.Debug("purged stopped tasks", "count", n)
	}
}

// announce writes the AWS CLI profile and tells the user how to connect.
func (s *Server) announce() error {
	ep := s.Endpoint()
	profileNote := ""
	if s.cfg.WriteProfile {
		creds, conf, err := auth.ProfilePaths(s.opts.Getenv)
		if err == nil {
			err = auth.SyncCLIProfile(filepath.Join(s.cfg.DataDir, "cli-profile.json"), creds, conf,
				auth.CLIProfile{Name: "fargo", Key: s.admin, Region: s.cfg.Region, EndpointURL: ep})
		}
		if err != nil {
			s.log.Warn("could not write the AWS CLI profile", "err", err)
		} else {
			// Debian's AWS CLI v2 (2.9) ignores the profile's endpoint_url.
			profileNote = fmt.Sprintf("  AWS CLI profile \"fargo\" in %s and %s:\n    aws --profile fargo --endpoint-url %s ecs list-clusters\n", conf, creds, ep)
		}
	}
	if s.opts.Banner == nil {
		return nil
	}
	fmt.Fprintf(s.opts.Banner, "fargo is listening on %s (account %s, region %s)\n", ep, s.cfg.AccountID, s.cfg.Region)
	fmt.Fprint(s.opts.Banner, profileNote)
	if s.fresh {
		fmt.Fprintf(s.opts.Banner, "  Created the administrator key pair (kept in %s):\n", s.cfg.DataDir)
		fmt.Fprintf(s.opts.Banner, "    export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%s AWS_ENDPOINT_URL=%s\n",
			s.admin.AccessKeyID, s.admin.SecretAccessKey, s.cfg.Region, ep)
	} else {
		fmt.Fprintf(s.opts.Banner, "  Administrator access key: %s (secret in the \"fargo\" profile)\n", s.admin.AccessKeyID)
	}
	if s.cfg.Dev {
		fmt.Fprintf(s.opts.Banner, "  Dev mode: the test keys test/test act for account %s, <12-digit account>/test for any other:\n"+
			"    anyone who reaches %s can act as any account (no isolation between accounts).\n", s.cfg.AccountID, ep)
	}
	return nil
}
