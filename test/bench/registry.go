package main

// Registry benchmark: fargo's OCI registry (/v2/ on its API listener, ECR
// Basic auth, bbolt metadata, blobs fsync'd) beside the CNCF distribution
// registry (Debian's docker-registry, v2.8: filesystem storage, no auth),
// both started here on free ports with their data in one temp dir, which
// also holds the raw disk write probe, so all three write to the same
// filesystem. Measured in one run: push and pull of a big single-layer
// image and of a 200-layer image, concurrent manifest GETs, ECR
// BatchGetImage against fargo alone (distribution has no ECR API), and the
// disk's own write+fsync speed as the ceiling for a push. Pushes and pulls
// run with the servers free on every CPU; the latency measures then run
// with the servers restarted on the same data on a CPU of their own.
//
// The pull of the big layer is bound by the client (its digest check),
// not the server: both registries serve blobs with sendfile (fargo at about
// 3 GB/s to curl here), so that ratio is a tie within the noise.

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
)

const (
	regJobs        = 4 // go-containerregistry's concurrent blob transfers (its default)
	regLayers      = 200
	regBigRepo     = "bench/big"
	regManyRepo    = "bench/layers"
	regTag         = "v1"
	regLoadTime    = 10 * time.Second
	regDiskTarget  = 0.80 // fargo's push as a share of the raw disk write speed
	regBatchTarget = 2000 // BatchGetImage calls/s
	regManifestP99 = 2 * time.Millisecond
	regBurstRounds = 300 // bursts of concurrent manifest GETs
	regPullRounds  = 3   // pulls of each image per registry, taking turns
	regPeer        = "distribution"
)

// regFigures is one registry's measurements.
type regFigures struct {
	pushBig, pullBig       time.Duration
	pushMany, pullMany     time.Duration
	manifest               result // clients GETs in flight for regLoadTime
	burst                  result // clients GETs at once, regBurstRounds times
	pulledBig, pulledBytes int64
}

func runRegistryBenchmarks(ctx context.Context, fargoBin string, clients int) error {
	bigMB, err := strconv.Atoi(envOr("BENCH_BIG_MB", "1024"))
	if err != nil || bigMB < 1 {
		return fmt.Errorf("BENCH_BIG_MB must be a positive number of MiB")
	}
	tmp, err := os.MkdirTemp("", "fargo-regbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Printf("\nRegistry benchmark: %d cores, same run, data dirs and disk probe under %s (one filesystem)\n", runtime.NumCPU(), tmp)
	fmt.Printf("preparing images: 1 layer of %d MiB, %d layers of 4-64 KiB (pseudo-random, incompressible, uncompressed layer media type)\n", bigMB, regLayers)
	big, err := regBigImage(bigMB)
	if err != nil {
		return err
	}
	many, manyBytes, err := regManyLayersImage(regLayers)
	if err != nil {
		return err
	}

	// The disk first, alone: the ceiling for a push.
	diskTime, err := regDiskWrite(ctx, tmp, int64(bigMB)<<20)
	if err != nil {
		return fmt.Errorf("disk probe: %w", err)
	}

	// Throughput first, with the servers free to use every CPU; then the
	// servers start again on the same data, on a CPU of their own, for the
	// latency measures (see cpuSplit).
	regs, err := regStart(ctx, cpuSplit{}, fargoBin, tmp, clients, true)
	if err != nil {
		return err
	}
	defer func() { regs.stop() }()
	targets := regs.targets
	figs := make([]regFigures, len(targets))
	for i, c := range targets {
		f := &figs[i]
		if f.pushBig, err = c.push(ctx, regBigRepo, regTag, big); err != nil {
			return err
		}
		if f.pushMany, err = c.push(ctx, regManyRepo, regTag, many); err != nil {
			return err
		}
	}
	// Pulls take turns, the order reversed each round, and each registry's
	// median counts: a pull runs at about the client's speed, and whichever
	// registry went first changed the other's figure by 10-20% here.
	pullBig, pullMany := make([][]time.Duration, len(targets)), make([][]time.Duration, len(targets))
	for r := range regPullRounds {
		for k := range targets {
			i := k
			if r%2 == 1 {
				i = len(targets) - 1 - k
			}
			c, f := targets[i], &figs[i]
			d, n, err := c.pull(ctx, regBigRepo, regTag)
			if err != nil {
				return err
			}
			pullBig[i], f.pulledBig = append(pullBig[i], d), n
			if d, n, err = c.pull(ctx, regManyRepo, regTag); err != nil {
				return err
			}
			pullMany[i], f.pulledBytes = append(pullMany[i], d), n
			if f.pulledBig != int64(bigMB)<<20 || f.pulledBytes != manyBytes {
				return fmt.Errorf("%s: pulled %d and %d layer bytes, pushed %d and %d", c.name, f.pulledBig, f.pulledBytes, int64(bigMB)<<20, manyBytes)
			}
		}
	}
	for i := range figs {
		figs[i].pullBig, figs[i].pullMany = median(pullBig[i]), median(pullMany[i])
	}
	regs.stop()
	split := newCPUSplit()
	if regs, err = regStart(ctx, split, fargoBin, tmp, clients, false); err != nil {
		return err
	}
	for i, c := range regs.targets {
		req, err := c.manifestRequest(regBigRepo, regTag)
		if err != nil {
			return err
		}
		split.onClientCPUs(func() {
			// A second first, not measured, as in the API benchmark.
			if _, err = rawLoad(c.host, req, clients, time.Second, manifestOK); err == nil {
				figs[i].manifest, err = rawLoad(c.host, req, clients, regLoadTime, manifestOK)
			}
			if err == nil {
				figs[i].burst, err = burstLoad(c.host, req[0], clients, regBurstRounds, manifestOK)
			}
		})
		if err != nil {
			return fmt.Errorf("manifest GETs on %s: %w", c.name, err)
		}
	}
	req, err := regs.targets[0].manifestRequest(regBigRepo, regTag)
	if err != nil {
		return err
	}
	floor, floorBurst, err := measureFloor(split, req, clients, regLoadTime, regBurstRounds)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	var batch result
	split.onClientCPUs(func() {
		batch, err = hammer(ctx, clients, regLoadTime, func(ctx context.Context, _, _ int) error {
			out, err := regs.ecrc.BatchGetImage(ctx, &ecr.BatchGetImageInput{
				RepositoryName: aws.String(regBigRepo),
				ImageIds:       []ecrtypes.ImageIdentifier{{ImageTag: aws.String(regTag)}},
			})
			if err == nil && (len(out.Images) != 1 || len(out.Failures) != 0) {
				err = fmt.Errorf("BatchGetImage: %d images, %d failures", len(out.Images), len(out.Failures))
			}
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("BatchGetImage on fargo: %w", err)
	}

	regPrint(regReport{
		bigMB: bigMB, manyBytes: manyBytes, clients: clients, diskTime: diskTime,
		figs: figs, batch: batch, floor: floor, floorBurst: floorBurst, distVersion: regs.distVersion, skip: regs.skip, split: split,
	})
	return nil
}

// regServers are the registries under test and the clients to them.
type regServers struct {
	procs       []*process
	targets     []*regClient // fargo, then distribution if it runs
	ecrc        *ecr.Client
	distVersion string
	skip        string // why distribution does not run
}

// regStart starts fargo (without agent: no task runs) and distribution on
// split's server CPUs, with their data under tmp; first creates fargo's
// repositories.
func regStart(ctx context.Context, split cpuSplit, fargoBin, tmp string, clients int, first bool) (*regServers, error) {
	s := &regServers{}
	fargoProc, err := startProcess(context.Background(), "fargo", split.serverArgv([]string{fargoBin, "server", "--dev", "--write-profile=false", "--no-agent",
		"--data-dir", filepath.Join(tmp, "fargo")}), "FARGO_LISTEN", "/healthz")
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, fargoProc)
	s.ecrc = regECRClient(fargoProc.url, clients)
	fargo, err := regFargoClient(ctx, s.ecrc, fargoProc.url, clients, first)
	if err != nil {
		s.stop()
		return nil, err
	}
	s.targets = append(s.targets, fargo)
	path, err := exec.LookPath("docker-registry")
	if err != nil {
		s.skip = "docker-registry (CNCF distribution) is not installed: apt-get install docker-registry, or run `make bench`"
		return s, nil
	}
	distProc, version, err := regStartDistribution(split, path, filepath.Join(tmp, "distribution"))
	if err != nil {
		s.stop()
		return nil, err
	}
	s.procs = append(s.procs, distProc)
	s.targets = append(s.targets, newRegClient(regPeer, distProc.url, authn.Anonymous, "", clients))
	s.distVersion = version
	return s, nil
}

func (s *regServers) stop() {
	for _, p := range s.procs {
		p.stop()
	}
	s.procs = nil
}

func regECRClient(url string, clients int) *ecr.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*clients, clients
	})
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  hc,
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} }, // a failure counts, it is not hidden
	}
	return ecr.NewFromConfig(cfg, func(o *ecr.Options) { o.BaseEndpoint = aws.String(url) })
}

// regFargoClient creates the benchmark's repositories in fargo (if create) and logs in
// as docker does: Basic "AWS" and GetAuthorizationToken's password.
func regFargoClient(ctx context.Context, ecrc *ecr.Client, url string, clients int, create bool) (*regClient, error) {
	for _, repo := range []string{regBigRepo, regManyRepo} {
		if !create {
			break
		}
		if _, err := ecrc.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
			return nil, fmt.Errorf("create-repository %s: %w", repo, err)
		}
	}
	tok, err := ecrc.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil || len(tok.AuthorizationData) == 0 {
		return nil, fmt.Errorf("get-authorization-token: %v", err)
	}
	b64 := aws.ToString(tok.AuthorizationData[0].AuthorizationToken)
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("authorization token: %w", err)
	}
	user, pw, _ := strings.Cut(string(raw), ":")
	return newRegClient("fargo", url, &authn.Basic{Username: user, Password: pw}, "Basic "+b64, clients), nil
}

// regStartDistribution runs docker-registry with filesystem storage in dir,
// no auth and no access log, on a free port.
func regStartDistribution(split cpuSplit, bin, dir string) (*process, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	config := filepath.Join(dir, "config.yml")
	conf := "version: 0.1\n" +
		"log:\n  level: error\n  accesslog:\n    disabled: true\n" +
		"storage:\n  filesystem:\n    rootdirectory: " + filepath.Join(dir, "data") + "\n" +
		"  cache:\n    blobdescriptor: inmemory\n" + // as distribution's own example config
		"http:\n  addr: 127.0.0.1:0\n" // replaced by REGISTRY_HTTP_ADDR
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		return nil, "", err
	}
	version := "?"
	if out, err := exec.Command(bin, "--version").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) > 0 {
			version = f[len(f)-1]
		}
	}
	p, err := startProcess(context.Background(), regPeer, split.serverArgv([]string{bin, "serve", config}), "REGISTRY_HTTP_ADDR", "/v2/")
	return p, version, err
}

type regReport struct {
	bigMB       int
	manyBytes   int64
	clients     int
	diskTime    time.Duration
	figs        []regFigures // fargo, then distribution if it ran
	batch       result
	floor       result // an empty Go handler under the manifest GET load
	floorBurst  result // and under its bursts
	distVersion string
	skip        string
	split       cpuSplit
}

func regMBps(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }

func regPrint(r regReport) {
	big := int64(r.bigMB) << 20
	disk := regMBps(big, r.diskTime)
	if r.skip != "" {
		fmt.Printf("peer skipped: %s; fargo's figures alone follow\n", r.skip)
	} else {
		fmt.Printf("peer: CNCF distribution %s (Debian docker-registry: filesystem storage, no auth, blob descriptor cache in memory)\n", r.distVersion)
	}
	fmt.Printf("fargo: dev mode, bbolt metadata, ECR Basic auth; blobs hashed and fsync'd before they are linked\n")
	fmt.Printf("clients: go-containerregistry remote.Write / remote.Image, %d blobs at a time, layers read to io.Discard in 1 MiB reads with digest check; pulls: median of %d, the registries taking turns\n", regJobs, regPullRounds)
	fmt.Printf("push and pull: servers on every CPU; then manifest GET and BatchGetImage with the servers restarted on the same data, %s;\n", r.split.describe())
	fmt.Printf("manifest GETs: one serialized request replayed per connection, 1s warm-up not measured\n\n")

	fmt.Printf("%-28s %-12s %12s %9s %9s   %s\n", "measure", "target", "value", "p50", "p99", "fargo/"+regPeer)
	rate := func(v float64) string { return fmt.Sprintf("%.0f MB/s", v) }
	line := func(measure, target, value, p50, p99, note string) {
		fmt.Println(strings.TrimRight(fmt.Sprintf("%-28s %-12s %12s %9s %9s   %s", measure, target, value, p50, p99, note), " "))
	}
	line(fmt.Sprintf("disk write %d MiB + fsync", r.bigMB), "disk", rate(disk), "", "", "")
	names := []string{"fargo", regPeer}
	type row struct {
		measure string
		value   func(f regFigures) float64
		format  func(v float64) string
		better  string // "higher" or "lower"
	}
	secs := func(v float64) string { return fmtDur(time.Duration(v * float64(time.Second))) }
	rows := []row{
		{fmt.Sprintf("push 1 layer %d MiB", r.bigMB), func(f regFigures) float64 { return regMBps(big, f.pushBig) }, rate, "higher"},
		{fmt.Sprintf("pull 1 layer %d MiB", r.bigMB), func(f regFigures) float64 { return regMBps(big, f.pullBig) }, rate, "higher"},
		{fmt.Sprintf("push %d layers (%.1f MiB)", regLayers, float64(r.manyBytes)/(1<<20)), func(f regFigures) float64 { return f.pushMany.Seconds() }, secs, "lower"},
		{fmt.Sprintf("pull %d layers", regLayers), func(f regFigures) float64 { return f.pullMany.Seconds() }, secs, "lower"},
	}
	type named struct {
		name  string
		ratio float64
	}
	var ratios []named
	for _, m := range rows {
		for i, f := range r.figs {
			v, note := m.value(f), ""
			if i == 0 && len(r.figs) > 1 {
				ratio := v / m.value(r.figs[1])
				if m.better == "lower" {
					ratio = 1 / ratio
				}
				ratios = append(ratios, named{m.measure, ratio})
				note = fmt.Sprintf("%.2fx %s", ratio, map[string]string{"higher": "throughput", "lower": "speed"}[m.better])
			}
			if i == 0 && strings.HasPrefix(m.measure, "push 1 layer") {
				note = strings.TrimSpace(fmt.Sprintf("%s (%.0f%% of disk)", note, 100*v/disk))
			}
			label := m.measure
			if i > 0 {
				label = ""
			}
			line(label, names[i], m.format(v), "", "", note)
		}
	}
	for i, f := range r.figs {
		label, note := fmt.Sprintf("manifest GET x%d, %s", r.clients, regLoadTime), ""
		if i > 0 {
			label = ""
		} else if len(r.figs) > 1 && r.figs[1].manifest.rps > 0 {
			ratio := f.manifest.rps / r.figs[1].manifest.rps
			ratios = append(ratios, named{"manifest GET", ratio})
			note = fmt.Sprintf("%.2fx throughput", ratio)
		}
		line(label, names[i], fmt.Sprintf("%.0f req/s", f.manifest.rps), fmtDur(f.manifest.p50), fmtDur(f.manifest.p99), note)
		if f.manifest.errors > 0 {
			fmt.Printf("%-28s errors: %d\n", "", f.manifest.errors)
		}
	}
	for i, f := range r.figs {
		label, note := fmt.Sprintf("manifest GET %d at once x%d", r.clients, regBurstRounds), ""
		if i > 0 {
			label = ""
		} else if len(r.figs) > 1 && r.figs[1].burst.p99 > 0 {
			note = fmt.Sprintf("%.2fx lower p99", float64(r.figs[1].burst.p99)/float64(f.burst.p99))
		}
		line(label, names[i], "", fmtDur(f.burst.p50), fmtDur(f.burst.p99), note)
		if f.burst.errors > 0 {
			fmt.Printf("%-28s errors: %d\n", "", f.burst.errors)
		}
	}
	line(fmt.Sprintf("ECR BatchGetImage x%d, %s", r.clients, regLoadTime), "fargo", fmt.Sprintf("%.0f req/s", r.batch.rps),
		fmtDur(r.batch.p50), fmtDur(r.batch.p99), "no peer (distribution has no ECR API)")
	if r.batch.errors > 0 {
		fmt.Printf("%-28s errors: %d\n", "", r.batch.errors)
	}
	line("empty Go handler, as GETs", "floor", fmt.Sprintf("%.0f req/s", r.floor.rps), fmtDur(r.floor.p50), fmtDur(r.floor.p99),
		"no server answers faster here")
	line("  and in the bursts", "floor", "", fmtDur(r.floorBurst.p50), fmtDur(r.floorBurst.p99), "")

	pushPct := regMBps(big, r.figs[0].pushBig) / disk
	mp99, bp99 := r.figs[0].manifest.p99, r.figs[0].burst.p99
	fmt.Printf("\ntargets: fargo push %.0f%% of raw disk write (target >= %.0f%%): %s; BatchGetImage %.0f/s (target >= %d/s): %s;\n",
		100*pushPct, 100*regDiskTarget, regVerdict(pushPct >= regDiskTarget), r.batch.rps, regBatchTarget, regVerdict(r.batch.rps >= regBatchTarget))
	fmt.Printf("manifest GET p99 < %s: %d at once %s, %s (floor %s); %d in flight for %s %s, %s (floor %s)",
		fmtDur(regManifestP99), r.clients, fmtDur(bp99), regVerdict(bp99 < regManifestP99), fmtDur(r.floorBurst.p99),
		r.clients, regLoadTime, fmtDur(mp99), regVerdict(mp99 < regManifestP99), fmtDur(r.floor.p99))
	if len(ratios) > 0 {
		var below []string
		for _, x := range ratios {
			if x.ratio < 1 {
				below = append(below, fmt.Sprintf("%s %.2fx", x.name, x.ratio))
			}
		}
		fmt.Printf("; fargo/%s >= 1.0x on all %d measures: %s", regPeer, len(ratios), regVerdict(len(below) == 0))
		if len(below) > 0 {
			fmt.Printf(" (below: %s)", strings.Join(below, ", "))
		}
	}
	fmt.Println()
}

func regVerdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// median of a non-empty set of durations.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
