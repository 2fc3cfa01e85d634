package config

import (
	"github.com/groo/pat-action/internal/groo"

	"regexp"
	"strings"
	"testing"
)

// configRefuses parses src and checks that it is refused with one error
// line per pattern in want, each with file:line.
func configRefuses(t *testing.T, src string, want ...string) {
	t.Helper()
	cfg, err := Parse("c.yaml", []byte(src), noEnv)
	if err == nil {
		t.Fatalf("accepted: %+v", cfg)
	}
	lines := strings.Split(err.Error(), "\n")
	for _, w := range want {
		re := regexp.MustCompile(w)
		found := false
		for _, l := range lines {
			found = found || re.MatchString(l)
		}
		if !found {
			t.Errorf("no error matches %s in:\n%s", w, err)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(lines), len(want), err)
	}
}

// Durations too long for time.Duration are refused as such, never wrapped
// to a negative (or small) value; sums of long ones do not wrap either.
func TestParseConfigRefusesOverflowingDurations(t *testing.T) {
	t.Parallel()
	const head = "groo: {token-env: G}\ngithub: {token-env: T}\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"days beyond int64", head + "targets:\n  - {repository: octo/app, ttl: 99999999999999999999d}\n",
			`^c\.yaml:4: targets\[0\]\.ttl: "99999999999999999999d" is too long: durations stop at about 106751d \(292 years\); write a shorter one`},
		{"days that overflow nanoseconds", head + "targets:\n  - {repository: octo/app, ttl: 99999999999d}\n",
			`^c\.yaml:4: targets\[0\]\.ttl: "99999999999d" is too long`},
		{"one day past the limit", head + "defaults: {ttl: 106752d}\ntargets: [{repository: octo/app}]\n",
			`^c\.yaml:3: defaults\.ttl: "106752d" is too long`},
		{"hours that overflow", head + "targets:\n  - {repository: octo/app, revoke-grace: 9999999999h}\n",
			`^c\.yaml:4: targets\[0\]\.revoke-grace: "9999999999h" is too long`},
		{"negative days that overflow", head + "rotation: {clock-margin: -99999999999d}\ntargets: [{repository: octo/app}]\n",
			`^c\.yaml:3: rotation\.clock-margin: "-99999999999d" is not a duration: no sign allowed`},
		{"audit threshold", head + "audit: {max-ttl: 99999999999d}\ntargets: [{repository: octo/app}]\n",
			`^c\.yaml:3: audit\.max-ttl: "99999999999d" is too long`},
		{"grace plus jitter past the limit", head + "targets:\n  - {repository: octo/app, ttl: 100000d, revoke-grace: 60000d, jitter: 60000d}\n",
			`^c\.yaml:4: targets\[0\]\.ttl: 100000d does not outlast .* = 106751d.*`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			configRefuses(t, tt.src, tt.want)
		})
	}
}

// `validate` refuses an http:// API URL to a host that is not loopback: a
// credential goes with every request.
func TestParseConfigRefusesPlainHTTPToNonLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want string
	}{
		{"github", "groo: {token-env: G}\ngithub: {token-env: T, api-url: http://ghe.example.com/api/v3}\ntargets: [{repository: o/r}]\n", nil,
			`^c\.yaml:2: github\.api-url: "http://ghe\.example\.com/api/v3" is plain http to ghe\.example\.com, which is not a loopback address.*write https://ghe\.example\.com/api/v3$`},
		{"groo", "groo: {token-env: G, api-url: \"http://10.0.0.5:8080\"}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n", nil,
			`^c\.yaml:1: groo\.api-url: .*not a loopback address.*write https://10\.0\.0\.5:8080$`},
		{"GROO_ACCOUNTS_URL", "groo: {token-env: G}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n", map[string]string{groo.EnvBaseURL: "http://groo.internal"},
			`^c\.yaml:1: groo\.api-url: GROO_ACCOUNTS_URL applies \(groo\.api-url is not written\): .*not a loopback address.*write https://groo\.internal$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("c.yaml", []byte(tt.src), func(k string) string { return tt.env[k] })
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if !regexp.MustCompile(tt.want).MatchString(err.Error()) {
				t.Errorf("error %q does not match %s", err, tt.want)
			}
		})
	}
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:9", "https://ghe.example.com/api/v3"} {
		src := "groo: {token-env: G, api-url: \"" + ok + "\"}\ngithub: {token-env: T, api-url: \"" + ok + "\"}\ntargets: [{repository: o/r}]\n"
		if _, err := Parse("c.yaml", []byte(src), noEnv); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

// Names are checked as GitHub names them, each error at its key's line.
func TestParseConfigRefusesBadNames(t *testing.T) {
	t.Parallel()
	const head = "groo: {token-env: G}\ngithub: {token-env: T}\ntargets:\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"owner ending with a hyphen", head + "  - repository: octo-/app\n",
			`^c\.yaml:4: targets\[0\]\.repository: "octo-/app": invalid target: owner "octo-" starts or ends with a hyphen; GitHub logins are`},
		{"owner with two hyphens", head + "  - repository: oc--to/app\n", `^c\.yaml:4: targets\[0\]\.repository: .*two hyphens in a row`},
		{"owner too long", head + "  - repository: " + strings.Repeat("o", 40) + "/app\n", `^c\.yaml:4: targets\[0\]\.repository: .*40 characters long`},
		{"repository dot dot", head + "  - repository: octo/..\n", `^c\.yaml:4: targets\[0\]\.repository: .*repository name "\.\." is reserved`},
		{"repository with a space", head + "  - {repository: \"octo/my app\"}\n", `^c\.yaml:4: targets\[0\]\.repository: .*has ' '`},
		{"organization with an underscore", head + "  - organization: octo_org\n", `^c\.yaml:4: targets\[0\]\.organization: invalid target: organization "octo_org" has '_'`},
		{"environment with a line break", head + "  - {repository: octo/app, environment: \"prod\\nx\"}\n",
			`^c\.yaml:4: targets\[0\]\.environment: a line break .* single-line text`},
		{"environment with a question mark", head + "  - {repository: octo/app, environment: \"prod?x\"}\n", `^c\.yaml:4: targets\[0\]\.environment: .*GitHub refuses '\?' and '#'`},
		{"environment with a trailing space", head + "  - {repository: octo/app, environment: \"prod \"}\n",
			`^c\.yaml:4: targets\[0\]\.environment: invalid target: environment "prod " starts or ends with white space; remove it`},
		{"environment empty", head + "  - {repository: octo/app, environment: \"\"}\n", `^c\.yaml:4: targets\[0\]\.environment: invalid target: environment is empty`},
		{"environment too long", head + "  - {repository: octo/app, environment: " + strings.Repeat("e", 256) + "}\n", `^c\.yaml:4: targets\[0\]\.environment: .*256 characters long; GitHub allows at most 255`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			configRefuses(t, tt.src, tt.want)
		})
	}
}

// GitHub compares owners, repositories, environments and secret names
// without regard to case: two targets that differ only in case are one
// secret, and the second is refused; so are use cases that differ only in
// case. Each target keeps its spelling.
func TestParseConfigRefusesTargetsThatDifferOnlyInCase(t *testing.T) {
	t.Parallel()
	const head = "groo: {token-env: G}\ngithub: {token-env: T}\ntargets:\n"
	tests := []struct {
		name    string
		targets string
		want    string
	}{
		{"repository", "  - repository: octo/app\n  - repository: Octo/App\n",
			`^c\.yaml:5: targets\[1\]: use case "GitHub Actions - Octo/App GROO_PAT" is already the use case of repo:octo/app GROO_PAT \(line 4\) \(as "GitHub Actions - octo/app GROO_PAT": names that differ only in case are one\)`},
		{"repository with distinct token names", "  - {repository: octo/app, token-name: one}\n  - {repository: OCTO/app, token-name: two}\n",
			`^c\.yaml:5: targets\[1\]: repo:OCTO/app GROO_PAT is already written by the target at line 4 as repo:octo/app GROO_PAT \(GitHub compares .* without regard to case\)`},
		{"environment", "  - {repository: octo/app, environment: Prod, token-name: one}\n  - {repository: octo/app, environment: prod, token-name: two}\n",
			`^c\.yaml:5: targets\[1\]: env:octo/app:prod GROO_PAT is already written by the target at line 4`},
		{"organization", "  - {organization: octo, token-name: one}\n  - {organization: Octo, token-name: two}\n",
			`^c\.yaml:5: targets\[1\]: org:Octo GROO_PAT is already written`},
		{"dependabot secret name", "  - {repository: octo/app, dependabot: true, secret: GROO_PAT, token-name: one}\n  - {repository: octo/APP, dependabot: true, secret: groo_pat, token-name: two}\n",
			`^c\.yaml:5: targets\[1\]: dependabot:octo/APP groo_pat is already written`},
		{"token names", "  - {repository: octo/app, token-name: Nightly}\n  - {repository: octo/web, token-name: nightly}\n",
			`^c\.yaml:5: targets\[1\]: use case "nightly" is already the use case of repo:octo/app GROO_PAT \(line 4\) \(as "Nightly"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			configRefuses(t, head+tt.targets, tt.want)
		})
	}
	// Distinct secrets stay distinct, and keep their spelling.
	cfg, err := Parse("c.yaml", []byte(head+"  - repository: Octo/App\n  - {repository: octo/app, dependabot: true}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Targets[0].UseCase; got != "GitHub Actions - Octo/App GROO_PAT" {
		t.Errorf("use case %q, want the spelling of the configuration", got)
	}
}
