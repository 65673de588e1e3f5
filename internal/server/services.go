package server

import (
	"log/slog"

	"github.com/fargo-run/fargo/internal/api"
	apiautoscaling "github.com/fargo-run/fargo/internal/api/autoscaling"
	"github.com/fargo-run/fargo/internal/api/cloudwatch"
	"github.com/fargo-run/fargo/internal/api/ecr"
	"github.com/fargo-run/fargo/internal/api/ecs"
	apielbv2 "github.com/fargo-run/fargo/internal/api/elbv2"
	apilogs "github.com/fargo-run/fargo/internal/api/logs"
	"github.com/fargo-run/fargo/internal/api/servicediscovery"
	"github.com/fargo-run/fargo/internal/api/sts"
	"github.com/fargo-run/fargo/internal/auth"
	"github.com/fargo-run/fargo/internal/autoscaling"
	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/discovery"
	"github.com/fargo-run/fargo/internal/elbv2"
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
	elbv2    *elbv2.Service
	// discovery is Cloud Map (namespaces, services, instances).
	discovery *discovery.Directory
	metrics   *metrics.Service
	scaling   *autoscaling.Service
	log       *slog.Logger
	// registryHost returns the host:port clients reach the registry at
	// (known once the listener is bound).
	registryHost func() string
	cfg          config.Server
}

// services lists every AWS service on the listener (CloudWatch twice: its
// JSON and CBOR forms, and its query form).
func services(d deps) ([]*api.JSONService, []*api.QueryService) {
	jsonSvcs := []*api.JSONService{
		ecs.New(d.control),
		ecr.New(ecr.Config{Registry: d.registry, Tokens: d.tokens, RegistryHost: d.registryHost, DefaultRegion: d.cfg.Region,
			Logger: d.log.With("component", "ecr")}),
		apilogs.New(d.logs),
		apiautoscaling.New(d.scaling),
		servicediscovery.New(d.discovery),
	}
	cwJSON, cwQuery := cloudwatch.New(d.metrics)
	jsonSvcs = append(jsonSvcs, cwJSON)
	querySvcs := []*api.QueryService{
		sts.New(),
		apielbv2.New(d.elbv2),
		cwQuery,
	}
	return jsonSvcs, querySvcs
}
