package lb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Descriptions ELBv2 gives with each reason code.
const (
	descRegistration  = "Target registration is in progress"
	descInitial       = "Initial health checks in progress"
	descTimeout       = "Request timed out"
	descFailed        = "Health checks failed"
	descNotInUse      = "Target group is not configured to receive traffic from the load balancer"
	descDeregistering = "Target deregistration is in progress"
	descDisabled      = "Health checks are disabled"
)

// probeResult is the outcome of one health check.
type probeResult struct {
	OK          bool
	Reason      string // for a failure
	Description string
}

// healthState is a target's health as the state machine keeps it.
type healthState struct {
	State, Reason, Description string
	// successes and failures count the consecutive results.
	successes, failures int
}

func initialHealth() healthState {
	return healthState{State: StateInitial, Reason: ReasonRegistrationInProgress, Description: descRegistration}
}

// observe feeds one health check result into the state machine and
// reports whether the state, reason or description changed:
//
//	initial   --1 success-----------------------> healthy   (AWS: a new target must pass one check)
//	initial   --UnhealthyThreshold failures-----> unhealthy (reason of the last failure)
//	healthy   --UnhealthyThreshold failures-----> unhealthy
//	unhealthy --HealthyThreshold successes------> healthy
func (h *healthState) observe(r probeResult, hc HealthCheck) bool {
	before := *h
	if r.OK {
		h.successes++
		h.failures = 0
	} else {
		h.failures++
		h.successes = 0
	}
	switch h.State {
	case StateInitial:
		switch {
		case r.OK:
			h.set(StateHealthy, "", "")
		case h.failures >= max(hc.UnhealthyThreshold, 1):
			h.set(StateUnhealthy, r.Reason, r.Description)
		default:
			h.set(StateInitial, ReasonInitialHealthChecking, descInitial)
		}
	case StateHealthy:
		if !r.OK && h.failures >= max(hc.UnhealthyThreshold, 1) {
			h.set(StateUnhealthy, r.Reason, r.Description)
		}
	case StateUnhealthy:
		switch {
		case r.OK && h.successes >= max(hc.HealthyThreshold, 1):
			h.set(StateHealthy, "", "")
		case !r.OK:
			h.set(StateUnhealthy, r.Reason, r.Description)
		}
	default:
		// draining, unused, unavailable: checks do not move them.
	}
	return h.State != before.State || h.Reason != before.Reason || h.Description != before.Description
}

func (h *healthState) set(state, reason, desc string) {
	h.State, h.Reason, h.Description = state, reason, desc
}

// codeMatcher is a parsed ELBv2 HttpCode matcher: "200", "200,202",
// "200-299" (and mixtures).
type codeMatcher []struct{ lo, hi int }

func parseMatcher(s string) (codeMatcher, error) {
	if strings.TrimSpace(s) == "" {
		s = "200"
	}
	var m codeMatcher
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("health check matcher %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("health check matcher %q: %w", s, err)
			}
		}
		if a < 100 || b > 599 || a > b {
			return nil, fmt.Errorf("health check matcher %q: codes must be 100-599", s)
		}
		m = append(m, struct{ lo, hi int }{a, b})
	}
	return m, nil
}

func (m codeMatcher) match(code int) bool {
	for _, r := range m {
		if r.lo <= code && code <= r.hi {
			return true
		}
	}
	return false
}

// prober runs health checks; it never reuses connections (AWS closes the
// health check connection after each check).
type prober struct {
	client *http.Client
}

func newProber() *prober {
	tr := &http.Transport{
		DisableKeepAlives:  true,
		DisableCompression: true,
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true}, // ALB does not verify targets' certificates
		DialContext:        (&net.Dialer{}).DialContext,
	}
	return &prober{client: &http.Client{Transport: tr}}
}

// probe checks one target once.
func (p *prober) probe(ctx context.Context, hc HealthCheck, m codeMatcher, addr netip.Addr, trafficPort int) probeResult {
	port := hc.Port
	if port == 0 {
		port = trafficPort
	}
	scheme := "http"
	if strings.EqualFold(hc.Protocol, "HTTPS") {
		scheme = "https"
	}
	path := hc.Path
	if path == "" {
		path = "/"
	}
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := scheme + "://" + netip.AddrPortFrom(addr, uint16(port)).String() + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return probeResult{Reason: ReasonFailedHealthChecks, Description: descFailed}
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	resp, err := p.client.Transport.RoundTrip(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return probeResult{Reason: ReasonTimeout, Description: descTimeout}
		}
		return probeResult{Reason: ReasonFailedHealthChecks, Description: descFailed}
	}
	resp.Body.Close()
	if !m.match(resp.StatusCode) {
		return probeResult{Reason: ReasonResponseCodeMismatch,
			Description: fmt.Sprintf("Health checks failed with these codes: [%d]", resp.StatusCode)}
	}
	return probeResult{OK: true}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
