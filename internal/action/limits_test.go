package action

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/groo/pat-action/internal/groo"
)

// Durations longer than time.Duration holds are refused as too long, never
// wrapped to a negative or short value (which read as "too short" before).
func TestParseInputsRefusesOverflowingDurations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		value string
	}{
		{"expires-in days beyond uint64", inExpiresIn, "99999999999999999999999d"},
		{"expires-in days beyond nanoseconds", inExpiresIn, "99999999999d"},
		{"expires-in one day past the limit", inExpiresIn, "106752d"},
		{"expires-in days plus hours past the limit", inExpiresIn, "65535d2562047h"},
		{"expires-in hours past the limit", inExpiresIn, "9999999999h"},
		{"revoke-grace days beyond nanoseconds", inRevokeGrace, "99999999999d"},
		{"revoke-grace hours past the limit", inRevokeGrace, "2562048h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := base(map[string]string{tc.input: tc.value})
			if tc.input == inRevokeGrace {
				in[inExpiresIn] = "7d"
			}
			_, err := ParseInputs(inputsOf(in), func(string) string { return "" })
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != tc.input {
				t.Fatalf("err = %v, want an *InputError for %s", err, tc.input)
			}
			if msg := err.Error(); !strings.Contains(msg, `"`+tc.value+`" is too long`) || !strings.Contains(msg, "106751d") {
				t.Errorf("err = %q, want it to say the value is too long and where durations stop", msg)
			}
		})
	}
}

// A credential goes only over https, or plain http to a loopback address
// (the emulator): any other http URL is refused before any request, with
// the https URL to use instead.
func TestParseInputsRefusesPlainHTTPToNonLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		value string
		env   map[string]string
		fix   string
	}{
		{"github-api-url", inGitHubAPIURL, "http://ghe.example.com/api/v3", nil, "use https://ghe.example.com/api/v3"},
		{"groo-api-url", inGrooAPIURL, "http://accounts.groo.dev", nil, "use https://accounts.groo.dev"},
		{"GITHUB_API_URL", inGitHubAPIURL, "", map[string]string{"GITHUB_API_URL": "http://10.1.2.3:8080"}, "use https://10.1.2.3:8080"},
		{"GROO_ACCOUNTS_URL", inGrooAPIURL, "", map[string]string{groo.EnvBaseURL: "http://groo.internal"}, "use https://groo.internal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := base(nil)
			if tc.value != "" {
				in[tc.input] = tc.value
			}
			_, err := ParseInputs(inputsOf(in), func(k string) string { return tc.env[k] })
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != tc.input {
				t.Fatalf("err = %v, want an *InputError for %s", err, tc.input)
			}
			if msg := err.Error(); !strings.Contains(msg, "not a loopback address") || !strings.Contains(msg, tc.fix) {
				t.Errorf("err = %q, want it to say why and %q", msg, tc.fix)
			}
		})
	}
	for _, ok := range []string{"http://127.0.0.1:8080", "http://[::1]:9", "http://localhost:8080/api/v3", "https://ghe.example.com/api/v3"} {
		if _, err := ParseInputs(inputsOf(base(map[string]string{inGitHubAPIURL: ok, inGrooAPIURL: ok})), func(string) string { return "" }); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

// GitHub's API URL answers with a redirect to another origin (here the
// emulator, which would accept the token): the step fails naming the
// redirect and the fix, the other origin receives no GitHub request, and
// the freshly minted token does not stay live.
func TestRunRefusesCrossOriginRedirect(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", nil)
	redirector := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, w.url+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	res := runStep(t, step{inputs: w.inputs(map[string]string{inGitHubAPIURL: redirector.URL, inRevokeGrace: "0s"})})
	if res.err == nil {
		t.Fatal("the step succeeded")
	}
	for _, want := range []string{"::error::", "redirect to " + w.url, "set the API URL"} {
		if !strings.Contains(res.log, want) {
			t.Errorf("log lacks %q:\n%s", want, res.log)
		}
	}
	st := w.emu.State()
	for route, n := range st.Hits {
		if strings.HasPrefix(route, "gh.") && n > 0 {
			t.Errorf("%d request(s) reached the other origin's %s", n, route)
		}
	}
	for _, tok := range st.Tokens {
		if tok.ID != "tok_old" && tok.Live(st.Now) {
			t.Errorf("new token %s left live", tok.ID)
		}
	}
	if sec, _ := st.Secret("repo:octo/app", "GROO_PAT"); sec.Value != w.oldPAT {
		t.Error("the secret changed")
	}
}

// Owners, repositories, organizations and environments are checked as
// GitHub names them, before any request, naming the input and the fix.
func TestParseInputsRefusesBadNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    map[string]string
		input string
		want  string
	}{
		{"owner ending with a hyphen", base(map[string]string{inRepository: "octo-/app"}), inRepository, "starts or ends with a hyphen"},
		{"owner with two hyphens", base(map[string]string{inRepository: "oc--to/app"}), inRepository, "two hyphens in a row"},
		{"repository dot", base(map[string]string{inRepository: "octo/."}), inRepository, "reserved"},
		{"organization with two hyphens", base(map[string]string{inScope: "organization", inOrganization: "oc--to"}), inOrganization, "two hyphens in a row"},
		{"organization ending with a hyphen", base(map[string]string{inScope: "organization", inOrganization: "octo-"}), inOrganization, "starts or ends with a hyphen"},
		{"environment with a question mark", base(map[string]string{inScope: "environment", inEnvironment: "prod?x=1"}), inEnvironment, "'?'"},
		{"environment with a hash", base(map[string]string{inScope: "environment", inEnvironment: "prod#1"}), inEnvironment, "'#'"},
		{"environment with a line break", base(map[string]string{inScope: "environment", inEnvironment: "prod\nx"}), inEnvironment, "line break"},
		{"environment too long", base(map[string]string{inScope: "environment", inEnvironment: strings.Repeat("e", 256)}), inEnvironment, "at most 255"},
		{"selected repository dot dot", base(map[string]string{inScope: "organization", inVisibility: "selected", inSelected: "app,.."}), inSelected, "reserved"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseInputs(inputsOf(tc.in), func(string) string { return "" })
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != tc.input {
				t.Fatalf("err = %v, want an *InputError for %s", err, tc.input)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to say %q", err, tc.want)
			}
		})
	}
}
