package emulator

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestRequestHook: the hook sees every request before it is handled, body
// included, and the handler still reads the body (the secret is written,
// the seed applied).
func TestRequestHook(t *testing.T) {
	t.Parallel()
	type seen struct{ method, path, body string }
	var mu sync.Mutex
	var got []seen
	e, url := newTestServer(t, testSeed(), WithRequestHook(func(r *http.Request, body []byte) {
		// A hook that drains r.Body must not take it from the handler.
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{r.Method, r.URL.EscapedPath(), string(body)})
	}))

	putSecret(t, url+"/api/v3/repos/octo/app/actions/secrets", bearer(ghFull), "GROO_PAT", "v1", nil).want(t, 201)
	call(t, "POST", url+"/_emulator/seed", "", `{"github":{"repositories":["octo/hooked"]}}`).want(t, 204)
	call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).want(t, 200)

	if s, ok := e.State().Secret("repo:octo/app", "GROO_PAT"); !ok || s.Value != "v1" {
		t.Fatalf("secret %+v: the handler did not get the body", s)
	}
	call(t, "GET", url+"/repos/octo/hooked", bearer(ghFull), nil).want(t, 200) // seeded over the admin API

	mu.Lock()
	defer mu.Unlock()
	want := []struct{ method, path, bodyHas string }{
		{"GET", "/api/v3/repos/octo/app/actions/secrets/public-key", ""},
		{"PUT", "/api/v3/repos/octo/app/actions/secrets/GROO_PAT", `"encrypted_value":`},
		{"POST", "/_emulator/seed", `"octo/hooked"`},
		{"GET", "/v1/auth/me", ""},
		{"GET", "/repos/octo/hooked", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("hook saw %d requests, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.method != w.method || g.path != w.path || (w.bodyHas == "") != (g.body == "") || !strings.Contains(g.body, w.bodyHas) {
			t.Errorf("request %d: hook saw %s %s %q, want %s %s with a body holding %q", i, g.method, g.path, g.body, w.method, w.path, w.bodyHas)
		}
	}
}
