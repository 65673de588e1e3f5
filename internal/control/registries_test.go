package control

import (
	"context"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

type fakeRegistries map[string][]string // ARN -> record types

func (f fakeRegistries) ServiceRegistry(_ context.Context, _ tenant.Scope, arn string) (RegistryInfo, error) {
	types, ok := f[arn]
	if !ok {
		return RegistryInfo{}, errdefs.NotFoundf("no such service")
	}
	return RegistryInfo{ARN: arn, RecordTypes: types}, nil
}

func (f fakeRegistries) NamespaceRegistries(context.Context, tenant.Scope, string) ([]string, error) {
	return nil, ErrNamespaceNotFound
}

func TestCheckServiceRegistries(t *testing.T) {
	const aARN = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-aaaaaaaaaaaaaaaa"
	const srvARN = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-ssssssssssssssss"
	c := &Control{registries: fakeRegistries{aARN: {"A"}, srvARN: {"A", "SRV"}}}
	port := 8080
	td := func(mode string) *TaskDefinition {
		return &TaskDefinition{NetworkMode: mode, ContainerDefinitions: []ContainerDefinition{{Name: "app", PortMappings: []PortMapping{{ContainerPort: &port}}}}}
	}
	s := tenant.Scope{Account: "123456789012", Region: "us-east-1"}
	for _, tc := range []struct {
		name string
		mode string
		regs []ServiceRegistry
		err  string // "" = accepted
	}{
		{"awsvpc A needs no port", NetworkModeAwsvpc, []ServiceRegistry{{RegistryARN: aARN}}, ""},
		{"awsvpc SRV without a port", NetworkModeAwsvpc, []ServiceRegistry{{RegistryARN: srvARN}}, "you must specify either port or containerName and containerPort"},
		{"awsvpc SRV with port", NetworkModeAwsvpc, []ServiceRegistry{{RegistryARN: srvARN, Port: 8080}}, ""},
		{"awsvpc SRV with container", NetworkModeAwsvpc, []ServiceRegistry{{RegistryARN: srvARN, ContainerName: "app", ContainerPort: 8080}}, ""},
		{"bridge without container", NetworkModeBridge, []ServiceRegistry{{RegistryARN: aARN}}, "must specify containerName and containerPort"},
		{"host with container", NetworkModeHost, []ServiceRegistry{{RegistryARN: aARN, ContainerName: "app", ContainerPort: 8080}}, ""},
		{"container port not mapped", NetworkModeBridge, []ServiceRegistry{{RegistryARN: aARN, ContainerName: "app", ContainerPort: 9090}}, "does not have a port mapping"},
		{"unknown container", NetworkModeAwsvpc, []ServiceRegistry{{RegistryARN: aARN, ContainerName: "db", ContainerPort: 8080}}, "does not exist in the task definition"},
		{"name without port", NetworkModeAwsvpc, []ServiceRegistry{{RegistryARN: aARN, ContainerName: "app"}}, "both containerName and containerPort"},
		{"missing registry", NetworkModeAwsvpc, []ServiceRegistry{{RegistryARN: strings.Replace(aARN, "aaaa", "bbbb", 1)}}, "does not exist"},
		{"not a Cloud Map ARN", NetworkModeAwsvpc, []ServiceRegistry{{RegistryARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/1"}}, "is not the ARN of an AWS Cloud Map service"},
		{"two registries", NetworkModeAwsvpc, []ServiceRegistry{{RegistryARN: aARN}, {RegistryARN: srvARN, Port: 1}}, "Only one service registry"},
	} {
		err := c.checkServiceRegistries(context.Background(), s, td(tc.mode), tc.regs)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.err)
		case err != nil && !isParamError(err):
			t.Errorf("%s: %v is not an InvalidParameterException", tc.name, err)
		}
	}
}

// isParamError reports whether the API answers err as
// InvalidParameterException.
func isParamError(err error) bool {
	_, ok := err.(*paramError)
	return ok
}
