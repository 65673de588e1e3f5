package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/fargotest"
)

func logsClient(s *fargotest.Server) *cloudwatchlogs.Client {
	id, secret := s.Admin()
	return cloudwatchlogs.NewFromConfig(s.AWSConfig(id, secret))
}

func logsAs(s *fargotest.Server, account string) *cloudwatchlogs.Client {
	return cloudwatchlogs.NewFromConfig(s.AWSConfig(account, config.DevSecretAccessKey))
}

// logsFixture creates a group and a stream.
func logsFixture(t *testing.T, c *cloudwatchlogs.Client, group string, streams ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	for _, st := range streams {
		if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(st)}); err != nil {
			t.Fatal(err)
		}
	}
}

func ev(ts time.Time, msg string) types.InputLogEvent {
	return types.InputLogEvent{Timestamp: aws.Int64(ts.UnixMilli()), Message: aws.String(msg)}
}

func putEvents(t *testing.T, c *cloudwatchlogs.Client, group, stream string, evs ...types.InputLogEvent) *cloudwatchlogs.PutLogEventsOutput {
	t.Helper()
	out, err := c.PutLogEvents(context.Background(), &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: evs})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func messages[E any](evs []E, msg func(E) *string) string {
	var out []string
	for _, e := range evs {
		out = append(out, aws.ToString(msg(e)))
	}
	return strings.Join(out, ",")
}

func outMsgs(evs []types.OutputLogEvent) string {
	return messages(evs, func(e types.OutputLogEvent) *string { return e.Message })
}

func filteredMsgs(evs []types.FilteredLogEvent) string {
	return messages(evs, func(e types.FilteredLogEvent) *string { return e.Message })
}

func TestLogGroupLifecycle(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	logsFixture(t, c, "/ecs/web", "ecs/web/1")
	putEvents(t, c, "/ecs/web", "ecs/web/1", ev(time.Now(), "hello"))
	out, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.LogGroups) != 1 {
		t.Fatalf("groups: %+v", out.LogGroups)
	}
	g := out.LogGroups[0]
	if aws.ToString(g.LogGroupName) != "/ecs/web" ||
		aws.ToString(g.Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web:*" ||
		aws.ToString(g.LogGroupArn) != "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web" ||
		aws.ToInt32(g.MetricFilterCount) != 0 || g.MetricFilterCount == nil ||
		aws.ToInt64(g.StoredBytes) != 5 || g.LogGroupClass != types.LogGroupClassStandard ||
		g.RetentionInDays != nil || time.Since(time.UnixMilli(aws.ToInt64(g.CreationTime))) > time.Minute {
		t.Fatalf("group: %+v", g)
	}
	if _, err := c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/ecs/web")}); err != nil {
		t.Fatal(err)
	}
	// Deleted with its streams and events: a new group of that name is empty.
	logsFixture(t, c, "/ecs/web")
	streams, err := c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/ecs/web")})
	if err != nil || len(streams.LogStreams) != 0 {
		t.Fatalf("streams after delete: %+v, %v", streams, err)
	}
	_, err = c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}

func TestCreateLogGroupAlreadyExists(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	logsFixture(t, c, "app")
	_, err := c.CreateLogGroup(context.Background(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("app")})
	wantAPIError(t, err, "ResourceAlreadyExistsException", "The specified log group already exists")
}

func TestCreateLogGroupValidation(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	for _, name := range []string{"a:b", "a b", "aws/lambda/x", strings.Repeat("a", 513)} {
		_, err := c.CreateLogGroup(context.Background(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(name)})
		wantAPIError(t, err, "InvalidParameterException", "")
	}
	_, err := c.CreateLogGroup(context.Background(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("ok"), LogGroupClass: "BOGUS"})
	wantAPIError(t, err, "InvalidParameterException", "logGroupClass")
	if _, err := c.CreateLogGroup(context.Background(), &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("._-/#Az09")}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateLogStreamRules(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	logsFixture(t, c, "g", "s")
	_, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	wantAPIError(t, err, "ResourceAlreadyExistsException", "The specified log stream already exists")
	for _, name := range []string{"a:b", "a*", strings.Repeat("x", 513)} {
		_, err = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String(name)})
		wantAPIError(t, err, "InvalidParameterException", "logStreamName")
	}
	_, err = c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("missing"), LogStreamName: aws.String("s")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}

func TestPutLogEventsMissingStream(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	logsFixture(t, c, "g")
	_, err := c.PutLogEvents(context.Background(), &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), LogEvents: []types.InputLogEvent{ev(time.Now(), "x")}})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
	_, err = c.PutLogEvents(context.Background(), &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("h"), LogStreamName: aws.String("s"), LogEvents: []types.InputLogEvent{ev(time.Now(), "x")}})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}

func TestPutLogEventsChronologicalOrder(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	logsFixture(t, c, "g", "s")
	now := time.Now()
	_, err := c.PutLogEvents(context.Background(), &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"),
		LogEvents: []types.InputLogEvent{ev(now, "b"), ev(now.Add(-time.Second), "a")}})
	wantAPIError(t, err, "InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order.")
}

func TestPutLogEventsBatchLimits(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	logsFixture(t, c, "g", "s")
	now := time.Now()
	put := func(evs []types.InputLogEvent) error {
		_, err := c.PutLogEvents(context.Background(), &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), LogEvents: evs})
		return err
	}
	many := make([]types.InputLogEvent, 10001)
	for i := range many {
		many[i] = ev(now, "x")
	}
	wantAPIError(t, put(many), "InvalidParameterException", "10000")
	if err := put(many[:10000]); err != nil {
		t.Fatalf("10,000 events: %v", err)
	}
	// 1,048,576 bytes counting 26 per event: 2 events of 524,262 fit, one more byte does not.
	big := strings.Repeat("a", 1048576/2-26)
	if err := put([]types.InputLogEvent{ev(now, big), ev(now, big)}); err != nil {
		t.Fatalf("exactly 1 MiB: %v", err)
	}
	wantAPIError(t, put([]types.InputLogEvent{ev(now, big), ev(now, big+"a")}), "InvalidParameterException", "too large")
	wantAPIError(t, put([]types.InputLogEvent{ev(now.Add(-25*time.Hour), "a"), ev(now, "b")}), "InvalidParameterException", "24 hours")
	wantAPIError(t, put([]types.InputLogEvent{}), "InvalidParameterException", "logEvents")
}

func TestPutLogEventsRejectsOutOfRangeEvents(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	logsFixture(t, c, "g", "s")
	now := time.Now()
	// A batch spans at most 24 h, so too-old and too-new events come in
	// separate batches.
	out := putEvents(t, c, "g", "s",
		ev(now.Add(-14*24*time.Hour-2*time.Hour), "old0"), ev(now.Add(-14*24*time.Hour-time.Hour), "old1"),
		ev(now.Add(-14*24*time.Hour+time.Hour), "ok0"))
	r := out.RejectedLogEventsInfo
	if r == nil || aws.ToInt32(r.TooOldLogEventEndIndex) != 2 || r.TooNewLogEventStartIndex != nil || r.ExpiredLogEventEndIndex != nil {
		t.Fatalf("rejected too old: %+v", r)
	}
	if aws.ToString(out.NextSequenceToken) == "" {
		t.Fatal("no nextSequenceToken")
	}
	out = putEvents(t, c, "g", "s", ev(now, "ok1"), ev(now.Add(3*time.Hour), "new0"), ev(now.Add(4*time.Hour), "new1"))
	r = out.RejectedLogEventsInfo
	if r == nil || aws.ToInt32(r.TooNewLogEventStartIndex) != 1 || r.TooOldLogEventEndIndex != nil || r.ExpiredLogEventEndIndex != nil {
		t.Fatalf("rejected too new: %+v", r)
	}
	got, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	if err != nil || outMsgs(got.Events) != "ok0,ok1" {
		t.Fatalf("stored: %q, %v", outMsgs(got.Events), err)
	}
	// Older than the retention (but younger than 14 days): expired.
	if _, err := c.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("g"), RetentionInDays: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	out = putEvents(t, c, "g", "s", ev(now.Add(-26*time.Hour), "expired0"), ev(now.Add(-25*time.Hour), "expired1"), ev(now.Add(-2*time.Hour), "ok2"))
	r = out.RejectedLogEventsInfo
	if r == nil || aws.ToInt32(r.ExpiredLogEventEndIndex) != 2 || r.TooOldLogEventEndIndex != nil || r.TooNewLogEventStartIndex != nil {
		t.Fatalf("rejected with retention: %+v", r)
	}
	got, _ = c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	// ok0 (14 days old) is now past the 1-day retention.
	if outMsgs(got.Events) != "ok2,ok1" {
		t.Fatalf("stored with retention: %q", outMsgs(got.Events))
	}
	// The sequence token is ignored.
	if _, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), SequenceToken: aws.String("bogus"), LogEvents: []types.InputLogEvent{ev(now, "ok3")}}); err != nil {
		t.Fatal(err)
	}
}

func TestGetLogEventsPaging(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	logsFixture(t, c, "g", "s")
	base := time.Now().Add(-time.Hour)
	// Two puts, the second older than the first: reads are in time order.
	putEvents(t, c, "g", "s", ev(base.Add(5*time.Second), "e5"), ev(base.Add(6*time.Second), "e6"), ev(base.Add(7*time.Second), "e7"))
	putEvents(t, c, "g", "s", ev(base, "e0"), ev(base.Add(time.Second), "e1"), ev(base.Add(2*time.Second), "e2"), ev(base.Add(3*time.Second), "e3"), ev(base.Add(4*time.Second), "e4"))
	get := func(in cloudwatchlogs.GetLogEventsInput) *cloudwatchlogs.GetLogEventsOutput {
		t.Helper()
		in.LogGroupName, in.LogStreamName = aws.String("g"), aws.String("s")
		out, err := c.GetLogEvents(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Default: the newest page first.
	p := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(3)})
	if outMsgs(p.Events) != "e5,e6,e7" {
		t.Fatalf("tail page: %s", outMsgs(p.Events))
	}
	// Backward from there.
	p2 := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(3), NextToken: p.NextBackwardToken})
	if outMsgs(p2.Events) != "e2,e3,e4" {
		t.Fatalf("backward: %s", outMsgs(p2.Events))
	}
	p3 := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(3), NextToken: p2.NextBackwardToken})
	if outMsgs(p3.Events) != "e0,e1" {
		t.Fatalf("backward 2: %s", outMsgs(p3.Events))
	}
	p4 := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(3), NextToken: p3.NextBackwardToken})
	if len(p4.Events) != 0 || aws.ToString(p4.NextBackwardToken) != aws.ToString(p3.NextBackwardToken) {
		t.Fatalf("backward end: %+v, token %s want %s", p4.Events, aws.ToString(p4.NextBackwardToken), aws.ToString(p3.NextBackwardToken))
	}
	if !strings.HasPrefix(aws.ToString(p.NextForwardToken), "f/") || !strings.HasPrefix(aws.ToString(p.NextBackwardToken), "b/") {
		t.Fatalf("tokens: %s %s", aws.ToString(p.NextForwardToken), aws.ToString(p.NextBackwardToken))
	}
	// Forward from the head, and the same token at the end.
	f := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(4), StartFromHead: aws.Bool(true)})
	var all []string
	all = append(all, outMsgs(f.Events))
	tok := f.NextForwardToken
	for range 10 {
		n := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(4), NextToken: tok})
		if len(n.Events) == 0 {
			if aws.ToString(n.NextForwardToken) != aws.ToString(tok) {
				t.Fatalf("end token %s, want the one sent %s", aws.ToString(n.NextForwardToken), aws.ToString(tok))
			}
			break
		}
		all = append(all, outMsgs(n.Events))
		tok = n.NextForwardToken
	}
	if strings.Join(all, "|") != "e0,e1,e2,e3|e4,e5,e6,e7" {
		t.Fatalf("forward pages: %v", all)
	}
	// New events appear after the end token.
	putEvents(t, c, "g", "s", ev(base.Add(8*time.Second), "e8"))
	if n := get(cloudwatchlogs.GetLogEventsInput{NextToken: tok}); outMsgs(n.Events) != "e8" {
		t.Fatalf("after new put: %s", outMsgs(n.Events))
	}
	// The SDK paginator stops on the repeated token.
	pg := cloudwatchlogs.NewGetLogEventsPaginator(c, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), StartFromHead: aws.Bool(true), Limit: aws.Int32(2)},
		func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
	n, pages := 0, 0
	for pg.HasMorePages() && pages < 20 {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Events)
		pages++
	}
	if n != 9 || pages > 6 {
		t.Fatalf("paginator: %d events in %d pages", n, pages)
	}
	// Time range: [start, end).
	r := get(cloudwatchlogs.GetLogEventsInput{StartTime: aws.Int64(base.Add(2 * time.Second).UnixMilli()), EndTime: aws.Int64(base.Add(5 * time.Second).UnixMilli()), StartFromHead: aws.Bool(true)})
	if outMsgs(r.Events) != "e2,e3,e4" {
		t.Fatalf("range: %s", outMsgs(r.Events))
	}
	_, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
	_, err = c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), NextToken: aws.String("garbage")})
	wantAPIError(t, err, "InvalidParameterException", "nextToken")
}

func TestFilterLogEventsPatterns(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	logsFixture(t, c, "g", "a", "b")
	now := time.Now().Add(-time.Minute)
	putEvents(t, c, "g", "a",
		ev(now, "ERROR disk full"), ev(now.Add(2*time.Millisecond), "WARN slow request"),
		ev(now.Add(4*time.Millisecond), `{"level":"error","status":500,"user":{"id":"u1"}}`))
	putEvents(t, c, "g", "b",
		ev(now.Add(time.Millisecond), "INFO all good"), ev(now.Add(3*time.Millisecond), "ERROR timeout after 30s"),
		ev(now.Add(5*time.Millisecond), `{"level":"info","status":200,"user":{"id":"u2"}}`))
	for _, tc := range []struct{ pattern, want string }{
		{"", `ERROR disk full,INFO all good,WARN slow request,ERROR timeout after 30s,{"level":"error","status":500,"user":{"id":"u1"}},{"level":"info","status":200,"user":{"id":"u2"}}`},
		{"ERROR", "ERROR disk full,ERROR timeout after 30s"},
		{"ERROR timeout", "ERROR timeout after 30s"},
		{`"disk full"`, "ERROR disk full"},
		{"ERROR -timeout", "ERROR disk full"},
		{"?WARN ?INFO", "INFO all good,WARN slow request"},
		{`{ $.status = 500 }`, `{"level":"error","status":500,"user":{"id":"u1"}}`},
		{`{ $.status >= 200 && $.level = "info" }`, `{"level":"info","status":200,"user":{"id":"u2"}}`},
		{`{ $.user.id = "u*" }`, `{"level":"error","status":500,"user":{"id":"u1"}},{"level":"info","status":200,"user":{"id":"u2"}}`},
		{`{ $.level = "error" || $.status = 200 }`, `{"level":"error","status":500,"user":{"id":"u1"}},{"level":"info","status":200,"user":{"id":"u2"}}`},
		{"nothing-matches", ""},
	} {
		out, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), FilterPattern: aws.String(tc.pattern)})
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		if got := filteredMsgs(out.Events); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.pattern, got, tc.want)
		}
	}
	_, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), FilterPattern: aws.String("[ip, user]")})
	wantAPIError(t, err, "InvalidParameterException", "filter pattern")
}

func TestFilterLogEventsStreamsAndPaging(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	logsFixture(t, c, "g", "web/1", "web/2", "db/1")
	base := time.Now().Add(-time.Minute)
	for i := range 10 {
		for _, st := range []string{"web/1", "web/2", "db/1"} {
			putEvents(t, c, "g", st, ev(base.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("%s-%d", st, i)))
		}
	}
	out, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), LogStreamNamePrefix: aws.String("web/"), Limit: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 7 || aws.ToString(out.NextToken) == "" || aws.ToString(out.Events[0].LogStreamName) != "web/1" || aws.ToString(out.Events[1].LogStreamName) != "web/2" {
		t.Fatalf("page 1: %+v", out)
	}
	if len(out.SearchedLogStreams) != 2 {
		t.Fatalf("searched: %+v", out.SearchedLogStreams)
	}
	ev0 := out.Events[0]
	if aws.ToString(ev0.EventId) == "" || aws.ToInt64(ev0.IngestionTime) == 0 || aws.ToInt64(ev0.Timestamp) != base.UnixMilli() {
		t.Fatalf("event: %+v", ev0)
	}
	seen := map[string]bool{}
	pg := cloudwatchlogs.NewFilterLogEventsPaginator(c, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), LogStreamNamePrefix: aws.String("web/"), Limit: aws.Int32(7)})
	var order []int64
	for pg.HasMorePages() {
		p, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Events {
			if seen[aws.ToString(e.EventId)] {
				t.Fatalf("repeated event %s", aws.ToString(e.EventId))
			}
			seen[aws.ToString(e.EventId)] = true
			order = append(order, aws.ToInt64(e.Timestamp))
		}
	}
	if len(seen) != 20 {
		t.Fatalf("paged %d events, want 20", len(seen))
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("not interleaved by time: %v", order)
		}
	}
	// Same event, same id, on every call (aws logs tail de-duplicates by id).
	again, err := c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), LogStreamNames: []string{"db/1"}, StartTime: aws.Int64(base.UnixMilli()), EndTime: aws.Int64(base.UnixMilli() + 1)})
	if err != nil || len(again.Events) != 1 || aws.ToString(again.Events[0].Message) != "db/1-0" {
		t.Fatalf("by name and time: %+v %v", again, err)
	}
	id1 := aws.ToString(again.Events[0].EventId)
	again, _ = c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), LogStreamNames: []string{"db/1"}, StartTime: aws.Int64(base.UnixMilli()), EndTime: aws.Int64(base.UnixMilli() + 1)})
	if aws.ToString(again.Events[0].EventId) != id1 {
		t.Fatal("event id changed between calls")
	}
	_, err = c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g"), LogStreamNames: []string{"db/1"}, LogStreamNamePrefix: aws.String("web")})
	wantAPIError(t, err, "InvalidParameterException", "")
	_, err = c.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}

func TestDescribeLogGroupsPaging(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	for i := range 5 {
		logsFixture(t, c, fmt.Sprintf("/app/%d", i))
	}
	logsFixture(t, c, "/other")
	var names []string
	pg := cloudwatchlogs.NewDescribeLogGroupsPaginator(c, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/app/"), Limit: aws.Int32(2)})
	for pg.HasMorePages() {
		p, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.LogGroups) > 2 {
			t.Fatalf("page of %d", len(p.LogGroups))
		}
		for _, g := range p.LogGroups {
			names = append(names, aws.ToString(g.LogGroupName))
		}
	}
	if strings.Join(names, ",") != "/app/0,/app/1,/app/2,/app/3,/app/4" {
		t.Fatalf("groups: %v", names)
	}
	_, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{Limit: aws.Int32(51)})
	wantAPIError(t, err, "InvalidParameterException", "limit")
}

func TestDescribeLogStreamsOrder(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	logsFixture(t, c, "g", "a", "b", "c", "x/1")
	now := time.Now().Add(-time.Minute)
	putEvents(t, c, "g", "b", ev(now, "1"), ev(now.Add(time.Second), "22"))
	putEvents(t, c, "g", "a", ev(now.Add(2*time.Second), "3"))
	desc := func(in cloudwatchlogs.DescribeLogStreamsInput) []types.LogStream {
		t.Helper()
		in.LogGroupName = aws.String("g")
		out, err := c.DescribeLogStreams(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		return out.LogStreams
	}
	names := func(ss []types.LogStream) string {
		return messages(ss, func(s types.LogStream) *string { return s.LogStreamName })
	}
	if got := names(desc(cloudwatchlogs.DescribeLogStreamsInput{})); got != "a,b,c,x/1" {
		t.Fatalf("by name: %s", got)
	}
	if got := names(desc(cloudwatchlogs.DescribeLogStreamsInput{Descending: aws.Bool(true)})); got != "x/1,c,b,a" {
		t.Fatalf("descending: %s", got)
	}
	if got := names(desc(cloudwatchlogs.DescribeLogStreamsInput{LogStreamNamePrefix: aws.String("x/")})); got != "x/1" {
		t.Fatalf("prefix: %s", got)
	}
	if got := names(desc(cloudwatchlogs.DescribeLogStreamsInput{OrderBy: types.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(2)})); got != "a,b" {
		t.Fatalf("by last event: %s", got)
	}
	b := desc(cloudwatchlogs.DescribeLogStreamsInput{LogStreamNamePrefix: aws.String("b")})[0]
	if aws.ToInt64(b.FirstEventTimestamp) != now.UnixMilli() || aws.ToInt64(b.LastEventTimestamp) != now.Add(time.Second).UnixMilli() ||
		aws.ToInt64(b.LastIngestionTime) == 0 || aws.ToInt64(b.StoredBytes) != 3 || aws.ToString(b.UploadSequenceToken) == "" ||
		aws.ToString(b.Arn) != "arn:aws:logs:us-east-1:000000000000:log-group:g:log-stream:b" || aws.ToInt64(b.CreationTime) == 0 {
		t.Fatalf("stream: %+v", b)
	}
	var paged []string
	pg := cloudwatchlogs.NewDescribeLogStreamsPaginator(c, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("g"), Limit: aws.Int32(3)})
	for pg.HasMorePages() {
		p, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, names(p.LogStreams))
	}
	if strings.Join(paged, "|") != "a,b,c|x/1" {
		t.Fatalf("paged: %v", paged)
	}
	_, err := c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("g"), OrderBy: types.OrderByLastEventTime, LogStreamNamePrefix: aws.String("a")})
	wantAPIError(t, err, "InvalidParameterException", "LastEventTime")
	_, err = c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}

func TestDeleteLogStream(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	// Group names that prefix each other must not share streams or events.
	logsFixture(t, c, "g", "s")
	logsFixture(t, c, "g/s", "x")
	putEvents(t, c, "g", "s", ev(time.Now(), "in g"))
	putEvents(t, c, "g/s", "x", ev(time.Now(), "in g/s"))
	if _, err := c.DeleteLogStream(ctx, &cloudwatchlogs.DeleteLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.DeleteLogStream(ctx, &cloudwatchlogs.DeleteLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log stream does not exist.")
	logsFixture(t, c, "h", "s")
	_, _ = c.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("h")})
	// Recreated: empty.
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s")})
	if err != nil || len(out.Events) != 0 {
		t.Fatalf("recreated stream: %+v %v", out, err)
	}
	out, err = c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g/s"), LogStreamName: aws.String("x")})
	if err != nil || outMsgs(out.Events) != "in g/s" {
		t.Fatalf("other group: %+v %v", out, err)
	}
}

func TestRetentionPolicy(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	logsFixture(t, c, "g", "s")
	now := time.Now()
	putEvents(t, c, "g", "s", ev(now.Add(-3*24*time.Hour), "old"))
	putEvents(t, c, "g", "s", ev(now, "new"))
	_, err := c.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("g"), RetentionInDays: aws.Int32(2)})
	wantAPIError(t, err, "InvalidParameterException", "retentionInDays")
	if _, err := c.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("g"), RetentionInDays: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	g, err := c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil || aws.ToInt32(g.LogGroups[0].RetentionInDays) != 1 || aws.ToInt64(g.LogGroups[0].StoredBytes) != 3 {
		t.Fatalf("group: %+v %v", g, err)
	}
	out, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), StartFromHead: aws.Bool(true)})
	if err != nil || outMsgs(out.Events) != "new" {
		t.Fatalf("after retention: %q %v", outMsgs(out.Events), err)
	}
	if _, err := c.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: aws.String("g")}); err != nil {
		t.Fatal(err)
	}
	g, _ = c.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if g.LogGroups[0].RetentionInDays != nil {
		t.Fatalf("retention not deleted: %+v", g.LogGroups[0])
	}
	_, err = c.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("nope"), RetentionInDays: aws.Int32(1)})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}

func TestLogGroupTags(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("g"), Tags: map[string]string{"team": "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagLogGroup(ctx, &cloudwatchlogs.TagLogGroupInput{LogGroupName: aws.String("g"), Tags: map[string]string{"env": "dev"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsLogGroup(ctx, &cloudwatchlogs.ListTagsLogGroupInput{LogGroupName: aws.String("g")})
	if err != nil || len(tags.Tags) != 2 || tags.Tags["team"] != "a" || tags.Tags["env"] != "dev" {
		t.Fatalf("tags: %+v %v", tags, err)
	}
	if _, err := c.UntagLogGroup(ctx, &cloudwatchlogs.UntagLogGroupInput{LogGroupName: aws.String("g"), Tags: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:logs:us-east-1:000000000000:log-group:g"
	if _, err := c.TagResource(ctx, &cloudwatchlogs.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(arn + ":*")})
	if err != nil || len(res.Tags) != 2 || res.Tags["k"] != "v" || res.Tags["env"] != "dev" {
		t.Fatalf("tags for resource: %+v %v", res, err)
	}
	if _, err := c.UntagResource(ctx, &cloudwatchlogs.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"k", "env"}}); err != nil {
		t.Fatal(err)
	}
	res, err = c.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || len(res.Tags) != 0 {
		t.Fatalf("after untag: %+v %v", res, err)
	}
	_, err = c.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:logs:us-east-1:000000000000:log-group:nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	_, err = c.ListTagsLogGroup(ctx, &cloudwatchlogs.ListTagsLogGroupInput{LogGroupName: aws.String("nope")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
}

func TestLogsSurviveRestart(t *testing.T) {
	s := fargotest.Start(t)
	c := logsClient(s)
	ctx := context.Background()
	logsFixture(t, c, "g", "s")
	now := time.Now()
	putEvents(t, c, "g", "s", ev(now, "one"), ev(now.Add(time.Millisecond), "two"))
	s.Restart(t)
	c = logsClient(s)
	out, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), StartFromHead: aws.Bool(true)})
	if err != nil || outMsgs(out.Events) != "one,two" {
		t.Fatalf("after restart: %q %v", outMsgs(out.Events), err)
	}
	putEvents(t, c, "g", "s", ev(now.Add(2*time.Millisecond), "three"))
	out, _ = c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), StartFromHead: aws.Bool(true)})
	if outMsgs(out.Events) != "one,two,three" {
		t.Fatalf("append after restart: %q", outMsgs(out.Events))
	}
}

func TestLogsTenancy(t *testing.T) {
	s := fargotest.Start(t)
	ctx := context.Background()
	a, b := logsAs(s, "111111111111"), logsAs(s, "222222222222")
	logsFixture(t, a, "shared-name", "s")
	putEvents(t, a, "shared-name", "s", ev(time.Now(), "secret"))
	// B sees nothing of A's and can create the same name.
	out, err := b.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil || len(out.LogGroups) != 0 {
		t.Fatalf("b's groups: %+v %v", out, err)
	}
	_, err = b.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("shared-name"), LogStreamName: aws.String("s")})
	wantAPIError(t, err, "ResourceNotFoundException", "The specified log group does not exist.")
	_, err = b.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:logs:us-east-1:111111111111:log-group:shared-name")})
	wantAPIError(t, err, "ResourceNotFoundException", "")
	logsFixture(t, b, "shared-name", "s")
	got, err := b.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("shared-name")})
	if err != nil || len(got.Events) != 0 {
		t.Fatalf("b's events: %+v %v", got, err)
	}
	g, _ := a.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if aws.ToString(g.LogGroups[0].LogGroupArn) != "arn:aws:logs:us-east-1:111111111111:log-group:shared-name" {
		t.Fatalf("a's arn: %s", aws.ToString(g.LogGroups[0].LogGroupArn))
	}
}
