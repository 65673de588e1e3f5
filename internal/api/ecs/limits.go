package ecs

import (
	"encoding/json"
	"fmt"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecswire"
)

// ECS's size limits on what a request carries, measured as AWS measures
// them: on the compact JSON of the member (the router has already bounded
// the whole body, api.DefaultBodyBytes).
const (
	// maxTaskDefinitionBytes: "The task definition size limit is 64 KiB."
	maxTaskDefinitionBytes = 65536
	// maxOverridesBytes: "A total of 8192 characters are allowed for
	// overrides. This limit includes the JSON formatting characters of the
	// override structure." (RunTask, StartTask).
	maxOverridesBytes = 8192
)

// checkTaskDefinitionSize refuses a task definition over 64 KiB as ECS
// does: ClientException "Actual length: 'N'. Max allowed length is '65536'
// bytes." The tags are not part of the task definition.
func checkTaskDefinitionSize(in *w.RegisterTaskDefinitionRequest) error {
	td := *in
	td.Tags = nil
	b, err := json.Marshal(&td)
	if err != nil {
		return err
	}
	if len(b) > maxTaskDefinitionBytes {
		return api.Errorf("ClientException", "Actual length: '%d'. Max allowed length is '%d' bytes.", len(b), maxTaskDefinitionBytes)
	}
	return nil
}

// checkOverridesSize refuses overrides over 8192 characters as ECS does:
// InvalidParameterException "Container Overrides length must be at most
// 8192".
func checkOverridesSize(o *w.TaskOverride) error {
	if o == nil {
		return nil
	}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if len(b) > maxOverridesBytes {
		return &api.Error{Code: "InvalidParameterException", Message: fmt.Sprintf("Container Overrides length must be at most %d", maxOverridesBytes)}
	}
	return nil
}
