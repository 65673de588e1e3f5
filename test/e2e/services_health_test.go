package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestServiceUnhealthyReplacedFirst: a service task whose container health
// check fails is replaced before it is stopped (maximumPercent 200 leaves
// room): its replacement starts while it still runs, and it stops with
// "Task failed container health checks" (real containers, real health
// checks run in them, the Go SDK).
func TestServiceUnhealthyReplacedFirst(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("sick")
	ctx := context.Background()
	c := in.ecsClient()
	td, err := c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("sick"), NetworkMode: types.NetworkModeAwsvpc, RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		Cpu: aws.String("256"), Memory: aws.String("512"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(image), Essential: aws.Bool(true),
			// Always failing: every task of the service turns UNHEALTHY.
			HealthCheck: &types.HealthCheck{Command: []string{"CMD", "/taskapp", "exit", "1"},
				Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(1), StartPeriod: aws.Int32(0)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{
		ServiceName: aws.String("sick"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1),
		LaunchType: types.LaunchTypeFargate,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: []string{"subnet-0123456789abcdef0"}}},
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = c.DeleteService(ctx, &ecs.DeleteServiceInput{Service: aws.String("sick"), Force: aws.Bool(true)})
	}()

	// Watch the service's tasks until the first one has stopped.
	var first string
	sawOverlap := false
	deadline := time.Now().Add(90 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the first task %q did not stop for its health within 90s (replacement seen while it ran: %v)", first, sawOverlap)
		}
		tasks := in.serviceTasksSDK(c, "sick")
		if first == "" && len(tasks) > 0 {
			first = aws.ToString(tasks[0].TaskArn)
		}
		var firstTask *types.Task
		others := 0
		for i := range tasks {
			if aws.ToString(tasks[i].TaskArn) == first {
				firstTask = &tasks[i]
			} else {
				others++
			}
		}
		if firstTask == nil {
			time.Sleep(300 * time.Millisecond)
			continue
		}
		if aws.ToString(firstTask.LastStatus) == "RUNNING" && aws.ToString(firstTask.DesiredStatus) == "RUNNING" && others > 0 {
			sawOverlap = true
			if firstTask.HealthStatus != types.HealthStatusUnhealthy {
				t.Errorf("a second task started while the first is %s, not UNHEALTHY", firstTask.HealthStatus)
			}
		}
		if aws.ToString(firstTask.LastStatus) == "STOPPED" {
			if got := aws.ToString(firstTask.StoppedReason); got != "Task failed container health checks" {
				t.Errorf("first task stopped for %q", got)
			}
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !sawOverlap {
		t.Errorf("no replacement ran beside the UNHEALTHY task before it stopped")
	}
}

// serviceTasksSDK describes every task of a service, running or stopped.
func (in *instance) serviceTasksSDK(c *ecs.Client, service string) []types.Task {
	in.t.Helper()
	ctx := context.Background()
	var arns []string
	for _, status := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		out, err := c.ListTasks(ctx, &ecs.ListTasksInput{ServiceName: aws.String(service), DesiredStatus: status})
		if err != nil {
			in.t.Fatal(err)
		}
		arns = append(arns, out.TaskArns...)
	}
	if len(arns) == 0 {
		return nil
	}
	out, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Tasks: arns})
	if err != nil {
		in.t.Fatal(err)
	}
	return out.Tasks
}
