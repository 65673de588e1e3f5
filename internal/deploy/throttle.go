package deploy

import (
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// The task-start throttle, as AWS's "service throttle logic" describes it:
// when a service's tasks keep failing to start, the time between start
// attempts grows, up to 27 minutes, and the service says it "is unable to
// consistently start tasks successfully". A task definition change (or a
// rollback) lifts it at once, and so does a healthy task of the PRIMARY.
//
//	failure:  1    2    3     4     5     ...  10 and on
//	delay:    -    -    15s   30s   1m    ...  27m
//
// The delay grows once per failed attempt, not once per failed task: a
// task created before the current delay was imposed belongs to an attempt
// already paid for, so a batch of ten failing tasks costs one step, not
// ten. The event is written each time a delay is imposed: as the delay
// grows, then once every 27 minutes at most.

// throttleAfter is the number of consecutive failures that starts the
// throttle.
const throttleAfter = 3

// fastCrash is how soon after RUNNING a task may stop and still count as
// failing to start. AWS throttles only tasks that never reach RUNNING;
// fargo starts a task in about a second where Fargate takes tens of
// seconds, so without this a container that exits at once would be
// restarted in a tight loop. It does not follow MinHealthyTime, so that
// --healthy-after 40s does not throttle tasks that ran for half a minute.
const fastCrash = 5 * time.Second

// failedToStart reports whether a task that stopped on its own counts
// for the throttle.
func (d *decision) failedToStart(t *control.Task) bool {
	return t.StartedAt.IsZero() || t.StoppedAt.Sub(t.StartedAt) < fastCrash
}

// throttleFailure records a task that failed to start.
func (d *decision) throttleFailure(t *control.Task) {
	th := &d.svc.Throttle
	th.Failures++
	if th.Failures < throttleAfter {
		return
	}
	if th.Delay > 0 && t.CreatedAt.Before(th.DelayedAt) {
		return
	}
	if th.Delay == 0 {
		th.Delay = d.cfg.ThrottleBase
	} else {
		th.Delay = min(2*th.Delay, MaxThrottle)
	}
	th.DelayedAt = d.now
	th.NextStartAt = d.now.Add(th.Delay)
	if !d.throttled {
		d.throttled = true
		d.event("is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.")
	}
}

// canStart reports whether the throttle and placement back-off allow
// starting tasks now.
func (d *decision) canStart() bool {
	th := d.svc.Throttle
	for _, at := range []time.Time{th.NextStartAt, th.PlaceAfter} {
		if !at.IsZero() && d.now.Before(at) {
			d.wakeAt(at)
			return false
		}
	}
	return true
}
