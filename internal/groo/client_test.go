package groo

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBaseURL uses t.Setenv, so neither it nor its subtests run in parallel.
func TestBaseURL(t *testing.T) {
	tests := []struct {
		name    string
		opt     string
		env     string
		want    string
		wantErr []string // substrings of the error
	}{
		{name: "default", want: DefaultBaseURL},
		{name: "env", env: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "option beats env", opt: "https://groo.example", env: "http://127.0.0.1:8080", want: "https://groo.example"},
		{name: "empty option falls back to env", opt: "", env: "https://env.example/", want: "https://env.example"},
		{name: "path prefix kept, slash dropped", opt: "http://127.0.0.1:9/groo/", want: "http://127.0.0.1:9/groo"},
		{name: "bad option", opt: "ftp://groo.example", env: "http://127.0.0.1:8080", wantErr: []string{`"ftp://groo.example"`, "from WithBaseURL", "is not http(s)", "pass a URL like https://accounts.groo.dev"}},
		{name: "bad env", env: "accounts.groo.dev", wantErr: []string{"from GROO_ACCOUNTS_URL", "is not http(s)", "set GROO_ACCOUNTS_URL to a URL like https://accounts.groo.dev"}},
		{name: "no host", env: "https://", wantErr: []string{"has no host", "GROO_ACCOUNTS_URL"}},
		{name: "port only", opt: "http://:8080", wantErr: []string{"has no host"}},
		{name: "credentials", opt: "https://user:pw@groo.example", wantErr: []string{"holds credentials"}},
		{name: "query", opt: "https://groo.example/?a=1", wantErr: []string{"has a query"}},
		{name: "plain http to another host", opt: "http://groo.example", wantErr: []string{"plain http", "https"}},
		{name: "plain http to localhost", opt: "http://localhost:8080", want: "http://localhost:8080"},
		{name: "plain http to ::1", opt: "http://[::1]:8080", want: "http://[::1]:8080"},
		{name: "unparseable", opt: "http://[::1", wantErr: []string{"does not parse"}},
		{name: "token in env", env: credValue, wantErr: []string{"GROO_ACCOUNTS_URL", "groo_pat_…"}},
		{name: "token as user info", opt: "https://" + credValue + "@groo.example", wantErr: []string{"holds credentials", `"https://groo.example"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvBaseURL, tc.env)
			c, err := New(WithBaseURL(tc.opt))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("New: no error, base %q", c.BaseURL())
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err %q lacks %q", err, s)
					}
				}
				assertNoSecret(t, "error", err.Error())
				if strings.Contains(err.Error(), "pw@") {
					t.Errorf("err %q shows the URL's password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if c.BaseURL() != tc.want {
				t.Errorf("BaseURL = %q, want %q", c.BaseURL(), tc.want)
			}
		})
	}
}

func TestBaseURLPathPrefix(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { routes[0].ok(w) })
	h := newHarness(t, f.URL+"/groo/")
	if _, err := h.Me(t.Context(), cred(t)); err != nil {
		t.Fatalf("Me: %v", err)
	}
	if reqs := f.requests(); len(reqs) != 1 || reqs[0].Path != "/groo/v1/auth/me" {
		t.Errorf("requests %+v, want GET /groo/v1/auth/me", reqs)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"no attempts", WithRetry(0, time.Second, time.Second), "maxAttempts is 0"},
		{"zero initial", WithRetry(3, 0, time.Second), "WithRetry"},
		{"max below initial", WithRetry(3, 2*time.Second, time.Second), "WithRetry"},
		{"zero timeout", WithRequestTimeout(0), "WithRequestTimeout"},
		{"negative retry-after cap", WithMaxRetryAfter(-time.Second), "WithMaxRetryAfter"},
		{"nil sleep", WithSleep(nil), "WithSleep"},
		{"nil clock", WithClock(nil), "WithClock"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(WithBaseURL("http://127.0.0.1:1"), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error with %q", c, err, tc.want)
			}
		})
	}
}

// countingTransport counts round trips, to prove the given client is used.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestWithHTTPClient(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { routes[1].ok(w) })
	rt := &countingTransport{}
	redirects := 0
	hc := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { redirects++; return nil }}
	h := newHarness(t, f.URL, WithHTTPClient(hc))
	if _, err := h.List(t.Context(), cred(t)); err != nil {
		t.Fatalf("List: %v", err)
	}
	if rt.n.Load() != 1 {
		t.Errorf("given transport made %d round trips, want 1", rt.n.Load())
	}
	if err := hc.CheckRedirect(nil, nil); err != nil || redirects != 1 {
		t.Errorf("the caller's client was modified")
	}
}

// TestLogs checks the debug lines with both slog handlers: what they hold,
// and that neither the credential, nor the minted secret, nor the cookie
// header is in them.
func TestLogs(t *testing.T) {
	t.Parallel()
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
		"text": func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
	}
	for name, newH := range handlers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				switch {
				case n == 1:
					writeErr(w, 503, "", "busy") // Me is retried once
				case r.Method == http.MethodGet && r.URL.Path == "/v1/auth/me":
					routes[0].ok(w)
				case r.Method == http.MethodGet:
					routes[1].ok(w)
				case r.Method == http.MethodPost:
					routes[2].ok(w)
				default:
					writeErr(w, 404, "not_found", "token not found")
				}
			})
			var buf bytes.Buffer
			h := newHarness(t, f.URL, WithLogger(slog.New(newH(&buf))))
			ctx := t.Context()
			c := cred(t)
			if _, err := h.Me(ctx, c); err != nil {
				t.Fatal(err)
			}
			if _, err := h.List(ctx, c); err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.Create(ctx, c, CreateRequest{Name: "n"}); err != nil {
				t.Fatal(err)
			}
			if err := h.Revoke(ctx, c, "tok_gone"); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			assertNoSecret(t, "log", out)
			for _, bad := range []string{"session=", "Cookie", "cookie"} {
				if strings.Contains(out, bad) {
					t.Errorf("log holds %q:\n%s", bad, out)
				}
			}
			for _, want := range []string{
				"groo request", "groo retry", "method", "GET", "POST", "DELETE", "route", "/v1/account/tokens/{id}",
				"status", "503", "201", "404", "attempt", "duration", "groo token created", "groo_pat_5e…9abc",
				"groo token already gone", "tok_gone",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestOutcomeUnknownError(t *testing.T) {
	t.Parallel()
	inner := &APIError{Op: "create token", StatusCode: 502, Message: "Bad Gateway"}
	err := error(&OutcomeUnknownError{Op: "create token", Err: inner})
	if got, want := err.Error(), "groo create token: HTTP 502: Bad Gateway (outcome unknown: the token may have been created)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae != inner {
		t.Errorf("errors.As *APIError failed")
	}
}
