// Package metrics is fargo's CloudWatch: metric series and their
// aggregates, queries (statistics per period, metric math), alarms and
// their evaluation, and the metrics fargo publishes about itself (AWS/ECS
// from the tasks' cgroups, AWS/Logs from the Logs service).
//
// Metric data lives in a bbolt file of its own (metrics.db), not in the
// control plane's store: it is written far more often than anything else
// (every PutMetricData, every task every period), it needs range scans by
// time and expiry by age, and none of it is watched, so the generic store's
// per-key revisions and watch history would be pure cost. Alarms, their
// state, history, tags and pending actions are few and must be consistent
// with each other, so they live in the control plane's store
// (internal/store), one transaction per change.
//
// Data layout of metrics.db (ids are 8-byte big-endian, times big-endian
// unix seconds, aggregates 32 bytes: sum, sample count, min, max):
//
//	streams  scope\x00namespace\x00name\x00dims\x00unit  -> id
//	meta     id                                          -> JSON streamMeta
//	s1       id|second   high resolution, kept 3 hours
//	m1       id|minute   kept 15 days
//	m5       id|5min     kept 63 days
//	h1       id|hour     kept 455 days
//
// A datapoint is merged into every resolution when it is written (s1 only
// for high-resolution data, or for all data when the metric period is
// shortened for demos), so expiry is a range delete per stream and
// resolution, and no rollup job can fall behind. In memory there is only
// the index of streams (a few hundred bytes each); the aggregates stay on
// disk (the page cache keeps the hot ones).
//
// Alarm evaluation (see evaluate.go) and the action outbox (alarms.go):
//
//	ticker ─► evaluate(alarm, datapoints) ─► new state?
//	              │ yes: one store transaction writes the alarm's state,
//	              │      a history item and one pending action per action ARN
//	              ▼
//	          deliver pending actions ─► ActionSink.AlarmFired ─► delete pending
//
// A transition is written once; its pending actions survive a restart and
// are delivered (at least once to the sink, keyed by the transition so a
// sink can drop a repeat) before any new transition of that alarm.
package metrics
