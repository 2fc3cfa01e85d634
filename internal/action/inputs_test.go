package action

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
)

const testPAT = "groo_pat_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testKeyPEM is generated once per test binary: RSA generation is slow.
var testKey, testKeyPEM = func() (*rsa.PrivateKey, string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}()

// inputsOf maps action.yml's inputs to a GetInput-like function; absent
// inputs read as "", as under a runner that passes no default.
func inputsOf(m map[string]string) func(string) string {
	return func(k string) string { return strings.TrimSpace(m[k]) }
}

func base(extra map[string]string) map[string]string {
	m := map[string]string{inGrooToken: testPAT, inGitHubToken: "ghp_writer", inRepository: "octo/app"}
	for k, v := range extra {
		if v == "<unset>" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func TestParseInputsDefaults(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GITHUB_REPOSITORY": "octo/app", "GITHUB_API_URL": "https://ghe.example/api/v3"}
	in, err := ParseInputs(inputsOf(map[string]string{inGrooToken: testPAT, inGitHubToken: "ghp_x"}), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := ghsecret.Target{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"}
	if !targetEqual(in.Target, want) {
		t.Errorf("target = %+v, want %+v", in.Target, want)
	}
	if in.Mode != ModeRotate || in.TTL != 168*time.Hour || in.Grace != 0 || in.ExportEnv ||
		in.UseCase != "GitHub Actions - octo/app GROO_PAT" || in.GrooURL != DefaultGrooURL ||
		in.GitHubURL != "https://ghe.example/api/v3" || in.Repository != "octo/app" {
		t.Errorf("defaults not applied: %+v", in)
	}
}

func targetEqual(a, b ghsecret.Target) bool {
	return a.Scope == b.Scope && a.Owner == b.Owner && a.Repo == b.Repo && a.Environment == b.Environment &&
		a.Org == b.Org && a.Name == b.Name && a.Visibility == b.Visibility && slices.Equal(a.SelectedRepositories, b.SelectedRepositories)
}

func TestParseInputsValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    map[string]string
		env   map[string]string
		check func(t *testing.T, in *Inputs)
	}{
		{"environment with a slash", base(map[string]string{inScope: "environment", inEnvironment: "prod/eu"}), nil, func(t *testing.T, in *Inputs) {
			if in.Target.Environment != "prod/eu" || in.UseCase != "GitHub Actions - octo/app env:prod/eu GROO_PAT" {
				t.Errorf("got %+v / %q", in.Target, in.UseCase)
			}
		}},
		{"organization defaults to the repository owner", base(map[string]string{inScope: "organization", inVisibility: "selected", inSelected: "app, octo/api\nweb"}), nil, func(t *testing.T, in *Inputs) {
			want := ghsecret.Target{Scope: ghsecret.ScopeOrganization, Org: "octo", Name: "GROO_PAT", Visibility: "selected", SelectedRepositories: []string{"app", "api", "web"}}
			if !targetEqual(in.Target, want) || in.UseCase != "GitHub Actions - org octo GROO_PAT" {
				t.Errorf("got %+v / %q", in.Target, in.UseCase)
			}
		}},
		{"dependabot-organization named explicitly without repository", map[string]string{inGrooToken: testPAT, inGitHubToken: "x", inScope: "dependabot-organization", inOrganization: "acme"}, nil, func(t *testing.T, in *Inputs) {
			if in.Target.Org != "acme" || in.UseCase != "Dependabot - org acme GROO_PAT" {
				t.Errorf("got %+v / %q", in.Target, in.UseCase)
			}
		}},
		{"days and mixed durations", base(map[string]string{inExpiresIn: "7d", inRevokeGrace: "1d12h"}), nil, func(t *testing.T, in *Inputs) {
			if in.TTL != 7*24*time.Hour || in.Grace != 36*time.Hour {
				t.Errorf("ttl %s grace %s", in.TTL, in.Grace)
			}
		}},
		{"GROO_ACCOUNTS_URL beats the default", base(nil), map[string]string{groo.EnvBaseURL: "http://127.0.0.1:9/"}, func(t *testing.T, in *Inputs) {
			if in.GrooURL != "http://127.0.0.1:9" {
				t.Errorf("groo url %q", in.GrooURL)
			}
		}},
		{"an explicit groo-api-url equal to the default beats GROO_ACCOUNTS_URL", base(map[string]string{inGrooAPIURL: DefaultGrooURL}), map[string]string{groo.EnvBaseURL: "http://127.0.0.1:9/"}, func(t *testing.T, in *Inputs) {
			if in.GrooURL != DefaultGrooURL {
				t.Errorf("groo url %q", in.GrooURL)
			}
		}},
		{"an explicit groo-api-url beats GROO_ACCOUNTS_URL", base(map[string]string{inGrooAPIURL: "https://groo.internal/"}), map[string]string{groo.EnvBaseURL: "http://127.0.0.1:9"}, func(t *testing.T, in *Inputs) {
			if in.GrooURL != "https://groo.internal" {
				t.Errorf("groo url %q", in.GrooURL)
			}
		}},
		{"GitHub App with a PEM key", base(map[string]string{inGitHubToken: "<unset>", inAppID: "42", inAppKey: testKeyPEM}), nil, func(t *testing.T, in *Inputs) {
			if in.AppID != 42 || in.AppKey == nil || !in.AppKey.Equal(testKey) || in.GitHubToken != "" {
				t.Errorf("app credential not parsed: id %d", in.AppID)
			}
		}},
		{"GitHub App key with literal \\n", base(map[string]string{inGitHubToken: "<unset>", inAppID: "42", inAppKey: strings.ReplaceAll(testKeyPEM, "\n", `\n`)}), nil, func(t *testing.T, in *Inputs) {
			if in.AppKey == nil || !in.AppKey.Equal(testKey) {
				t.Error("escaped key not parsed")
			}
		}},
		{"audit needs no GitHub credential", base(map[string]string{inGitHubToken: "<unset>", inMode: "audit"}), nil, func(t *testing.T, in *Inputs) {
			if in.Mode != ModeAudit {
				t.Errorf("mode %q", in.Mode)
			}
		}},
		{"export-env with GITHUB_ENV", base(map[string]string{inExportEnv: "true"}), map[string]string{"GITHUB_ENV": "/tmp/env"}, func(t *testing.T, in *Inputs) {
			if !in.ExportEnv {
				t.Error("export-env not set")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := ParseInputs(inputsOf(tc.in), func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, in)
		})
	}
}

// invalidInputs is shared with the runner-contract test: each bad input must
// be refused naming the input, with its fix, before any request.
var invalidInputs = []struct {
	name  string
	in    map[string]string
	input string // the input the error names
	want  string // a fragment of the fix
}{
	{"no groo-token", base(map[string]string{inGrooToken: "<unset>"}), inGrooToken, "secrets.GROO_PAT"},
	{"malformed groo-token", base(map[string]string{inGrooToken: "groo_pat_SECRETNEARMISS"}), inGrooToken, "not a Groo PAT"},
	{"no GitHub credential", base(map[string]string{inGitHubToken: "<unset>"}), inGitHubToken, "GITHUB_TOKEN cannot write secrets"},
	{"token and app together", base(map[string]string{inAppID: "1", inAppKey: testKeyPEM}), inGitHubToken, "not both"},
	{"app-id without key", base(map[string]string{inGitHubToken: "<unset>", inAppID: "42"}), inAppKey, "required with app-id"},
	{"key without app-id", base(map[string]string{inGitHubToken: "<unset>", inAppKey: testKeyPEM}), inAppID, "required with app-private-key"},
	{"app-id not a number", base(map[string]string{inGitHubToken: "<unset>", inAppID: "my-app", inAppKey: testKeyPEM}), inAppID, "numeric ID"},
	{"app key not PEM", base(map[string]string{inGitHubToken: "<unset>", inAppID: "42", inAppKey: "not a key"}), inAppKey, "PEM"},
	{"repository not owner/name", base(map[string]string{inRepository: "octo"}), inRepository, "owner/name"},
	{"no repository at all", base(map[string]string{inRepository: "<unset>"}), inRepository, "GITHUB_REPOSITORY is not set"},
	{"bad secret name", base(map[string]string{inSecretName: "GITHUB_PAT"}), inSecretName, "reserves"},
	{"secret name with a dash", base(map[string]string{inSecretName: "GROO-PAT"}), inSecretName, "letters, digits and underscores"},
	{"unknown scope", base(map[string]string{inScope: "repo"}), inScope, "repository, environment, organization"},
	{"environment scope without environment", base(map[string]string{inScope: "environment"}), inEnvironment, "environment: prod"},
	{"environment with repository scope", base(map[string]string{inEnvironment: "prod"}), inEnvironment, "only used with scope: environment"},
	{"organization with repository scope", base(map[string]string{inOrganization: "octo"}), inOrganization, "only used with scope: organization"},
	{"visibility with repository scope", base(map[string]string{inVisibility: "all"}), inVisibility, "only used with organization scopes"},
	{"unknown visibility", base(map[string]string{inScope: "organization", inVisibility: "public"}), inVisibility, "all, private or selected"},
	{"selected repositories without selected", base(map[string]string{inScope: "organization", inVisibility: "all", inSelected: "app"}), inSelected, "visibility: selected"},
	{"selected visibility without repositories", base(map[string]string{inScope: "organization", inVisibility: "selected"}), inSelected, "required with visibility: selected"},
	{"selected repository of another org", base(map[string]string{inScope: "organization", inVisibility: "selected", inSelected: "evil/app"}), inSelected, "not in organization octo"},
	{"token name too long", base(map[string]string{inTokenName: strings.Repeat("n", 101)}), inTokenName, "100"},
	{"expires-in not a duration", base(map[string]string{inExpiresIn: "7x"}), inExpiresIn, `invalid duration "7x": write e.g. 90m, 72h, 7d or 1d12h`},
	{"expires-in too short", base(map[string]string{inExpiresIn: "1m"}), inExpiresIn, "at least 10m"},
	{"negative grace", base(map[string]string{inRevokeGrace: "-5m"}), inRevokeGrace, "negative"},
	{"grace as long as the ttl", base(map[string]string{inExpiresIn: "1d", inRevokeGrace: "24h"}), inRevokeGrace, "shorter"},
	{"unknown mode", base(map[string]string{inMode: "dry-run"}), inMode, "rotate, plan or audit"},
	{"export-env not a boolean", base(map[string]string{inExportEnv: "yes"}), inExportEnv, "true or false"},
	{"export-env without GITHUB_ENV", base(map[string]string{inExportEnv: "true"}), inExportEnv, "GITHUB_ENV is not set"},
	{"groo-api-url not a URL", base(map[string]string{inGrooAPIURL: "accounts.groo.dev"}), inGrooAPIURL, "http(s) URL"},
	{"github-api-url with a query", base(map[string]string{inGitHubAPIURL: "https://api.github.com/?x=1"}), inGitHubAPIURL, "query"},
	// Line breaks and control characters, refused before anything else.
	{"environment with a workflow command", base(map[string]string{inScope: "environment", inEnvironment: "prod\n::error::x"}), inEnvironment,
		`has a line break (\n, U+000A) at character 5; inputs are single-line text: remove it`},
	{"token-name with a carriage return", base(map[string]string{inTokenName: "name\r::warning::x"}), inTokenName, "a line break"},
	{"token-name with a bidi override", base(map[string]string{inTokenName: "GitHub Actions - \u202eTAP_OORG"}), inTokenName, "a bidirectional control character"},
	{"secret-name with a tab", base(map[string]string{inSecretName: "GROO\tPAT"}), inSecretName, "a control character (\\t"},
	{"repository with an escape", base(map[string]string{inRepository: "octo/app\x1b[2J"}), inRepository, "a control character (\\x1b"},
	{"organization with a C1 control", base(map[string]string{inScope: "organization", inOrganization: "oc\u0085to"}), inOrganization, "a control character"},
	{"groo-token with an escape inside", base(map[string]string{inGrooToken: testPAT[:20] + "\x1b" + testPAT[20:]}), inGrooToken, "a control character"},
	{"github-token with DEL", base(map[string]string{inGitHubToken: "ghp_writer\x7fwriter"}), inGitHubToken, "a control character"},
	{"app key with a NUL", base(map[string]string{inGitHubToken: "<unset>", inAppID: "42", inAppKey: testKeyPEM + "\x00"}), inAppKey, "a control character"},
	{"mode with invalid UTF-8", base(map[string]string{inMode: "rot\xffate"}), inMode, "invalid UTF-8"},
	{"groo-api-url with a password", base(map[string]string{inGrooAPIURL: "http://user:hunter2pass@groo.example"}), inGrooAPIURL,
		`value "http://groo.example" must not carry a query, fragment or user info`},
}

func TestParseInputsInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidInputs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseInputs(inputsOf(tc.in), func(string) string { return "" })
			if err == nil {
				t.Fatal("accepted")
			}
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != tc.input {
				t.Fatalf("err = %v, want an *InputError for %s", err, tc.input)
			}
			if !strings.Contains(err.Error(), "input "+tc.input+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to name input %s and say %q", err, tc.input, tc.want)
			}
			for _, secret := range []string{testPAT, "groo_pat_SECRETNEARMISS", "ghp_writer", "MII", "hunter2pass", "::error::x", "::warning::x", "\u202e"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error echoes a secret input: %q", err)
				}
			}
		})
	}
}

// TestParseInputsReportsAll checks that several bad inputs are reported
// together, so one run shows every fix.
func TestParseInputsReportsAll(t *testing.T) {
	t.Parallel()
	_, err := ParseInputs(inputsOf(base(map[string]string{inExpiresIn: "7x", inMode: "x", inSecretName: "1A"})), func(string) string { return "" })
	var names []string
	for _, e := range unjoin(err) {
		var ie *InputError
		if errors.As(e, &ie) {
			names = append(names, ie.Input)
		}
	}
	slices.Sort(names)
	if want := []string{inExpiresIn, inMode, inSecretName}; !slices.Equal(names, want) {
		t.Errorf("reported %v, want %v", names, want)
	}
}

// token-name is counted in characters (groo.MaxNameLen), as Groo, the
// rotation and pat-rotator's configuration count it.
func TestTokenNameCountedInCharacters(t *testing.T) {
	t.Parallel()
	name := strings.Repeat("é", 60) // 120 bytes
	in, err := ParseInputs(inputsOf(base(map[string]string{inTokenName: name})), func(string) string { return "" })
	if err != nil {
		t.Fatalf("60 characters refused: %v", err)
	}
	if in.UseCase != name {
		t.Errorf("use case = %q", in.UseCase)
	}
	_, err = ParseInputs(inputsOf(base(map[string]string{inTokenName: strings.Repeat("é", groo.MaxNameLen+1)})), func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "101 characters is more than Groo's 100") {
		t.Errorf("err = %v, want 101 characters refused", err)
	}
}

// expires-in and revoke-grace take internal/duration's grammar, the one
// pat-rotator's configuration and flags take: days and Go units together,
// no sign.
func TestDurationInputsTakeTheOneGrammar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input, value string
		want         time.Duration // 0: refused
	}{
		{inExpiresIn, "168h", 168 * time.Hour},
		{inExpiresIn, "7d", 168 * time.Hour},
		{inExpiresIn, "1d12h", 36 * time.Hour},
		{inExpiresIn, "1d12h30m", 36*time.Hour + 30*time.Minute},
		{inExpiresIn, "90m", 90 * time.Minute},
		{inExpiresIn, "-3d", 0},
		{inExpiresIn, "+7d", 0},
		{inExpiresIn, "1.5d", 0},
		{inExpiresIn, "7d-1h", 0},
		{inExpiresIn, "1dd", 0},
		{inExpiresIn, "7", 0},
		{inRevokeGrace, "15m", 15 * time.Minute},
		{inRevokeGrace, "1d", 24 * time.Hour},
		{inRevokeGrace, "1d12h", 36 * time.Hour},
		{inRevokeGrace, "-1h", 0},
		{inRevokeGrace, "-0s", 0},
		{inRevokeGrace, "d", 0},
	}
	for _, tt := range tests {
		t.Run(tt.input+"="+tt.value, func(t *testing.T) {
			t.Parallel()
			m := base(map[string]string{tt.input: tt.value})
			if tt.input == inRevokeGrace {
				m[inExpiresIn] = "7d"
			}
			in, err := ParseInputs(inputsOf(m), func(string) string { return "" })
			if tt.want == 0 {
				var ie *InputError
				if !errors.As(err, &ie) || ie.Input != tt.input || !strings.Contains(err.Error(), "90m, 72h, 7d or 1d12h") {
					t.Fatalf("err = %v, want a refusal of %s with the grammar's examples", err, tt.input)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := in.TTL
			if tt.input == inRevokeGrace {
				got = in.Grace
			}
			if got != tt.want {
				t.Errorf("%s %q = %s, want %s", tt.input, tt.value, got, tt.want)
			}
		})
	}
}

func TestMasksFor(t *testing.T) {
	t.Parallel()
	if got := masksFor("  abc  "); !slices.Equal(got, []string{"abc"}) {
		t.Errorf("single line: %q", got)
	}
	lines := masksFor(testKeyPEM)
	if len(lines) < 10 {
		t.Fatalf("PEM gave %d masks", len(lines))
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "-----") || strings.ContainsAny(l, "\r\n") {
			t.Errorf("mask %q", l)
		}
	}
	if masksFor("") != nil {
		t.Error("empty value masked")
	}
}

func TestCredentialRedacts(t *testing.T) {
	t.Parallel()
	c := credential("ghp_supersecret")
	in := &Inputs{GitHubToken: c}
	for _, s := range []string{c.String(), c.GoString(), sprintf("%v %s %q %+v %#v", c, c, c, in, in), in.LogValue().String()} {
		if strings.Contains(s, "supersecret") {
			t.Errorf("credential leaked: %q", s)
		}
	}
	if c.reveal() != "ghp_supersecret" {
		t.Error("reveal lost the value")
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
