package control

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// TaskStatuses are the tasks' lastStatus values, in lifecycle order.
func TaskStatuses() []string { return slices.Clone(taskOrder) }

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
