package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Shipping cadence: output reaches the Logs API within about a second.
const (
	shipPoll     = 200 * time.Millisecond
	shipInterval = time.Second
	shipMaxBatch = 5000
)

// logShipper is the awslogs driver of one container: it follows the
// runtime's output file and puts its lines into the task's log stream. Its
// read offset is kept in a file, so a restarted agent neither loses nor
// repeats lines.
type logShipper struct {
	r                *runner
	scope            tenant.Scope
	group, stream    string
	path, offsetPath string
	mu               sync.Mutex // serializes ship (the loop and the final flush)
	done             chan struct{}
}

// awslogsStream is the stream name ECS gives a container:
// <prefix>/<container>/<task id>.
func awslogsStream(prefix, container, taskID string) string {
	if prefix == "" {
		return container + "/" + taskID
	}
	return prefix + "/" + container + "/" + taskID
}

func (r *runner) awslogsTarget(cd *node.ContainerDefinition) (tenant.Scope, string, string) {
	opts := cd.LogConfiguration.Options
	scope := r.ref.Scope
	if reg := opts["awslogs-region"]; reg != "" {
		scope.Region = reg
	}
	return scope, opts["awslogs-group"], awslogsStream(opts["awslogs-stream-prefix"], cd.Name, r.ref.ID)
}

// prepareAwslogs creates the group (with awslogs-create-group) and the
// stream, as the driver does before the container starts.
func (r *runner) prepareAwslogs(ctx context.Context, cd *node.ContainerDefinition) error {
	scope, group, stream := r.awslogsTarget(cd)
	if cd.LogConfiguration.Options["awslogs-create-group"] == "true" {
		if err := r.a.deps.Logs.EnsureGroup(ctx, scope, group); err != nil {
			return err
		}
	}
	return r.a.deps.Logs.EnsureStream(ctx, scope, group, stream)
}

func (r *runner) startShipper(ctx context.Context, cd *node.ContainerDefinition) *logShipper {
	scope, group, stream := r.awslogsTarget(cd)
	s := &logShipper{r: r, scope: scope, group: group, stream: stream,
		path:       r.a.deps.Runtime.LogPath(runtime.ContainerID(r.ref.ID, cd.Name)),
		offsetPath: filepath.Join(r.dir, cd.Name+".logoffset"),
		done:       make(chan struct{})}
	go s.loop(ctx)
	return s
}

func (s *logShipper) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(shipPoll)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(last) >= shipInterval-shipPoll/2 {
			s.ship(ctx)
			last = time.Now()
		}
	}
}

// outputRecord is one line of container output as the runtime's monitor
// writes it.
type outputRecord struct {
	Time   time.Time `json:"t"`
	Stream string    `json:"s"`
	Line   string    `json:"l"`
}

// ship puts every complete record after the saved offset.
func (s *logShipper) ship(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	off := s.offset()
	f, err := os.Open(s.path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return
	}
	rd := bufio.NewReaderSize(f, 64<<10)
	var events []LogEvent
	consumed := off
	for len(events) < shipMaxBatch {
		line, err := rd.ReadBytes('\n')
		if err != nil {
			break // a partial line waits for its newline
		}
		consumed += int64(len(line))
		var rec outputRecord
		if json.Unmarshal(bytes.TrimSpace(line), &rec) != nil {
			continue
		}
		events = append(events, LogEvent{Timestamp: rec.Time, Message: rec.Line})
	}
	if len(events) == 0 {
		if consumed != off {
			s.saveOffset(consumed)
		}
		return
	}
	if err := s.r.a.deps.Logs.Put(ctx, s.scope, s.group, s.stream, events); err != nil {
		s.r.log.Warn("ship logs", "group", s.group, "stream", s.stream, "err", err)
		return
	}
	s.saveOffset(consumed)
}

func (s *logShipper) offset() int64 {
	b, err := os.ReadFile(s.offsetPath)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	return n
}

func (s *logShipper) saveOffset(n int64) {
	tmp := s.offsetPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(n, 10)), 0o600); err == nil {
		_ = os.Rename(tmp, s.offsetPath)
	}
}
