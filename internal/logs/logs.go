package logs

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Errors with the messages CloudWatch Logs answers.
var (
	ErrGroupNotFound  = errdefs.New(errdefs.ErrNotFound, "The specified log group does not exist.")
	ErrStreamNotFound = errdefs.New(errdefs.ErrNotFound, "The specified log stream does not exist.")
	ErrGroupExists    = errdefs.New(errdefs.ErrAlreadyExists, "The specified log group already exists")
	ErrStreamExists   = errdefs.New(errdefs.ErrAlreadyExists, "The specified log stream already exists")
)

// Limits of PutLogEvents and of the read operations.
const (
	MaxBatchEvents = 10000
	MaxBatchBytes  = 1048576
	EventOverhead  = 26 // bytes counted per event on top of its message
	// MaxEventBytes is one event, its message plus EventOverhead. AWS
	// raised it from 256 KB to 1 MB (the PutLogEvents reference now says
	// "Each log event can be no larger than 1 MB"), the batch limit.
	MaxEventBytes    = 1048576
	MaxBatchSpan     = 24 * time.Hour
	MaxFutureSkew    = 2 * time.Hour
	MaxEventAge      = 14 * 24 * time.Hour
	MaxEventsPerRead = 10000
	maxReadBytes     = 1 << 20
	MaxDescribe      = 50
	maxNameLen       = 512
	maxTags          = 50
)

// RetentionDays are the values PutRetentionPolicy accepts.
var RetentionDays = []int32{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Log group classes.
const (
	ClassStandard   = "STANDARD"
	ClassInfrequent = "INFREQUENT_ACCESS"
	ClassDelivery   = "DELIVERY"
	service         = "logs"
)

// Group is a log group.
type Group struct {
	Name            string            `json:"name"`
	CreationTime    int64             `json:"creationTime"` // epoch ms
	RetentionInDays int32             `json:"retentionInDays,omitempty"`
	Class           string            `json:"class"`
	Tags            map[string]string `json:"tags,omitempty"`
	// StoredBytes is the sum of the streams' (computed on read, not stored).
	StoredBytes int64 `json:"-"`
}

// GroupARN is the ARN of a log group, "arn:aws:logs:R:A:log-group:NAME"
// (logGroupArn; the older arn field adds ":*").
func GroupARN(s tenant.Scope, group string) string { return s.ARN(service, "log-group:"+group) }

// StreamARN is the ARN of a log stream.
func StreamARN(s tenant.Scope, group, stream string) string {
	return s.ARN(service, "log-group:"+group+":log-stream:"+stream)
}

// Stream is a log stream.
type Stream struct {
	Name                string `json:"name"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"` // 0: no events
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	StoredBytes         int64  `json:"storedBytes"`
	// NextSeq is the sequence number of the next batch (the upload
	// sequence token).
	NextSeq int64 `json:"nextSeq"`
}

// HasEvents reports whether any event was ever stored in the stream.
func (s *Stream) HasEvents() bool { return s.LastIngestionTime != 0 }

// Config configures a Service.
type Config struct {
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger (nil: discard).
	Logger *slog.Logger
	// Observe, when set, is told of every stored batch of events (its
	// count and message bytes) once it is committed: CloudWatch's AWS/Logs
	// IncomingLogEvents and IncomingBytes.
	Observe func(sc tenant.Scope, group string, events int, bytes int64)
}

// Service is the Logs domain over a store.
type Service struct {
	st      store.Store
	now     func() time.Time
	log     *slog.Logger
	observe func(sc tenant.Scope, group string, events int, bytes int64)
}

// New returns a Service keeping its state in st.
func New(cfg Config, st store.Store) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, now: cfg.Now, log: cfg.Logger, observe: cfg.Observe}
}

// ---- keys ----

func escape(name string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(name)
}

func groupKey(s tenant.Scope, g string) string { return s.KeyPrefix(service) + "groups/" + g }
func groupsPrefix(s tenant.Scope) string       { return s.KeyPrefix(service) + "groups/" }
func streamsPrefix(s tenant.Scope, g string) string {
	return s.KeyPrefix(service) + "streams/" + escape(g) + "/"
}
func streamKey(s tenant.Scope, g, st string) string { return streamsPrefix(s, g) + st }
func groupEventsPrefix(s tenant.Scope, g string) string {
	return s.KeyPrefix(service) + "events/" + escape(g) + "/"
}
func eventsPrefix(s tenant.Scope, g, st string) string {
	return groupEventsPrefix(s, g) + escape(st) + "/"
}
func batchKey(s tenant.Scope, g, st string, seq int64) string {
	return fmt.Sprintf("%s%016d", eventsPrefix(s, g, st), seq)
}

// ---- validation ----

var groupNameRE = regexp.MustCompile(`^[.\-_/#A-Za-z0-9]+$`)

// ValidateGroupName checks a log group name as CreateLogGroup does.
func ValidateGroupName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return errdefs.Invalidf("1 validation error detected: Value '%s' at 'logGroupName' failed to satisfy constraint: Member must have length between 1 and 512", name)
	}
	if !groupNameRE.MatchString(name) {
		return errdefs.Invalidf("1 validation error detected: Value '%s' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name)
	}
	return nil
}

// ValidateStreamName checks a log stream name as CreateLogStream does.
func ValidateStreamName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return errdefs.Invalidf("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must have length between 1 and 512", name)
	}
	if strings.ContainsAny(name, ":*") {
		return errdefs.Invalidf("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", name)
	}
	return nil
}

func validateTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return errdefs.Invalidf("A log group can have at most %d tags.", maxTags)
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || strings.HasPrefix(k, "aws:") {
			return errdefs.Invalidf("Invalid tag key '%s'.", k)
		}
		if len(v) > 256 {
			return errdefs.Invalidf("Invalid tag value for key '%s'.", k)
		}
	}
	return nil
}

// ---- store helpers ----

func getJSON[T any](tx store.ReadTx, key string, notFound error) (*T, error) {
	kv, err := tx.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return nil, fmt.Errorf("logs: decode %s: %w", key, err)
	}
	return v, nil
}

func putJSON(tx store.Tx, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(key, b)
}

func getGroup(tx store.ReadTx, s tenant.Scope, name string) (*Group, error) {
	return getJSON[Group](tx, groupKey(s, name), ErrGroupNotFound)
}

func getStream(tx store.ReadTx, s tenant.Scope, group, name string) (*Stream, error) {
	return getJSON[Stream](tx, streamKey(s, group, name), ErrStreamNotFound)
}

func listStreams(tx store.ReadTx, s tenant.Scope, group string) ([]*Stream, error) {
	kvs, err := tx.List(streamsPrefix(s, group))
	if err != nil {
		return nil, err
	}
	out := make([]*Stream, 0, len(kvs))
	for _, kv := range kvs {
		st := new(Stream)
		if err := json.Unmarshal(kv.Value, st); err != nil {
			return nil, fmt.Errorf("logs: decode %s: %w", kv.Key, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// deleteStreamData deletes a stream's record and every one of its batches.
func deleteStreamData(tx store.Tx, s tenant.Scope, group, stream string) error {
	kvs, err := tx.List(eventsPrefix(s, group, stream))
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if err := tx.Delete(kv.Key); err != nil {
			return err
		}
	}
	return tx.Delete(streamKey(s, group, stream))
}

// retentionCutoff is the oldest visible timestamp (ms) of a group, or
// minInt64 without retention.
func (g *Group) retentionCutoff(now time.Time) int64 {
	if g.RetentionInDays == 0 {
		return -1 << 63
	}
	return now.Add(-time.Duration(g.RetentionInDays) * 24 * time.Hour).UnixMilli()
}

func validRetention(days int32) bool { return slices.Contains(RetentionDays, days) }
