package control

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fargo-run/fargo/internal/node"
)

// TaskStatuses are the tasks' lastStatus values, in lifecycle order.
func TaskStatuses() []string { return node.TaskStatuses() }

// CountTasks counts every account's tasks by lastStatus: figures for
// /metrics, with nothing of a tenant in them.
func (c *Control) CountTasks(ctx context.Context) (map[string]int, error) {
	kvs, err := c.st.List(ctx, "ecs/")
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, kv := range kvs {
		// ecs/<account>/<region>/tasks/<cluster>/<id>
		if parts := strings.Split(kv.Key, "/"); len(parts) != 6 || parts[3] != "tasks" {
			continue
		}
		var t struct {
			LastStatus string `json:"lastStatus"`
		}
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		counts[t.LastStatus]++
	}
	return counts, nil
}
