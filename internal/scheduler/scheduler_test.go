package scheduler

import (
	"fmt"
	"slices"
	"testing"
)

func TestPlace(t *testing.T) {
	node := func(id string, cpu, mem, usedCPU, usedMem int) Node {
		return Node{ID: id, Ready: true, CPU: cpu, Memory: mem, MaxTaskCPU: 2048, MaxTaskMemory: 4096, UsedCPU: usedCPU, UsedMemory: usedMem}
	}
	for _, tc := range []struct {
		name     string
		nodes    []Node
		req      Request
		want     []string
		failures []string
	}{
		{"fits", []Node{node("a", 4096, 8192, 0, 0)}, Request{Count: 2, CPU: 256, Memory: 512}, []string{"a", "a"}, nil},
		{"spreads by memory left", []Node{node("a", 4096, 8192, 0, 4096), node("b", 4096, 8192, 0, 0)}, Request{Count: 3, CPU: 256, Memory: 2048},
			[]string{"b", "b", "a"}, nil},
		{"memory runs out", []Node{node("a", 4096, 1024, 0, 0)}, Request{Count: 3, CPU: 256, Memory: 512}, []string{"a", "a"}, []string{ReasonMemory}},
		{"cpu runs out first", []Node{node("a", 512, 8192, 0, 0)}, Request{Count: 3, CPU: 256, Memory: 512}, []string{"a", "a"}, []string{ReasonCPU}},
		{"bigger than the host", []Node{node("a", 1<<20, 1<<20, 0, 0)}, Request{Count: 1, CPU: 4096, Memory: 512}, nil, []string{ReasonCPU}},
		{"no ready node", []Node{{ID: "a", CPU: 4096, Memory: 8192}}, Request{Count: 1, CPU: 256, Memory: 512}, nil, []string{ReasonAgent}},
		{"no node", nil, Request{Count: 1, CPU: 256, Memory: 512}, nil, []string{ReasonAgent}},
		{"a fixed host port once per node", []Node{node("a", 4096, 8192, 0, 0), node("b", 4096, 8192, 0, 0)},
			Request{Count: 3, CPU: 256, Memory: 512, Ports: []string{"tcp/80", "udp/53"}}, []string{"a", "b"}, []string{ReasonPorts}},
		{"port held by a running task", []Node{withPorts(node("a", 4096, 8192, 0, 0), "tcp/80"), withPorts(node("b", 4096, 8192, 0, 4096), "udp/80")},
			Request{Count: 1, CPU: 256, Memory: 512, Ports: []string{"tcp/80"}}, []string{"b"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := fmt.Sprint(tc.nodes)
			p := Place(tc.nodes, tc.req)
			if !slices.Equal(p.Nodes, tc.want) || !slices.Equal(p.Failures, tc.failures) {
				t.Fatalf("plan %+v, want %v %v", p, tc.want, tc.failures)
			}
			if after := fmt.Sprint(tc.nodes); after != before {
				t.Fatalf("Place modified its input: %s, was %s", after, before)
			}
		})
	}
}

func withPorts(n Node, ports ...string) Node {
	n.UsedPorts = map[string]bool{}
	for _, p := range ports {
		n.UsedPorts[p] = true
	}
	return n
}
