// Package cli is fargo's command tree: it parses flags and environment
// variables into internal/config structs and hands them to the role that
// runs. It holds no logic of its own.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/server"
	"github.com/fargo-run/fargo/internal/version"
)

// ErrUsage marks command-line mistakes (exit code 2).
var ErrUsage = errors.New("usage")

// Env reads environment variables (os.Getenv in main; a map in tests).
type Env func(string) string

// Run runs the command named by args (without the program name).
func Run(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return ErrUsage
	}
	switch args[0] {
	case "server":
		return runServer(ctx, args[1:], env, stdout, stderr)
	case "accounts":
		return runAccounts(args[1:], env, stdout, stderr)
	case "check":
		// Not in the usage: a developer's and the crash tests' tool.
		return runCheck(ctx, args[1:], env, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "fargo", version.String())
		return nil
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	fmt.Fprintf(stderr, "fargo: unknown command %q\n", args[0])
	usage(stderr)
	return ErrUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `fargo: the AWS container stack (ECS on Fargate, ECR, ...) on your own machine.

Usage:
  fargo server [flags]   run the control plane and the API on one listener
  fargo accounts ...     create, list and delete the access keys of accounts
  fargo version          print the version

Run 'fargo server -h' for the server's flags.
`)
}

// serverGCPercent is fargo server's GOGC unless the environment sets one.
const serverGCPercent = 400

func runServer(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) error {
	cfg := config.DefaultServer()
	fs := flag.NewFlagSet("fargo server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var logLevel string
	var logJSON bool
	str(fs, env, &cfg.Listen, "listen", "FARGO_LISTEN", cfg.Listen, "address of the API listener")
	str(fs, env, &cfg.DataDir, "data-dir", "FARGO_DATA_DIR", cfg.DataDir, "directory of the store and the credentials")
	str(fs, env, &cfg.AccountID, "account-id", "FARGO_ACCOUNT_ID", cfg.AccountID, "account of the administrator key and of dev mode's test keys")
	str(fs, env, &cfg.Region, "region", "FARGO_REGION", cfg.Region, "default region")
	boolean(fs, env, &cfg.Dev, "dev", "FARGO_DEV", false, "dev mode: also accept the test keys test/test (and <12-digit account>/test)")
	boolean(fs, env, &cfg.WriteProfile, "write-profile", "FARGO_WRITE_PROFILE", true, `write the AWS CLI profile "fargo" on start`)
	boolean(fs, env, &cfg.KeepTasks, "keep-tasks", "FARGO_KEEP_TASKS", false, "leave tasks running when fargo stops (live restore)")
	boolean(fs, env, &cfg.AllowHostAccess, "allow-host-access", "FARGO_ALLOW_HOST_ACCESS", false,
		"run EC2 tasks that reach the host: privileged, host volumes, added capabilities, devices, networkMode host")
	var allowRegistries string
	str(fs, env, &allowRegistries, "allow-registries", "FARGO_ALLOW_REGISTRIES", "",
		"registries besides fargo's own that tasks may pull from: comma-separated host[:port], * for any public host")
	boolean(fs, env, &cfg.NoAgent, "no-agent", "FARGO_NO_AGENT", false, "do not run tasks on this host")
	envErr := duration(fs, env, &cfg.HealthyAfter, "healthy-after", "FARGO_HEALTHY_AFTER", cfg.HealthyAfter,
		"how long a service task without health checks must run to count as healthy (AWS: 40s)")
	metricsEnvErr := duration(fs, env, &cfg.MetricsPeriod, "metrics-period", "FARGO_METRICS_PERIOD", cfg.MetricsPeriod,
		"CloudWatch's minute: fargo's own metrics are published and alarm periods of 60s last this long (AWS: 1m; shorter for demos)")
	fs.Float64Var(&cfg.CPUOvercommit, "cpu-overcommit", cfg.CPUOvercommit, "host CPUs x this = CPU capacity offered to tasks")
	fs.Float64Var(&cfg.MemoryOvercommit, "memory-overcommit", cfg.MemoryOvercommit, "host memory x this = memory capacity offered to tasks")
	str(fs, env, &cfg.TaskPool, "task-pool", "FARGO_TASK_POOL", "", "IPv4 range of task subnets (default 10.218.0.0/16)")
	str(fs, env, &cfg.NetworkPrefix, "network-prefix", "FARGO_NETWORK_PREFIX", "", "prefix of fargo's links, netns and nftables table (default fgo)")
	str(fs, env, &cfg.MetadataIP, "metadata-ip", "FARGO_METADATA_IP", "", "address of the task metadata endpoint (default 169.254.170.2)")
	connEnvErrs := connectionFlags(fs, env, &cfg)
	dnsUpstreams := dnsFlags(fs, env, &cfg, connEnvErrs)
	str(fs, env, &cfg.EphemeralStorage, "ephemeral-storage", "FARGO_EPHEMERAL_STORAGE", cfg.EphemeralStorage,
		"bound each task's ephemeral storage with a filesystem of its size: auto (where the host allows), enforce or off")
	str(fs, env, &logLevel, "log-level", "FARGO_LOG_LEVEL", "info", "debug, info, warn or error")
	boolean(fs, env, &logJSON, "log-json", "FARGO_LOG_JSON", false, "log as JSON lines")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	for _, r := range strings.Split(allowRegistries, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.AllowRegistries = append(cfg.AllowRegistries, r)
		}
	}
	for _, u := range strings.Split(*dnsUpstreams, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.DNSUpstreams = append(cfg.DNSUpstreams, u)
		}
	}
	if metricsEnvErr != nil && !flagSet(fs, "metrics-period") {
		return fmt.Errorf("%w: %v", ErrUsage, metricsEnvErr)
	}
	if envErr != nil && !flagSet(fs, "healthy-after") {
		return fmt.Errorf("%w: %v", ErrUsage, envErr)
	}
	for name, err := range connEnvErrs {
		if !flagSet(fs, name) {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("%w: log-level %q: %v", ErrUsage, logLevel, err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if logJSON {
		h = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(h)

	// The server's live heap is small and its garbage short-lived (request
	// decoding and encoding): collecting at 4x the live heap instead of 2x
	// halves the collections, which is most of the API's tail latency.
	// GOGC in the environment still wins.
	if env("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	srv, err := server.New(ctx, cfg, server.Options{Logger: log, Getenv: env, Banner: stdout})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// runCheck verifies a stopped fargo's store: every secondary index
// against the records it indexes (see control.Check).
func runCheck(ctx context.Context, args []string, env Env, stdout, stderr io.Writer) error {
	cfg := config.DefaultServer()
	fs := flag.NewFlagSet("fargo check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str(fs, env, &cfg.DataDir, "data-dir", "FARGO_DATA_DIR", cfg.DataDir, "directory of the store (fargo must not be running)")
	if done, err := parseFlags(fs, args); done || err != nil {
		return err
	}
	if err := server.CheckStore(ctx, cfg.DataDir); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "store consistent")
	return nil
}

// str defines a string flag whose default comes from an environment
// variable when set.
func str(fs *flag.FlagSet, env Env, p *string, name, envName, def, help string) {
	if v := env(envName); v != "" {
		def = v
	}
	fs.StringVar(p, name, def, help+" (env "+envName+")")
}

// boolean defines a bool flag whose default comes from an environment
// variable ("1", "true", "yes" are true).
func boolean(fs *flag.FlagSet, env Env, p *bool, name, envName string, def bool, help string) {
	if v := env(envName); v != "" {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		} else {
			def = strings.EqualFold(v, "yes") || strings.EqualFold(v, "on")
		}
	}
	fs.BoolVar(p, name, def, help+" (env "+envName+")")
}

// duration defines a time.Duration flag whose default comes from an
// environment variable when set; it returns the error of an environment
// value that is not a duration (such as "40s"), which matters only if the
// flag is not given.
func duration(fs *flag.FlagSet, env Env, p *time.Duration, name, envName string, def time.Duration, help string) error {
	var err error
	if v := env(envName); v != "" {
		d, perr := time.ParseDuration(v)
		if perr != nil {
			err = fmt.Errorf("%s=%q: not a duration such as 40s", envName, v)
		} else {
			def = d
		}
	}
	fs.DurationVar(p, name, def, help+" (env "+envName+")")
	return err
}

// flagSet reports whether a flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// ExitCode maps an error from Run to a process exit code.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	default:
		return 1
	}
}

// Main is main's body, separate so tests can run it.
func Main(ctx context.Context) int {
	err := Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "fargo:", err)
	}
	return ExitCode(err)
}

// parseFlags parses a command's flags; done is true when the command has
// nothing more to do (-h printed the usage). Errors wrap ErrUsage, and so
// do arguments left over.
func parseFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return true, fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	return false, nil
}
