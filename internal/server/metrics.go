package server

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fargo-run/fargo/internal/agent"
	"github.com/fargo-run/fargo/internal/connlimit"
	"github.com/fargo-run/fargo/internal/control"
)

// fargoMetrics are fargo's own figures on /metrics, beside the API's and
// the Go runtime's and process's (open files among them): registry
// traffic, tasks per state, the stores' size and write latency, the
// agent's step latencies and the listeners' connections. /metrics is
// unauthenticated: no label ever holds anything of a tenant (account,
// ARN, repository, cluster or family name).
type fargoMetrics struct {
	storeWrite *prometheus.HistogramVec // store
	agentStep  *prometheus.HistogramVec // step
	regReqs    *prometheus.CounterVec   // method, route, code
	regIn      *prometheus.CounterVec   // route
	regOut     *prometheus.CounterVec   // route
}

var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func newFargoMetrics() *fargoMetrics {
	m := &fargoMetrics{
		storeWrite: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fargo_store_write_duration_seconds", Help: "Store transactions, commit and fsync included, by store.",
			Buckets: latencyBuckets,
		}, []string{"store"}),
		agentStep: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fargo_agent_step_duration_seconds", Help: "The agent's steps of a task's life: image pull, network set-up, container start and stop.",
			Buckets: latencyBuckets,
		}, []string{"step"}),
		regReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fargo_registry_requests_total", Help: "Registry (/v2/) requests by method, route class and status code.",
		}, []string{"method", "route", "code"}),
		regIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fargo_registry_received_bytes_total", Help: "Request body bytes the registry received, by route class.",
		}, []string{"route"}),
		regOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fargo_registry_sent_bytes_total", Help: "Response body bytes the registry sent, by route class.",
		}, []string{"route"}),
	}
	for _, st := range []string{"control", "logs"} {
		m.storeWrite.WithLabelValues(st)
	}
	for _, step := range agent.Steps {
		m.agentStep.WithLabelValues(step)
	}
	return m
}

func (m *fargoMetrics) observeWrite(store string) func(time.Duration) {
	return func(d time.Duration) { m.storeWrite.WithLabelValues(store).Observe(d.Seconds()) }
}

func (m *fargoMetrics) observeStep(step string, d time.Duration) {
	m.agentStep.WithLabelValues(step).Observe(d.Seconds())
}

// register adds the metrics and the collectors that ask at scrape time
// (tasks per state, store sizes, connections) to reg.
func (m *fargoMetrics) register(reg prometheus.Registerer, s *Server) error {
	cs := []prometheus.Collector{m.storeWrite, m.agentStep, m.regReqs, m.regIn, m.regOut,
		taskCounter{ctl: s.ctl},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fargo_store_size_bytes", Help: "Size of the store's file.",
			ConstLabels: prometheus.Labels{"store": "control"}}, func() float64 { n, _ := s.st.Size(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fargo_store_size_bytes", Help: "Size of the store's file.",
			ConstLabels: prometheus.Labels{"store": "logs"}}, func() float64 { n, _ := s.logsStore.Size(); return float64(n) }),
	}
	cs = append(cs, connMetrics("api", func() *connlimit.Listener { return s.apiLn })...)
	if s.node != nil {
		cs = append(cs, connMetrics("metadata", func() *connlimit.Listener { return s.node.metaLn })...)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// connMetrics are a limited listener's open and refused connections.
func connMetrics(name string, ln func() *connlimit.Listener) []prometheus.Collector {
	labels := prometheus.Labels{"listener": name}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fargo_connections_open", Help: "Open connections of a listener.", ConstLabels: labels},
			func() float64 {
				if l := ln(); l != nil {
					return float64(l.Open())
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "fargo_connections_refused_total",
			Help: "Connections closed at once for being over a listener's limits (in all or per client).", ConstLabels: labels},
			func() float64 {
				if l := ln(); l != nil {
					return float64(l.Refused())
				}
				return 0
			}),
	}
}

// taskCounter asks the control plane for the tasks per state at scrape
// time.
type taskCounter struct{ ctl *control.Control }

var taskDesc = prometheus.NewDesc("fargo_tasks", "Tasks of every account by lastStatus.", []string{"last_status"}, nil)

func (taskCounter) Describe(ch chan<- *prometheus.Desc) { ch <- taskDesc }

func (c taskCounter) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.ctl.CountTasks(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(taskDesc, err)
		return
	}
	for _, st := range control.TaskStatuses() {
		ch <- prometheus.MustNewConstMetric(taskDesc, prometheus.GaugeValue, float64(counts[st]), st)
	}
}

// registry counts the registry's traffic around h.
func (m *fargoMetrics) registry(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := registryRoute(r.URL.Path)
		cw := &countingWriter{ResponseWriter: w, code: http.StatusOK}
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r.Body = body
		}
		h.ServeHTTP(cw, r)
		m.regReqs.WithLabelValues(methodLabel(r.Method), route, strconv.Itoa(cw.code)).Inc()
		if body != nil {
			m.regIn.WithLabelValues(route).Add(float64(body.n))
		}
		m.regOut.WithLabelValues(route).Add(float64(cw.n))
	})
}

// registryRoute is the class of a /v2/ path, never its repository name.
func registryRoute(p string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(p, "/v2"), "/")
	switch {
	case rest == "":
		return "base"
	case rest == "_catalog":
		return "catalog"
	case strings.Contains(rest, "/blobs/uploads"):
		return "blob_upload"
	case strings.Contains(rest, "/blobs/"):
		return "blob"
	case strings.Contains(rest, "/manifests/"):
		return "manifest"
	case strings.HasSuffix(rest, "/tags/list"):
		return "tags"
	case strings.Contains(rest, "/referrers/"):
		return "referrers"
	default:
		return "other"
	}
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}

type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// countingWriter counts a response's status and body bytes; it keeps the
// writer's ReadFrom (sendfile for blobs) and is unwrapped by
// http.ResponseController.
type countingWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
	n           int64
}

func (w *countingWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	w.wroteHeader = true
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		w.n += n
		return n, err
	}
	n, err := io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	w.n += n
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
