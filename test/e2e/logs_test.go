package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// awsCLIv2 is Debian's AWS CLI v2 (apt-get install awscli), which has
// `logs tail`; the v1 CLI often first on PATH does not.
func awsCLIv2(t *testing.T) string {
	t.Helper()
	const bin = "/usr/bin/aws"
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err == nil && strings.HasPrefix(string(out), "aws-cli/2.") {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("the AWS CLI v2 is missing at %s (apt-get install awscli): %v %s", bin, err, out)
	}
	t.Skipf("no AWS CLI v2 at %s", bin)
	return ""
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsTailFollowAndGetLogEvents: events put with the SDK show up in a
// running `aws logs tail --follow` (which polls FilterLogEvents every 5 s
// and de-duplicates by eventId), in `aws logs get-log-events`, and after
// kill -9.
func TestLogsTailFollowAndGetLogEvents(t *testing.T) {
	cli := awsCLIv2(t)
	in := newInstance(t, "FARGO_DEV=1")
	in.start()
	ctx := context.Background()
	c := cloudwatchlogs.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String("http://" + in.listen),
	})
	const group, stream = "/ecs/e2e", "ecs/app/0123456789abcdef"
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
		t.Fatal(err)
	}
	put := func(msg string) {
		t.Helper()
		_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
			LogEvents: []types.InputLogEvent{{Timestamp: aws.Int64(time.Now().UnixMilli()), Message: aws.String(msg)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("before-tail")

	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Debian's CLI 2.9 predates endpoint_url in profiles: pass it.
	tail := exec.CommandContext(tctx, cli, "--profile", "fargo", "--endpoint-url", "http://"+in.listen, "logs", "tail", group, "--follow", "--format", "short")
	tail.Env = in.env
	var out syncBuffer
	tail.Stdout, tail.Stderr = &out, &out
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = tail.Wait() }()

	// tail polls every 5 s: put for a while, and wait for two polls.
	var want []string
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if i < 8 {
			msg := fmt.Sprintf("during-%d", i)
			put(msg)
			want = append(want, msg)
		}
		time.Sleep(500 * time.Millisecond)
		got := out.String()
		if strings.Contains(got, "during-7") {
			break
		}
	}
	got := out.String()
	for _, msg := range append([]string{"before-tail"}, want...) {
		if n := strings.Count(got, msg+"\n"); n != 1 {
			t.Fatalf("%q appears %d times in aws logs tail output:\n%s", msg, n, got)
		}
	}

	ev := in.mustAWS("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream, "--start-from-head")
	events, _ := path(ev, "events").([]any)
	if len(events) != 9 || path(ev, "events", 0, "message") != "before-tail" || path(ev, "events", 8, "message") != "during-7" {
		t.Fatalf("get-log-events: %v", ev)
	}
	fwd, _ := path(ev, "nextForwardToken").(string)
	if !strings.HasPrefix(fwd, "f/") {
		t.Fatalf("nextForwardToken %q", fwd)
	}
	end := in.mustAWS("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream, "--next-token", fwd)
	if e, _ := path(end, "events").([]any); len(e) != 0 || path(end, "nextForwardToken") != fwd {
		t.Fatalf("at the end: %v", end)
	}

	// Acknowledged events survive kill -9.
	in.kill()
	in.start()
	ev = in.mustAWS("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream)
	if events, _ := path(ev, "events").([]any); len(events) != 9 {
		t.Fatalf("after kill -9: %v", ev)
	}
	groups := in.mustAWS("logs", "describe-log-groups")
	if path(groups, "logGroups", 0, "logGroupName") != group || path(groups, "logGroups", 0, "arn") != "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/e2e:*" {
		t.Fatalf("describe-log-groups: %v", groups)
	}
}
