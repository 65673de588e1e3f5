package main

import (
	"context"
	"net/http"
	"os"
	"time"
)

// floorSubcommand makes the bench binary serve the floor: an empty Go
// net/http handler answering every request with a small fixed body.
const floorSubcommand = "floor-server"

// floorBody is about the size of a ListClusters answer or a small manifest.
const floorBody = `{"clusterArns":["arn:aws:ecs:us-east-1:000000000000:cluster/default","arn:aws:ecs:us-east-1:000000000000:cluster/bench"]}`

// serveFloor runs the floor server on FARGO_LISTEN until killed.
func serveFloor() int {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(floorBody))
	})
	s := &http.Server{Addr: os.Getenv("FARGO_LISTEN"), Handler: h, ReadHeaderTimeout: 30 * time.Second}
	if err := s.ListenAndServe(); err != nil {
		return 1
	}
	return 0
}

// measureFloor measures the floor under the load generator, on the same
// CPU split as the servers: what any Go HTTP server's latency is made of
// on this machine before it does any work. A latency target below the
// floor's cannot be met by doing less. With burstRounds > 0 it also
// measures bursts of clients requests at once (burstLoad).
func measureFloor(split cpuSplit, reqs [][]byte, clients int, d time.Duration, burstRounds int) (sustained, burst result, err error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, result{}, err
	}
	p, err := startProcess(context.Background(), "floor", split.serverArgv([]string{self, floorSubcommand}), "FARGO_LISTEN", "/")
	if err != nil {
		return result{}, result{}, err
	}
	defer p.stop()
	host := p.url[len("http://"):]
	ok := func(status int, body []byte) error { return nil }
	split.onClientCPUs(func() {
		if _, err = rawLoad(host, reqs, clients, time.Second, ok); err == nil {
			sustained, err = rawLoad(host, reqs, clients, d, ok)
		}
		if err == nil && burstRounds > 0 {
			burst, err = burstLoad(host, reqs[0], clients, burstRounds, ok)
		}
	})
	return sustained, burst, err
}
