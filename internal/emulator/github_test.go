package emulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	neturl "net/url"
	"regexp"
	"strings"
	"testing"
)

var ghTimeRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func repoID(t testing.TB, url, full string) int64 {
	t.Helper()
	r := call(t, "GET", url+"/repos/"+full, bearer(ghFull), nil).want(t, 200)
	id, ok := r.body["id"].(float64)
	if !ok || id <= 0 || r.str("full_name") != full {
		t.Fatalf("repository %s: %s", full, r.raw)
	}
	return int64(id)
}

// TestGitHubScopes walks every scope through key, create, update, read,
// list, refusals and delete.
func TestGitHubScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		base  func(url string, appID int64) string
		scope string
		extra map[string]any
	}{
		{"repository", func(u string, _ int64) string { return u + "/repos/octo/app/actions/secrets" }, "repo:octo/app", nil},
		{"repository GHES prefix, other case", func(u string, _ int64) string { return u + "/api/v3/repos/Octo/App/actions/secrets" }, "repo:octo/app", nil},
		{"environment escaped", func(u string, _ int64) string { return u + "/repos/octo/app/environments/prod%2Feu/secrets" }, "env:octo/app:prod/eu", nil},
		{"environment legacy escaped", func(u string, id int64) string {
			return fmt.Sprintf("%s/repositories/%d/environments/prod%%2Feu/secrets", u, id)
		}, "env:octo/app:prod/eu", nil},
		{"environment legacy unescaped", func(u string, id int64) string {
			return fmt.Sprintf("%s/api/v3/repositories/%d/environments/prod/eu/secrets", u, id)
		}, "env:octo/app:prod/eu", nil},
		{"environment created on first write", func(u string, _ int64) string { return u + "/repos/octo/app/environments/staging/secrets" }, "env:octo/app:staging", nil},
		{"organization", func(u string, _ int64) string { return u + "/orgs/octo/actions/secrets" }, "org:octo", map[string]any{"visibility": "private"}},
		{"dependabot", func(u string, _ int64) string { return u + "/repos/octo/app/dependabot/secrets" }, "dependabot:octo/app", nil},
		{"dependabot organization", func(u string, _ int64) string { return u + "/orgs/octo/dependabot/secrets" }, "dependabot-org:octo", map[string]any{"visibility": "all"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, url := newTestServer(t, testSeed())
			auth := bearer(ghFull)
			base := tt.base(url, repoID(t, url, "octo/app"))

			// Public key: 32 bytes, numeric-looking id, the scope's key.
			k := call(t, "GET", base+"/public-key", auth, nil).want(t, 200)
			kb, err := base64.StdEncoding.DecodeString(k.str("key"))
			if err != nil || len(kb) != 32 || !regexp.MustCompile(`^\d+$`).MatchString(k.str("key_id")) {
				t.Fatalf("public key %s", k.raw)
			}
			if id, key := e.PublicKey(tt.scope); id != k.str("key_id") || string(key[:]) != string(kb) {
				t.Fatalf("PublicKey(%s) = %s, want the served key %s", tt.scope, id, k.str("key_id"))
			}

			// Create (201 {}), then update (204), names uppercased.
			r := putSecret(t, base, auth, "groo_pat", "value-1", tt.extra).want(t, 201)
			if strings.TrimSpace(string(r.raw)) != "{}" {
				t.Fatalf("create body %q, want {}", r.raw)
			}
			putSecret(t, base, auth, "GROO_PAT", "value-2", tt.extra).want(t, 204)
			sec, ok := e.State().Secret(tt.scope, "groo_pat")
			if !ok || sec.Name != "GROO_PAT" || sec.Value != "value-2" || sec.Writes != 2 || sec.KeyID != k.str("key_id") {
				t.Fatalf("state secret %+v (found %v)", sec, ok)
			}

			// Metadata and list.
			g := call(t, "GET", base+"/Groo_Pat", auth, nil).want(t, 200)
			if g.str("name") != "GROO_PAT" || !ghTimeRe.MatchString(g.str("created_at")) || !ghTimeRe.MatchString(g.str("updated_at")) {
				t.Fatalf("metadata %s", g.raw)
			}
			if _, has := g.body["visibility"]; has != (tt.extra != nil) {
				t.Fatalf("visibility presence in %s", g.raw)
			}
			if _, has := g.body["value"]; has {
				t.Fatal("metadata carries the value")
			}
			l := call(t, "GET", base, auth, nil).want(t, 200)
			if l.body["total_count"] != float64(1) || len(l.body["secrets"].([]any)) != 1 {
				t.Fatalf("list %s", l.raw)
			}

			// Refusals leave the value alone.
			refusals := []struct {
				name string
				body map[string]any
				msg  string
			}{
				{"wrong key_id", map[string]any{"encrypted_value": seal(t, k.str("key"), "x"), "key_id": "1"}, "Bad request"},
				{"sealed for another key", map[string]any{"encrypted_value": seal(t, base64.StdEncoding.EncodeToString(make([]byte, 32)), "x"), "key_id": k.str("key_id")}, "improperly encrypted"},
				{"not base64", map[string]any{"encrypted_value": "not base64!", "key_id": k.str("key_id")}, "does not match"},
				{"no key_id", map[string]any{"encrypted_value": seal(t, k.str("key"), "x")}, `"key_id" wasn't supplied`},
				{"no value", map[string]any{"key_id": k.str("key_id")}, `"encrypted_value" wasn't supplied`},
			}
			for _, rf := range refusals {
				for key, v := range tt.extra {
					rf.body[key] = v
				}
				r := call(t, "PUT", base+"/GROO_PAT", auth, rf.body).want(t, 422)
				if !strings.Contains(r.str("message"), rf.msg) || r.str("status") != "422" || r.str("documentation_url") == "" {
					t.Fatalf("%s: body %s, want message with %q", rf.name, r.raw, rf.msg)
				}
			}
			for _, bad := range []string{"1ABC", "GITHUB_TOKEN", "github_x", "bad-name", "sp%20ace"} {
				r := putSecret(t, base, auth, bad, "x", tt.extra).want(t, 422)
				if r.str("message") == "" {
					t.Fatalf("name %s: %s", bad, r.raw)
				}
			}
			if s, _ := e.State().Secret(tt.scope, "GROO_PAT"); s.Value != "value-2" || s.Writes != 2 {
				t.Fatalf("a refused write changed the secret: %+v", s)
			}
			if n := len(e.State().Secrets); n != 1 {
				t.Fatalf("%d secrets, want 1", n)
			}

			// Delete.
			call(t, "DELETE", base+"/groo_pat", auth, nil).want(t, 204)
			call(t, "GET", base+"/GROO_PAT", auth, nil).want(t, 404)
			call(t, "DELETE", base+"/GROO_PAT", auth, nil).want(t, 404)
			if _, ok := e.State().Secret(tt.scope, "GROO_PAT"); ok {
				t.Fatal("deleted secret still in state")
			}
		})
	}
}

func TestGitHubAuth(t *testing.T) {
	t.Parallel()
	_, url := newTestServer(t, testSeed())
	base := url + "/repos/octo/app/actions/secrets"
	tests := []struct {
		name, method, path, auth string
		status                   int
		msg                      string
	}{
		{"bearer", "GET", "/public-key", "Bearer " + ghFull, 200, ""},
		{"token scheme", "GET", "/public-key", "token " + ghFull, 200, ""},
		{"missing", "GET", "/public-key", "", 401, "Requires authentication"},
		{"unknown", "GET", "/public-key", "token ghs_nope", 401, "Bad credentials"},
		{"read-only reads", "GET", "/public-key", "token " + ghRO, 200, ""},
		{"read-only delete", "DELETE", "/X", "token " + ghRO, 403, "Resource not accessible by integration"},
		{"unknown repository", "GET", "/../../../nope/public-key", "token " + ghFull, 404, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := base + tt.path
			if tt.name == "unknown repository" {
				path = url + "/repos/octo/nope/actions/secrets/public-key"
			}
			r := call(t, tt.method, path, tt.auth, nil).want(t, tt.status)
			if tt.msg != "" && r.str("message") != tt.msg {
				t.Fatalf("message %q, want %q", r.str("message"), tt.msg)
			}
			for _, h := range []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Used", "X-Ratelimit-Reset", "X-Ratelimit-Resource"} {
				if r.header.Get(h) == "" {
					t.Fatalf("header %s missing", h)
				}
			}
		})
	}
	r := putSecret(t, base, "token "+ghRO, "GROO_PAT", "v", nil).want(t, 403)
	if r.str("message") != "Resource not accessible by integration" {
		t.Fatalf("read-only PUT: %s", r.raw)
	}
	call(t, "GET", url+"/orgs/nope/actions/secrets/public-key", bearer(ghFull), nil).want(t, 404)
	call(t, "GET", url+"/repositories/999/environments/prod/secrets/public-key", bearer(ghFull), nil).want(t, 404)
	o := call(t, "GET", url+"/orgs/octo", bearer(ghFull), nil).want(t, 200)
	if o.str("login") != "octo" {
		t.Fatalf("org %s", o.raw)
	}
}

func TestGitHubOrgVisibility(t *testing.T) {
	t.Parallel()
	for _, area := range []string{"actions", "dependabot"} {
		t.Run(area, func(t *testing.T) {
			t.Parallel()
			e, url := newTestServer(t, testSeed())
			auth := bearer(ghFull)
			base := url + "/orgs/octo/" + area + "/secrets"
			scope := map[string]string{"actions": "org:octo", "dependabot": "dependabot-org:octo"}[area]
			app, web, lib := repoID(t, url, "octo/app"), repoID(t, url, "octo/web"), repoID(t, url, "other/lib")

			r := putSecret(t, base, auth, "S", "v", nil).want(t, 422)
			if !strings.Contains(r.str("message"), `"visibility" wasn't supplied`) {
				t.Fatalf("no visibility: %s", r.raw)
			}
			putSecret(t, base, auth, "S", "v", map[string]any{"visibility": "public"}).want(t, 422)
			putSecret(t, base, auth, "S", "v", map[string]any{"visibility": "selected", "selected_repository_ids": []int64{lib}}).want(t, 422)
			if _, ok := e.State().Secret(scope, "S"); ok {
				t.Fatal("a refused write created the secret")
			}

			putSecret(t, base, auth, "S", "v1", map[string]any{"visibility": "selected", "selected_repository_ids": []any{web, fmt.Sprint(app)}}).want(t, 201)
			g := call(t, "GET", base+"/S", auth, nil).want(t, 200)
			reposURL := g.str("selected_repositories_url")
			if g.str("visibility") != "selected" || !strings.HasSuffix(reposURL, "/orgs/octo/"+area+"/secrets/S/repositories") {
				t.Fatalf("metadata %s", g.raw)
			}
			l := call(t, "GET", reposURL, auth, nil).want(t, 200)
			if l.body["total_count"] != float64(2) {
				t.Fatalf("selected repositories %s", l.raw)
			}
			first := l.body["repositories"].([]any)[0].(map[string]any)
			if first["id"] == nil || first["name"] == nil || first["full_name"] == nil {
				t.Fatalf("repository fields %v", first)
			}

			// The trap: "selected" without ids keeps no repository at all.
			putSecret(t, base, auth, "S", "v2", map[string]any{"visibility": "selected"}).want(t, 204)
			s, _ := e.State().Secret(scope, "S")
			if s.Visibility != "selected" || len(s.SelectedRepositoryIDs) != 0 || s.Value != "v2" {
				t.Fatalf("after the trap: %+v", s)
			}
			if l := call(t, "GET", reposURL, auth, nil).want(t, 200); l.body["total_count"] != float64(0) {
				t.Fatalf("selected repositories after the trap %s", l.raw)
			}

			// The repositories sub-routes.
			call(t, "PUT", base+"/S/repositories/"+fmt.Sprint(app), auth, nil).want(t, 204)
			call(t, "PUT", base+"/S/repositories", auth, map[string]any{"selected_repository_ids": []int64{app, web}}).want(t, 204)
			call(t, "DELETE", base+"/S/repositories/"+fmt.Sprint(web), auth, nil).want(t, 204)
			call(t, "PUT", base+"/S/repositories/"+fmt.Sprint(lib), auth, nil).want(t, 422)
			if s, _ := e.State().Secret(scope, "S"); len(s.SelectedRepositoryIDs) != 1 || s.SelectedRepositoryIDs[0] != app {
				t.Fatalf("selection %v, want [%d]", s.SelectedRepositoryIDs, app)
			}

			putSecret(t, base, auth, "S", "v3", map[string]any{"visibility": "all", "selected_repository_ids": []int64{app}}).want(t, 204)
			g = call(t, "GET", base+"/S", auth, nil).want(t, 200)
			if g.str("visibility") != "all" || g.str("selected_repositories_url") != "" {
				t.Fatalf("metadata after all: %s", g.raw)
			}
			call(t, "PUT", base+"/S/repositories/"+fmt.Sprint(app), auth, nil).want(t, 409)
		})
	}
}

func TestGitHubListPagination(t *testing.T) {
	t.Parallel()
	_, url := newTestServer(t, testSeed())
	base := url + "/api/v3/repos/octo/app/actions/secrets"
	for _, n := range []string{"E", "A", "C", "B", "D"} {
		putSecret(t, base, bearer(ghFull), n, "v", nil).want(t, 201)
	}
	var names []string
	next := base + "?per_page=2"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("pagination does not end")
		}
		r := call(t, "GET", next, bearer(ghFull), nil).want(t, 200)
		if r.body["total_count"] != float64(5) {
			t.Fatalf("total_count %s", r.raw)
		}
		for _, s := range r.body["secrets"].([]any) {
			names = append(names, s.(map[string]any)["name"].(string))
		}
		next = ""
		for _, part := range strings.Split(r.header.Get("Link"), ",") {
			if strings.Contains(part, `rel="next"`) {
				next = strings.Trim(strings.TrimSpace(strings.Split(part, ";")[0]), "<>")
				if !strings.HasPrefix(next, url+"/api/v3/repos/") {
					t.Fatalf("next link %q", next)
				}
			}
		}
	}
	if strings.Join(names, "") != "ABCDE" {
		t.Fatalf("names over pages: %v", names)
	}
}

func TestGitHubAbsoluteForm(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	proxy, _ := neturl.Parse(url)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	for _, target := range []string{
		"http://github.localhost/api/v3/repos/octo/app/actions/secrets/public-key",
		"http://api.github.localhost/repos/octo/app/environments/prod%2Feu/secrets/public-key",
	} {
		req, _ := http.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "token "+ghFull)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d", target, res.StatusCode)
		}
	}
	if e.Hits(RoutePublicKey) != 2 {
		t.Fatalf("public-key hits %d, want 2", e.Hits(RoutePublicKey))
	}
}

func TestGitHubApp(t *testing.T) {
	t.Parallel()
	_, url := newTestServer(t, testSeed())
	jwt := func(iss any) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
			enc([]byte(fmt.Sprintf(`{"iat":1,"exp":99999999999,"iss":%v}`, iss))) + "." + enc([]byte("sig"))
	}
	app := bearer(jwt(`"123"`))
	for _, path := range []string{"/repos/octo/app/installation", "/orgs/octo/installation", "/api/v3/repos/octo/web/installation"} {
		r := call(t, "GET", url+path, app, nil).want(t, 200)
		if r.body["id"] != float64(456) {
			t.Fatalf("%s: %s", path, r.raw)
		}
	}
	call(t, "GET", url+"/repos/other/lib/installation", app, nil).want(t, 404)
	call(t, "POST", url+"/app/installations/456/access_tokens", bearer(jwt(999)), nil).want(t, 401)
	call(t, "POST", url+"/app/installations/456/access_tokens", bearer(ghFull), nil).want(t, 401)
	call(t, "POST", url+"/app/installations/999/access_tokens", app, nil).want(t, 404)

	r := call(t, "POST", url+"/app/installations/456/access_tokens", bearer(jwt(123)), nil).want(t, 201)
	tok := r.str("token")
	if !strings.HasPrefix(tok, "ghs_") || !ghTimeRe.MatchString(r.str("expires_at")) {
		t.Fatalf("access token %s", r.raw)
	}
	putSecret(t, url+"/repos/octo/app/actions/secrets", "token "+tok, "GROO_PAT", "v", nil).want(t, 201)
	call(t, "GET", url+"/repos/octo/app/actions/secrets/public-key", app, nil).want(t, 401)
}
