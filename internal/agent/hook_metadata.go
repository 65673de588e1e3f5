package agent

import (
	"context"
	"sync"
)

// The metadata hook: the task metadata endpoint (metadata.go) serves a
// task that has an address of its own (awsvpc, bridge) while it runs.
//
//	provision           the task joins the endpoint's index, by its address
//	prestartContainer   ECS_CONTAINER_METADATA_URI(_V4) for the container
//	stop                the task leaves the index (DEACTIVATING)
type metadataHook struct {
	statsMu   sync.Mutex
	prevStats map[string]*dockerStats // by container: precpu_stats
	ephemeral ephemeralUsage          // the endpoint's measurement
}

func (h *metadataHook) provision(_ context.Context, r *runner) (func() error, error) {
	if att := r.h.network.att; att != nil {
		r.a.meta.add(r, att.IP.String())
	}
	return nil, nil
}

func (h *metadataHook) prestartContainer(_ context.Context, r *runner, c *specInput) error {
	c.metadata = r.metadataURI(c.cd.Name)
	return nil
}

func (h *metadataHook) stop(_ context.Context, r *runner) { r.a.meta.remove(r) }

// metadataURI is ECS_CONTAINER_METADATA_URI_V4 for a container.
func (r *runner) metadataURI(name string) string {
	if r.a.cfg.MetadataEndpoint == "" || r.h.network.att == nil {
		return ""
	}
	return r.a.cfg.MetadataEndpoint + "/" + metadataID(r.ref.ID, name)
}
