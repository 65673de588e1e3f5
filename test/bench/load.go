package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// process is a server under test.
type process struct {
	name string
	url  string
	cmd  *exec.Cmd
}

// startProcess starts a server on a free port (passed as the last argument,
// or in envPort) and waits until readyPath answers.
func startProcess(ctx context.Context, name string, argv []string, envPort, readyPath string) (*process, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	if envPort != "" {
		cmd.Env = append(cmd.Env, envPort+"="+addr)
	} else {
		cmd.Args = append(cmd.Args, port)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, url: "http://" + addr, cmd: cmd}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.url + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return p, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("%s did not start: %s", name, logs.String())
}

func (p *process) stop() {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// apiOp is one benchmarked operation.
type apiOp struct {
	name    string
	service string // SigV4 signing name
	target  string // X-Amz-Target
	body    func(i int) string
	setup   func(url string) error
	write   bool // a write, judged against the write target
}

const ecsPrefix = "AmazonEC2ContainerServiceV20141113."

const benchTaskDef = `{"family":"bench","executionRoleArn":"arn:aws:iam::000000000000:role/ecsTaskExecutionRole","requiresCompatibilities":["FARGATE"],"networkMode":"awsvpc","cpu":"256","memory":"512",` +
	`"containerDefinitions":[{"name":"web","image":"nginx","essential":true,"portMappings":[{"containerPort":80}]}]}`

func apiOps() []apiOp {
	setup := func(url string) error {
		for _, c := range []struct{ target, body string }{
			{ecsPrefix + "CreateCluster", `{"clusterName":"bench"}`},
			{ecsPrefix + "RegisterTaskDefinition", benchTaskDef},
		} {
			status, body, err := send(http.DefaultClient, url, "ecs", c.target, c.body)
			if err != nil {
				return err
			}
			if status != 200 {
				return fmt.Errorf("%s: %d %s", c.target, status, body)
			}
		}
		return nil
	}
	return []apiOp{
		{name: "DescribeTaskDefinition", service: "ecs", target: ecsPrefix + "DescribeTaskDefinition",
			body: func(int) string { return `{"taskDefinition":"bench"}` }, setup: setup},
		{name: "ListClusters", service: "ecs", target: ecsPrefix + "ListClusters",
			body: func(int) string { return `{}` }, setup: setup},
		{name: "RegisterTaskDefinition", service: "ecs", target: ecsPrefix + "RegisterTaskDefinition",
			body: func(i int) string { return strings.Replace(benchTaskDef, `"bench"`, fmt.Sprintf(`"bench%d"`, i%8), 1) }, setup: setup, write: true},
	}
}

var signer = v4.NewSigner()

// signed builds one signed awsJson request.
func signed(url, service, target, body string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sum := sha256.Sum256([]byte(body))
	err = signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
		req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now())
	return req, err
}

// send signs and sends one awsJson request.
func send(c *http.Client, url, service, target, body string) (int, string, error) {
	req, err := signed(url, service, target, body)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

// loadVariants is how many distinct bodies one load run sends (op.body(i)
// for i below it).
const loadVariants = 16

// load runs op from n clients for d and reports throughput and latency.
// The requests are signed before the clock starts (SigV4 allows replays
// within its 5-minute window), as wrk replays its requests: signing is the
// client's cost, not the server's.
func load(url string, op apiOp, n int, d time.Duration) (result, error) {
	reqs, err := signedRequests(url, op)
	if err != nil {
		return result{}, err
	}
	return rawLoad(strings.TrimPrefix(url, "http://"), reqs, n, d, func(status int, body []byte) error {
		if status != http.StatusOK {
			return fmt.Errorf("status %d: %.200s", status, body)
		}
		return nil
	})
}

// signedRequests signs op's first loadVariants bodies for url, on the wire.
func signedRequests(url string, op apiOp) ([][]byte, error) {
	reqs := make([][]byte, loadVariants)
	for i := range reqs {
		req, err := signed(url, op.service, op.target, op.body(i))
		if err != nil {
			return nil, err
		}
		if reqs[i], err = wireBytes(req); err != nil {
			return nil, err
		}
	}
	return reqs, nil
}

// wireBytes serializes req as HTTP/1.1 puts it on the wire.
func wireBytes(req *http.Request) ([]byte, error) {
	var b bytes.Buffer
	err := req.Write(&b)
	return b.Bytes(), err
}

// rawLoad sends reqs (client w's i-th request is reqs[(w+i*n) % len]) from
// n clients for d, each a keep-alive connection with one request in
// flight, and reports throughput and latency; check judges each answer.
// Serialized requests and a bare connection keep the generator's own CPU
// cost small beside the server's, and net/http's client goroutines out of
// the measured latency.
func rawLoad(host string, reqs [][]byte, n int, d time.Duration, check func(status int, body []byte) error) (result, error) {
	conns := make([]rawConn, n)
	defer func() {
		for i := range conns {
			conns[i].close()
		}
	}()
	return hammer(context.Background(), n, d, func(_ context.Context, w, i int) error {
		status, body, err := conns[w].do(host, reqs[(w+i*n)%len(reqs)])
		if err == nil {
			err = check(status, body)
		}
		return err
	})
}

// hammer runs op from n goroutines (w is the goroutine, i its call) for d
// and reports throughput and latency. It fails if more than a tenth of the
// calls failed or ctx ended.
func hammer(ctx context.Context, n int, d time.Duration, op func(ctx context.Context, w, i int) error) (result, error) {
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		firstErr error
		wg       sync.WaitGroup
	)
	stop := time.Now().Add(d)
	start := time.Now()
	for w := range n {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for i := 0; time.Now().Before(stop) && ctx.Err() == nil; i++ {
				t0 := time.Now()
				err := op(ctx, w, i)
				mine = append(mine, time.Since(t0))
				if err != nil {
					bad++
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	return summarize(lat, errs, firstErr, elapsed)
}

// rawConn sends serialized HTTP/1.1 requests over one connection, dialling
// again when the server closes it (moto's server may).
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func (c *rawConn) do(host string, req []byte) (int, []byte, error) {
	if c.c == nil {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			return 0, nil, err
		}
		c.c, c.r = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	if _, err := c.c.Write(req); err != nil {
		c.close()
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.close()
		return 0, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	return resp.StatusCode, body, err
}

func (c *rawConn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// summarize turns one load run's latencies (errors included) into its
// figures; more than a tenth failed is an error.
func summarize(lat []time.Duration, errs int, firstErr error, elapsed time.Duration) (result, error) {
	if len(lat) == 0 {
		return result{}, fmt.Errorf("no request completed")
	}
	if errs > len(lat)/10 {
		return result{}, fmt.Errorf("%d of %d requests failed, first: %v", errs, len(lat), firstErr)
	}
	slices.Sort(lat)
	return result{
		rps:    float64(len(lat)-errs) / elapsed.Seconds(),
		p50:    lat[len(lat)/2],
		p99:    lat[len(lat)*99/100],
		errors: errs,
	}, nil
}

// burstLoad sends n requests at once, from n warm keep-alive connections,
// rounds times, a pause between rounds so that they never overlap, and
// reports the latency of every request (rps is requests over the time of
// the rounds alone). It is the "n concurrent requests" of a pull storm:
// each request waits only for the other n-1, not for a backlog.
func burstLoad(host string, req []byte, n, rounds int, check func(status int, body []byte) error) (result, error) {
	conns := make([]rawConn, n)
	defer func() {
		for i := range conns {
			conns[i].close()
		}
	}()
	for i := range conns { // connect and warm each connection once
		status, body, err := conns[i].do(host, req)
		if err == nil {
			err = check(status, body)
		}
		if err != nil {
			return result{}, err
		}
	}
	lat := make([]time.Duration, 0, n*rounds)
	errs := 0
	var firstErr error
	var busy time.Duration
	mine := make([]time.Duration, n)
	bad := make([]error, n)
	for range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range conns {
			wg.Go(func() {
				<-start
				t0 := time.Now()
				status, body, err := conns[i].do(host, req)
				mine[i] = time.Since(t0)
				if err == nil {
					err = check(status, body)
				}
				bad[i] = err
			})
		}
		t0 := time.Now()
		close(start)
		wg.Wait()
		busy += time.Since(t0)
		lat = append(lat, mine...)
		for _, err := range bad {
			if err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return summarize(lat, errs, firstErr, busy)
}
