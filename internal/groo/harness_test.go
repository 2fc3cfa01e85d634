package groo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/testkit"
)

// Credentials and secrets used by the tests. Every test's logs and errors
// are checked for their values (and for anything shaped like one).
const (
	credValue   = "groo_pat_c0ffee0000000000000000000000000000000000000000000000000000001234"
	mintedValue = "groo_pat_5ec2e70000000000000000000000000000000000000000000000000000009abc"
	// oldValue is a token the process never held, echoed by a server (the
	// token being revoked): only its shape can tell it is one.
	oldValue = "groo_pat_0dd0000000000000000000000000000000000000000000000000000000beef"
)

// leakRE finds a token value, or its 64 hex characters alone.
var leakRE = regexp.MustCompile(`[0-9a-f]{64}`)

func assertNoSecret(t testing.TB, what, s string) {
	t.Helper()
	s = strings.ToLower(s) // an echo in another letter case leaks as much
	if leakRE.MatchString(s) || strings.Contains(s, credValue) || strings.Contains(s, mintedValue) {
		t.Errorf("%s leaks a token value: %s", what, s)
	}
}

// recorded is one request as the fake server saw it.
type recorded struct {
	Method, Path, Cookie, Auth, UserAgent, Accept, ContentType string
	Body                                                       []byte
}

// fakeGroo is an httptest server on 127.0.0.1 whose answer to the n-th
// request (1-based) is given by the test.
type fakeGroo struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newFake(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *fakeGroo {
	t.Helper()
	f := &fakeGroo{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{
			Method: r.Method, Path: r.URL.EscapedPath(), Cookie: r.Header.Get("Cookie"),
			Auth: r.Header.Get("Authorization"), UserAgent: r.Header.Get("User-Agent"),
			Accept: r.Header.Get("Accept"), ContentType: r.Header.Get("Content-Type"), Body: body,
		})
		n := len(f.reqs)
		f.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGroo) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeGroo) count() int { return len(f.requests()) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}

// hang blocks until the client gives up on the request (its timeout).
func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// drop closes the connection without answering.
func drop(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// harness is a Client wired to a fake, with its debug logs captured as JSON
// and its waits recorded instead of slept. At the end of the test the logs
// are checked for token values. TestLogs covers the text handler too.
type harness struct {
	*Client
	logs  *testkit.Buffer
	mu    sync.Mutex
	waits []time.Duration
}

func newHarness(t *testing.T, baseURL string, opts ...Option) *harness {
	t.Helper()
	h := &harness{logs: &testkit.Buffer{}}
	all := append([]Option{
		WithBaseURL(baseURL),
		WithLogger(slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithRequestTimeout(5 * time.Second),
		WithSleep(func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			h.waits = append(h.waits, d)
			h.mu.Unlock()
			return ctx.Err()
		}),
	}, opts...)
	c, err := New(all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.Client = c
	t.Cleanup(func() { assertNoSecret(t, "log", h.logs.String()) })
	return h
}

func (h *harness) recordedWaits() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.waits...)
}

func cred(t testing.TB) Token { return mustToken(t, credValue) }

func ptr[T any](v T) *T { return &v }
