package server_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/fargo-run/fargo/internal/fargotest"
)

// fargateWeb is a typical Fargate task definition: awsvpc, 256/512, a web
// server on 8080 with awslogs and a health check.
func fargateWeb(family string) *ecs.RegisterTaskDefinitionInput {
	return &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		ExecutionRoleArn:        aws.String("arn:aws:iam::000000000000:role/ecsTaskExecutionRole"),
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		NetworkMode:             types.NetworkModeAwsvpc,
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:         aws.String("web"),
			Image:        aws.String("localhost:4566/web:v1"),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp}},
			Environment:  []types.KeyValuePair{{Name: aws.String("MODE"), Value: aws.String("prod")}},
			HealthCheck: &types.HealthCheck{
				Command: []string{"CMD-SHELL", "wget -q -O- http://localhost:8080/ || exit 1"},
			},
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
				"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs",
			}},
		}},
	}
}

func TestTaskDefinitionRevisions(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECS()
	ctx := context.Background()

	in := fargateWeb("web")
	in.Tags = []types.Tag{{Key: aws.String("app"), Value: aws.String("web")}}
	in.Cpu, in.Memory = aws.String("0.25 vCPU"), aws.String("0.5GB")
	r1, err := c.RegisterTaskDefinition(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	td := r1.TaskDefinition
	if td.Revision != 1 || aws.ToString(td.TaskDefinitionArn) != "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1" ||
		td.Status != types.TaskDefinitionStatusActive || aws.ToString(td.Cpu) != "256" || aws.ToString(td.Memory) != "512" ||
		td.RegisteredAt == nil || aws.ToString(td.RegisteredBy) == "" {
		t.Fatalf("registered: %+v", td)
	}
	if !slices.Contains(td.Compatibilities, types.CompatibilityFargate) || len(r1.Tags) != 1 {
		t.Fatalf("compatibilities %v tags %v", td.Compatibilities, r1.Tags)
	}
	if c0 := td.ContainerDefinitions[0]; aws.ToBool(c0.Essential) != true || len(c0.PortMappings) != 1 ||
		aws.ToInt32(c0.PortMappings[0].HostPort) != 8080 {
		t.Fatalf("container defaults: %+v", c0)
	}
	r2, err := c.RegisterTaskDefinition(ctx, fargateWeb("web"))
	if err != nil {
		t.Fatal(err)
	}
	if r2.TaskDefinition.Revision != 2 {
		t.Fatalf("second revision %d", r2.TaskDefinition.Revision)
	}

	// Describe by family (latest ACTIVE), family:rev and ARN; tags only with include.
	for _, ref := range []string{"web", "web:2", "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"} {
		d, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if d.TaskDefinition.Revision != 2 || len(d.Tags) != 0 {
			t.Fatalf("%s: revision %d tags %v", ref, d.TaskDefinition.Revision, d.Tags)
		}
	}
	d1, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:1"), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	if err != nil || len(d1.Tags) != 1 {
		t.Fatalf("include TAGS: %+v %v", d1, err)
	}
	for _, ref := range []string{"nope", "web:9", "arn:aws:ecs:us-east-1:000000000000:task-definition/web:9", "arn:aws:ecs:us-east-1:111111111111:task-definition/web:1"} {
		_, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
		wantAPIError(t, err, "ClientException", "Unable to describe task definition.")
	}

	// Deregister: a bare family is an error; web:2 becomes INACTIVE and "web" means web:1.
	_, err = c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web")})
	wantAPIError(t, err, "ClientException", "revision")
	dr, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web:2")})
	if err != nil || dr.TaskDefinition.Status != types.TaskDefinitionStatusInactive || dr.TaskDefinition.DeregisteredAt == nil {
		t.Fatalf("deregister: %+v %v", dr, err)
	}
	d, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if err != nil || d.TaskDefinition.Revision != 1 {
		t.Fatalf("latest ACTIVE after deregister: %+v %v", d, err)
	}
	d, err = c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:2")})
	if err != nil || d.TaskDefinition.Status != types.TaskDefinitionStatusInactive {
		t.Fatalf("INACTIVE revision still describes: %+v %v", d, err)
	}

	// Delete: ACTIVE revisions fail, INACTIVE ones go DELETE_IN_PROGRESS.
	del, err := c.DeleteTaskDefinitions(ctx, &ecs.DeleteTaskDefinitionsInput{TaskDefinitions: []string{"web:1", "web:2", "web:7"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(del.TaskDefinitions) != 1 || del.TaskDefinitions[0].Status != types.TaskDefinitionStatusDeleteInProgress || len(del.Failures) != 2 {
		t.Fatalf("delete: %+v", del)
	}
	// Described again (answers are cached until the record changes).
	d, err = c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web:2")})
	if err != nil || d.TaskDefinition.Status != types.TaskDefinitionStatusDeleteInProgress {
		t.Fatalf("a deleted revision describes as DELETE_IN_PROGRESS: %+v %v", d, err)
	}
	// Revisions never repeat, even after a delete.
	r3, err := c.RegisterTaskDefinition(ctx, fargateWeb("web"))
	if err != nil || r3.TaskDefinition.Revision != 3 {
		t.Fatalf("third revision: %+v %v", r3, err)
	}

	list := func(in *ecs.ListTaskDefinitionsInput) []string {
		t.Helper()
		out, err := c.ListTaskDefinitions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out.TaskDefinitionArns
	}
	arn := func(rev int) string {
		return fmt.Sprintf("arn:aws:ecs:us-east-1:000000000000:task-definition/web:%d", rev)
	}
	if got := list(&ecs.ListTaskDefinitionsInput{}); !slices.Equal(got, []string{arn(1), arn(3)}) {
		t.Fatalf("ACTIVE: %v", got)
	}
	if got := list(&ecs.ListTaskDefinitionsInput{Sort: types.SortOrderDesc, FamilyPrefix: aws.String("web")}); !slices.Equal(got, []string{arn(3), arn(1)}) {
		t.Fatalf("DESC: %v", got)
	}
	if got := list(&ecs.ListTaskDefinitionsInput{Status: types.TaskDefinitionStatusInactive}); len(got) != 0 {
		t.Fatalf("INACTIVE (web:2 was deleted): %v", got)
	}
	if got := list(&ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("we")}); len(got) != 0 {
		t.Fatalf("familyPrefix is the exact family: %v", got)
	}

	// Families: "api" has no ACTIVE revision after deregistering its only one.
	if _, err := c.RegisterTaskDefinition(ctx, fargateWeb("api")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("api:1")}); err != nil {
		t.Fatal(err)
	}
	fams := func(status types.TaskDefinitionFamilyStatus, prefix string) []string {
		t.Helper()
		in := &ecs.ListTaskDefinitionFamiliesInput{Status: status}
		if prefix != "" {
			in.FamilyPrefix = aws.String(prefix)
		}
		out, err := c.ListTaskDefinitionFamilies(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out.Families
	}
	if got := fams("", ""); !slices.Equal(got, []string{"api", "web"}) {
		t.Fatalf("ALL families: %v", got)
	}
	if got := fams(types.TaskDefinitionFamilyStatusActive, ""); !slices.Equal(got, []string{"web"}) {
		t.Fatalf("ACTIVE families: %v", got)
	}
	if got := fams(types.TaskDefinitionFamilyStatusInactive, ""); !slices.Equal(got, []string{"api"}) {
		t.Fatalf("INACTIVE families: %v", got)
	}
	if got := fams("", "w"); !slices.Equal(got, []string{"web"}) {
		t.Fatalf("prefix families: %v", got)
	}
}

func TestListTaskDefinitionsPagination(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECS()
	ctx := context.Background()
	for range 12 {
		if _, err := c.RegisterTaskDefinition(ctx, fargateWeb("pg")); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	p := ecs.NewListTaskDefinitionsPaginator(c, &ecs.ListTaskDefinitionsInput{MaxResults: aws.Int32(5), FamilyPrefix: aws.String("pg")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.TaskDefinitionArns...)
	}
	if len(got) != 12 || got[0] != "arn:aws:ecs:us-east-1:000000000000:task-definition/pg:1" || got[11] != "arn:aws:ecs:us-east-1:000000000000:task-definition/pg:12" {
		t.Fatalf("paged: %v", got)
	}
}

func TestTags(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECS()
	ctx := context.Background()
	cl, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("tagged")})
	if err != nil {
		t.Fatal(err)
	}
	td, err := c.RegisterTaskDefinition(ctx, fargateWeb("tagged"))
	if err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{aws.ToString(cl.Cluster.ClusterArn), aws.ToString(td.TaskDefinition.TaskDefinitionArn)} {
		_, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{
			{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("3")}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"b"}}); err != nil {
			t.Fatal(err)
		}
		out, err := c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "a" || aws.ToString(out.Tags[0].Value) != "3" {
			t.Fatalf("%s tags: %+v", arn, out.Tags)
		}
		var many []types.Tag
		for i := range 50 {
			many = append(many, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
		}
		_, err = c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: many})
		wantAPIError(t, err, "InvalidParameterException", "50")
		_, err = c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("aws:owner"), Value: aws.String("x")}}})
		wantAPIError(t, err, "InvalidParameterException", "aws:")
	}
	_, err = c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecs:us-east-1:000000000000:cluster/none")})
	wantAPIError(t, err, "ClusterNotFoundException", "Cluster not found.")
}
