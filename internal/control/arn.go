package control

import (
	"strings"

	"github.com/fargo-run/fargo/internal/tenant"
)

// resource is a parsed ECS ARN: arn:aws:ecs:<region>:<account>:<kind>/<id>.
type resource struct {
	kind string // cluster, task-definition, task, service, ...
	id   string // everything after "<kind>/"
}

// parseARN parses an ECS ARN of scope s. ARNs of other accounts, regions or
// services are not found: tenants never see each other's resources.
func parseARN(s tenant.Scope, arn string) (resource, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "ecs" {
		return resource{}, InvalidParameterf("Invalid ARN: %s", clip(arn))
	}
	if parts[3] != s.Region || parts[4] != s.Account {
		return resource{}, ErrResourceNotFound
	}
	kind, id, ok := strings.Cut(parts[5], "/")
	if !ok || id == "" {
		return resource{}, InvalidParameterf("Invalid ARN: %s", clip(arn))
	}
	return resource{kind: kind, id: id}, nil
}

func clip(s string) string {
	if len(s) > 256 {
		return s[:256]
	}
	return s
}
