package ghsecret

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const redirectTestToken = "ghp_redirecttestredirecttest"

// Two origins: the API URL answers with a redirect to another server. The
// redirect is not followed (the other origin sees no request, so no
// Authorization header), and the call fails, at once, naming both origins
// and the fix. A redirect within the origin is followed.
func TestGitHubClientRefusesCrossOriginRedirects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		sameOrigin  bool
		wantRefused bool
	}{
		{"302 to another origin", http.StatusFound, false, true},
		{"301 to another origin", http.StatusMovedPermanently, false, true},
		{"307 to another origin", http.StatusTemporaryRedirect, false, true},
		{"308 to another origin", http.StatusPermanentRedirect, false, true},
		{"307 within the origin", http.StatusTemporaryRedirect, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var otherHits, otherAuth atomic.Int32
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				otherHits.Add(1)
				if r.Header.Get("Authorization") != "" {
					otherAuth.Add(1)
				}
				writeJSON(w, 200, `{"key_id":"k1","key":"`+strings.Repeat("A", 43)+`="}`)
			}))
			defer other.Close()
			k := newKeyPair(t, "k1")
			var originHits atomic.Int32
			var sawAuth atomic.Value
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				originHits.Add(1)
				if r.URL.Path == "/moved/public-key" {
					sawAuth.Store(r.Header.Get("Authorization"))
					writeJSON(w, 200, k.json())
					return
				}
				to := other.URL + r.URL.Path
				if tc.sameOrigin {
					to = "/moved/public-key"
				}
				http.Redirect(w, r, to, tc.status)
			}))
			defer origin.Close()

			gh, err := NewGitHubClient(origin.URL, nil, 10*time.Second, TokenAuth(redirectTestToken))
			if err != nil {
				t.Fatal(err)
			}
			c := NewClient(gh, WithBackoff(time.Millisecond, time.Millisecond))
			_, err = c.PublicKey(context.Background(), Target{Scope: ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"})
			if !tc.wantRefused {
				if err != nil {
					t.Fatalf("same-origin redirect: %v", err)
				}
				if got, _ := sawAuth.Load().(string); got != "Bearer "+redirectTestToken {
					t.Errorf("the redirected request carried Authorization %q", got)
				}
				return
			}
			if !errors.Is(err, ErrCrossOriginRedirect) {
				t.Fatalf("err = %v, want ErrCrossOriginRedirect", err)
			}
			var re *RefusedError
			if !errors.As(err, &re) || re.StatusCode != tc.status {
				t.Errorf("err = %#v, want a RefusedError with status %d (a definitive refusal, not retried)", err, tc.status)
			}
			for _, want := range []string{origin.URL, other.URL, fmt.Sprint(tc.status), "set the API URL"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if strings.Contains(err.Error(), redirectTestToken) {
				t.Error("the error holds the token")
			}
			if n := otherHits.Load(); n != 0 {
				t.Errorf("the other origin got %d request(s) (%d with Authorization)", n, otherAuth.Load())
			}
			if n := originHits.Load(); n != 1 {
				t.Errorf("the origin got %d requests, want 1 (no retry)", n)
			}
		})
	}
}

// countingTransport counts the requests that would have left the process.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("countingTransport sends nothing")
}

func TestGitHubClientRefusesPlainHTTPToNonLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		wantErr bool
		fix     string
	}{
		{url: "http://github.example.com/api/v3", wantErr: true, fix: "use https://github.example.com/api/v3"},
		{url: "http://10.0.0.7:8080", wantErr: true, fix: "use https://10.0.0.7:8080"},
		{url: "http://127.0.0.2.nip.io", wantErr: true, fix: "use https://127.0.0.2.nip.io"},
		{url: "ftp://api.github.com", wantErr: true, fix: "https://api.github.com"},
		{url: "http://127.0.0.1:8080"},
		{url: "http://127.8.9.10"},
		{url: "http://[::1]:8080/api/v3"},
		{url: "http://localhost:8080"},
		{url: "https://api.github.com"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			base := &countingTransport{}
			_, err := NewGitHubClient(tc.url, base, 0, TokenAuth(redirectTestToken))
			switch {
			case tc.wantErr && err == nil:
				t.Fatal("accepted")
			case tc.wantErr && !strings.Contains(err.Error(), tc.fix):
				t.Errorf("err = %q, want it to name the fix %q", err, tc.fix)
			case !tc.wantErr && err != nil:
				t.Errorf("refused: %v", err)
			}
			if base.n.Load() != 0 {
				t.Error("a request was sent")
			}
		})
	}
}

// The guard sits below the credential: a request that reaches it over
// plain http to another host (a redirect, an upload URL, a misbuilt
// client) is refused there, and nothing is sent.
func TestGuardTransportRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		sent bool
	}{
		{"http://api.github.com/repos/octo/app", false},
		{"http://127.0.0.1:1/repos/octo/app", true},
		{"https://api.github.com/repos/octo/app", true},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			base := &countingTransport{}
			rt := TokenAuth(redirectTestToken)(GuardTransport(base))
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			_, err := rt.RoundTrip(req)
			if sent := base.n.Load() == 1; sent != tc.sent {
				t.Errorf("sent = %v, want %v (err %v)", sent, tc.sent, err)
			}
			if !tc.sent && !errors.Is(err, ErrInsecureURL) {
				t.Errorf("err = %v, want ErrInsecureURL", err)
			}
		})
	}
}
