package metrics

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/tenant"
)

// Dimension is one name/value pair that identifies a metric.
type Dimension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Metric identifies a series: namespace, name and dimensions (kept sorted
// by name, as CloudWatch treats them as a set).
type Metric struct {
	Namespace  string      `json:"namespace"`
	Name       string      `json:"name"`
	Dimensions []Dimension `json:"dimensions,omitempty"`
}

// Normalize sorts the dimensions by name.
func (m *Metric) Normalize() {
	slices.SortFunc(m.Dimensions, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) })
}

// clone copies the metric's strings: the index keeps them for as long as
// the stream lives, and a decoder's strings may be slices of a whole
// request body (url.ParseQuery's are), which they would pin in memory.
func (m Metric) clone() Metric {
	c := Metric{Namespace: strings.Clone(m.Namespace), Name: strings.Clone(m.Name)}
	if len(m.Dimensions) > 0 {
		c.Dimensions = make([]Dimension, len(m.Dimensions))
		for i, d := range m.Dimensions {
			c.Dimensions[i] = Dimension{Name: strings.Clone(d.Name), Value: strings.Clone(d.Value)}
		}
	}
	return c
}

// key is the metric's canonical key within a scope.
func (m Metric) key(scope tenant.Scope) string {
	var b strings.Builder
	b.WriteString(scope.Account)
	b.WriteByte('/')
	b.WriteString(scope.Region)
	b.WriteByte(0)
	b.WriteString(m.Namespace)
	b.WriteByte(0)
	b.WriteString(m.Name)
	b.WriteByte(0)
	for i, d := range m.Dimensions {
		if i > 0 {
			b.WriteByte(1)
		}
		b.WriteString(d.Name)
		b.WriteByte(2)
		b.WriteString(d.Value)
	}
	return b.String()
}

// Stats is an aggregate of samples: what CloudWatch keeps per period.
type Stats struct {
	Sum         float64 `json:"sum"`
	SampleCount float64 `json:"n"`
	Min         float64 `json:"min"`
	Max         float64 `json:"max"`
}

// Merge adds o to s.
func (s *Stats) Merge(o Stats) {
	if o.SampleCount <= 0 {
		return
	}
	if s.SampleCount <= 0 {
		*s = o
		return
	}
	s.Sum += o.Sum
	s.SampleCount += o.SampleCount
	s.Min = math.Min(s.Min, o.Min)
	s.Max = math.Max(s.Max, o.Max)
}

// Statistic returns one of CloudWatch's statistics (SampleCount, Average,
// Sum, Minimum, Maximum); ok is false for other names.
func (s Stats) Statistic(name string) (float64, bool) {
	switch name {
	case "SampleCount":
		return s.SampleCount, true
	case "Average":
		if s.SampleCount == 0 {
			return 0, true
		}
		return s.Sum / s.SampleCount, true
	case "Sum":
		return s.Sum, true
	case "Minimum":
		return s.Min, true
	case "Maximum":
		return s.Max, true
	}
	return 0, false
}

// Datum is one PutMetricData entry after validation: the samples of one
// metric at one time, as an aggregate.
type Datum struct {
	Metric    Metric
	Timestamp time.Time
	Unit      string // "" = None
	Stats     Stats
	// HighResolution: StorageResolution 1 (kept per second for 3 hours).
	HighResolution bool
}

// Point is one period of a query's answer.
type Point struct {
	Time  time.Time
	Stats Stats
	Unit  string
}

// Units are CloudWatch's StandardUnit values.
var Units = []string{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
	"Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
	"Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// ValidUnit reports whether u is a StandardUnit.
func ValidUnit(u string) bool { return slices.Contains(Units, u) }

func sortStrings(s []string) { slices.Sort(s) }
