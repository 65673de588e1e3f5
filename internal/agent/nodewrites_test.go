package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/store"
)

// TestNodeTaskWritesPerLifecycle: a task's node index entry, whose every
// write wakes the agent, is written only when what the agent must do
// changes: once when the task is placed, once when it is asked to stop,
// and deleted once it is STOPPED; the agent's state reports in between
// (about ten: PENDING, the pull, the attachment, RUNNING, connectivity,
// the stop's steps...) do not rewrite it.
func TestNodeTaskWritesPerLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rev, err := h.st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events, err := h.st.Watch(ctx, "nodetasks/", rev)
	if err != nil {
		t.Fatal(err)
	}
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))
	if _, err := h.ctl.StopTask(ctx, scope, "", task.ID, ""); err != nil {
		t.Fatal(err)
	}
	h.wait(task.ID, "STOPPED", status(control.TaskStopped))

	var writes []string
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the watch ended")
			}
			if strings.HasSuffix(ev.KV.Key, "/"+task.ID) {
				what := "put " + string(ev.KV.Value)
				if ev.Type == store.EventDelete {
					what = "delete"
				}
				writes = append(writes, what)
			}
			continue
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
	reports := len(h.states.of(task.ID))
	t.Logf("%d state reports, %d node-task writes", reports, len(writes))
	if len(writes) != 3 {
		t.Errorf("%d node-task writes for one task's lifecycle (%d state reports), want 3 (placed, stop asked, STOPPED):\n%s",
			len(writes), reports, strings.Join(writes, "\n"))
	}
}
