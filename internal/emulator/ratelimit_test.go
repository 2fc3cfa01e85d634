package emulator

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPrimaryRateLimit(t *testing.T) {
	t.Parallel()
	for _, use429 := range []bool{false, true} {
		t.Run("use429="+strconv.FormatBool(use429), func(t *testing.T) {
			t.Parallel()
			e, url := newTestServer(t, testSeed())
			e.SetRateLimits(RateLimits{PrimaryLimit: 2, Use429: use429})
			for i := 1; i <= 2; i++ {
				r := call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, 200)
				if r.header.Get("X-Ratelimit-Limit") != "2" || r.header.Get("X-Ratelimit-Remaining") != strconv.Itoa(2-i) ||
					r.header.Get("X-Ratelimit-Used") != strconv.Itoa(i) || r.header.Get("X-Ratelimit-Resource") != "core" {
					t.Fatalf("request %d headers %v", i, r.header)
				}
			}
			want := 403
			if use429 {
				want = 429
			}
			r := call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, want)
			reset, _ := strconv.ParseInt(r.header.Get("X-Ratelimit-Reset"), 10, 64)
			if r.header.Get("X-Ratelimit-Remaining") != "0" || reset <= time.Now().Unix() || !strings.HasPrefix(r.str("message"), "API rate limit exceeded") {
				t.Fatalf("breach: headers %v body %s", r.header, r.raw)
			}
			// Per token: another credential still has its quota.
			call(t, "GET", url+"/repos/octo/app", bearer(ghRO), nil).want(t, 200)
			if b := e.State().RateLimitBreaches; b != 1 {
				t.Fatalf("breaches %d, want 1", b)
			}
			e.SetRateLimits(RateLimits{})
			call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, 200)
		})
	}
}

func TestSecondaryRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		limits   RateLimits
		before   []string // methods allowed before the breach: G(et) or P(ut)
		breach   string
		status   int
		minRetry int
	}{
		{"points", RateLimits{PointsPerWindow: 7, Window: time.Hour}, []string{"G", "P", "G"}, "G", 403, 3000},
		{"points 429", RateLimits{PointsPerWindow: 6, Window: time.Hour, Use429: true}, []string{"G", "P"}, "P", 429, 3000},
		{"content creating", RateLimits{ContentCreatingPerWindow: 2, Window: time.Hour}, []string{"G", "P", "G", "P", "G"}, "P", 403, 3000},
		{"min mutating interval", RateLimits{MinMutatingInterval: time.Hour}, []string{"P", "G", "G"}, "P", 403, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, url := newTestServer(t, testSeed())
			base := url + "/repos/octo/app/actions/secrets"
			k := call(t, "GET", base+"/public-key", bearer(ghRO), nil).want(t, 200) // another token: not counted
			e.SetRateLimits(tt.limits)
			send := func(m string) resp {
				if m == "G" {
					return call(t, "GET", base+"/public-key", bearer(ghFull), nil)
				}
				return call(t, "PUT", base+"/S", bearer(ghFull), map[string]any{"encrypted_value": seal(t, k.str("key"), "v"), "key_id": k.str("key_id")})
			}
			for i, m := range tt.before {
				if r := send(m); r.status >= 400 {
					t.Fatalf("request %d (%s): %d %s", i, m, r.status, r.raw)
				}
			}
			r := send(tt.breach).want(t, tt.status)
			ra, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || ra < tt.minRetry || !strings.Contains(r.str("message"), "You have exceeded a secondary rate limit") {
				t.Fatalf("breach: retry-after %q body %s", r.header.Get("Retry-After"), r.raw)
			}
			if r.header.Get("X-Ratelimit-Remaining") == "0" {
				t.Fatal("a secondary breach must not look like a primary one (remaining 0)")
			}
			if e.State().RateLimitBreaches != 1 {
				t.Fatalf("breaches %d", e.State().RateLimitBreaches)
			}
		})
	}
}

func TestSecondaryMaxConcurrent(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	e.SetRateLimits(RateLimits{MaxConcurrent: 1})
	e.SetFaults([]Fault{{Route: RouteRepo, Latency: time.Hour, Count: 1}})

	admitted := e.WaitHit(RouteRepo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/repos/octo/app", nil)
		req.Header.Set("Authorization", bearer(ghFull))
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	<-admitted // the first request is in flight, held by the latency fault
	r := call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, 403)
	if !strings.Contains(r.str("message"), "secondary rate limit") || r.header.Get("Retry-After") == "" {
		t.Fatalf("breach %s", r.raw)
	}
	call(t, "GET", url+"/repos/octo/app", bearer(ghRO), nil).want(t, 200) // per token
	cancel()
	<-done
}
