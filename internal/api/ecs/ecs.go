// Package ecs is the thin ECS adapter of the API front door: it decodes the
// awsJson1_1 shapes of internal/api/ecswire, calls internal/control, and
// converts answers and errors back. Errors are mapped to ECS codes exactly
// once, in mapError.
package ecs

import (
	"errors"
	"net/http"

	"github.com/fargo-run/fargo/internal/api"
	"github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/memo"
)

// Adapter serves the ECS API over a control plane.
type Adapter struct {
	ctl *control.Control
	// rendered holds encoded DescribeTaskDefinition answers by ARN (see
	// describeTaskDefinition).
	rendered memo.Map
}

// New returns the ECS service description for the router: every ECS
// operation fargo implements, served by one Adapter. Clusters and task
// definitions are control's records; the tasks are run by the agent of the
// node control places them on (this host's, in-process); the services are
// kept by the service controller (internal/deploy).
func New(ctl *control.Control) *api.JSONService {
	a := &Adapter{ctl: ctl}
	return &api.JSONService{
		Name:         ecswire.SigningName,
		TargetPrefix: ecswire.TargetPrefix,
		JSONVersion:  ecswire.JSONVersion,
		MessageKey:   "message",
		Known: func(op string) bool {
			_, ok := ecswire.Operations[op]
			return ok
		},
		Handlers: map[string]api.Handler{
			"CreateCluster":               api.JSON(a.createCluster),
			"DescribeClusters":            api.JSON(a.describeClusters),
			"ListClusters":                api.JSON(a.listClusters),
			"DeleteCluster":               api.JSON(a.deleteCluster),
			"UpdateCluster":               api.JSON(a.updateCluster),
			"UpdateClusterSettings":       api.JSON(a.updateClusterSettings),
			"PutClusterCapacityProviders": api.JSON(a.putClusterCapacityProviders),
			"RegisterTaskDefinition":      api.JSON(a.registerTaskDefinition),
			"DescribeTaskDefinition":      api.JSON(a.describeTaskDefinition),
			"DeregisterTaskDefinition":    api.JSON(a.deregisterTaskDefinition),
			"DeleteTaskDefinitions":       api.JSON(a.deleteTaskDefinitions),
			"ListTaskDefinitions":         api.JSON(a.listTaskDefinitions),
			"ListTaskDefinitionFamilies":  api.JSON(a.listTaskDefinitionFamilies),
			"TagResource":                 api.JSON(a.tagResource),
			"UntagResource":               api.JSON(a.untagResource),
			"ListTagsForResource":         api.JSON(a.listTagsForResource),
			// Tasks and container instances (tasks.go, instances.go).
			"RunTask":                    api.JSON(a.runTask),
			"StartTask":                  api.JSON(a.startTask),
			"ListContainerInstances":     api.JSON(a.listContainerInstances),
			"DescribeContainerInstances": api.JSON(a.describeContainerInstances),
			"StopTask":                   api.JSON(a.stopTask),
			"DescribeTasks":              api.JSON(a.describeTasks),
			"ListTasks":                  api.JSON(a.listTasks),
			// Services (services.go).
			"CreateService":              api.JSON(a.createService),
			"UpdateService":              api.JSON(a.updateService),
			"DeleteService":              api.JSON(a.deleteService),
			"DescribeServices":           api.JSON(a.describeServices),
			"ListServices":               api.JSON(a.listServices),
			"ListServiceDeployments":     api.JSON(a.listServiceDeployments),
			"DescribeServiceDeployments": api.JSON(a.describeServiceDeployments),
			"DescribeServiceRevisions":   api.JSON(a.describeServiceRevisions),
			"ListServicesByNamespace":    api.JSON(a.listServicesByNamespace),
		},
		MapError: mapError,
	}
}

// mapError maps control-plane errors to ECS error codes.
func mapError(err error) *api.Error {
	msg := errdefs.Message(err)
	code := ""
	switch {
	case errors.Is(err, control.ErrClusterNotFound):
		code = "ClusterNotFoundException"
	case errors.Is(err, control.ErrServiceNotFound):
		code = "ServiceNotFoundException"
	case errors.Is(err, control.ErrServiceNotActive):
		code = "ServiceNotActiveException"
	case errors.Is(err, control.ErrTaskDefNotFound):
		code = "ClientException"
	case errors.Is(err, control.ErrResourceNotFound):
		code = "ResourceNotFoundException"
	case errors.Is(err, control.ErrNamespaceNotFound):
		code = "NamespaceNotFoundException"
	case errors.Is(err, control.ErrClusterHasServices):
		code = "ClusterContainsServicesException"
	case errors.Is(err, control.ErrClusterHasTasks):
		code = "ClusterContainsTasksException"
	case errors.Is(err, control.ErrClusterHasInstance):
		code = "ClusterContainsContainerInstancesException"
	case errors.Is(err, control.ErrInvalidParameter):
		code = "InvalidParameterException"
	case errors.Is(err, errdefs.ErrInvalidArgument):
		code = "ClientException"
	case errors.Is(err, errdefs.ErrNotFound):
		code = "ResourceNotFoundException"
	case errors.Is(err, errdefs.ErrAlreadyExists), errors.Is(err, errdefs.ErrConflict):
		code = "ConflictException"
	case errors.Is(err, errdefs.ErrLimitExceeded):
		code = "LimitExceededException"
	case errors.Is(err, errdefs.ErrUnsupported):
		code = "UnsupportedFeatureException"
	case errors.Is(err, errdefs.ErrPermissionDenied):
		code = "AccessDeniedException"
	case errors.Is(err, errdefs.ErrUnavailable):
		return &api.Error{Code: "ServerException", Message: msg, Status: http.StatusInternalServerError}
	default:
		return nil
	}
	return &api.Error{Code: code, Message: msg}
}

// page builds a control.Page from the wire's maxResults and nextToken.
func page(maxResults *int32, token *string, def, max int) control.Page {
	p := control.Page{Default: def, Max: max}
	if maxResults != nil {
		p.MaxResults = int(*maxResults)
		if p.MaxResults == 0 {
			p.MaxResults = -1 // explicit 0 is out of range
		}
	}
	if token != nil {
		p.Token = *token
	}
	return p
}
