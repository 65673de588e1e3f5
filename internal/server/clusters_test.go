package server_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/fargo-run/fargo/internal/fargotest"
)

// wantAPIError fails unless err is an AWS API error with that code and a
// message containing msg.
func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("got %s: %q, want %s: %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

func TestDefaultClusterExists(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECS()
	ctx := context.Background()
	out, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Clusters) != 1 || aws.ToString(out.Clusters[0].ClusterName) != "default" || aws.ToString(out.Clusters[0].Status) != "ACTIVE" {
		t.Fatalf("default cluster: %+v", out.Clusters)
	}
	if got, want := aws.ToString(out.Clusters[0].ClusterArn), "arn:aws:ecs:us-east-1:000000000000:cluster/default"; got != want {
		t.Fatalf("arn %s, want %s", got, want)
	}
	list, err := c.ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(list.ClusterArns, []string{"arn:aws:ecs:us-east-1:000000000000:cluster/default"}) {
		t.Fatalf("list: %v", list.ClusterArns)
	}
}

func TestClusterLifecycle(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECS()
	ctx := context.Background()
	created, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{
		ClusterName:       aws.String("web"),
		Tags:              []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}},
		Settings:          []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}},
		CapacityProviders: []string{"FARGATE", "FARGATE_SPOT"},
		DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("FARGATE"), Weight: 1, Base: 1},
			{CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 3},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := created.Cluster
	if aws.ToString(cl.ClusterName) != "web" || aws.ToString(cl.Status) != "ACTIVE" || len(cl.Tags) != 1 || len(cl.DefaultCapacityProviderStrategy) != 2 {
		t.Fatalf("created: %+v", cl)
	}
	// Idempotent by name: same ARN, original settings kept.
	again, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.Cluster.ClusterArn) != aws.ToString(cl.ClusterArn) || len(again.Cluster.Tags) != 1 {
		t.Fatalf("second create: %+v", again.Cluster)
	}

	// Describe: include controls tags/settings/statistics; unknown names are MISSING failures.
	d, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{
		Clusters: []string{"web", "nope", "arn:aws:ecs:us-east-1:000000000000:cluster/gone"},
		Include:  []types.ClusterField{types.ClusterFieldTags, types.ClusterFieldSettings, types.ClusterFieldStatistics},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Clusters) != 1 || len(d.Clusters[0].Tags) != 1 || len(d.Clusters[0].Settings) != 1 || len(d.Clusters[0].Statistics) == 0 {
		t.Fatalf("describe: %+v", d.Clusters)
	}
	if len(d.Failures) != 2 || aws.ToString(d.Failures[0].Reason) != "MISSING" ||
		aws.ToString(d.Failures[0].Arn) != "arn:aws:ecs:us-east-1:000000000000:cluster/nope" ||
		aws.ToString(d.Failures[1].Arn) != "arn:aws:ecs:us-east-1:000000000000:cluster/gone" {
		t.Fatalf("failures: %+v", d.Failures)
	}
	plain, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain.Clusters[0].Tags) != 0 || len(plain.Clusters[0].Statistics) != 0 {
		t.Fatalf("describe without include returned tags/statistics: %+v", plain.Clusters[0])
	}

	// Update settings.
	up, err := c.UpdateClusterSettings(ctx, &ecs.UpdateClusterSettingsInput{Cluster: aws.String("web"),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("disabled")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Cluster.Settings) != 1 || aws.ToString(up.Cluster.Settings[0].Value) != "disabled" {
		t.Fatalf("settings: %+v", up.Cluster.Settings)
	}
	// Capacity providers: only FARGATE and FARGATE_SPOT exist.
	_, err = c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{Cluster: aws.String("web"),
		CapacityProviders: []string{"MY_ASG"}, DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{}})
	wantAPIError(t, err, "InvalidParameterException", "MY_ASG")
	pc, err := c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{Cluster: aws.String("web"),
		CapacityProviders: []string{}, DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pc.Cluster.CapacityProviders) != 0 || len(pc.Cluster.DefaultCapacityProviderStrategy) != 0 {
		t.Fatalf("cleared: %+v", pc.Cluster)
	}

	// Delete: INACTIVE, still describable, no longer listed; deleting again is not found.
	del, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(del.Cluster.Status) != "INACTIVE" {
		t.Fatalf("deleted status %s", aws.ToString(del.Cluster.Status))
	}
	d, err = c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"web"}})
	if err != nil || len(d.Clusters) != 1 || aws.ToString(d.Clusters[0].Status) != "INACTIVE" {
		t.Fatalf("describe deleted: %+v %v", d, err)
	}
	list, err := c.ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(list.ClusterArns, func(a string) bool { return strings.HasSuffix(a, "/web") }) {
		t.Fatalf("INACTIVE cluster listed: %v", list.ClusterArns)
	}
	_, err = c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("web")})
	wantAPIError(t, err, "ClusterNotFoundException", "Cluster not found.")
	_, err = c.UpdateClusterSettings(ctx, &ecs.UpdateClusterSettingsInput{Cluster: aws.String("missing"),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}}})
	wantAPIError(t, err, "ClusterNotFoundException", "Cluster not found.")

	// A deleted name can be created again, ACTIVE and without the old tags.
	re, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(re.Cluster.Status) != "ACTIVE" || len(re.Cluster.Tags) != 0 {
		t.Fatalf("recreated: %+v", re.Cluster)
	}
}

func TestClusterValidation(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECS()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		in   *ecs.CreateClusterInput
		code string
		msg  string
	}{
		{"bad name", &ecs.CreateClusterInput{ClusterName: aws.String("has space")}, "InvalidParameterException", "Cluster name"},
		{"long name", &ecs.CreateClusterInput{ClusterName: aws.String(strings.Repeat("a", 256))}, "InvalidParameterException", "Cluster name"},
		{"aws tag", &ecs.CreateClusterInput{ClusterName: aws.String("x"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}}, "InvalidParameterException", "aws:"},
		{"bad setting", &ecs.CreateClusterInput{ClusterName: aws.String("x"), Settings: []types.ClusterSetting{{Name: "containerInsights", Value: aws.String("maybe")}}}, "InvalidParameterException", "maybe"},
		{"strategy without provider", &ecs.CreateClusterInput{ClusterName: aws.String("x"),
			DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE"), Weight: 1}}}, "InvalidParameterException", "not associated"},
		{"two bases", &ecs.CreateClusterInput{ClusterName: aws.String("x"), CapacityProviders: []string{"FARGATE", "FARGATE_SPOT"},
			DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{
				{CapacityProvider: aws.String("FARGATE"), Weight: 1, Base: 1}, {CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 1, Base: 2}}}, "InvalidParameterException", "base"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateCluster(ctx, tc.in)
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
	// Nothing half-created.
	d, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"x"}})
	if err != nil || len(d.Clusters) != 0 {
		t.Fatalf("a failed create left a cluster: %+v %v", d, err)
	}
}

func TestListClustersPagination(t *testing.T) {
	s := fargotest.Start(t)
	c := s.ECS()
	ctx := context.Background()
	want := []string{"arn:aws:ecs:us-east-1:000000000000:cluster/default"}
	for i := range 23 {
		name := fmt.Sprintf("c%02d", i)
		if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, "arn:aws:ecs:us-east-1:000000000000:cluster/"+name)
	}
	var got []string
	pages := 0
	p := ecs.NewListClustersPaginator(c, &ecs.ListClustersInput{MaxResults: aws.Int32(10)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ClusterArns) > 10 {
			t.Fatalf("page of %d", len(out.ClusterArns))
		}
		got = append(got, out.ClusterArns...)
		pages++
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("paged %d pages: %v", pages, got)
	}
	_, err := c.ListClusters(ctx, &ecs.ListClustersInput{NextToken: aws.String("garbage")})
	wantAPIError(t, err, "InvalidParameterException", "nextToken")
	_, err = c.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(101)})
	wantAPIError(t, err, "InvalidParameterException", "maxResults")
}
