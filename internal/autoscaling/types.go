package autoscaling

import (
	"fmt"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Names of the one namespace and dimension fargo scales.
const (
	NamespaceECS     = "ecs"
	DimensionDesired = "ecs:service:DesiredCount"
)

// Policy types.
const (
	PolicyTargetTracking = "TargetTrackingScaling"
	PolicyStep           = "StepScaling"
)

// Predefined metrics of ECS services.
const (
	MetricCPU          = "ECSServiceAverageCPUUtilization"
	MetricMemory       = "ECSServiceAverageMemoryUtilization"
	MetricALBPerTarget = "ALBRequestCountPerTarget"
)

// Activity status codes.
const (
	StatusInProgress = "InProgress"
	StatusSuccessful = "Successful"
	StatusFailed     = "Failed"
)

// ErrResourceNotFound is the tag operations' unknown ARN
// (ResourceNotFoundException rather than ObjectNotFoundException).
var ErrResourceNotFound = fmt.Errorf("resource not found: %w", errdefs.ErrNotFound)

// SuspendedState suspends parts of a target's scaling.
type SuspendedState struct {
	DynamicScalingInSuspended  bool `json:"dynamicScalingInSuspended,omitempty"`
	DynamicScalingOutSuspended bool `json:"dynamicScalingOutSuspended,omitempty"`
	ScheduledScalingSuspended  bool `json:"scheduledScalingSuspended,omitempty"`
}

// Target is a registered scalable target: an ECS service's desired count
// with its bounds.
type Target struct {
	Scope      tenant.Scope      `json:"scope"`
	ResourceID string            `json:"resourceId"` // service/<cluster>/<service>
	ID         string            `json:"id"`         // of the ARN
	Min        int               `json:"min"`
	Max        int               `json:"max"`
	RoleARN    string            `json:"roleArn,omitempty"`
	Suspended  SuspendedState    `json:"suspended"`
	Tags       map[string]string `json:"tags,omitempty"`
	Created    time.Time         `json:"created"`
}

// ARN is the target's ARN.
func (t *Target) ARN() string {
	return t.Scope.ARN("application-autoscaling", "scalable-target/"+t.ID)
}

// Cluster and Service name the ECS service of a resource id.
func (t *Target) Cluster() string { c, _, _ := SplitResourceID(t.ResourceID); return c }

// Service is the service's name.
func (t *Target) Service() string { _, s, _ := SplitResourceID(t.ResourceID); return s }

// SplitResourceID splits "service/<cluster>/<service>".
func SplitResourceID(rid string) (cluster, service string, ok bool) {
	parts := strings.Split(rid, "/")
	if len(parts) != 3 || parts[0] != "service" || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// MetricDimension is a CloudWatch dimension.
type MetricDimension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MetricSpec is the metric a target-tracking policy tracks: a predefined
// one, or a customized CloudWatch metric.
type MetricSpec struct {
	Predefined    string `json:"predefined,omitempty"`
	ResourceLabel string `json:"resourceLabel,omitempty"`

	Namespace  string            `json:"namespace,omitempty"`
	MetricName string            `json:"metricName,omitempty"`
	Dimensions []MetricDimension `json:"dimensions,omitempty"`
	Statistic  string            `json:"statistic,omitempty"`
	Unit       string            `json:"unit,omitempty"`
}

// TargetTracking configures a target-tracking policy.
type TargetTracking struct {
	TargetValue    float64    `json:"targetValue"`
	Metric         MetricSpec `json:"metric"`
	ScaleOutCool   int        `json:"scaleOutCooldown"` // seconds
	ScaleInCool    int        `json:"scaleInCooldown"`  // seconds
	DisableScaleIn bool       `json:"disableScaleIn,omitempty"`
	// CooldownSet records which cooldowns the user gave (describe shows
	// only those).
	OutSet bool `json:"outSet,omitempty"`
	InSet  bool `json:"inSet,omitempty"`
}

// StepAdjustment is one step: a metric interval relative to the alarm
// threshold (nil bound: infinity) and the adjustment.
type StepAdjustment struct {
	Lower      *float64 `json:"lower,omitempty"`
	Upper      *float64 `json:"upper,omitempty"`
	Adjustment int      `json:"adjustment"`
}

// Adjustment types of step scaling.
const (
	ChangeInCapacity        = "ChangeInCapacity"
	PercentChangeInCapacity = "PercentChangeInCapacity"
	ExactCapacity           = "ExactCapacity"
)

// StepScaling configures a step scaling policy.
type StepScaling struct {
	AdjustmentType         string           `json:"adjustmentType"`
	Steps                  []StepAdjustment `json:"steps"`
	Cooldown               int              `json:"cooldown"` // seconds
	CooldownSet            bool             `json:"cooldownSet,omitempty"`
	MetricAggregationType  string           `json:"metricAggregationType,omitempty"`
	MinAdjustmentMagnitude int              `json:"minAdjustmentMagnitude,omitempty"`
}

// AlarmRef names an alarm.
type AlarmRef struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

// Policy is a scaling policy with its cooldown clock.
type Policy struct {
	Scope          tenant.Scope    `json:"scope"`
	ResourceID     string          `json:"resourceId"`
	Name           string          `json:"name"`
	ID             string          `json:"id"` // the uuid of the ARN
	Type           string          `json:"type"`
	TargetTracking *TargetTracking `json:"targetTracking,omitempty"`
	Step           *StepScaling    `json:"step,omitempty"`
	// Alarms are the target-tracking policy's own alarms (high, low).
	Alarms  []AlarmRef `json:"alarms,omitempty"`
	Created time.Time  `json:"created"`

	// LastOut and LastIn are when the policy last scaled out and in;
	// LastOutFrom is the capacity before that scale-out (the baseline of
	// scale-outs during the cooldown).
	LastOut     time.Time `json:"lastOut,omitzero"`
	LastOutFrom int       `json:"lastOutFrom,omitempty"`
	LastIn      time.Time `json:"lastIn,omitzero"`
}

// ARN is the policy's ARN.
func (p *Policy) ARN() string {
	return p.Scope.ARN("autoscaling", fmt.Sprintf("scalingPolicy:%s:resource/ecs/%s:policyName/%s", p.ID, p.ResourceID, p.Name))
}

// ScheduledAction sets a target's bounds on a schedule.
type ScheduledAction struct {
	Scope      tenant.Scope `json:"scope"`
	ResourceID string       `json:"resourceId"`
	Name       string       `json:"name"`
	ID         string       `json:"id"`
	Schedule   string       `json:"schedule"`
	Timezone   string       `json:"timezone,omitempty"`
	Start      time.Time    `json:"start,omitzero"`
	End        time.Time    `json:"end,omitzero"`
	Min        *int         `json:"min,omitempty"`
	Max        *int         `json:"max,omitempty"`
	Created    time.Time    `json:"created"`
	// Next is when the action runs next (zero: never again).
	Next time.Time `json:"next,omitzero"`
}

// ARN is the scheduled action's ARN.
func (a *ScheduledAction) ARN() string {
	return a.Scope.ARN("autoscaling", fmt.Sprintf("scheduledAction:%s:resource/ecs/%s:scheduledActionName/%s", a.ID, a.ResourceID, a.Name))
}

// Activity is one scaling activity.
type Activity struct {
	ID            string    `json:"id"`
	ResourceID    string    `json:"resourceId"`
	Description   string    `json:"description"`
	Cause         string    `json:"cause"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end,omitzero"`
	Status        string    `json:"status"`
	StatusMessage string    `json:"statusMessage,omitempty"`
	// Desired is the desired count the activity sets (-1: none, a
	// bounds-only scheduled action).
	Desired int `json:"desired"`
}
