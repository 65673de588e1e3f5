// Package autoscaling is fargo's Application Auto Scaling for ECS services
// (ecs:service:DesiredCount): scalable targets, target-tracking and step
// scaling policies, scheduled actions and the scaling activities they
// leave. It acts on a service only through the ECS control plane's
// UpdateService (see ECS), so deployments and the circuit breaker keep
// their rules, and on alarms only through CloudWatch (see Alarms): a
// target-tracking policy creates and owns its AlarmHigh and AlarmLow
// alarms; step policies are the actions of alarms the user creates.
//
// How a scaling happens:
//
//	alarm transition ─► CloudWatch outbox ─► AlarmFired(policy ARN, event)
//	ticker (every metric period, while an alarm stays in ALARM) ─┘
//	        │ compute the new capacity (policy, cooldowns, min/max,
//	        │ suspended state, other policies of the target)
//	        ▼
//	tx 1: record the trigger id, the activity (InProgress) and a pending
//	      marker, the policy's cooldown clock            (all or nothing)
//	        ▼
//	ECS UpdateService(desiredCount)                       (idempotent)
//	        ▼
//	tx 2: the activity Successful (or Failed), the pending marker deleted
//
// A trigger id (an alarm transition, or a transition and the number of
// periods it has stayed in ALARM) is recorded once: a delivery repeated
// after a crash finds it and does nothing. A crash between tx 1 and tx 2
// leaves the pending marker, and Run finishes that activity at start.
//
// Store layout (control plane store, JSON values, <scope> is
// <account>/<region>, <rid> the resource id "service/<cluster>/<service>"):
//
//	autoscaling/targets/<scope>/<rid>                  Target
//	autoscaling/policies/<scope>/<rid>/<name>          Policy
//	autoscaling/scheduled/<scope>/<rid>/<name>         ScheduledAction
//	autoscaling/activities/<scope>/<rid>/<time>-<id>   Activity (6 weeks)
//	autoscaling/triggers/<scope>/<trigger id>          trigger (6 weeks)
//	autoscaling/pending/<scope>/<activity id>          pending (activity key)
//
// Time: cooldowns and alarm periods are AWS's, scaled by the metric period
// (Config.Period, CloudWatch's --metrics-period) over one minute, as
// CloudWatch scales its alarm periods; scheduled actions keep wall-clock
// time.
package autoscaling
