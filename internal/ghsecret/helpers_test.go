package ghsecret

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/crypto/nacl/box"
)

// fakeTime is a clock whose sleeps are instant and recorded. With advance
// set, a sleep moves the clock forward; otherwise the clock stands still.
type fakeTime struct {
	mu      sync.Mutex
	now     time.Time
	advance bool
	sleeps  []time.Duration
}

func newFakeTime(advance bool) *fakeTime { return &fakeTime{now: time.Now(), advance: advance} }

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	if f.advance {
		f.now = f.now.Add(d)
	}
	return ctx.Err()
}

func (f *fakeTime) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// keyPair is a scope key whose private half the test keeps, to open what
// the client sealed.
type keyPair struct {
	id  string
	pub *[32]byte
	sec *[32]byte
}

func newKeyPair(t testing.TB, id string) keyPair {
	t.Helper()
	pub, sec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{id: id, pub: pub, sec: sec}
}

func (k keyPair) public() PublicKey { return PublicKey{KeyID: k.id, Key: *k.pub} }

func (k keyPair) json() string {
	b, _ := json.Marshal(map[string]string{"key_id": k.id, "key": base64.StdEncoding.EncodeToString(k.pub[:])})
	return string(b)
}

// open decrypts a value the client sealed for k.
func (k keyPair) open(t testing.TB, sealed string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		t.Fatalf("encrypted_value is not standard base64: %v", err)
	}
	plain, ok := box.OpenAnonymous(nil, raw, k.pub, k.sec)
	if !ok {
		t.Fatalf("encrypted_value does not open with key %s", k.id)
	}
	return string(plain)
}

// seen is one request a test server received.
type seen struct {
	Method, Path, Query string
	Body                map[string]any
}

// fakeGitHub is an httptest server whose routes a test scripts; it records
// every request.
type fakeGitHub struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []seen
	routes map[string]http.HandlerFunc // "METHOD /escaped/path"
}

func newFakeGitHub(t testing.TB) *fakeGitHub {
	f := &fakeGitHub{t: t, routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) handle(route string, h http.HandlerFunc) { f.routes[route] = h }

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s := seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &s.Body); err != nil {
			f.t.Errorf("%s %s: body is not a JSON object: %v", r.Method, r.URL, err)
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, s)
	h := f.routes[r.Method+" "+r.URL.EscapedPath()]
	f.mu.Unlock()
	if h == nil {
		writeJSON(w, http.StatusNotFound, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h(w, r)
}

func (f *fakeGitHub) requests(method, path string) []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []seen
	for _, s := range f.reqs {
		if (method == "" || s.Method == method) && (path == "" || s.Path == path) {
			out = append(out, s)
		}
	}
	return out
}

// client returns a Client against the fake, with instant recorded sleeps.
func (f *fakeGitHub) client(ft *fakeTime, opts ...Option) *Client {
	gh := github.NewClient(f.srv.Client())
	gh.BaseURL = mustURL(f.t, f.srv.URL+"/")
	c := NewClient(gh, append([]Option{WithSleep(ft.Sleep)}, opts...)...)
	c.now = ft.Now
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// sequence answers a route with each handler in turn, repeating the last.
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(i, len(hs)-1)]
		i++
		mu.Unlock()
		h(w, r)
	}
}

// status answers with code, optional headers ("K: V") and a GitHub error body.
func status(code int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ": ")
			w.Header().Set(k, v)
		}
		if code == http.StatusNoContent {
			w.WriteHeader(code)
			return
		}
		writeJSON(w, code, body)
	}
}

func errBody(msg string) string {
	b, _ := json.Marshal(map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
	return string(b)
}

// logBuffer is a debug-level JSON logger into a buffer tests search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
