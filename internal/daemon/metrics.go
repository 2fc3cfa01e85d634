package daemon

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are pat-rotator's Prometheus series, on a registry of their own so
// that tests (and several daemons in one test binary) do not collide.
type Metrics struct {
	Registry *prometheus.Registry

	Rotations      *prometheus.CounterVec // rotations_total{outcome}
	Duration       prometheus.Histogram   // rotation_duration_seconds
	TokenExpiry    *prometheus.GaugeVec   // token_expiry_timestamp_seconds{use_case}
	PendingRevokes prometheus.Gauge       // pending_revokes
	RevokeFailures prometheus.Counter     // revoke_failures_total
	APIRequests    *prometheus.CounterVec // api_requests_total{api,code}
	LastSuccess    *prometheus.GaugeVec   // last_success_timestamp_seconds{use_case}
	RateLimited    *prometheus.CounterVec // rate_limited_responses_total{api}
	CredentialExp  *prometheus.GaugeVec   // credential_expiry_timestamp_seconds{token_id}
}

// NewMetrics registers every series, with the Go and process collectors.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rotations_total", Help: "Rotation attempts by outcome (succeeded, failed, skipped).",
		}, []string{"outcome"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rotation_duration_seconds", Help: "Duration of rotation attempts, lease wait excluded.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		TokenExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "token_expiry_timestamp_seconds", Help: "Expiry of the token each use case's secret holds (unix seconds).",
		}, []string{"use_case"}),
		PendingRevokes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pending_revokes", Help: "Replaced tokens still live: grace not over, or revoking them keeps failing.",
		}),
		RevokeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revoke_failures_total", Help: "Failed attempts to revoke a pending token (each is retried).",
		}),
		APIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "api_requests_total", Help: "HTTP requests to Groo and GitHub by status code (error: no response).",
		}, []string{"api", "code"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "last_success_timestamp_seconds", Help: "When each use case last rotated successfully (unix seconds).",
		}, []string{"use_case"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rate_limited_responses_total", Help: "Responses that were rate limits (403/429 with retry-after or remaining 0); the clients wait and retry them.",
		}, []string{"api"}),
		CredentialExp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "credential_expiry_timestamp_seconds", Help: "Expiry of pat-rotator's own Groo credential (unix seconds; absent until identified, +Inf when it never expires).",
		}, []string{"token_id"}),
	}
	r.MustRegister(m.Rotations, m.Duration, m.TokenExpiry, m.PendingRevokes, m.RevokeFailures, m.APIRequests, m.LastSuccess, m.RateLimited, m.CredentialExp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Expose the outcomes at zero so that a dashboard sees them before the first rotation.
	for _, o := range []string{"succeeded", "failed", "skipped"} {
		m.Rotations.WithLabelValues(o)
	}
	for _, api := range []string{"groo", "github"} {
		m.RateLimited.WithLabelValues(api)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Transport counts each request to api by status code, and rate limits apart.
func (m *Metrics) Transport(api string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &countingTransport{api: api, base: base, m: m}
}

type countingTransport struct {
	api  string
	base http.RoundTripper
	m    *Metrics
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.m.APIRequests.WithLabelValues(t.api, "error").Inc()
		return resp, err
	}
	t.m.APIRequests.WithLabelValues(t.api, strconv.Itoa(resp.StatusCode)).Inc()
	if isRateLimit(resp) {
		t.m.RateLimited.WithLabelValues(t.api).Inc()
	}
	return resp, nil
}

// isRateLimit recognises GitHub's primary and secondary limits and Groo's 429.
func isRateLimit(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden:
		return resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-Ratelimit-Remaining") == "0"
	}
	return false
}

// observeSuccess updates the per use case gauges after a success.
func (m *Metrics) observeSuccess(useCase string, expires *time.Time, at time.Time) {
	if expires != nil {
		m.TokenExpiry.WithLabelValues(useCase).Set(float64(expires.Unix()))
	}
	m.LastSuccess.WithLabelValues(useCase).Set(float64(at.Unix()))
}

// observeCredential sets the credential's expiry gauge.
func (m *Metrics) observeCredential(tokenID string, expires *time.Time) {
	m.CredentialExp.Reset()
	if expires == nil {
		m.CredentialExp.WithLabelValues(tokenID).Set(math.Inf(1))
		return
	}
	m.CredentialExp.WithLabelValues(tokenID).Set(float64(expires.Unix()))
}
