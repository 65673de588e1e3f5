// Package logs is the thin CloudWatch Logs adapter of the API front door: it
// decodes the awsJson1_1 shapes of internal/api/logswire, calls the Logs
// domain (internal/logs), and converts answers and errors back. Errors are
// mapped to Logs codes exactly once, in mapError.
package logs

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/fargo-run/fargo/internal/api"
	"github.com/fargo-run/fargo/internal/api/logswire"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/logs"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Adapter serves the Logs API over a logs.Service.
type Adapter struct {
	svc *logs.Service
}

// New returns the Logs service description for the router.
func New(svc *logs.Service) *api.JSONService {
	a := &Adapter{svc: svc}
	return &api.JSONService{
		Name:         logswire.SigningName,
		TargetPrefix: logswire.TargetPrefix,
		JSONVersion:  logswire.JSONVersion,
		MessageKey:   "message",
		// A batch holds up to 1 MiB of messages (logs.MaxBatchBytes) and
		// 10,000 events: room for JSON escaping and the events' framing;
		// PutEvents then applies the limits themselves.
		BodyLimits: map[string]int64{"PutLogEvents": 8 << 20},
		Known: func(op string) bool {
			_, ok := logswire.Operations[op]
			return ok
		},
		Handlers: map[string]api.Handler{
			"CreateLogGroup":        api.JSON(a.createLogGroup),
			"DeleteLogGroup":        api.JSON(a.deleteLogGroup),
			"DescribeLogGroups":     api.JSON(a.describeLogGroups),
			"CreateLogStream":       api.JSON(a.createLogStream),
			"DeleteLogStream":       api.JSON(a.deleteLogStream),
			"DescribeLogStreams":    api.JSON(a.describeLogStreams),
			"PutLogEvents":          api.JSON(a.putLogEvents),
			"GetLogEvents":          api.JSON(a.getLogEvents),
			"FilterLogEvents":       api.JSON(a.filterLogEvents),
			"PutRetentionPolicy":    api.JSON(a.putRetentionPolicy),
			"DeleteRetentionPolicy": api.JSON(a.deleteRetentionPolicy),
			"TagLogGroup":           api.JSON(a.tagLogGroup),
			"UntagLogGroup":         api.JSON(a.untagLogGroup),
			"ListTagsLogGroup":      api.JSON(a.listTagsLogGroup),
			"TagResource":           api.JSON(a.tagResource),
			"UntagResource":         api.JSON(a.untagResource),
			"ListTagsForResource":   api.JSON(a.listTagsForResource),
		},
		MapError: mapError,
	}
}

// mapError maps Logs domain errors to Logs error codes.
func mapError(err error) *api.Error {
	msg := errdefs.Message(err)
	code := ""
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		code = "ResourceNotFoundException"
	case errors.Is(err, errdefs.ErrAlreadyExists):
		code = "ResourceAlreadyExistsException"
	case errors.Is(err, errdefs.ErrInvalidArgument), errors.Is(err, errdefs.ErrUnsupported):
		code = "InvalidParameterException"
	case errors.Is(err, errdefs.ErrLimitExceeded):
		code = "LimitExceededException"
	case errors.Is(err, errdefs.ErrConflict):
		code = "OperationAbortedException"
	case errors.Is(err, errdefs.ErrPermissionDenied):
		code = "AccessDeniedException"
	case errors.Is(err, errdefs.ErrUnavailable):
		return &api.Error{Code: "ServiceUnavailableException", Message: msg, Status: http.StatusInternalServerError}
	default:
		return nil
	}
	return &api.Error{Code: code, Message: msg}
}

// required returns *p, or an InvalidParameterException naming the member.
func required(p *string, member string) (string, error) {
	if p == nil || *p == "" {
		return "", errdefs.Invalidf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	}
	return *p, nil
}

// groupName takes logGroupName, or logGroupIdentifier (a name or an ARN).
func groupName(sc tenant.Scope, name, identifier *string) (string, error) {
	if name != nil && *name != "" {
		if identifier != nil && *identifier != "" {
			return "", errdefs.Invalidf("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
		}
		return *name, nil
	}
	if identifier != nil && strings.HasPrefix(*identifier, "arn:") {
		return groupFromARN(sc, *identifier)
	}
	return required(identifier, "logGroupName")
}

// groupFromARN returns the group an ARN of this scope names
// (arn:aws:logs:R:A:log-group:NAME, optionally with ":*").
func groupFromARN(sc tenant.Scope, arn string) (string, error) {
	prefix := logs.GroupARN(sc, "")
	if !strings.HasPrefix(arn, prefix) {
		if strings.HasPrefix(arn, "arn:") && strings.Contains(arn, ":log-group:") {
			return "", logs.ErrGroupNotFound
		}
		return "", errdefs.Invalidf("Invalid resource ARN: %s", arn)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(arn, prefix), ":*")
	if name == "" || strings.Contains(name, ":") {
		return "", errdefs.Invalidf("Invalid resource ARN: %s", arn)
	}
	return name, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func (a *Adapter) createLogGroup(ctx context.Context, req *api.Request, in *logswire.CreateLogGroupRequest) (*struct{}, error) {
	name, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	_, err = a.svc.CreateGroup(ctx, req.Scope, logs.CreateGroupInput{Name: name, Class: deref(in.LogGroupClass), Tags: in.Tags})
	return nil, err
}

func (a *Adapter) deleteLogGroup(ctx context.Context, req *api.Request, in *logswire.DeleteLogGroupRequest) (*struct{}, error) {
	name, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DeleteGroup(ctx, req.Scope, name)
}

// describeLogGroupsOutput always carries logGroups, as AWS does (botocore
// paginators index it).
type describeLogGroupsOutput struct {
	LogGroups []logswire.LogGroup `json:"logGroups"`
	NextToken *string             `json:"nextToken,omitempty"`
}

func (a *Adapter) describeLogGroups(ctx context.Context, req *api.Request, in *logswire.DescribeLogGroupsRequest) (*describeLogGroupsOutput, error) {
	groups, next, err := a.svc.DescribeGroups(ctx, req.Scope, deref(in.LogGroupNamePrefix), page(in.Limit, in.NextToken))
	if err != nil {
		return nil, err
	}
	out := &describeLogGroupsOutput{LogGroups: make([]logswire.LogGroup, 0, len(groups))}
	for _, g := range groups {
		out.LogGroups = append(out.LogGroups, toWireGroup(req.Scope, g))
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func toWireGroup(sc tenant.Scope, g *logs.Group) logswire.LogGroup {
	arn := logs.GroupARN(sc, g.Name)
	w := logswire.LogGroup{
		LogGroupName:      ptr(g.Name),
		CreationTime:      ptr(g.CreationTime),
		MetricFilterCount: ptr(int32(0)),
		Arn:               ptr(arn + ":*"),
		LogGroupArn:       ptr(arn),
		StoredBytes:       ptr(g.StoredBytes),
		LogGroupClass:     ptr(g.Class),
	}
	if g.RetentionInDays > 0 {
		w.RetentionInDays = ptr(g.RetentionInDays)
	}
	return w
}

func page(limit *int32, token *string) logs.Page {
	p := logs.Page{Token: deref(token)}
	if limit != nil {
		p.Limit = int(*limit)
		if p.Limit == 0 {
			p.Limit = -1 // an explicit 0 is out of range
		}
	}
	return p
}

func (a *Adapter) createLogStream(ctx context.Context, req *api.Request, in *logswire.CreateLogStreamRequest) (*struct{}, error) {
	group, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	stream, err := required(in.LogStreamName, "logStreamName")
	if err != nil {
		return nil, err
	}
	_, err = a.svc.CreateStream(ctx, req.Scope, group, stream)
	return nil, err
}

func (a *Adapter) deleteLogStream(ctx context.Context, req *api.Request, in *logswire.DeleteLogStreamRequest) (*struct{}, error) {
	group, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	stream, err := required(in.LogStreamName, "logStreamName")
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DeleteStream(ctx, req.Scope, group, stream)
}

type describeLogStreamsOutput struct {
	LogStreams []logswire.LogStream `json:"logStreams"`
	NextToken  *string              `json:"nextToken,omitempty"`
}

func (a *Adapter) describeLogStreams(ctx context.Context, req *api.Request, in *logswire.DescribeLogStreamsRequest) (*describeLogStreamsOutput, error) {
	group, err := groupName(req.Scope, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	streams, next, err := a.svc.DescribeStreams(ctx, req.Scope, logs.DescribeStreamsInput{
		Group: group, Prefix: deref(in.LogStreamNamePrefix), OrderBy: deref(in.OrderBy),
		Descending: deref(in.Descending), Page: page(in.Limit, in.NextToken),
	})
	if err != nil {
		return nil, err
	}
	out := &describeLogStreamsOutput{LogStreams: make([]logswire.LogStream, 0, len(streams))}
	for _, st := range streams {
		out.LogStreams = append(out.LogStreams, toWireStream(req.Scope, group, st))
	}
	if next != "" {
		out.NextToken = &next
	}
	return out, nil
}

func toWireStream(sc tenant.Scope, group string, st *logs.Stream) logswire.LogStream {
	w := logswire.LogStream{
		LogStreamName:       ptr(st.Name),
		CreationTime:        ptr(st.CreationTime),
		Arn:                 ptr(logs.StreamARN(sc, group, st.Name)),
		StoredBytes:         ptr(st.StoredBytes),
		UploadSequenceToken: ptr(logs.SequenceToken(st.NextSeq)),
	}
	if st.HasEvents() {
		w.FirstEventTimestamp = ptr(st.FirstEventTimestamp)
		w.LastEventTimestamp = ptr(st.LastEventTimestamp)
		w.LastIngestionTime = ptr(st.LastIngestionTime)
	}
	return w
}

func (a *Adapter) putLogEvents(ctx context.Context, req *api.Request, in *logswire.PutLogEventsRequest) (*logswire.PutLogEventsResponse, error) {
	group, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	stream, err := required(in.LogStreamName, "logStreamName")
	if err != nil {
		return nil, err
	}
	events := make([]logs.InputEvent, len(in.LogEvents))
	for i, e := range in.LogEvents {
		events[i] = logs.InputEvent{Timestamp: deref(e.Timestamp), Message: deref(e.Message)}
	}
	res, err := a.svc.PutEvents(ctx, req.Scope, group, stream, events)
	if err != nil {
		return nil, err
	}
	out := &logswire.PutLogEventsResponse{NextSequenceToken: ptr(res.NextSequenceToken)}
	if res.TooNewStart >= 0 || res.TooOldEnd >= 0 || res.ExpiredEnd >= 0 {
		info := &logswire.RejectedLogEventsInfo{}
		if res.TooNewStart >= 0 {
			info.TooNewLogEventStartIndex = ptr(int32(res.TooNewStart))
		}
		if res.TooOldEnd >= 0 {
			info.TooOldLogEventEndIndex = ptr(int32(res.TooOldEnd))
		}
		if res.ExpiredEnd >= 0 {
			info.ExpiredLogEventEndIndex = ptr(int32(res.ExpiredEnd))
		}
		out.RejectedLogEventsInfo = info
	}
	return out, nil
}

// getLogEventsOutput always carries events (an empty list at the end).
type getLogEventsOutput struct {
	Events            []logswire.OutputLogEvent `json:"events"`
	NextBackwardToken *string                   `json:"nextBackwardToken,omitempty"`
	NextForwardToken  *string                   `json:"nextForwardToken,omitempty"`
}

func (a *Adapter) getLogEvents(ctx context.Context, req *api.Request, in *logswire.GetLogEventsRequest) (*getLogEventsOutput, error) {
	group, err := groupName(req.Scope, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	stream, err := required(in.LogStreamName, "logStreamName")
	if err != nil {
		return nil, err
	}
	res, err := a.svc.GetEvents(ctx, req.Scope, logs.GetEventsInput{
		Group: group, Stream: stream, StartTime: in.StartTime, EndTime: in.EndTime,
		Limit: page(in.Limit, nil).Limit, Token: deref(in.NextToken), StartFromHead: deref(in.StartFromHead),
	})
	if err != nil {
		return nil, err
	}
	out := &getLogEventsOutput{
		Events:            make([]logswire.OutputLogEvent, len(res.Events)),
		NextForwardToken:  ptr(res.NextForwardToken),
		NextBackwardToken: ptr(res.NextBackwardToken),
	}
	for i, e := range res.Events {
		out.Events[i] = logswire.OutputLogEvent{Timestamp: ptr(e.Timestamp), IngestionTime: ptr(e.IngestionTime), Message: ptr(e.Message)}
	}
	return out, nil
}

// filterLogEventsOutput always carries events: aws logs tail reads
// response['events'] on every poll.
type filterLogEventsOutput struct {
	Events             []logswire.FilteredLogEvent  `json:"events"`
	SearchedLogStreams []logswire.SearchedLogStream `json:"searchedLogStreams"`
	NextToken          *string                      `json:"nextToken,omitempty"`
}

func (a *Adapter) filterLogEvents(ctx context.Context, req *api.Request, in *logswire.FilterLogEventsRequest) (*filterLogEventsOutput, error) {
	group, err := groupName(req.Scope, in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	res, err := a.svc.FilterEvents(ctx, req.Scope, logs.FilterInput{
		Group: group, StreamNames: in.LogStreamNames, StreamPrefix: deref(in.LogStreamNamePrefix),
		StartTime: in.StartTime, EndTime: in.EndTime, Pattern: deref(in.FilterPattern),
		Limit: page(in.Limit, nil).Limit, Token: deref(in.NextToken),
	})
	if err != nil {
		return nil, err
	}
	out := &filterLogEventsOutput{
		Events:             make([]logswire.FilteredLogEvent, len(res.Events)),
		SearchedLogStreams: make([]logswire.SearchedLogStream, len(res.Searched)),
	}
	for i, e := range res.Events {
		out.Events[i] = logswire.FilteredLogEvent{
			LogStreamName: ptr(e.Stream), Timestamp: ptr(e.Timestamp), IngestionTime: ptr(e.IngestionTime),
			Message: ptr(e.Message), EventId: ptr(e.ID),
		}
	}
	for i, s := range res.Searched {
		out.SearchedLogStreams[i] = logswire.SearchedLogStream{LogStreamName: ptr(s.Name), SearchedCompletely: ptr(s.Completely)}
	}
	if res.NextToken != "" {
		out.NextToken = &res.NextToken
	}
	return out, nil
}

func (a *Adapter) putRetentionPolicy(ctx context.Context, req *api.Request, in *logswire.PutRetentionPolicyRequest) (*struct{}, error) {
	name, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	if in.RetentionInDays == nil {
		return nil, errdefs.Invalidf("1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null")
	}
	return nil, a.svc.PutRetention(ctx, req.Scope, name, *in.RetentionInDays)
}

func (a *Adapter) deleteRetentionPolicy(ctx context.Context, req *api.Request, in *logswire.DeleteRetentionPolicyRequest) (*struct{}, error) {
	name, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DeleteRetention(ctx, req.Scope, name)
}

func (a *Adapter) tagLogGroup(ctx context.Context, req *api.Request, in *logswire.TagLogGroupRequest) (*struct{}, error) {
	name, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	return nil, a.svc.TagGroup(ctx, req.Scope, name, in.Tags)
}

func (a *Adapter) untagLogGroup(ctx context.Context, req *api.Request, in *logswire.UntagLogGroupRequest) (*struct{}, error) {
	name, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	return nil, a.svc.UntagGroup(ctx, req.Scope, name, in.Tags)
}

// tagsOutput always carries tags ({} when there are none).
type tagsOutput struct {
	Tags map[string]string `json:"tags"`
}

func (a *Adapter) tags(ctx context.Context, sc tenant.Scope, name string) (*tagsOutput, error) {
	g, err := a.svc.Group(ctx, sc, name)
	if err != nil {
		return nil, err
	}
	out := &tagsOutput{Tags: g.Tags}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	return out, nil
}

func (a *Adapter) listTagsLogGroup(ctx context.Context, req *api.Request, in *logswire.ListTagsLogGroupRequest) (*tagsOutput, error) {
	name, err := required(in.LogGroupName, "logGroupName")
	if err != nil {
		return nil, err
	}
	return a.tags(ctx, req.Scope, name)
}

func (a *Adapter) resourceGroup(sc tenant.Scope, arn *string) (string, error) {
	s, err := required(arn, "resourceArn")
	if err != nil {
		return "", err
	}
	return groupFromARN(sc, s)
}

func (a *Adapter) tagResource(ctx context.Context, req *api.Request, in *logswire.TagResourceRequest) (*struct{}, error) {
	name, err := a.resourceGroup(req.Scope, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.TagGroup(ctx, req.Scope, name, in.Tags)
}

func (a *Adapter) untagResource(ctx context.Context, req *api.Request, in *logswire.UntagResourceRequest) (*struct{}, error) {
	name, err := a.resourceGroup(req.Scope, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.UntagGroup(ctx, req.Scope, name, in.TagKeys)
}

func (a *Adapter) listTagsForResource(ctx context.Context, req *api.Request, in *logswire.ListTagsForResourceRequest) (*tagsOutput, error) {
	name, err := a.resourceGroup(req.Scope, in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return a.tags(ctx, req.Scope, name)
}
