package server

import (
	"log/slog"
	"maps"

	"github.com/fargo-run/fargo/internal/api"
	apiautoscaling "github.com/fargo-run/fargo/internal/api/autoscaling"
	"github.com/fargo-run/fargo/internal/api/cloudwatch"
	"github.com/fargo-run/fargo/internal/api/ecr"
	"github.com/fargo-run/fargo/internal/api/ecs"
	"github.com/fargo-run/fargo/internal/api/elbv2wire"
	apilogs "github.com/fargo-run/fargo/internal/api/logs"
	"github.com/fargo-run/fargo/internal/api/servicediscoverywire"
	"github.com/fargo-run/fargo/internal/api/sts"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/auth"
	"github.com/fargo-run/fargo/internal/autoscaling"
	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/logs"
	"github.com/fargo-run/fargo/internal/metrics"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/store"
)

// deps are what the API adapters are built from.
type deps struct {
	control  *control.Control
	registry *registry.Registry
	tokens   *auth.TokenIssuer
	store    store.Store
	logs     *logs.Service
	metrics  *metrics.Service
	scaling  *autoscaling.Service
	log      *slog.Logger
	// registryHost returns the host:port clients reach the registry at
	// (known once the listener is bound).
	registryHost func() string
	cfg          config.Server
}

// services lists every AWS service on the listener. Services fargo does not
// implement yet are still routed, so that their operations answer
// UnknownOperationException (JSON) or InvalidAction (query) in the
// service's own error shape.
func services(d deps) ([]*api.JSONService, []*api.QueryService) {
	jsonSvcs := []*api.JSONService{
		ecsService(d.control),
		ecr.New(ecr.Config{Registry: d.registry, Tokens: d.tokens, RegistryHost: d.registryHost, DefaultRegion: d.cfg.Region,
			Logger: d.log.With("component", "ecr")}),
		apilogs.New(d.logs),
		apiautoscaling.New(d.scaling),
		modelService(servicediscoverywire.SigningName, servicediscoverywire.TargetPrefix, servicediscoverywire.JSONVersion, "Message", servicediscoverywire.Operations),
	}
	cwJSON, cwQuery := cloudwatch.New(d.metrics)
	jsonSvcs = append(jsonSvcs, cwJSON)
	querySvcs := []*api.QueryService{
		sts.New(),
		{Name: elbv2wire.SigningName, Version: elbv2wire.APIVersion, XMLNS: "http://elasticloadbalancing.amazonaws.com/doc/" + elbv2wire.APIVersion + "/"},
		cwQuery,
	}
	return jsonSvcs, querySvcs
}

// modelService is a JSON service known from its model, with no operation
// implemented yet.
func modelService(name, prefix, version, msgKey string, ops map[string]wire.OperationInfo) *api.JSONService {
	return &api.JSONService{
		Name: name, TargetPrefix: prefix, JSONVersion: version, MessageKey: msgKey,
		Known: func(op string) bool {
			_, ok := ops[op]
			return ok
		},
	}
}

// ecsService is the ECS API: clusters and task definitions, the task
// operations, which agents (this host's, or remote ones) carry out, and
// services, which the service controller (internal/deploy) keeps.
func ecsService(ctl *control.Control) *api.JSONService {
	svc := ecs.New(ctl)
	maps.Copy(svc.Handlers, ecs.TaskHandlers(ctl))
	maps.Copy(svc.Handlers, ecs.ServiceHandlers(ctl))
	return svc
}
