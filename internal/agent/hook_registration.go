package agent

import "context"

// The registration hook: a service's task is registered with its load
// balancers' target groups and its service registries while it runs
// (ControlPlane.ActivateTask, DeactivateTask).
//
//	poststart   registered (ACTIVATING), before the task is RUNNING
//	stop        deregistered (DEACTIVATING), then its traffic drains (the
//	            target group's deregistration delay) before any container
//	            gets its stop signal; containers that exit meanwhile are
//	            recorded as they exit
type registrationHook struct{}

func (registrationHook) poststart(ctx context.Context, r *runner) error {
	if err := r.a.deps.Control.ActivateTask(ctx, r.ref); err != nil {
		return r.a.failedToStartWith("ResourceInitializationError: failed to register the task: ", err)
	}
	return nil
}

func (registrationHook) stop(ctx context.Context, r *runner) {
	drain, err := r.a.deps.Control.DeactivateTask(ctx, r.ref)
	if err != nil {
		r.log.Warn("deregister task", "err", err)
	}
	if drain <= 0 {
		return
	}
	r.log.Info("draining", "for", drain)
	r.drainExits(ctx, drain)
}
