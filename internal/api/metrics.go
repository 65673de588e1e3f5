package api

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts API requests and their latencies per service, operation
// and answer code.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the API metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fargo_api_requests_total",
			Help: "API requests by service, operation and answer code (200 or the AWS error code).",
		}, []string{"service", "operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fargo_api_request_duration_seconds",
			Help:    "API request latency by service and operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"service", "operation"}),
	}
	if err := reg.Register(m.requests); err != nil {
		return nil, err
	}
	if err := reg.Register(m.latency); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) observe(service, op, code string, start time.Time) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(service, op, code).Inc()
	m.latency.WithLabelValues(service, op).Observe(time.Since(start).Seconds())
}
