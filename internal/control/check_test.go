package control

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/store/bolt"
)

// openTestStore is the store of a control test: a fresh bbolt file whose
// indexes Check verifies when the test ends (before the store closes).
func openTestStore(t *testing.T) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	t.Cleanup(func() {
		if err := Check(context.Background(), st); err != nil {
			t.Errorf("store indexes after the test:\n%v", err)
		}
	})
	return st
}

// TestCheckFindsEachIndexKind: Check passes on a store written by the
// control plane, and reports a corruption of each index kind (and of the
// records they index) with a message naming it.
func TestCheckFindsEachIndexKind(t *testing.T) {
	ctx := context.Background()
	type fixture struct {
		st      store.Store
		task    *Task // RUNNING-desired, with client token "tok"
		td      *TaskDefinition
		service string // service key
	}
	setup := func(t *testing.T) fixture {
		st, err := bolt.Open(filepath.Join(t.TempDir(), "fargo.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		c := New(Config{}, st)
		if err := c.RegisterNode(ctx, Node{ID: "node-a", CPU: 8192, Memory: 16384, MaxTaskCPU: 4096, MaxTaskMemory: 8192}); err != nil {
			t.Fatal(err)
		}
		td := registerFargate(t, c, "web")
		registerFargate(t, c, "web") // web:2, the latest ACTIVE
		in := fargateRun(td.TaskDefinitionArn)
		in.ClientToken = "tok"
		res, err := c.RunTask(ctx, svcScope, in)
		if err != nil || len(res.Tasks) != 1 {
			t.Fatalf("RunTask: %+v, %v", res, err)
		}
		svc, err := c.CreateService(ctx, svcScope, baseSpec(td.TaskDefinitionArn))
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(ctx, st); err != nil {
			t.Fatalf("Check of a sound store: %v", err)
		}
		return fixture{st: st, task: res.Tasks[0], td: td, service: serviceKey(svcScope, svc.Cluster, svc.Name)}
	}
	put := func(t *testing.T, st store.Store, key string, v []byte) {
		t.Helper()
		if _, err := st.Put(ctx, key, v); err != nil {
			t.Fatal(err)
		}
	}
	del := func(t *testing.T, st store.Store, key string) {
		t.Helper()
		if _, err := st.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	nodeTaskOf := func(f fixture) string { return nodeTaskKey("node-a", svcScope, f.task.Cluster, f.task.ID) }
	cases := []struct {
		name    string
		corrupt func(t *testing.T, f fixture)
		want    string
	}{
		{"node task missing", func(t *testing.T, f fixture) { del(t, f.st, nodeTaskOf(f)) }, "no node task entry"},
		{"node task of no task", func(t *testing.T, f fixture) {
			del(t, f.st, taskKey(svcScope, f.task.Cluster, f.task.ID))
			put(t, f.st, tokenKey(svcScope, "tok"), []byte(`{"hash":"h","tasks":[]}`)) // keep the token out of it
		}, "node task nodetasks/node-a/123456789012/us-east-1/default/" + "%ID%: task ecs/123456789012/us-east-1/tasks/default/%ID% does not exist"},
		{"node task desired status", func(t *testing.T, f fixture) {
			put(t, f.st, nodeTaskOf(f), []byte(`{"account":"123456789012","region":"us-east-1","cluster":"default","id":"`+f.task.ID+`","cpu":256,"memory":512,"desiredStatus":"STOPPED"}`))
		}, "desired status STOPPED, task ecs/123456789012/us-east-1/tasks/default/%ID% has RUNNING"},
		{"node task on another node", func(t *testing.T, f fixture) {
			kv, err := f.st.Get(ctx, nodeTaskOf(f))
			if err != nil {
				t.Fatal(err)
			}
			put(t, f.st, nodeTaskKey("node-b", svcScope, f.task.Cluster, f.task.ID), kv.Value)
			del(t, f.st, nodeTaskOf(f))
		}, `is placed on node "node-a"`},
		{"service index missing", func(t *testing.T, f fixture) {
			del(t, f.st, serviceIndexKey(svcScope, "default", "web"))
		}, "service ecs/123456789012/us-east-1/services/default/web is ACTIVE: not in the service index"},
		{"service index of no service", func(t *testing.T, f fixture) {
			put(t, f.st, serviceIndexKey(svcScope, "default", "ghost"), nil)
		}, "service index serviceindex/123456789012/us-east-1/default/ghost: service ecs/123456789012/us-east-1/services/default/ghost does not exist"},
		{"task definition status missing", func(t *testing.T, f fixture) {
			del(t, f.st, statusKey(svcScope, TaskDefinitionActive, "web", 1))
		}, "web:1 is ACTIVE: status index ACTIVE has false"},
		{"task definition status extra", func(t *testing.T, f fixture) {
			put(t, f.st, statusKey(svcScope, TaskDefinitionInactive, "web", 2), nil)
		}, "status index ecs/123456789012/us-east-1/tdstatus/INACTIVE/web/0000000002: task definition web:2 is ACTIVE"},
		{"family latest active", func(t *testing.T, f fixture) {
			put(t, f.st, familyKey(svcScope, "web"), []byte(`{"name":"web","lastRevision":2,"latestActive":1,"activeCount":2}`))
		}, "family ecs/123456789012/us-east-1/families/web: latest ACTIVE revision 1, the revisions say 2"},
		{"family active count", func(t *testing.T, f fixture) {
			put(t, f.st, familyKey(svcScope, "web"), []byte(`{"name":"web","lastRevision":2,"latestActive":2,"activeCount":1}`))
		}, "1 ACTIVE revisions counted, 2 stored"},
		{"family missing", func(t *testing.T, f fixture) { del(t, f.st, familyKey(svcScope, "web")) }, "revisions without a family record"},
		{"client token of no task", func(t *testing.T, f fixture) {
			put(t, f.st, tokenKey(svcScope, "other"), []byte(`{"hash":"h","tasks":["ecs/123456789012/us-east-1/tasks/default/0123"]}`))
		}, "client token ecs/123456789012/us-east-1/clienttokens/other: task ecs/123456789012/us-east-1/tasks/default/0123 does not exist"},
		{"client token of another task", func(t *testing.T, f fixture) {
			put(t, f.st, tokenKey(svcScope, "other"), []byte(`{"hash":"h","tasks":["`+taskKey(svcScope, "default", f.task.ID)+`"]}`))
		}, `has client token "tok"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			tc.corrupt(t, f)
			err := Check(ctx, f.st)
			want := strings.ReplaceAll(tc.want, "%ID%", f.task.ID)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Check: %v\nwant an error with %q", err, want)
			}
		})
	}
}
