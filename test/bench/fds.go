package main

// The file-descriptor benchmark (issue 17, finding 2): fargo's open files
// and heap with 2,000 idle keep-alive connections held against the task
// metadata endpoint (from inside a task's netns) and against the API,
// beside the same figures without the load. It has no peer: these are
// fargo-only figures, with fargo's connection limits in force (their
// defaults), which is what bounds them.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"

	"github.com/fargo-run/fargo/internal/config"
)

// fdConns is the load: idle keep-alive connections, each after one
// request (as an SDK's connection pool leaves them).
const fdConns = 2000

// fdFigures are fargo's open files and Go heap at one moment.
type fdFigures struct {
	files int
	heap  float64 // MiB in use (go_memstats_heap_inuse_bytes)
}

func (b *taskBench) fdFigures() (fdFigures, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", b.cmd.Process.Pid))
	if err != nil {
		return fdFigures{}, err
	}
	metrics, err := httpBody(b.url + "/metrics")
	if err != nil {
		return fdFigures{}, err
	}
	f := fdFigures{files: len(ents)}
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			f.heap = n / (1 << 20)
		}
	}
	return f, nil
}

// benchFDs runs one task, measures, holds fdConns connections against the
// metadata endpoint from the task's netns and measures, then the same
// against the API from the host.
func (b *taskBench) benchFDs(ctx context.Context) error {
	arn, err := b.runTask(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = b.stopTask(context.WithoutCancel(ctx), arn) }()
	if _, err := b.waitRunning(ctx, arn, time.Now(), 2*time.Minute); err != nil {
		return err
	}
	taskID := arn[strings.LastIndex(arn, "/")+1:]
	time.Sleep(time.Second) // let the start's garbage settle
	idle, err := b.fdFigures()
	if err != nil {
		return err
	}

	ns, err := netns.GetFromPath(filepath.Join("/run/netns", benchNetPrefix+"-"+taskID))
	if err != nil {
		return fmt.Errorf("task netns: %w", err)
	}
	defer ns.Close()
	metaReq := "GET /v4/" + taskID + "/task HTTP/1.1\r\nHost: " + benchMetadataIP + "\r\n\r\n"
	metaKept, closeMeta, err := holdConns(benchMetadataIP+":80", metaReq, fdConns, &ns)
	if err != nil {
		return err
	}
	meta, err := b.fdFigures()
	closeMeta()
	if err != nil {
		return err
	}

	apiAddr := strings.TrimPrefix(b.url, "http://")
	apiKept, closeAPI, err := holdConns(apiAddr, "GET /healthz HTTP/1.1\r\nHost: "+apiAddr+"\r\n\r\n", fdConns, nil)
	if err != nil {
		return err
	}
	api, err := b.fdFigures()
	closeAPI()
	if err != nil {
		return err
	}

	fmt.Printf("\nopen files and heap under %d idle keep-alive connections (issue 17): fargo-only figures, no peer;\n", fdConns)
	fmt.Printf("fargo's connection limits in force (defaults: metadata endpoint %d per task, API %d per client IP, %d in all)\n",
		config.DefaultMetadataMaxConnsPerTask, config.DefaultAPIMaxConnsPerClient, config.DefaultAPIMaxConns)
	fmt.Printf("  %-44s %6s %10s %8s\n", "", "files", "heap MiB", "kept")
	fmt.Printf("  %-44s %6d %10.1f %8s\n", "no load (one task running)", idle.files, idle.heap, "-")
	fmt.Printf("  %-44s %6d %10.1f %8d\n", fmt.Sprintf("%d to the metadata endpoint, from the task", fdConns), meta.files, meta.heap, metaKept)
	fmt.Printf("  %-44s %6d %10.1f %8d\n", fmt.Sprintf("%d to the API, from one host address", fdConns), api.files, api.heap, apiKept)
	return nil
}

// holdConns opens n connections to addr (from the netns ns when not nil),
// sends req on each and reads the answer's status line; it returns how
// many fargo kept open and a func that closes them all.
func holdConns(addr, req string, n int, ns *netns.NsHandle) (int, func(), error) {
	var conns []net.Conn
	dialed := make(chan error, 1)
	go func() {
		if ns != nil {
			// Sockets belong to the netns of the thread that makes them;
			// the thread is never unlocked, so it dies with the goroutine.
			runtime.LockOSThread()
			if err := netns.Set(*ns); err != nil {
				dialed <- err
				return
			}
		}
		for range n {
			if c, err := net.DialTimeout("tcp4", addr, 2*time.Second); err == nil {
				conns = append(conns, c)
			}
		}
		dialed <- nil
	}()
	if err := <-dialed; err != nil {
		return 0, func() {}, err
	}
	var kept atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Write([]byte(req)); err != nil {
				return
			}
			r := bufio.NewReader(c)
			if line, err := r.ReadString('\n'); err == nil && strings.HasPrefix(line, "HTTP/1.1 ") {
				// The answer's rest stays unread: the server has sent it,
				// and the connection is idle as far as it knows.
				kept.Add(1)
			}
			_ = c.SetDeadline(time.Time{})
		})
	}
	wg.Wait()
	// Refused connections were closed at once; count those still open.
	time.Sleep(500 * time.Millisecond)
	return int(kept.Load()), func() {
		for _, c := range conns {
			c.Close()
		}
	}, nil
}

func httpBody(url string) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), err
}
