package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// /burn?secs=N&workers=K spins K goroutines (default 1) for N seconds
// (default 60) and answers at once: CPU load for the CloudWatch tests.
// Registered at start-up (this test program's one init) so that serve
// needs no change.
func init() { //nolint:gochecknoinits // test program: registers an endpoint
	http.HandleFunc("/burn", func(w http.ResponseWriter, r *http.Request) {
		secs, err := strconv.Atoi(r.URL.Query().Get("secs"))
		if err != nil || secs <= 0 {
			secs = 60
		}
		workers, err := strconv.Atoi(r.URL.Query().Get("workers"))
		if err != nil || workers <= 0 {
			workers = 1
		}
		until := time.Now().Add(time.Duration(secs) * time.Second)
		for range workers {
			go func() {
				x := 0
				for time.Now().Before(until) {
					for i := range 1 << 16 {
						x += i
					}
				}
				_ = x
			}()
		}
		fmt.Fprintf(w, "burning %d workers for %ds\n", workers, secs)
	})
}
