package emulator

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

func keysOf(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, Seed{})

	// Seed over HTTP, with the implicit demo user.
	seed := `{"groo":{"tokens":[{"name":"boot","secret":"` + patAlice + `","expiresAt":null,"id":"tok_boot"}]},
	          "github":{"tokens":["` + ghFull + `"],"repositories":["octo/app"],
	                    "secrets":[{"scope":"org:octo","name":"seeded","value":"s","visibility":"all"}]}}`
	call(t, "POST", url+"/_emulator/seed", "", seed).want(t, 204)
	call(t, "POST", url+"/_emulator/seed", "", `{"github":{"repositories":["no-slash"]}}`).want(t, 400)
	call(t, "POST", url+"/_emulator/seed", "", `{"groo":{"tokens":[{"name":"dup","secret":"`+patAlice+`"}]}}`).want(t, 400)
	putSecret(t, url+"/repos/octo/app/actions/secrets", bearer(ghFull), "GROO_PAT", patAlice, nil).want(t, 201)

	// State: the documented JSON shape.
	r := call(t, "GET", url+"/_emulator/state", "", nil).want(t, 200)
	if got := keysOf(r.body); got != "chaos_faults,expired_exposure_seconds,groo_now,hits,now,rate_limit_breaches,secrets,tokens,violations" {
		t.Fatalf("state keys %s", got)
	}
	tok := r.body["tokens"].([]any)[0].(map[string]any)
	if got := keysOf(tok); got != "createdAt,description,expiresAt,id,lastUsed,name,revoked,secret,user" {
		t.Fatalf("token keys %s", got)
	}
	if tok["secret"] != patAlice || tok["user"] != "usr_demo" || tok["id"] != "tok_boot" {
		t.Fatalf("token %v", tok)
	}
	secrets := r.body["secrets"].([]any)
	if len(secrets) != 2 {
		t.Fatalf("secrets %v", secrets)
	}
	sec := secrets[0].(map[string]any) // org:octo sorts first
	if got := keysOf(sec); got != "created_at,key_id,name,scope,selected_repository_ids,updated_at,value,visibility,writes" {
		t.Fatalf("secret keys %s", got)
	}
	if sec["scope"] != "org:octo" || sec["name"] != "SEEDED" || sec["visibility"] != "all" {
		t.Fatalf("seeded secret %v", sec)
	}
	if s := secrets[1].(map[string]any); s["scope"] != "repo:octo/app" || s["value"] != patAlice {
		t.Fatalf("written secret %v", s)
	}
	if r.body["hits"].(map[string]any)[RouteSecretPut] != float64(1) {
		t.Fatalf("hits %v", r.body["hits"])
	}
	var st State
	if err := json.Unmarshal(r.raw, &st); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Secret("repo:octo/app", "groo_pat"); !ok {
		t.Fatal("State does not round-trip")
	}

	// Faults over HTTP.
	call(t, "POST", url+"/_emulator/faults", "", `[{"route":"gh.repo","status":418,"count":1,"latency":"1ms"}]`).want(t, 204)
	call(t, "POST", url+"/_emulator/faults", "", `[{"route":"gh.repo","latency":"later"}]`).want(t, 400)
	call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, 418)
	call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, 200)

	// Key rotation: the old key id is refused.
	old := call(t, "GET", url+"/repos/octo/app/actions/secrets/public-key", bearer(ghFull), nil).want(t, 200)
	rk := call(t, "POST", url+"/_emulator/rotate-key", "", `{"scope":"repo:octo/app"}`).want(t, 200)
	if rk.str("key_id") == "" || rk.str("key_id") == old.str("key_id") {
		t.Fatalf("rotate-key %s", rk.raw)
	}
	call(t, "PUT", url+"/repos/octo/app/actions/secrets/GROO_PAT", bearer(ghFull),
		map[string]any{"encrypted_value": seal(t, old.str("key"), "x"), "key_id": old.str("key_id")}).want(t, 422)
	call(t, "POST", url+"/_emulator/rotate-key", "", `{"scope":"repo:octo/nope"}`).want(t, 404)
	if err := e.RotateKey("bogus"); err == nil {
		t.Fatal("RotateKey accepted a bogus scope")
	}

	// Rate limits over HTTP.
	call(t, "POST", url+"/_emulator/ratelimits", "", `{"primary_limit":1,"primary_window":"1h"}`).want(t, 204)
	call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, 200)
	call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, 403)
	if e.State().RateLimitBreaches != 1 {
		t.Fatal("breach not counted")
	}
	call(t, "GET", url+"/_emulator/nope", "", nil).want(t, 404)
}

func TestSeedErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		seed Seed
	}{
		{"unknown user", Seed{Groo: GrooSeed{Tokens: []SeedToken{{Name: "n", Secret: patAlice, User: "usr_x"}}}}},
		{"no secret", Seed{Groo: GrooSeed{Tokens: []SeedToken{{Name: "n"}}}}},
		{"bad repository", Seed{GitHub: GitHubSeed{Repositories: []string{"a/b/c"}}}},
		{"bad environment", Seed{GitHub: GitHubSeed{Environments: []string{"octo/app"}}}},
		{"secret of unknown scope", Seed{GitHub: GitHubSeed{Secrets: []SeedSecret{{Scope: "repo:x/y", Name: "A", Value: "v"}}}}},
		{"bad secret name", Seed{GitHub: GitHubSeed{Repositories: []string{"x/y"}, Secrets: []SeedSecret{{Scope: "repo:x/y", Name: "GITHUB_A", Value: "v"}}}}},
		{"bad app", Seed{GitHub: GitHubSeed{Apps: []SeedApp{{ID: 0}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := New().Seed(tt.seed); err == nil {
				t.Fatal("seed accepted")
			}
		})
	}
}
