package emulator

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestChaosKinds: at rate 1 every API request suffers the one kind asked,
// the kind is counted, and a faulted request acts only when the kind says
// so (a drop mints; a 5xx, a 429 and a timeout the client gave up on do not).
func TestChaosKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind     string
		status   int    // the answer; 0: no answer (the client's error)
		retry    string // retry-after
		minted   bool   // the mint acted
		clientTO time.Duration
	}{
		{kind: ChaosServerError},
		{kind: ChaosRateLimit, status: 429, retry: "1"},
		{kind: ChaosTimeout, clientTO: 100 * time.Millisecond},
		{kind: ChaosDrop, minted: true},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			e, url := newTestServer(t, testSeed())
			if err := e.SetChaos(Chaos{Rate: 1, Seed: 7, Kinds: []string{tt.kind}, Timeout: time.Second}); err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Timeout: 5 * time.Second}
			if tt.clientTO > 0 {
				client.Timeout = tt.clientTO
			}
			req, _ := http.NewRequest(http.MethodPost, url+"/v1/account/tokens", strings.NewReader(`{"name":"chaos"}`))
			req.Header.Set("Authorization", bearer(patAlice))
			res, err := client.Do(req)
			switch {
			case tt.kind == ChaosServerError:
				if err != nil || res.StatusCode < 500 || res.StatusCode > 503 {
					t.Fatalf("answer %v %v, want a 5xx", res, err)
				}
			case tt.status != 0:
				if err != nil || res.StatusCode != tt.status || res.Header.Get("Retry-After") != tt.retry {
					t.Fatalf("answer %v %v, want %d with retry-after %s", res, err, tt.status, tt.retry)
				}
			default:
				if err == nil {
					t.Fatalf("answer %d, want none", res.StatusCode)
				}
			}
			if res != nil {
				res.Body.Close()
			}
			if tt.kind == ChaosTimeout {
				time.Sleep(1200 * time.Millisecond) // past the fault's latency: it must not act late
			}
			st := e.State()
			if got := len(st.LiveTokens("chaos")); (got == 1) != tt.minted || got > 1 {
				t.Errorf("%d tokens minted, want minted=%v", got, tt.minted)
			}
			if st.ChaosFaults[tt.kind] != 1 || len(st.ChaosFaults) != 1 {
				t.Errorf("chaos faults %v, want one %s", st.ChaosFaults, tt.kind)
			}
		})
	}
}

// TestChaosRateSeedOff: a rate of 0.3 fails about that fraction of
// requests, the admin API is never faulted, the same seed gives the same
// faults in the same order, an explicit fault takes precedence, and rate 0
// turns the chaos off (counts kept).
func TestChaosRateSeedOff(t *testing.T) {
	t.Parallel()
	run := func(seed uint64) ([]int, *Emulator, string) {
		e, url := newTestServer(t, testSeed())
		if err := e.SetChaos(Chaos{Rate: 0.3, Seed: seed, Kinds: []string{ChaosServerError, ChaosRateLimit}}); err != nil {
			t.Fatal(err)
		}
		var codes []int
		for range 400 {
			codes = append(codes, call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).status)
			call(t, "GET", url+"/_emulator/clock", "", nil).want(t, 200)
		}
		return codes, e, url
	}
	a, e, url := run(42)
	b, _, _ := run(42)
	if strings.Join(strs(a), ",") != strings.Join(strs(b), ",") {
		t.Error("the same seed gave different faults")
	}
	failed := 0
	for _, c := range a {
		if c != 200 {
			failed++
		}
	}
	st := e.State()
	if failed < 80 || failed > 160 {
		t.Errorf("%d of 400 requests failed at rate 0.3", failed)
	}
	if n := st.ChaosFaults[ChaosServerError] + st.ChaosFaults[ChaosRateLimit]; n != failed || st.ChaosFaults[ChaosDrop] != 0 {
		t.Errorf("chaos faults %v, want %d in all, of the kinds asked", st.ChaosFaults, failed)
	}

	e.SetFaults([]Fault{{Route: RouteGrooMe, Status: 418, Count: 50}})
	for range 50 {
		call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).want(t, 418)
	}
	if got := e.State().ChaosFaults; got[ChaosServerError]+got[ChaosRateLimit] != failed {
		t.Errorf("chaos drew on requests an explicit fault matched: %v", got)
	}

	if err := e.SetChaos(Chaos{}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).want(t, 200)
	}
	if got := e.State().ChaosFaults; got[ChaosServerError]+got[ChaosRateLimit] != failed {
		t.Errorf("chaos faults after off: %v, want the counts kept", got)
	}
}

func strs(xs []int) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = http.StatusText(x)
	}
	return out
}

// TestChaosAdmin: the admin API sets, reads and turns off the chaos, and
// refuses bad settings naming the fix, without changing the chaos in force.
func TestChaosAdmin(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	call(t, "POST", url+"/_emulator/chaos", "", map[string]any{"rate": 1, "seed": 3, "kinds": []string{"drop"}, "timeout": "2s"}).want(t, 204)
	got := call(t, "GET", url+"/_emulator/chaos", "", nil).want(t, 200)
	if got.body["rate"] != 1.0 || got.body["timeout"] != "2s" || got.body["retry_after"] != 1.0 {
		t.Errorf("chaos read back: %s", got.raw)
	}
	for _, bad := range []struct {
		body any
		want string
	}{
		{map[string]any{"rate": 1.5}, "from 0 (off) to 1"},
		{map[string]any{"rate": 0.1, "kinds": []string{"fire"}}, `"fire" is unknown; use 5xx, 429, timeout, drop`},
		{map[string]any{"rate": 0.1, "timeout": "soon"}, "not a Go duration"},
	} {
		r := call(t, "POST", url+"/_emulator/chaos", "", bad.body).want(t, 400)
		if !strings.Contains(r.str("error"), bad.want) {
			t.Errorf("error %q, want %q", r.str("error"), bad.want)
		}
	}
	if c := e.Chaos(); c.Rate != 1 || c.Kinds[0] != ChaosDrop {
		t.Errorf("a refused setting changed the chaos: %+v", c)
	}
	call(t, "POST", url+"/_emulator/chaos", "", map[string]any{"rate": 0}).want(t, 204)
	call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).want(t, 200)
	if err := e.SetChaos(Chaos{Rate: -1}); err == nil {
		t.Error("SetChaos took a negative rate")
	}
}

// TestExpiredExposure: the emulator adds up, from its write history, how
// long each secret held a token past its expiry; a new write ends the
// stretch, a write of a live token adds nothing, and Groo's clock offset
// is applied to the expiry.
func TestExpiredExposure(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(base.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	e, url := newTestServer(t, testSeed(), WithClock(now))
	repo := url + "/repos/octo/app/actions/secrets"
	mint := func(ttl time.Duration) string {
		exp := now().Add(e.GrooClockOffset()).Add(ttl).Format(time.RFC3339Nano)
		r := call(t, "POST", url+"/v1/account/tokens", bearer(patAlice), map[string]any{"name": "uc", "expiresAt": exp}).want(t, 201)
		return r.str("secret")
	}

	first := mint(10 * time.Second)
	putSecret(t, repo, bearer(ghFull), "A", first, nil).want(t, 201)
	advance(4 * time.Second)
	if got := e.ExpiredExposure(); got != 0 {
		t.Fatalf("exposure %s before the expiry, want 0", got)
	}
	advance(9 * time.Second) // 3 s past the expiry
	second := mint(time.Hour)
	putSecret(t, repo, bearer(ghFull), "A", second, nil).want(t, 204)
	advance(time.Minute)
	if got := e.ExpiredExposure(); got != 3*time.Second {
		t.Fatalf("exposure %s, want 3s (the stretch ended at the new write)", got)
	}

	// Groo's clock runs 5 s ahead: a token expiring in 10 s on Groo's
	// clock expires 10 s from now on the emulator's too; held 2 s past it.
	e.SetGrooClockOffset(5 * time.Second)
	third := mint(10 * time.Second)
	putSecret(t, url+"/repos/octo/web/actions/secrets", bearer(ghFull), "B", third, nil).want(t, 201)
	advance(12 * time.Second)
	st := e.State()
	if st.ExpiredExposure != 5 {
		t.Fatalf("state's exposure %vs, want 5 (3 + 2)", st.ExpiredExposure)
	}
	hs := e.ExpiredHoldings()
	if len(hs) != 2 || hs[0].Scope != "repo:octo/app" || hs[0].Name != "A" || hs[0].To.Sub(hs[0].From) != 3*time.Second ||
		hs[1].Scope != "repo:octo/web" || hs[1].To.Sub(hs[1].From) != 2*time.Second {
		t.Errorf("holdings %+v, want A for 3s and B for 2s", hs)
	}
	if len(st.Violations) != 0 {
		t.Errorf("violations %v: expiry is not I1's revoke", st.Violations)
	}
}
