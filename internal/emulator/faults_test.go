package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fault      Fault
		method     string
		path, auth string
		body       any
		status     int
		retryAfter string
		msg        string // message (GitHub) or code (Groo)
	}{
		{"github 503 once", Fault{Route: RouteSecretPut, Status: 503, Count: 1}, "PUT", "/repos/octo/app/actions/secrets/X", bearer(ghFull), map[string]any{}, 503, "", "Service Unavailable"},
		{"github 403 secondary", Fault{Route: RoutePublicKey, Status: 403, RetryAfter: 5}, "GET", "/repos/octo/app/actions/secrets/public-key", bearer(ghFull), nil, 403, "5", "secondary rate limit"},
		{"github 429", Fault{Route: RouteAll, Status: 429, RetryAfter: 2}, "GET", "/repos/octo/app", bearer(ghFull), nil, 429, "2", "secondary rate limit"},
		{"github scope filter", Fault{Route: RoutePublicKey, Scope: "env:octo/app:prod/eu", Status: 500}, "GET", "/repos/octo/app/environments/prod%2Feu/secrets/public-key", bearer(ghFull), nil, 500, "", "Internal Server Error"},
		{"groo 429", Fault{Route: RouteGrooCreate, Status: 429, RetryAfter: 7}, "POST", "/v1/account/tokens", bearer(patAlice), map[string]any{"name": "n"}, 429, "7", "rate_limited"},
		{"groo 502 on all", Fault{Route: RouteAll, Status: 502}, "GET", "/v1/auth/me", bearer(patAlice), nil, 502, "", "internal_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, url := newTestServer(t, testSeed())
			e.SetFaults([]Fault{tt.fault, {Route: RouteSecretGet, Status: 418}})
			r := call(t, tt.method, url+tt.path, tt.auth, tt.body).want(t, tt.status)
			if got := r.header.Get("Retry-After"); tt.retryAfter != "" && got != tt.retryAfter {
				t.Fatalf("retry-after %q, want %q", got, tt.retryAfter)
			}
			if !strings.Contains(r.str("message")+r.str("code"), tt.msg) {
				t.Fatalf("body %s, want %q", r.raw, tt.msg)
			}
			st := e.State()
			if len(st.Secrets) != 0 || len(st.Tokens) != len(testSeed().Groo.Tokens) {
				t.Fatal("a faulted request acted")
			}
			if tt.fault.Route != RouteAll && st.Hits[tt.fault.Route] != 1 {
				t.Fatalf("hits %v", st.Hits)
			}
		})
	}

	// Count: the fault hits once, the next request goes through; other
	// scopes are unaffected by a scoped fault.
	e, url := newTestServer(t, testSeed())
	e.SetFaults([]Fault{{Route: RouteSecretPut, Status: 500, Count: 1}, {Route: RouteAll, Scope: "repo:octo/web", Status: 500}})
	base := url + "/repos/octo/app/actions/secrets"
	putSecret(t, base, bearer(ghFull), "X", "v", nil).want(t, 500)
	putSecret(t, base, bearer(ghFull), "X", "v", nil).want(t, 201)
	call(t, "GET", url+"/repos/octo/web", bearer(ghFull), nil).want(t, 500)
	call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, 200)
}

func TestFaultDropActs(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	e.SetFaults([]Fault{{Route: RouteSecretPut, Drop: true, Count: 1}, {Route: RouteGrooCreate, Drop: true, Count: 1}})

	k := call(t, "GET", url+"/repos/octo/app/actions/secrets/public-key", bearer(ghFull), nil).want(t, 200)
	body, _ := json.Marshal(map[string]any{"encrypted_value": seal(t, k.str("key"), "dropped"), "key_id": k.str("key_id")})
	req, _ := http.NewRequest("PUT", url+"/repos/octo/app/actions/secrets/GROO_PAT", strings.NewReader(string(body)))
	req.Header.Set("Authorization", bearer(ghFull))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("dropped PUT answered %d", res.StatusCode)
	}
	if s, ok := e.State().Secret("repo:octo/app", "GROO_PAT"); !ok || s.Value != "dropped" {
		t.Fatalf("the dropped PUT did not act: %+v", s)
	}

	req, _ = http.NewRequest("POST", url+"/v1/account/tokens", strings.NewReader(`{"name":"dropped mint"}`))
	req.Header.Set("Authorization", bearer(patAlice))
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("dropped POST answered %d", res.StatusCode)
	}
	if live := e.State().LiveTokens("dropped mint"); len(live) != 1 {
		t.Fatalf("the dropped mint did not act: %+v", live)
	}
	// Count 1: the next write is answered.
	putSecret(t, url+"/repos/octo/app/actions/secrets", bearer(ghFull), "GROO_PAT", "answered", nil).want(t, 204)
}

// mintThenGiveUp posts a mint of a token named name and cancels it once
// the emulator has the request (during its latency), as a client whose
// timeout ended would.
func mintThenGiveUp(t *testing.T, e *Emulator, url, name string) {
	t.Helper()
	arrived := e.WaitHit(RouteGrooCreate)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/account/tokens", strings.NewReader(`{"name":"`+name+`"}`))
		req.Header.Set("Authorization", bearer(patAlice))
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled request got an answer")
	}
}

func TestFaultLatencyHonoursCancellation(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	e.SetFaults([]Fault{{Route: RouteGrooCreate, Latency: time.Hour}, {Route: RouteGrooMe, Latency: time.Millisecond}})
	call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).want(t, 200)

	mintThenGiveUp(t, e, url, "slow")
	if len(e.State().LiveTokens("slow")) != 0 {
		t.Fatal("the request acted although its client gave up during the latency")
	}
	// The test server's cleanup returns promptly only if the handler left.
}

// TestFaultQueuedActsAfterItsClientLeft: a queued request keeps its latency
// and then acts, as one behind others at a busy server: the client that gave
// up does not stop it.
func TestFaultQueuedActsAfterItsClientLeft(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	e.SetFaults([]Fault{{Route: RouteGrooCreate, Latency: 200 * time.Millisecond, Queued: true, Count: 1}})
	mintThenGiveUp(t, e, url, "queued")
	if n := len(e.State().LiveTokens("queued")); n != 0 {
		t.Fatalf("%d tokens before the latency ended", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.State().LiveTokens("queued")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the queued request never acted")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFaultJSON(t *testing.T) {
	t.Parallel()
	var fs []Fault
	if err := json.Unmarshal([]byte(`[{"route":"*","latency":"20ms"},{"route":"gh.secret.put","status":503,"retry_after":3,"count":2,"scope":"org:octo","drop":true,"queued":true,"latency":1000}]`), &fs); err != nil {
		t.Fatal(err)
	}
	want := []Fault{{Route: "*", Latency: 20 * time.Millisecond}, {Route: "gh.secret.put", Status: 503, RetryAfter: 3, Count: 2, Scope: "org:octo", Drop: true, Queued: true, Latency: time.Microsecond}}
	if len(fs) != 2 || fs[0] != want[0] || fs[1] != want[1] {
		t.Fatalf("got %+v", fs)
	}
	b, _ := json.Marshal(fs[0])
	if string(b) != `{"route":"*","latency":"20ms"}` {
		t.Fatalf("marshal %s", b)
	}
	if err := json.Unmarshal([]byte(`[{"route":"*","latency":"soon"}]`), &fs); err == nil {
		t.Fatal("a bad duration was accepted")
	}
}

func TestWaitHit(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	me, any := e.WaitHit(RouteGrooMe), e.WaitHit(RouteAll)
	select {
	case <-me:
		t.Fatal("closed before any request")
	default:
	}
	call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).want(t, 200)
	<-me
	<-any
	if e.Hits(RouteGrooMe) != 1 || e.Hits(RouteAll) != 1 {
		t.Fatalf("hits %d/%d", e.Hits(RouteGrooMe), e.Hits(RouteAll))
	}
}
