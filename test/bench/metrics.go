package main

// CloudWatch metrics benchmark (BENCH=metrics), fargo beside moto's server
// in the same run, both spoken to in awsQuery (the protocol every moto
// version serves for CloudWatch), signed before the clock starts:
//
//   - PutMetricData: datapoints a second, 20 datapoints a call (each call
//     durable in fargo: one fsync'd bbolt transaction, batched);
//   - GetMetricData: p99 of a query of one series holding a day of
//     1-minute data (1,440 points answered);
//   - memory per active series: fargo's Go heap (its /metrics) before and
//     after 1,000 series each get a day of 1-minute data.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

const cwVersion = "2010-08-01"

// signedForm signs an awsQuery call of the monitoring service.
func signedForm(base string, form url.Values) (*http.Request, error) {
	form.Set("Version", cwVersion)
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	err = signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
		req, hex.EncodeToString(sum[:]), "monitoring", "us-east-1", time.Now())
	return req, err
}

func sendForm(base string, form url.Values) error {
	req, err := signedForm(base, form)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", form.Get("Action"), resp.StatusCode, b)
	}
	return nil
}

// putForm is a PutMetricData of values for series at the given times.
func putForm(series []string, times []time.Time, value func(i int) float64) url.Values {
	f := url.Values{"Action": {"PutMetricData"}, "Namespace": {"Bench"}}
	for i := range times {
		p := fmt.Sprintf("MetricData.member.%d.", i+1)
		f.Set(p+"MetricName", "Latency")
		f.Set(p+"Dimensions.member.1.Name", "Series")
		f.Set(p+"Dimensions.member.1.Value", series[i])
		f.Set(p+"Value", strconv.FormatFloat(value(i), 'f', -1, 64))
		f.Set(p+"Unit", "Milliseconds")
		f.Set(p+"Timestamp", times[i].UTC().Format(time.RFC3339))
	}
	return f
}

// fillDay gives each series a day of 1-minute data, 1,000 datapoints a call.
func fillDay(base string, series []string, now time.Time) error {
	var names []string
	var times []time.Time
	flush := func() error {
		if len(times) == 0 {
			return nil
		}
		err := sendForm(base, putForm(names, times, func(i int) float64 { return float64(i % 97) }))
		names, times = names[:0], times[:0]
		return err
	}
	for _, s := range series {
		for m := 1; m <= 1440; m++ {
			names = append(names, s)
			times = append(times, now.Add(-time.Duration(m)*time.Minute))
			if len(times) == 1000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

func signedFormRequests(base string, forms func(i int) url.Values) ([][]byte, error) {
	reqs := make([][]byte, loadVariants)
	for i := range reqs {
		req, err := signedForm(base, forms(i))
		if err != nil {
			return nil, err
		}
		if reqs[i], err = wireBytes(req); err != nil {
			return nil, err
		}
	}
	return reqs, nil
}

var heapRE = regexp.MustCompile(`(?m)^go_memstats_heap_inuse_bytes ([0-9.e+]+)$`)

func heapInuse(base string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := heapRE.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("no go_memstats_heap_inuse_bytes in /metrics")
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func runMetricsBenchmark(fargoBin string, clients int, duration time.Duration) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "fargo-bench-metrics")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	split := newCPUSplit()
	fargo, err := startProcess(ctx, "fargo", split.serverArgv([]string{fargoBin, "server", "--dev", "--write-profile=false", "--no-agent",
		"--data-dir", filepath.Join(tmp, "data")}), "FARGO_LISTEN", "/healthz")
	if err != nil {
		return err
	}
	defer fargo.stop()
	moto, err := startProcess(ctx, "moto", split.serverArgv([]string{"python3", "-m", "moto.server", "-H", "127.0.0.1", "-p"}), "", "/moto-api/")
	if err != nil {
		return fmt.Errorf("%w (moto's server is the peer: pip install 'moto[server]')", err)
	}
	defer moto.stop()
	fmt.Printf("CloudWatch metrics benchmark: %d concurrent clients, %s per operation, awsQuery, same run\n", clients, duration)
	fmt.Printf("peer: moto %s (in memory); fargo: metrics.db (bbolt), fsync per PutMetricData (batched)\n", motoVersion())
	fmt.Printf("%s\n\n", split.describe())
	fmt.Printf("%-34s %-6s %12s %9s %9s   %s\n", "operation", "target", "rate", "p50", "p99", "fargo/moto")

	now := time.Now().UTC().Truncate(time.Minute)
	const perCall = 20
	putForms := func(i int) url.Values {
		series := make([]string, perCall)
		times := make([]time.Time, perCall)
		for j := range series {
			series[j] = fmt.Sprintf("put-%d", (i*perCall+j)%200)
			times[j] = now.Add(-time.Duration(j) * time.Second)
		}
		return putForm(series, times, func(j int) float64 { return float64(j) })
	}
	ok := func(status int, body []byte) error {
		if status != 200 {
			return fmt.Errorf("status %d: %.200s", status, body)
		}
		return nil
	}
	var put, get [2]result
	for i, target := range []*process{fargo, moto} {
		reqs, err := signedFormRequests(target.url, putForms)
		if err != nil {
			return err
		}
		host := strings.TrimPrefix(target.url, "http://")
		split.onClientCPUs(func() {
			if _, err = rawLoad(host, reqs, clients, time.Second, ok); err == nil {
				put[i], err = rawLoad(host, reqs, clients, duration, ok)
			}
		})
		if err != nil {
			return fmt.Errorf("PutMetricData on %s: %w", target.name, err)
		}
	}
	for i, name := range []string{"fargo", "moto"} {
		ratio := ""
		if i == 0 && put[1].rps > 0 {
			ratio = fmt.Sprintf("%.1fx throughput", put[0].rps/put[1].rps)
		}
		fmt.Printf("%-34s %-6s %10.0f/s %9s %9s   %s\n", "PutMetricData (datapoints)", name, put[i].rps*perCall, fmtDur(put[i].p50), fmtDur(put[i].p99), ratio)
	}

	getForm := url.Values{"Action": {"GetMetricData"},
		"StartTime": {now.Add(-24 * time.Hour).Format(time.RFC3339)}, "EndTime": {now.Format(time.RFC3339)},
		"MetricDataQueries.member.1.Id":                                          {"day"},
		"MetricDataQueries.member.1.MetricStat.Metric.Namespace":                 {"Bench"},
		"MetricDataQueries.member.1.MetricStat.Metric.MetricName":                {"Latency"},
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name":  {"Series"},
		"MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value": {"day"},
		"MetricDataQueries.member.1.MetricStat.Period":                           {"60"},
		"MetricDataQueries.member.1.MetricStat.Stat":                             {"Average"},
	}
	for i, target := range []*process{fargo, moto} {
		if err := fillDay(target.url, []string{"day"}, now); err != nil {
			return fmt.Errorf("fill a day on %s: %w", target.name, err)
		}
		reqs, err := signedFormRequests(target.url, func(int) url.Values {
			f := url.Values{}
			for k, v := range getForm {
				f[k] = v
			}
			return f
		})
		if err != nil {
			return err
		}
		host := strings.TrimPrefix(target.url, "http://")
		split.onClientCPUs(func() {
			if _, err = rawLoad(host, reqs, clients, time.Second, ok); err == nil {
				get[i], err = rawLoad(host, reqs, clients, duration, ok)
			}
		})
		if err != nil {
			return fmt.Errorf("GetMetricData on %s: %w", target.name, err)
		}
	}
	for i, name := range []string{"fargo", "moto"} {
		ratio := ""
		if i == 0 && get[1].rps > 0 {
			ratio = fmt.Sprintf("%.1fx throughput", get[0].rps/get[1].rps)
		}
		fmt.Printf("%-34s %-6s %10.0f/s %9s %9s   %s\n", "GetMetricData (1 day, 1-min)", name, get[i].rps, fmtDur(get[i].p50), fmtDur(get[i].p99), ratio)
	}

	// Memory: 1,000 series with a day of 1-minute data each, in a fargo
	// of its own run with GOGC=10, so that its heap is what it holds and
	// not garbage waiting for a collection (fargo server runs GOGC=400).
	const nSeries = 1000
	fargo.stop()
	moto.stop()
	os.Setenv("GOGC", "10")
	fargo, err = startProcess(ctx, "fargo", split.serverArgv([]string{fargoBin, "server", "--dev", "--write-profile=false", "--no-agent",
		"--data-dir", filepath.Join(tmp, "data2")}), "FARGO_LISTEN", "/healthz")
	os.Unsetenv("GOGC")
	if err != nil {
		return err
	}
	defer fargo.stop()
	before, err := heapInuse(fargo.url)
	if err != nil {
		return err
	}
	series := make([]string, nSeries)
	for i := range series {
		series[i] = fmt.Sprintf("mem-%d", i)
	}
	start := time.Now()
	if err := fillDay(fargo.url, series, now); err != nil {
		return err
	}
	fill := time.Since(start)
	after, err := heapInuse(fargo.url)
	if err != nil {
		return err
	}
	perSeries := (after - before) / nSeries
	fmt.Printf("\nmemory (GOGC=10): %d series x 1,440 1-minute datapoints (%.0f datapoints/s sequential, 1,000 a call): Go heap in use +%.1f MiB, %.0f B per series\n",
		nSeries, float64(nSeries*1440)/fill.Seconds(), (after-before)/(1<<20), perSeries)
	ratio := put[0].rps / put[1].rps
	fmt.Printf("targets: PutMetricData >= 50x moto: %.0fx, %s; memory <= 2 KiB per series with a day of data: %.0f B, %s; GetMetricData p99 (1 day): %s\n",
		ratio, regVerdict(ratio >= 50), perSeries, regVerdict(perSeries <= 2048), fmtDur(get[0].p99))
	return nil
}
