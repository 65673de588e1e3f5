package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// idleServices is how many one-task services the idle benchmark keeps
// steady (issue 5: fargo's CPU while 100 steady services idle).
const idleServices = 100

// benchManyServices creates idleServices services of one task each, waits
// until every one is steady, samples fargo's idle CPU, and deletes them.
func (b *taskBench) benchManyServices(ctx context.Context) (err error) {
	name := func(i int) string { return fmt.Sprintf("idle-%03d", i) }
	created := 0
	defer func() {
		ctx := context.WithoutCancel(ctx)
		for i := range created {
			_, derr := b.ecs.DeleteService(ctx, &ecs.DeleteServiceInput{
				Cluster: aws.String(benchCluster), Service: aws.String(name(i)), Force: aws.Bool(true)})
			if derr != nil && err == nil {
				err = fmt.Errorf("delete-service %s: %w", name(i), derr)
			}
		}
		if created > 0 && err == nil {
			err = b.waitNoServiceTasks(ctx, 3*time.Minute)
		}
	}()
	t0 := time.Now()
	for i := range idleServices {
		if _, err := b.ecs.CreateService(ctx, &ecs.CreateServiceInput{
			Cluster: aws.String(benchCluster), ServiceName: aws.String(name(i)),
			TaskDefinition: aws.String(b.taskDef), DesiredCount: aws.Int32(1),
			LaunchType: ecstypes.LaunchTypeFargate, NetworkConfiguration: networkConfig(),
		}); err != nil {
			return fmt.Errorf("create-service %s: %w", name(i), err)
		}
		created++
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		steady := 0
		for lo := 0; lo < idleServices; lo += 10 { // DescribeServices takes 10 at a time
			var names []string
			for i := lo; i < min(lo+10, idleServices); i++ {
				names = append(names, name(i))
			}
			out, err := b.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(benchCluster), Services: names})
			if err != nil {
				return err
			}
			for _, s := range out.Services {
				if s.RunningCount == 1 && len(s.Deployments) == 1 && s.Deployments[0].RolloutState == ecstypes.DeploymentRolloutStateCompleted {
					steady++
				}
			}
		}
		if steady == idleServices {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d one-task services steady after 5 minutes", steady, idleServices)
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
	took := time.Since(t0)
	use, err := b.idleCPU(ctx)
	if err != nil {
		return err
	}
	verdict := "met"
	if use.self >= idleTarget {
		verdict = "MISSED"
	}
	fmt.Printf("\n%d services of one task each: all steady %s after the first CreateService\n", idleServices, fmtSecs(took))
	fmt.Printf("idle CPU with them steady, no API calls, %s sample: fargo %.2f%% of one core (monitors %.2f%%)   target < %.0f%%: %s\n",
		fmtSecs(use.took), use.self, use.monitors, idleTarget, verdict)
	return nil
}

// waitNoServiceTasks waits until no task of the bench cluster runs.
func (b *taskBench) waitNoServiceTasks(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		out, err := b.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(benchCluster), DesiredStatus: ecstypes.DesiredStatusRunning})
		if err != nil {
			return err
		}
		if len(out.TaskArns) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d tasks still running %s after the services were deleted", len(out.TaskArns), timeout)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}
