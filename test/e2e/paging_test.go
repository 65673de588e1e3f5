package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestListTasksPagingUnderRunAndStop: the Go SDK's ListTasks paginator,
// two tasks a page, while RunTask and StopTask change the list between
// pages: no "Invalid nextToken", and every task present throughout comes
// exactly once.
func TestListTasksPagingUnderRunAndStop(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("paging")
	in.registerTaskDef("paging", image, nil, nil)
	c := in.ecsClient()
	ctx := context.Background()
	run := func(n int32) []string {
		out, err := c.RunTask(ctx, &ecs.RunTaskInput{TaskDefinition: aws.String("paging"), LaunchType: types.LaunchTypeFargate, Count: aws.Int32(n),
			NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-0123456789abcdef0"}}}})
		if err != nil || len(out.Tasks) != int(n) {
			t.Fatalf("RunTask: %v %+v", err, out)
		}
		var arns []string
		for _, task := range out.Tasks {
			arns = append(arns, aws.ToString(task.TaskArn))
		}
		return arns
	}
	first := run(4)
	always := map[string]bool{}
	for _, a := range first {
		always[a] = true
	}
	seen := map[string]int{}
	p := ecs.NewListTasksPaginator(c, &ecs.ListTasksInput{MaxResults: aws.Int32(2)})
	for page := 0; p.HasMorePages(); page++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", page+1, err)
		}
		for _, a := range out.TaskArns {
			seen[a]++
		}
		if page < 2 && out.NextToken != nil {
			run(1)
			// Stop a task this page listed: the list loses an item before
			// the position the token names.
			for _, victim := range out.TaskArns {
				if always[victim] {
					if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String(victim)}); err != nil {
						t.Fatal(err)
					}
					delete(always, victim) // not present throughout
					break
				}
			}
		}
	}
	for a := range always {
		if seen[a] != 1 {
			t.Errorf("task %s, running throughout, listed %d times", a, seen[a])
		}
	}
	for a, n := range seen {
		if n > 1 {
			t.Errorf("task %s listed %d times", a, n)
		}
	}
}
