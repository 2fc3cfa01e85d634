package daemon

import (
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every series of pat-rotator's own ("pat_rotator_").
const Namespace = "pat_rotator"

// Outcomes of pat_rotator_rotations_total.
var rotationOutcomes = []string{"succeeded", "failed", "skipped"}

// Metrics are pat-rotator's Prometheus series, on a registry of their own so
// that tests (and several daemons in one test binary) do not collide. Every
// name below is prefixed with Namespace.
type Metrics struct {
	Registry *prometheus.Registry

	Rotations      *prometheus.CounterVec // rotations_total{outcome,use_case}
	Duration       prometheus.Histogram   // rotation_duration_seconds
	TokenExpiry    *prometheus.GaugeVec   // token_expiry_timestamp_seconds{use_case}
	PendingRevokes prometheus.Gauge       // pending_revokes
	RevokeFailures prometheus.Counter     // revoke_failures_total
	APIRequests    *prometheus.CounterVec // api_requests_total{api,code}
	LastSuccess    *prometheus.GaugeVec   // last_success_timestamp_seconds{use_case}
	RateLimited    *prometheus.CounterVec // rate_limited_responses_total{api}
	CredentialExp  *prometheus.GaugeVec   // credential_expiry_timestamp_seconds{token_id}
	BuildInfo      *prometheus.GaugeVec   // build_info{version,revision,goversion} 1
}

// NewMetrics registers every series, with the Go and process collectors
// (whose go_ and process_ names stay as they are). The outcomes of each
// use case start at zero, so that increase() sees a first failure.
func NewMetrics(useCases ...string) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "rotations_total", Help: "Rotation attempts by outcome (succeeded, failed, skipped) and use case.",
		}, []string{"outcome", "use_case"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "rotation_duration_seconds", Help: "Duration of rotation attempts, lease wait excluded.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		TokenExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "token_expiry_timestamp_seconds", Help: "Expiry of the token each use case's secret holds, per the store (unix seconds; +Inf when it never expires; absent while the store knows none).",
		}, []string{"use_case"}),
		PendingRevokes: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "pending_revokes", Help: "Replaced tokens still live: grace not over, or revoking them keeps failing.",
		}),
		RevokeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "revoke_failures_total", Help: "Failed attempts to revoke a pending token (each is retried).",
		}),
		APIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "api_requests_total", Help: "HTTP requests to Groo and GitHub by status code (error: no response).",
		}, []string{"api", "code"}),
		LastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "last_success_timestamp_seconds", Help: "When each use case last rotated successfully, per the store (unix seconds; absent while the store knows none).",
		}, []string{"use_case"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "rate_limited_responses_total", Help: "Responses that were rate limits (403/429 with retry-after or remaining 0); the clients wait and retry them.",
		}, []string{"api"}),
		CredentialExp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "credential_expiry_timestamp_seconds", Help: "Expiry of pat-rotator's own Groo credential (unix seconds; absent until identified, +Inf when it never expires).",
		}, []string{"token_id"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "build_info", Help: "Always 1; the labels say which build of pat-rotator runs.",
		}, []string{"version", "revision", "goversion"}),
	}
	r.MustRegister(m.Rotations, m.Duration, m.TokenExpiry, m.PendingRevokes, m.RevokeFailures, m.APIRequests, m.LastSuccess, m.RateLimited, m.CredentialExp, m.BuildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Expose the outcomes at zero so that a dashboard sees them before the
	// first rotation, and increase() counts the first failure.
	for _, uc := range useCases {
		for _, o := range rotationOutcomes {
			m.Rotations.WithLabelValues(o, uc)
		}
	}
	for _, api := range []string{"groo", "github"} {
		m.RateLimited.WithLabelValues(api)
	}
	m.BuildInfo.WithLabelValues(buildLabels()).Set(1)
	return m
}

// buildLabels are build_info's version, revision and goversion, from the
// build information Go embeds (internal/buildinfo prints the same facts);
// "unknown" for what it lacks.
func buildLabels() (version, revision, goVersion string) {
	version, revision, goVersion = "unknown", "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, revision, goVersion
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			revision = s.Value
		}
	}
	return version, revision, goVersion
}

// rotation counts one attempt of a use case.
func (m *Metrics) rotation(outcome, useCase string) {
	m.Rotations.WithLabelValues(outcome, useCase).Inc()
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

// observeSuccess updates the per use case gauges after a success: the
// secret now holds the new token.
func (m *Metrics) observeSuccess(useCase string, expires *time.Time, at time.Time) {
	m.observeHeld(useCase, expires)
	m.LastSuccess.WithLabelValues(useCase).Set(float64(at.Unix()))
}

// observeHeld sets the expiry of the token a use case's secret holds; one
// that never expires is +Inf, so that "expires within" alerts stay quiet.
func (m *Metrics) observeHeld(useCase string, expires *time.Time) {
	if expires == nil {
		m.TokenExpiry.WithLabelValues(useCase).Set(math.Inf(1))
		return
	}
	m.TokenExpiry.WithLabelValues(useCase).Set(float64(expires.Unix()))
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
