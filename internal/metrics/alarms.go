package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Errors of CloudWatch that are not one of errdefs' classes alone: each
// wraps its class, and the API maps them to their own codes.
// ErrActionFailed marks an alarm action its sink cannot carry out at all
// (its policy does not exist): the attempt is recorded as failed in the
// alarm's history and not retried, as CloudWatch does.
var ErrActionFailed = errors.New("alarm action failed")

var (
	ErrMissingParameter     = fmt.Errorf("missing parameter: %w", errdefs.ErrInvalidArgument)
	ErrParameterCombination = fmt.Errorf("invalid parameter combination: %w", errdefs.ErrInvalidArgument)
)

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Alarm is a metric alarm with its state.
type Alarm struct {
	Scope             tenant.Scope `json:"scope"`
	Name              string       `json:"name"`
	Description       string       `json:"description,omitempty"`
	ActionsEnabled    bool         `json:"actionsEnabled"`
	OKActions         []string     `json:"okActions,omitempty"`
	AlarmActions      []string     `json:"alarmActions,omitempty"`
	InsufficientData  []string     `json:"insufficientDataActions,omitempty"`
	Metric            Metric       `json:"metric"`
	Statistic         string       `json:"statistic,omitempty"`
	ExtendedStatistic string       `json:"extendedStatistic,omitempty"`
	Unit              string       `json:"unit,omitempty"`
	Period            int32        `json:"period"`
	EvaluationPeriods int32        `json:"evaluationPeriods"`
	DatapointsToAlarm int32        `json:"datapointsToAlarm,omitempty"`
	Threshold         float64      `json:"threshold"`
	Comparison        string       `json:"comparison"`
	TreatMissingData  string       `json:"treatMissingData,omitempty"`
	Tags              []Tag        `json:"tags,omitempty"`
	ConfigUpdated     time.Time    `json:"configUpdated"`

	State             string    `json:"state"`
	StateReason       string    `json:"stateReason"`
	StateReasonData   string    `json:"stateReasonData,omitempty"`
	StateUpdated      time.Time `json:"stateUpdated"`
	StateTransitioned time.Time `json:"stateTransitioned"`
	// Transitions counts the alarm's state changes: with the name, it
	// identifies a transition (ActionEvent.TransitionID).
	Transitions uint64 `json:"transitions"`
}

// ARN is the alarm's ARN.
func (a *Alarm) ARN() string { return a.Scope.ARN("cloudwatch", "alarm:"+a.Name) }

// Rule is the alarm's evaluation rule.
func (a *Alarm) Rule(period time.Duration) Rule {
	return Rule{Comparison: a.Comparison, Threshold: a.Threshold, EvaluationPeriods: int(a.EvaluationPeriods),
		DatapointsToAlarm: int(a.DatapointsToAlarm), TreatMissingData: a.TreatMissingData, Statistic: a.Statistic,
		Period: period}
}

// HistoryItem is one entry of DescribeAlarmHistory.
type HistoryItem struct {
	AlarmName string    `json:"alarmName"`
	Type      string    `json:"type"` // ConfigurationUpdate | StateUpdate | Action
	Summary   string    `json:"summary"`
	Data      string    `json:"data"`
	Time      time.Time `json:"time"`
}

// ActionEvent is what an ActionSink receives: one action of one alarm
// transition.
type ActionEvent struct {
	AlarmName     string    `json:"alarmName"`
	AlarmARN      string    `json:"alarmArn"`
	State         string    `json:"state"`
	PreviousState string    `json:"previousState"`
	Reason        string    `json:"reason"`
	Time          time.Time `json:"time"`
	// TransitionID names the transition ("<alarm ARN>/<n>"): a sink that
	// records it in the same transaction as its effect can drop the repeat
	// delivery that follows a crash between its effect and the outbox
	// delete.
	TransitionID string `json:"transitionId"`
}

// ActionSink carries out alarm actions of one kind (Application Auto
// Scaling policies: arn:aws:autoscaling:...:scalingPolicy:...).
type ActionSink interface {
	AlarmFired(ctx context.Context, scope tenant.Scope, actionARN string, ev ActionEvent) error
}

// pendingAction is an outbox record: written in the transaction of the
// transition, deleted once delivered.
type pendingAction struct {
	Scope  tenant.Scope `json:"scope"`
	ARN    string       `json:"arn"`
	Event  ActionEvent  `json:"event"`
	Posted time.Time    `json:"posted"`
}

// Store layout in the control plane's store:
//
//	cloudwatch/alarms/<account>/<region>/<name>          Alarm
//	cloudwatch/history/<account>/<region>/<name>/<time>  HistoryItem (30 days)
//	cloudwatch/actions/<account>/<region>/<name>/<n>/<i> pendingAction
const (
	alarmsPrefix  = "cloudwatch/alarms/"
	historyPrefix = "cloudwatch/history/"
	actionsPrefix = "cloudwatch/actions/"
)

func scopePath(s tenant.Scope) string { return s.Account + "/" + s.Region + "/" }

// keyName is an alarm name as one key segment: names may hold '/'
// (Application Auto Scaling's "TargetTracking-service/c/s-AlarmHigh-...").
func keyName(name string) string { return url.PathEscape(name) }

func alarmKey(s tenant.Scope, name string) string { return alarmsPrefix + scopePath(s) + keyName(name) }

// historyKey orders an alarm's history by time; tag tells apart the items
// of one instant (a transition and each of its actions).
func historyKey(s tenant.Scope, name string, t time.Time, tag string) string {
	return fmt.Sprintf("%s%s%s/%020d-%s", historyPrefix, scopePath(s), keyName(name), t.UnixNano(), tag)
}

func putJSON(tx store.Tx, key string, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(key, buf)
}

func getAlarm(tx store.ReadTx, s tenant.Scope, name string) (*Alarm, error) {
	kv, err := tx.Get(alarmKey(s, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a := new(Alarm)
	if err := json.Unmarshal(kv.Value, a); err != nil {
		return nil, fmt.Errorf("alarm %s: %w", name, err)
	}
	return a, nil
}

// transition moves a to state inside tx: the alarm record, its history
// item and, when its actions are enabled, one pending action per action
// of the new state. It returns whether anything changed.
func transition(tx store.Tx, a *Alarm, o Outcome, now time.Time) error {
	prev := a.State
	a.State, a.StateReason, a.StateReasonData = o.State, o.Reason, o.ReasonData
	a.StateUpdated, a.StateTransitioned = now, now
	a.Transitions++
	if err := putJSON(tx, alarmKey(a.Scope, a.Name), a); err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]any{
		"version":  "1.0",
		"oldState": map[string]any{"stateValue": prev}, "newState": map[string]any{"stateValue": o.State, "stateReason": o.Reason},
	})
	item := HistoryItem{AlarmName: a.Name, Type: "StateUpdate", Time: now, Data: string(data),
		Summary: fmt.Sprintf("Alarm updated from %s to %s", prev, o.State)}
	if err := putJSON(tx, historyKey(a.Scope, a.Name, now, "state"), item); err != nil {
		return err
	}
	if !a.ActionsEnabled {
		return nil
	}
	var arns []string
	switch o.State {
	case StateAlarm:
		arns = a.AlarmActions
	case StateOK:
		arns = a.OKActions
	case StateInsufficientData:
		arns = a.InsufficientData
	}
	ev := ActionEvent{AlarmName: a.Name, AlarmARN: a.ARN(), State: o.State, PreviousState: prev, Reason: o.Reason,
		Time: now, TransitionID: fmt.Sprintf("%s/%d", a.ARN(), a.Transitions)}
	for i, arn := range arns {
		key := fmt.Sprintf("%s%s%s/%020d/%03d", actionsPrefix, scopePath(a.Scope), keyName(a.Name), a.Transitions, i)
		if err := putJSON(tx, key, pendingAction{Scope: a.Scope, ARN: arn, Event: ev, Posted: now}); err != nil {
			return err
		}
	}
	return nil
}

// IsAutoScalingAction reports whether arn names an Application Auto
// Scaling policy, the one kind of action fargo carries out.
func IsAutoScalingAction(arn string) bool {
	return strings.HasPrefix(arn, "arn:aws:autoscaling:") && strings.Contains(arn, ":scalingPolicy:")
}
