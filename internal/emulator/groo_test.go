package emulator

import (
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	tokenIDRe  = regexp.MustCompile(`^tok_[0-9a-f]+$`)
	patRe      = regexp.MustCompile(`^groo_pat_[0-9a-f]{64}$`)
	grooTimeRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
)

func TestGrooMe(t *testing.T) {
	t.Parallel()
	expired := time.Now().Add(-time.Hour)
	seed := testSeed()
	seed.Groo.Tokens = append(seed.Groo.Tokens,
		SeedToken{ID: "tok_exp", Name: "expired", Secret: "groo_pat_e0000000000000000000000000000000000000000000000000000000000005", ExpiresAt: &expired},
		SeedToken{ID: "tok_rev", Name: "revoked", Secret: "groo_pat_7e00000000000000000000000000000000000000000000000000000000006", Revoked: true})
	_, url := newTestServer(t, seed)
	tests := []struct {
		name   string
		auth   string
		status int
		user   string
	}{
		{"bearer", bearer(patAlice), 200, "usr_alice"},
		{"cookie", "cookie:" + patBob, 200, "usr_bob"},
		{"forbidden token still knows itself", bearer(patForbid), 200, "usr_alice"},
		{"missing", "", 401, ""},
		{"unknown", bearer("groo_pat_" + strings.Repeat("9", 64)), 401, ""},
		{"expired", bearer("groo_pat_e0000000000000000000000000000000000000000000000000000000000005"), 401, ""},
		{"revoked", bearer("groo_pat_7e00000000000000000000000000000000000000000000000000000000006"), 401, ""},
		{"basic scheme is not accepted", "Basic " + patAlice, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, "GET", url+"/v1/auth/me", tt.auth, nil).want(t, tt.status)
			if tt.status != 200 {
				if r.str("code") != "unauthorized" || r.str("error") == "" {
					t.Fatalf("error body %s", r.raw)
				}
				return
			}
			u, _ := r.body["user"].(map[string]any)
			if u["id"] != tt.user || u["email"] == "" {
				t.Fatalf("user %v, want id %s", u, tt.user)
			}
			if v, ok := u["phone"]; !ok || v != nil {
				t.Fatalf("phone should be present and null: %s", r.raw)
			}
		})
	}
}

func TestGrooCreateListRevoke(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	alice := bearer(patAlice)

	expires := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Millisecond)
	r := call(t, "POST", url+"/v1/account/tokens", alice, map[string]any{
		"name": "GitHub Actions - octo/app GROO_PAT", "description": "pat-action test", "expiresAt": expires.Format(time.RFC3339Nano),
	}).want(t, 201)
	secret := r.str("secret")
	tok, _ := r.body["token"].(map[string]any)
	id, _ := tok["id"].(string)
	if !patRe.MatchString(secret) || !tokenIDRe.MatchString(id) {
		t.Fatalf("secret/id format: %s", r.raw)
	}
	if tok["tokenPrefix"] != secret[:11] || tok["lastFour"] != secret[len(secret)-4:] {
		t.Fatalf("prefix/lastFour: %v", tok)
	}
	if tok["expiresAt"] != expires.Format("2006-01-02T15:04:05.000Z") || !grooTimeRe.MatchString(tok["createdAt"].(string)) {
		t.Fatalf("times: %v", tok)
	}
	if tok["revoked"] != false || tok["lastUsed"] != nil || tok["description"] != "pat-action test" {
		t.Fatalf("fields: %v", tok)
	}
	if strings.Contains(string(call(t, "GET", url+"/v1/account/tokens", alice, nil).raw), secret) {
		t.Fatal("the list carries a secret")
	}

	// The new token works, and using it sets lastUsed.
	call(t, "GET", url+"/v1/auth/me", "cookie:"+secret, nil).want(t, 200)
	list := call(t, "GET", url+"/v1/account/tokens", alice, nil).want(t, 200)
	ids := map[string]map[string]any{}
	for _, x := range list.body["tokens"].([]any) {
		m := x.(map[string]any)
		ids[m["id"].(string)] = m
	}
	if _, ok := ids["tok_bob"]; ok {
		t.Fatal("alice sees bob's token")
	}
	if ids[id] == nil || ids[id]["lastUsed"] == nil || !grooTimeRe.MatchString(ids[id]["lastUsed"].(string)) {
		t.Fatalf("new token in list with lastUsed: %v", ids[id])
	}

	// Revoke: 200, then 200 again, then 401 for the revoked token.
	r = call(t, "DELETE", url+"/v1/account/tokens/"+id, alice, nil).want(t, 200)
	if r.body["revoked"] != true {
		t.Fatalf("revoke body %s", r.raw)
	}
	call(t, "DELETE", url+"/v1/account/tokens/"+id, alice, nil).want(t, 200)
	call(t, "GET", url+"/v1/auth/me", bearer(secret), nil).want(t, 401)
	list = call(t, "GET", url+"/v1/account/tokens", alice, nil).want(t, 200)
	for _, x := range list.body["tokens"].([]any) {
		if m := x.(map[string]any); m["id"] == id && m["revoked"] != true {
			t.Fatalf("revoked token listed as %v", m)
		}
	}

	st := e.State()
	ts, ok := st.TokenBySecret(secret)
	if !ok || !ts.Revoked || ts.RevokedAt == nil || ts.User != "usr_alice" || ts.Name != "GitHub Actions - octo/app GROO_PAT" {
		t.Fatalf("state token %+v", ts)
	}
	if live := st.LiveTokens("GitHub Actions - octo/app GROO_PAT"); len(live) != 1 || live[0].ID != "tok_old" {
		t.Fatalf("live tokens %+v", live)
	}
}

func TestGrooErrors(t *testing.T) {
	t.Parallel()
	_, url := newTestServer(t, testSeed())
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	tests := []struct {
		name, method, path, auth string
		body                     any
		status                   int
		code                     string
	}{
		{"create empty name", "POST", "/v1/account/tokens", bearer(patAlice), map[string]any{"name": "  "}, 400, "invalid_request"},
		{"create no name", "POST", "/v1/account/tokens", bearer(patAlice), map[string]any{}, 400, "invalid_request"},
		{"create long name", "POST", "/v1/account/tokens", bearer(patAlice), map[string]any{"name": strings.Repeat("x", 101)}, 400, "invalid_request"},
		{"create past expiry", "POST", "/v1/account/tokens", bearer(patAlice), map[string]any{"name": "x", "expiresAt": past}, 400, "invalid_request"},
		{"create bad expiry", "POST", "/v1/account/tokens", bearer(patAlice), map[string]any{"name": "x", "expiresAt": "tomorrow"}, 400, "invalid_request"},
		{"create bad json", "POST", "/v1/account/tokens", bearer(patAlice), "{nope", 400, "invalid_request"},
		{"create unauthenticated", "POST", "/v1/account/tokens", "", map[string]any{"name": "x"}, 401, "unauthorized"},
		{"create forbidden", "POST", "/v1/account/tokens", bearer(patForbid), map[string]any{"name": "x"}, 403, "forbidden"},
		{"list forbidden", "GET", "/v1/account/tokens", bearer(patForbid), nil, 403, "forbidden"},
		{"revoke forbidden", "DELETE", "/v1/account/tokens/tok_old", bearer(patForbid), nil, 403, "forbidden"},
		{"revoke unknown", "DELETE", "/v1/account/tokens/tok_nope", bearer(patAlice), nil, 404, "not_found"},
		{"revoke other user's", "DELETE", "/v1/account/tokens/tok_bob", bearer(patAlice), nil, 404, "not_found"},
		{"unknown route", "GET", "/v1/nope", bearer(patAlice), nil, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, tt.method, url+tt.path, tt.auth, tt.body).want(t, tt.status)
			if r.str("code") != tt.code || r.str("error") == "" {
				t.Fatalf("body %s, want code %s", r.raw, tt.code)
			}
		})
	}
	// A 100-character name is fine; so is a null expiry.
	call(t, "POST", url+"/v1/account/tokens", bearer(patAlice), map[string]any{"name": strings.Repeat("é", 100), "expiresAt": nil}).want(t, 201)
	if r := call(t, "GET", url+"/v1/account/tokens", bearer(patForbid), nil); !strings.Contains(r.str("error"), `missing required scope "accounts:tokens"`) {
		t.Fatalf("forbidden message %s", r.raw)
	}
	// bob's token survived alice's attempt.
	call(t, "GET", url+"/v1/auth/me", bearer(patBob), nil).want(t, 200)
}

func TestGrooClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	e := New(WithClock(func() time.Time { return time.Unix(0, clock.Load()) }))
	exp := now.Add(time.Hour)
	if err := e.Seed(Seed{Groo: GrooSeed{Tokens: []SeedToken{{Name: "n", Secret: patAlice, ExpiresAt: &exp}}}}); err != nil {
		t.Fatal(err)
	}
	url, shutdown, err := Start("127.0.0.1:0", e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(t.Context()) })
	r := call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).want(t, 200)
	if u := r.body["user"].(map[string]any); u["id"] != "usr_demo" || u["email"] != "demo@groo.dev" {
		t.Fatalf("implicit user: %v", u)
	}
	st := e.State()
	if lu := st.Tokens[0].LastUsed; lu == nil || !lu.Equal(now) {
		t.Fatalf("lastUsed %v, want %v", lu, now)
	}
	clock.Store(now.Add(2 * time.Hour).UnixNano())
	call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).want(t, 401)
	if len(e.State().LiveTokens("n")) != 0 {
		t.Fatal("an expired token is listed live")
	}
}
