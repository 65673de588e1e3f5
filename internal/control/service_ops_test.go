package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestServiceEventsNewestFirstCapped(t *testing.T) {
	var svc Service
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 150 {
		svc.AddEvent(start.Add(time.Duration(i)*time.Second), fmt.Sprintf("event %d", i))
	}
	if len(svc.Events) != 100 {
		t.Fatalf("%d events kept, want 100", len(svc.Events))
	}
	for i, ev := range svc.Events {
		if want := fmt.Sprintf("event %d", 149-i); ev.Message != want || ev.ID == "" {
			t.Fatalf("events[%d] = %q (id %q), want %q", i, ev.Message, ev.ID, want)
		}
		if i > 0 && !ev.CreatedAt.Before(svc.Events[i-1].CreatedAt) {
			t.Fatalf("events[%d] not older than events[%d]", i, i-1)
		}
	}
}

// TestCreateServiceOverDrainingAndInactive: the same CreateService request
// does not answer with a DRAINING service; once the service is INACTIVE
// its name can be used again.
func TestCreateServiceOverDrainingAndInactive(t *testing.T) {
	c, td := newServiceControl(t)
	ctx := context.Background()
	spec := baseSpec(td.TaskDefinitionArn)
	old, err := c.CreateService(ctx, svcScope, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteService(ctx, svcScope, "", "web", true); err != nil {
		t.Fatal(err)
	}
	for _, desired := range []int{2, 3} {
		again := spec
		again.DesiredCount = ptr(desired)
		_, err := c.CreateService(ctx, svcScope, again)
		if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), "Creation of service was not idempotent.") {
			t.Fatalf("create over a DRAINING service (desired %d): %v", desired, err)
		}
	}

	// The controller finds no task left: INACTIVE.
	ref := ServiceRef{Scope: svcScope, Cluster: "default", Name: "web"}
	st, err := c.ServiceSnapshot(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	inactive := st.Service.Clone()
	inactive.Status = ServiceInactive
	if _, err := c.ApplyServicePlan(ctx, ref, ServicePlan{Version: st.Service.Version, Service: inactive}); err != nil {
		t.Fatal(err)
	}

	svc, err := c.CreateService(ctx, svcScope, spec)
	if err != nil {
		t.Fatalf("create over an INACTIVE service: %v", err)
	}
	if svc.Status != ServiceActive || svc.Primary().ID == old.Primary().ID || len(svc.Deployments) != 1 {
		t.Fatalf("recreated service: %+v", svc)
	}
	if refs, _ := c.ActiveServiceRefs(ctx); len(refs) != 1 || refs[0] != ref {
		t.Fatalf("index after recreate: %v", refs)
	}
	// And now the same request is idempotent again.
	again, err := c.CreateService(ctx, svcScope, spec)
	if err != nil || again.Primary().ID != svc.Primary().ID {
		t.Fatalf("repeat on the new ACTIVE service: %v", err)
	}
}

func TestDaemonDeploymentConfiguration(t *testing.T) {
	c, td := newServiceControl(t)
	ctx := context.Background()
	daemon := func(dc *DeploymentConfigurationInput) ServiceSpec {
		s := baseSpec(td.TaskDefinitionArn)
		s.SchedulingStrategy, s.LaunchType, s.DesiredCount, s.DeploymentConfiguration = SchedulingDaemon, LaunchTypeEC2, nil, dc
		return s
	}
	const msg = "maximumPercent must be 100 for a service using the DAEMON scheduling strategy"
	for _, max := range []int{200, 150, 50} {
		_, err := c.CreateService(ctx, svcScope, daemon(&DeploymentConfigurationInput{MaximumPercent: ptr(max)}))
		if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("DAEMON with maximumPercent %d: %v", max, err)
		}
	}
	svc, err := c.CreateService(ctx, svcScope, daemon(&DeploymentConfigurationInput{MinimumHealthyPercent: ptr(50)}))
	if err != nil {
		t.Fatal(err)
	}
	if dc := svc.DeploymentConfiguration; dc.MaximumPercent != 100 || dc.MinimumHealthyPercent != 50 {
		t.Fatalf("DAEMON deployment configuration %+v", dc)
	}
	_, err = c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web",
		DeploymentConfiguration: &DeploymentConfigurationInput{MaximumPercent: ptr(200)}})
	if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("update DAEMON to maximumPercent 200: %v", err)
	}
	if _, err := c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web",
		DeploymentConfiguration: &DeploymentConfigurationInput{MaximumPercent: ptr(100), MinimumHealthyPercent: ptr(0)}}); err != nil {
		t.Fatalf("update DAEMON within the rules: %v", err)
	}
}

// TestDaemonStoredBeforeTheCheck: a DAEMON service stored with a
// maximumPercent other than 100 (before fargo refused it) still takes
// updates that leave maximumPercent alone.
func TestDaemonStoredBeforeTheCheck(t *testing.T) {
	old := &DeploymentConfiguration{MaximumPercent: 200, MinimumHealthyPercent: 0}
	if _, err := deploymentConfig(old, nil, SchedulingDaemon); err != nil {
		t.Fatalf("update without a deployment configuration: %v", err)
	}
	if _, err := deploymentConfig(old, &DeploymentConfigurationInput{MinimumHealthyPercent: ptr(50)}, SchedulingDaemon); err != nil {
		t.Fatalf("update of minimumHealthyPercent only: %v", err)
	}
	if _, err := deploymentConfig(old, &DeploymentConfigurationInput{MaximumPercent: ptr(150)}, SchedulingDaemon); !errors.Is(err, ErrInvalidParameter) {
		t.Fatalf("update naming maximumPercent 150: %v, want InvalidParameter", err)
	}
}
