package control

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ServiceRegistry is a serviceRegistries entry: the Cloud Map service the
// service's tasks are registered in, and which port they are registered
// with.
type ServiceRegistry struct {
	RegistryARN   string `json:"registryArn"`
	Port          int    `json:"port,omitempty"`
	ContainerName string `json:"containerName,omitempty"`
	ContainerPort int    `json:"containerPort,omitempty"`
}

// RegistryInfo is what ECS checks of a Cloud Map service a service names
// in serviceRegistries (internal/discovery answers it).
type RegistryInfo struct {
	ARN string
	// RecordTypes are its DNS records' types (A, AAAA, SRV, CNAME); none
	// for an HTTP-only service.
	RecordTypes []string
}

// Registries answers about Cloud Map services. ServiceRegistry answers an
// error of class errdefs.ErrNotFound for one that does not exist;
// NamespaceRegistries the ARNs of the services of a namespace (by name or
// ARN), ErrNamespaceNotFound when there is no such namespace.
type Registries interface {
	ServiceRegistry(ctx context.Context, s tenant.Scope, arn string) (RegistryInfo, error)
	NamespaceRegistries(ctx context.Context, s tenant.Scope, namespace string) ([]string, error)
}

// ErrNamespaceNotFound is ListServicesByNamespace's NamespaceNotFoundException.
var ErrNamespaceNotFound = errdefs.New(errdefs.ErrNotFound, "Namespace not found.")

// ListServicesByNamespace lists the ARNs of the ACTIVE and DRAINING
// services, in every cluster, whose serviceRegistries name a Cloud Map
// service of the namespace.
func (c *Control) ListServicesByNamespace(ctx context.Context, s tenant.Scope, namespace string, p Page) ([]string, string, error) {
	if namespace == "" {
		return nil, "", InvalidParameterf("namespace is required.")
	}
	if c.registries == nil {
		return nil, "", ErrNamespaceNotFound
	}
	regs, err := c.registries.NamespaceRegistries(ctx, s, namespace)
	if err != nil {
		return nil, "", err
	}
	kvs, err := c.st.List(ctx, keyPrefix(s)+"services/")
	if err != nil {
		return nil, "", err
	}
	var arns []string
	for _, kv := range kvs {
		svc, err := decode[Service](kv)
		if err != nil {
			return nil, "", err
		}
		if svc.Status == ServiceInactive {
			continue
		}
		for _, r := range svc.ServiceRegistries {
			if slices.Contains(regs, r.RegistryARN) {
				arns = append(arns, svc.ARN)
				break
			}
		}
	}
	return paginate("ListServicesByNamespace", arns, p)
}

// SetRegistries installs the Cloud Map lookup serviceRegistries are
// checked against (server wiring); without one, a service naming a
// registry is refused.
func (c *Control) SetRegistries(r Registries) { c.registries = r }

// checkServiceRegistries applies ECS's rules to serviceRegistries for a
// task definition: one registry at most, an existing Cloud Map service of
// the account and region, and the port it needs: under awsvpc an A/AAAA
// service needs none and an SRV one needs port or containerName and
// containerPort; under bridge and host, containerName and containerPort
// are always needed. A named container and port must be in the task
// definition.
func (c *Control) checkServiceRegistries(ctx context.Context, s tenant.Scope, td *TaskDefinition, regs []ServiceRegistry) error {
	if len(regs) == 0 {
		return nil
	}
	if len(regs) > 1 {
		return InvalidParameterf("Only one service registry is supported per service.")
	}
	r := regs[0]
	if r.RegistryARN == "" {
		return InvalidParameterf("serviceRegistries.registryArn is required.")
	}
	if !strings.HasPrefix(r.RegistryARN, "arn:aws:servicediscovery:") || !strings.Contains(r.RegistryARN, ":service/srv-") {
		return InvalidParameterf("serviceRegistries.registryArn %s is not the ARN of an AWS Cloud Map service.", clip(r.RegistryARN))
	}
	if c.registries == nil {
		return InvalidParameterf("Service discovery is not available on this fargo.")
	}
	info, err := c.registries.ServiceRegistry(ctx, s, r.RegistryARN)
	if errors.Is(err, errdefs.ErrNotFound) {
		return InvalidParameterf("The service registry %s does not exist.", clip(r.RegistryARN))
	}
	if err != nil {
		return err
	}
	if r.Port < 0 || r.Port > 65535 || r.ContainerPort < 0 || r.ContainerPort > 65535 {
		return InvalidParameterf("serviceRegistries port and containerPort must be between 0 and 65535.")
	}
	if (r.ContainerName == "") != (r.ContainerPort == 0) {
		return InvalidParameterf("serviceRegistries must specify both containerName and containerPort, or neither.")
	}
	srv := slices.Contains(info.RecordTypes, "SRV")
	switch td.NetworkMode {
	case NetworkModeAwsvpc:
		if srv && r.Port == 0 && r.ContainerName == "" {
			return InvalidParameterf("When specifying a service registry with an SRV record under the awsvpc network mode, you must specify either port or containerName and containerPort.")
		}
	default:
		if r.ContainerName == "" {
			return InvalidParameterf("When using the %s network mode, serviceRegistries must specify containerName and containerPort.", td.NetworkMode)
		}
		if r.Port != 0 {
			return InvalidParameterf("serviceRegistries.port is only valid for the awsvpc network mode.")
		}
	}
	if r.ContainerName == "" {
		return nil
	}
	for _, cd := range td.ContainerDefinitions {
		if cd.Name != r.ContainerName {
			continue
		}
		for _, pm := range cd.PortMappings {
			if pm.ContainerPort != nil && *pm.ContainerPort == r.ContainerPort {
				return nil
			}
		}
		return InvalidParameterf("The container %s does not have a port mapping for container port %d.", r.ContainerName, r.ContainerPort)
	}
	return InvalidParameterf("The container %s does not exist in the task definition.", clip(r.ContainerName))
}
