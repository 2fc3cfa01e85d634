package ghconform

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
)

const sealed = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0" // any standard base64

func TestLoad(t *testing.T) {
	if _, err := load(); err != nil {
		t.Fatalf("%v", err)
	}
	t.Logf("GitHub's OpenAPI description loaded and indexed in %s", LoadDuration())
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, target, body string
		wantErr                    string // "" : conforms
	}{
		{name: "repo public key", method: "GET", target: "/repos/octo/app/actions/secrets/public-key"},
		{name: "repo put", method: "PUT", target: "/repos/octo/app/actions/secrets/GROO_PAT", body: `{"key_id":"k1","encrypted_value":"` + sealed + `"}`},
		{name: "enterprise prefix", method: "PUT", target: "/api/v3/repos/octo/app/actions/secrets/GROO_PAT", body: `{"key_id":"k1","encrypted_value":"` + sealed + `"}`},
		{name: "legacy env route, escaped slash", method: "PUT", target: "/repositories/42/environments/prod%2Feu/secrets/GROO_PAT", body: `{"key_id":"k1","encrypted_value":"` + sealed + `"}`},
		{name: "env route", method: "GET", target: "/repos/octo/app/environments/prod%2Feu/secrets/public-key"},
		{name: "org put selected", method: "PUT", target: "/orgs/octo/actions/secrets/GROO_PAT", body: `{"key_id":"k1","encrypted_value":"` + sealed + `","visibility":"selected","selected_repository_ids":[1,2]}`},
		{name: "dependabot org ids as strings", method: "PUT", target: "/orgs/octo/dependabot/secrets/GROO_PAT", body: `{"key_id":"k1","encrypted_value":"` + sealed + `","visibility":"selected","selected_repository_ids":["1"]}`},
		{name: "selected repos paged", method: "GET", target: "/orgs/octo/actions/secrets/GROO_PAT/repositories?per_page=100&page=2"},
		{name: "repository", method: "GET", target: "/repos/octo/app"},
		{name: "delete", method: "DELETE", target: "/repos/octo/app/dependabot/secrets/GROO_PAT"},

		{name: "put without key_id", method: "PUT", target: "/repos/octo/app/actions/secrets/GROO_PAT", body: `{"encrypted_value":"` + sealed + `"}`, wantErr: "key_id"},
		{name: "put without a body", method: "PUT", target: "/repos/octo/app/actions/secrets/GROO_PAT", wantErr: "request body has an error"},
		{name: "value not base64", method: "PUT", target: "/repos/octo/app/actions/secrets/GROO_PAT", body: `{"key_id":"k1","encrypted_value":"not base64!"}`, wantErr: "encrypted_value"},
		{name: "org put without visibility", method: "PUT", target: "/orgs/octo/actions/secrets/GROO_PAT", body: `{"key_id":"k1","encrypted_value":"` + sealed + `"}`, wantErr: "visibility"},
		{name: "org put bad visibility", method: "PUT", target: "/orgs/octo/actions/secrets/GROO_PAT", body: `{"key_id":"k1","encrypted_value":"` + sealed + `","visibility":"internal"}`, wantErr: "visibility"},
		{name: "ids of the wrong type", method: "PUT", target: "/orgs/octo/actions/secrets/GROO_PAT", body: `{"key_id":"k1","encrypted_value":"` + sealed + `","visibility":"selected","selected_repository_ids":[true]}`, wantErr: "selected_repository_ids"},
		{name: "per_page not a number", method: "GET", target: "/orgs/octo/actions/secrets/GROO_PAT/repositories?per_page=all", wantErr: "per_page"},
		{name: "unknown path", method: "GET", target: "/repos/octo/app/actions/secretz/public-key", wantErr: "no operation"},
		{name: "wrong method", method: "POST", target: "/repos/octo/app/actions/secrets/GROO_PAT", body: `{}`, wantErr: "no operation"},
		{name: "legacy route, id not a number", method: "GET", target: "/repositories/app/environments/prod/secrets/public-key", wantErr: "not an integer"},
		{name: "body on a GET", method: "GET", target: "/repos/octo/app/actions/secrets/public-key", body: `{"x":1}`, wantErr: "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(tc.method, "http://127.0.0.1:1"+tc.target, body)
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			err := Validate(req)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("Validate accepted a request GitHub's description refuses")
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

// fakeTB records what the Checker reports at cleanup instead of failing
// the real test.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()             {}
func (f *fakeTB) Cleanup(fn func())   { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Logf(string, ...any) {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) { f.Errorf(format, args...); panic("Fatalf") }
func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestCheckerReportsAtCleanup(t *testing.T) {
	t.Parallel()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.EscapedPath()+" "+string(b))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	ftb := &fakeTB{TB: t}
	c := New(ftb, srv.Client().Transport)
	hc := c.Client()
	good := `{"key_id":"k1","encrypted_value":"` + sealed + `"}`
	bad := `{"encrypted_value":"` + sealed + `"}` // no key_id
	for _, b := range []string{good, bad} {
		req, _ := http.NewRequest("PUT", srv.URL+"/repos/octo/app/actions/secrets/GROO_PAT", strings.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if c.Requests() != 2 {
		t.Errorf("Requests() = %d, want 2", c.Requests())
	}
	// Both reached the server, body intact.
	if len(got) != 2 || !strings.HasSuffix(got[0], good) || !strings.HasSuffix(got[1], bad) {
		t.Errorf("server saw %q", got)
	}
	ftb.runCleanups()
	if len(ftb.errs) != 1 || !strings.Contains(ftb.errs[0], "key_id") {
		t.Fatalf("checker reported %q, want one failure about key_id", ftb.errs)
	}
}

func TestCheckerFailsWhenNothingWasChecked(t *testing.T) {
	t.Parallel()
	ftb := &fakeTB{TB: t}
	New(ftb, nil)
	ftb.runCleanups()
	if len(ftb.errs) != 1 || !strings.Contains(ftb.errs[0], "no GitHub request") {
		t.Fatalf("checker reported %q, want a failure for zero requests", ftb.errs)
	}
}

func TestIsGitHub(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]bool{
		"/repos/octo/app/actions/secrets/public-key":        true,
		"/api/v3/repos/octo/app/actions/secrets/public-key": true,
		"/app/installations/7/access_tokens":                true,
		"/":                                                 true,
		"/api/v3/v1/account/tokens":                         true, // GitHub Enterprise Server's prefix: GitHub's, and no operation
		"/v1x":                                              true,
		"/v1":                                               false,
		"/v1/account/tokens":                                false,
		"/v1/account/tokens/tok_1":                          false,
		"/_emulator/state":                                  false,
		"/api/v3/_emulator/state":                           false,
	} {
		if got := IsGitHub(path); got != want {
			t.Errorf("IsGitHub(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestNonGitHubPathsAreNotInTheDescription holds GitHub's description to
// the rule that tells Groo's and the emulator's requests apart (IsGitHub):
// no operation of GitHub's lives where they do.
func TestNonGitHubPathsAreNotInTheDescription(t *testing.T) {
	t.Parallel()
	p, err := SpecPath()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Paths) < 500 {
		t.Fatalf("only %d paths in the description", len(doc.Paths))
	}
	for path := range doc.Paths {
		if !IsGitHub(path) || strings.HasPrefix(path, "/api/") {
			t.Errorf("GitHub's description has %s, which the checker would not treat as GitHub's", path)
		}
	}
	// And through the router: nothing under /v1 is an operation of GitHub's.
	r, err := load()
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/v1", "/v1/account/tokens", "/v1/auth/me", "/v1/account/tokens/tok_1", "/_emulator/state"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			req := httptest.NewRequest(m, "https://api.github.com"+target, nil)
			if route, _, err := r.FindRoute(req); err == nil {
				t.Errorf("%s %s is GitHub's operation %s", m, target, route.Operation.OperationID)
			}
		}
	}
}

// TestCheckerPassesOtherRequestsUnchecked: Groo's and the admin API's
// requests reach the server unchanged, are not validated, and do not count
// as GitHub requests.
func TestCheckerPassesOtherRequestsUnchecked(t *testing.T) {
	t.Parallel()
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.EscapedPath()+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	ftb := &fakeTB{TB: t}
	c := New(ftb, srv.Client().Transport)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/account/tokens", `{"name":"uc","expires_in":"not what GitHub would take"}`},
		{"GET", "/v1/auth/me", ""},
		{"POST", "/_emulator/faults", `[]`},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, body)
		resp, err := c.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if c.Requests() != 0 || c.Others() != 3 {
		t.Errorf("Requests() = %d, Others() = %d; want 0 and 3", c.Requests(), c.Others())
	}
	if len(got) != 3 || !strings.HasSuffix(got[0], `"not what GitHub would take"}`) {
		t.Errorf("server saw %q", got)
	}
	ftb.runCleanups()
	// Only GitHub requests count: none went through.
	if len(ftb.errs) != 1 || !strings.Contains(ftb.errs[0], "no GitHub request") {
		t.Fatalf("checker reported %q, want only the failure for zero GitHub requests", ftb.errs)
	}
}

func TestAllowNone(t *testing.T) {
	t.Parallel()
	ftb := &fakeTB{TB: t}
	New(ftb, nil, AllowNone())
	ftb.runCleanups()
	if len(ftb.errs) != 0 {
		t.Fatalf("checker reported %q with AllowNone", ftb.errs)
	}
	// AllowNone excuses zero requests, not a bad one.
	ftb = &fakeTB{TB: t}
	c := New(ftb, nil, AllowNone())
	req := httptest.NewRequest("PUT", "/repos/octo/app/actions/secrets/GROO_PAT", nil)
	req.Header.Set("Content-Type", "application/json")
	c.Check(req, []byte(`{"encrypted_value":"`+sealed+`"}`))
	ftb.runCleanups()
	if len(ftb.errs) != 1 || !strings.Contains(ftb.errs[0], "key_id") {
		t.Fatalf("checker reported %q, want one failure about key_id", ftb.errs)
	}
}

func TestValidateSkipsOtherRequests(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"/v1/account/tokens", "/_emulator/seed", "/api/v3/_emulator/state"} {
		req := httptest.NewRequest("POST", "http://127.0.0.1:1"+target, strings.NewReader(`{"anything":true}`))
		if err := Validate(req); err != nil {
			t.Errorf("Validate(%s) = %v, want nil: not GitHub's", target, err)
		}
	}
}

// TestPruneKeepsEveryOperation: pruning drops responses and prose, never an
// operation, a parameter or a request body.
func TestPruneKeepsEveryOperation(t *testing.T) {
	t.Parallel()
	p, err := SpecPath()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := prune(data)
	if err != nil {
		t.Fatal(err)
	}
	type op struct {
		Parameters  json.RawMessage `json:"parameters"`
		RequestBody *struct {
			Required bool                       `json:"required"`
			Content  map[string]json.RawMessage `json:"content"`
		} `json:"requestBody"`
	}
	summarize := func(b []byte) map[string]string {
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for path, item := range doc.Paths {
			for method, raw := range item {
				if !httpMethods[method] {
					out[path+" "+method] = canon(raw) // path-level parameters
					continue
				}
				var o op
				if err := json.Unmarshal(raw, &o); err != nil {
					t.Fatal(err)
				}
				sig := canon(o.Parameters)
				if o.RequestBody != nil {
					sig += fmt.Sprintf(" body required=%v", o.RequestBody.Required)
					for _, mt := range slices.Sorted(maps.Keys(o.RequestBody.Content)) {
						c := o.RequestBody.Content[mt]
						var schema struct {
							Schema json.RawMessage `json:"schema"`
						}
						_ = json.Unmarshal(c, &schema)
						sig += " " + mt + ":" + canon(schema.Schema)
					}
				}
				out[method+" "+path] = sig
			}
		}
		return out
	}
	before, after := summarize(data), summarize(pruned)
	if len(before) < 800 || len(before) != len(after) {
		t.Fatalf("%d operations before pruning, %d after", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("%s changed by pruning", k)
		}
	}
	t.Logf("pruned %d bytes to %d", len(data), len(pruned))
}

// canon re-encodes JSON so that layout differences do not count.
func canon(b json.RawMessage) string {
	if len(b) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "invalid: " + err.Error()
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestCheckAsEmulatorHook: on the server side, through the emulator's
// request hook, the checker judges what any client sent, and the emulator
// still serves it.
func TestCheckAsEmulatorHook(t *testing.T) {
	t.Parallel()
	ftb := &fakeTB{TB: t}
	c := New(ftb, nil)
	_, base := emulatortest.NewServer(t, emulator.Seed{GitHub: emulator.GitHubSeed{Tokens: []string{"ghp_hook"}, Repositories: []string{"octo/app"}}},
		emulator.WithRequestHook(c.Check))
	send := func(method, path, body string) int {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer ghp_hook")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := send("GET", "/repos/octo/app/actions/secrets/public-key", ""); s != 200 {
		t.Fatalf("public key: %d", s)
	}
	// No key_id: the emulator answers (422), the checker records a failure.
	send("PUT", "/api/v3/repos/octo/app/actions/secrets/GROO_PAT", `{"encrypted_value":"`+sealed+`"}`)
	send("GET", "/v1/auth/me", "")
	send("GET", "/_emulator/state", "")
	if c.Requests() != 2 || c.Others() != 2 {
		t.Errorf("Requests() = %d, Others() = %d; want 2 and 2", c.Requests(), c.Others())
	}
	ftb.runCleanups()
	if len(ftb.errs) != 1 || !strings.Contains(ftb.errs[0], "key_id") {
		t.Fatalf("checker reported %q, want one failure about key_id", ftb.errs)
	}
}
