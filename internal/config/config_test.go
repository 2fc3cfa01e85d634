package config

import (
	"github.com/groo/pat-action/internal/groo"

	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/ghsecret"
)

func noEnv(string) string { return "" }

// The issue's own example must load as written.
func TestParseConfigIssueExample(t *testing.T) {
	t.Parallel()
	src := `groo:
  api-url: https://accounts.groo.dev   # GROO_ACCOUNTS_URL overrides
  token-env: GROO_ROTATOR_PAT
github:
  api-url: https://api.github.com
  token-env: GITHUB_TOKEN
store: sqlite:///var/lib/pat-rotator/state.db
listen: 127.0.0.1:9464
defaults: {schedule: "0 3 * * *", ttl: 72h, revoke-grace: 15m, jitter: 10m}
targets:
  - repository: octo/app
  - {repository: octo/app, environment: prod/eu, secret: GROO_PAT, ttl: 48h}
  - {organization: octo, secret: GROO_PAT, visibility: selected, selected-repositories: [app, docs]}
  - {repository: octo/docs, dependabot: true, schedule: "@every 12h"}
`
	cfg, err := Parse("rotator.yaml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Groo.TokenEnv != "GROO_ROTATOR_PAT" || cfg.GitHub.TokenEnv != "GITHUB_TOKEN" || cfg.Store != "sqlite:///var/lib/pat-rotator/state.db" {
		t.Errorf("settings = %+v %+v %q", cfg.Groo, cfg.GitHub, cfg.Store)
	}
	want := []struct {
		name, useCase string
		scope         ghsecret.Scope
		ttl           time.Duration
		gap           time.Duration
	}{
		{"repo:octo/app GROO_PAT", "GitHub Actions - octo/app GROO_PAT", ghsecret.ScopeRepository, 72 * time.Hour, 24 * time.Hour},
		{"env:octo/app:prod/eu GROO_PAT", "GitHub Actions - octo/app env:prod/eu GROO_PAT", ghsecret.ScopeEnvironment, 48 * time.Hour, 24 * time.Hour},
		{"org:octo GROO_PAT", "GitHub Actions - org octo GROO_PAT", ghsecret.ScopeOrganization, 72 * time.Hour, 24 * time.Hour},
		{"dependabot:octo/docs GROO_PAT", "Dependabot - octo/docs GROO_PAT", ghsecret.ScopeDependabot, 72 * time.Hour, 12 * time.Hour},
	}
	if len(cfg.Targets) != len(want) {
		t.Fatalf("%d targets, want %d", len(cfg.Targets), len(want))
	}
	for i, w := range want {
		got := cfg.Targets[i]
		if got.Name != w.name || got.UseCase != w.useCase || got.Target.Scope != w.scope || got.TTL != w.ttl || got.MaxInterval != w.gap {
			t.Errorf("target %d = %s %q %s ttl %s gap %s; want %+v", i, got.Name, got.UseCase, got.Target.Scope, got.TTL, got.MaxInterval, w)
		}
		if got.Grace != 15*time.Minute || got.Jitter != 10*time.Minute || got.Line != 11+i {
			t.Errorf("target %d grace %s jitter %s line %d", i, got.Grace, got.Jitter, got.Line)
		}
	}
	org := cfg.Targets[2].Target
	if org.Visibility != "selected" || strings.Join(org.SelectedRepositories, ",") != "app,docs" {
		t.Errorf("org target = %+v", org)
	}
}

func TestParseConfigDefaultsAndOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := `groo: {token-file: secrets/groo}
github: {app: {id: 123, installation-id: 456, private-key-file: app.pem}, api-url: "http://127.0.0.1:1/"}
rotation: {write-window: 5s, clock-margin: 1s}
daemon: {concurrency: 8, lease-margin: 2s, sweep-interval: 500ms}
targets:
  - {repository: octo/app, token-name: "custom lineage", ttl: 7d, revoke-grace: 0s, jitter: 0s}
`
	env := map[string]string{groo.EnvBaseURL: "http://127.0.0.1:2/"}
	cfg, err := Parse(filepath.Join(dir, "r.yaml"), []byte(src), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Groo.APIURL != "http://127.0.0.1:2" {
		t.Errorf("GROO_ACCOUNTS_URL not applied: %q", cfg.Groo.APIURL)
	}
	if cfg.GitHub.APIURL != "http://127.0.0.1:1" || cfg.GitHub.App == nil || cfg.GitHub.App.ID != 123 || cfg.GitHub.App.InstallationID != 456 {
		t.Errorf("github = %+v", cfg.GitHub)
	}
	if cfg.GitHub.App.PrivateKeyFile != filepath.Join(dir, "app.pem") || cfg.Groo.TokenFile != filepath.Join(dir, "secrets/groo") {
		t.Errorf("files not resolved next to the configuration: %q %q", cfg.GitHub.App.PrivateKeyFile, cfg.Groo.TokenFile)
	}
	if cfg.Store != DefaultStore || cfg.Listen != DefaultListen {
		t.Errorf("store %q listen %q", cfg.Store, cfg.Listen)
	}
	if cfg.Rotation.WriteWindow != 5*time.Second || cfg.Daemon.Concurrency != 8 || cfg.LeaseTTL() != 7*time.Second || cfg.Daemon.SweepInterval != 500*time.Millisecond {
		t.Errorf("tuning = %+v %+v", cfg.Rotation, cfg.Daemon)
	}
	if cfg.Daemon.ShutdownTimeout != 37*time.Second {
		t.Errorf("shutdown timeout %s, want write window + lease margin + 30s", cfg.Daemon.ShutdownTimeout)
	}
	tc := cfg.Targets[0]
	if tc.UseCase != "custom lineage" || tc.TTL != 7*24*time.Hour || tc.Grace != 0 || tc.ScheduleSpec != DefaultSchedule {
		t.Errorf("target = %+v", tc)
	}
}

// Every refusal names file:line and says what to do.
func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	const head = "groo: {token-env: GROO_ROTATOR_PAT}\ngithub: {token-env: GITHUB_TOKEN}\n"
	tests := []struct {
		name string
		src  string
		want []string // each a regexp that one error must match
	}{
		{"two targets one use case", head + "targets:\n  - repository: octo/app\n  - {repository: octo/docs, token-name: \"GitHub Actions - octo/app GROO_PAT\"}\n",
			[]string{`^c\.yaml:5: targets\[1\]: use case "GitHub Actions - octo/app GROO_PAT" is already the use case of repo:octo/app GROO_PAT \(line 4\).*token-name`}},
		{"same target twice", head + "targets:\n  - repository: octo/app\n  - repository: octo/app\n",
			[]string{`^c\.yaml:5: targets\[1\]: use case .* already`}},
		{"one secret two lineages", head + "targets:\n  - repository: octo/app\n  - {repository: octo/app, secret: groo_pat, token-name: other}\n",
			[]string{`^c\.yaml:5: targets\[1\]: repo:octo/app groo_pat is already written by the target at line 4`}},
		{"inline groo token key", "groo: {token: x}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:1: groo\.token: a credential written inline.*token-env`, `^c\.yaml:1: groo: no credential`}},
		{"inline pat value", head + "targets:\n  - {repository: octo/app, secret: groo_pat_" + strings.Repeat("0", 64) + "}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.secret: this value looks like a credential \(a Groo PAT, groo_pat_…\).*token-env`}},
		{"inline ghs value", "groo: {token-env: G}\ngithub:\n  token-env: ghs_abcdefghijklmnopqrstuvwxyz0123456789\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: github\.token-env: this value looks like a credential \(a GitHub token, ghs_…\)`}},
		{"inline github_pat value", head + "store: github_pat_11AAAAAAA0_bbbbbbbbbbbbbbbbbbbbbbb\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: store: this value looks like a credential \(a GitHub fine-grained PAT`}},
		{"inline private key", "groo: {token-env: G}\ngithub:\n  app:\n    id: 1\n    installation-id: 2\n    private-key: |\n      -----BEGIN RSA PRIVATE KEY-----\n      abc\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:6: github\.app\.private-key: a credential written inline.*private-key-file`, `^c\.yaml:3: github\.app: missing private-key-file`}},
		{"pem in a file key", "groo: {token-env: G}\ngithub: {app: {id: 1, installation-id: 2, private-key-file: \"-----BEGIN PRIVATE KEY-----\"}}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:2: github\.app\.private-key-file: this value looks like a credential \(a PEM private key`}},
		{"github-token key", head + "github-token: abc\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: github-token: a credential written inline`}},
		{"bad schedule", head + "targets:\n  - {repository: octo/app, schedule: \"61 * * * *\"}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.schedule: cron cannot parse "61 \* \* \* \*".*@every 12h`}},
		{"six field schedule", head + "targets:\n  - {repository: octo/app, schedule: \"0 0 3 * * *\"}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.schedule: cron cannot parse`}},
		{"bad default schedule", head + "defaults:\n  schedule: nightly\ntargets: [{repository: o/r}]\n",
			[]string{`defaults\.schedule: cron cannot parse "nightly"`, `^c\.yaml:5: targets\[0\] \(schedule from defaults\): cron cannot parse`}},
		{"never fires", head + "targets:\n  - {repository: octo/app, schedule: \"0 0 30 2 *\"}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.schedule: schedule "0 0 30 2 \*": it never fires`}},
		{"ttl shorter than interval", head + "targets:\n  - {repository: octo/app, schedule: \"@every 12h\", ttl: 12h, revoke-grace: 0s, jitter: 0s}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.ttl: 12h does not outlast .*\(12h.*\) \+ revoke-grace \(0s\) \+ jitter \(0s\) = 12h.*`}},
		{"ttl shorter than interval grace jitter", head + "defaults: {ttl: 24h}\ntargets:\n  - repository: octo/app\n",
			[]string{`^c\.yaml:5: targets\[0\]\.ttl: 1d does not outlast the schedule's longest interval \(1d, "0 3 \* \* \*"\) \+ revoke-grace \(15m\) \+ jitter \(10m\) = 1d25m: .*raise ttl above 1d25m`}},
		{"weekday schedule counts the weekend", head + "targets:\n  - {repository: octo/app, schedule: \"0 3 * * 1-5\", ttl: 48h, revoke-grace: 0s, jitter: 0s}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.ttl: 2d does not outlast the schedule's longest interval \(3d,`}},
		{"zero ttl", head + "targets:\n  - {repository: octo/app, ttl: 0s}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.ttl: 0`}},
		{"write window above the maximum", head + "rotation: {write-window: 20m}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: rotation\.write-window: longer than 15m0s, the longest window other writers trust`}},
		{"bad secret name", head + "targets:\n  - {repository: octo/app, secret: GITHUB_PAT}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.secret: .*GITHUB_.*reserves`}},
		{"secret with dash", head + "targets:\n  - {repository: octo/app, secret: GROO-PAT}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.secret: .*only letters, digits and underscores`}},
		{"unknown top key", head + "target:\n  - repository: octo/app\n",
			[]string{`^c\.yaml:3: target: unknown key; did you mean targets\?`, `^c\.yaml:1: targets: missing`}},
		{"unknown target key", head + "targets:\n  - {repository: octo/app, enviroment: prod}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.enviroment: unknown key; did you mean environment\?`}},
		{"unknown nested key", "groo: {token-env: G, url: http://x}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:1: groo\.url: unknown key; .*api-url`}},
		{"duplicate key", head + "targets:\n  - repository: octo/app\n    repository: octo/docs\n",
			[]string{`^c\.yaml:5: targets\[0\]\.repository: written twice`}},
		{"no scope", head + "targets:\n  - secret: GROO_PAT\n",
			[]string{`^c\.yaml:4: targets\[0\]: no scope; add repository: OWNER/NAME or organization: ORG`}},
		{"both scopes", head + "targets:\n  - {repository: octo/app, organization: octo}\n",
			[]string{`^c\.yaml:4: targets\[0\]: both repository and organization`}},
		{"bad repository", head + "targets:\n  - repository: app\n",
			[]string{`^c\.yaml:4: targets\[0\]\.repository: "app": write owner/name`}},
		{"dependabot environment", head + "targets:\n  - {repository: octo/app, environment: prod, dependabot: true}\n",
			[]string{`^c\.yaml:4: targets\[0\]: Dependabot secrets have no environment scope`}},
		{"visibility on a repository", head + "targets:\n  - {repository: octo/app, visibility: all}\n",
			[]string{`^c\.yaml:4: targets\[0\]: visibility is only for organization secrets`}},
		{"selected without repositories", head + "targets:\n  - {organization: octo, visibility: selected}\n",
			[]string{`^c\.yaml:4: targets\[0\]: visibility selected needs selected-repositories`}},
		{"selected owner/name", head + "targets:\n  - {organization: octo, selected-repositories: [octo/app]}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.selected-repositories\[0\]: "octo/app": write the repository's name`}},
		{"bad duration", head + "targets:\n  - {repository: octo/app, ttl: three days}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.ttl: "three days" is not a duration`}},
		{"bad bool", head + "targets:\n  - {repository: octo/app, dependabot: yes please}\n",
			[]string{`^c\.yaml:4: targets\[0\]\.dependabot: want true or false`}},
		{"no github credential", "groo: {token-env: G}\ngithub: {api-url: https://api.github.com}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:2: github: no credential`}},
		{"two github credentials", "groo: {token-env: G}\ngithub: {token-env: T, token-file: f}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:2: github: more than one credential`}},
		{"app without id", "groo: {token-env: G}\ngithub: {app: {private-key-file: a.pem}}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:2: github\.app: missing id`, `^c\.yaml:2: github\.app: missing installation-id`}},
		{"missing groo", "github: {token-env: T}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:1: groo: missing`}},
		{"env name with value", "groo: {token-env: \"my token\"}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:1: groo\.token-env: "my token" is not an environment variable name`}},
		{"bad store", head + "store: /var/lib/x.db\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: store: "/var/lib/x\.db" is not a store DSN`}},
		{"bad url", "groo: {token-env: G, api-url: accounts.groo.dev}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:1: groo\.api-url: "accounts\.groo\.dev" is not an http\(s\) URL`}},
		{"empty targets", head + "targets: []\n",
			[]string{`^c\.yaml:3: targets: empty`}},
		{"targets not a list", head + "targets: {repository: o/r}\n",
			[]string{`^c\.yaml:3: targets: want a list`}},
		{"bad concurrency", head + "daemon: {concurrency: 0}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: daemon\.concurrency: 0 is out of range`}},
		{"audit zero max-ttl", head + "audit: {max-ttl: 0s}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: audit\.max-ttl: 0 is not a maximum TTL; .*off to turn the check off`}},
		{"audit failed-runs out of range", head + "audit: {failed-runs: 0}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: audit\.failed-runs: 0 is out of range; use 1 to 1000 .*or off`}},
		{"audit bad duration", head + "audit:\n  unused-after: a month\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:4: audit\.unused-after: "a month" is not a duration`}},
		{"audit negative duration", head + "audit: {unused-after: -1h}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: audit\.unused-after: "-1h" is not a duration: no sign allowed`}},
		{"audit unknown key", head + "audit: {max-tll: 30d}\ntargets: [{repository: o/r}]\n",
			[]string{`^c\.yaml:3: audit\.max-tll: unknown key; did you mean max-ttl\?`}},
		{"not yaml", "groo: [\n", []string{`^c\.yaml:\d+: not valid YAML`}},
		{"empty file", "", []string{`^c\.yaml:1: the configuration is empty`}},
		{"every error at once", head + "targets:\n  - {repository: octo/app, schedule: bad}\n  - {repository: octo/docs, secret: 1PAT}\n  - {repository: octo/web, colour: blue}\n",
			[]string{`^c\.yaml:4: .*cron cannot parse`, `^c\.yaml:5: .*starts with a digit`, `^c\.yaml:6: .*colour: unknown key`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("c.yaml", []byte(tt.src), noEnv)
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if cfg != nil {
				t.Error("returned a configuration with the error")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, l := range lines {
				if !regexp.MustCompile(`^c\.yaml:\d+: `).MatchString(l) {
					t.Errorf("error line without file:line: %q", l)
				}
				if strings.Contains(l, strings.Repeat("0", 64)) || strings.Contains(l, "abcdefghijklmnopqrstuvwxyz0123456789") || strings.Contains(l, "bbbbbbbbbbbbbbbbbbbbbbb") {
					t.Errorf("error echoes a credential: %q", l)
				}
			}
			for _, w := range tt.want {
				re := regexp.MustCompile(w)
				found := false
				for _, l := range lines {
					if re.MatchString(l) {
						found = true
					}
				}
				if !found {
					t.Errorf("no error matches %s in:\n%s", w, err)
				}
			}
			if len(lines) > len(tt.want) {
				t.Errorf("%d errors, want %d:\n%s", len(lines), len(tt.want), err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "c.yaml" || ce.Line == 0 {
				t.Errorf("errors.As Error = %+v", ce)
			}
		})
	}
}

// The audit policy: defaults when absent, each check tunable or off.
func TestParseConfigAudit(t *testing.T) {
	t.Parallel()
	const head = "groo: {token-env: G}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n"
	tests := []struct {
		name string
		src  string
		want audit.Policy
	}{
		{"absent: the audit's defaults", "", audit.Policy{}},
		{"tuned", "audit: {max-ttl: 60d, unused-after: 36h, failed-runs: 5}\n",
			audit.Policy{MaxTTL: 60 * 24 * time.Hour, UnusedAfter: 36 * time.Hour, FailedRunsThreshold: 5}},
		{"off", "audit: {max-ttl: off, unused-after: off, failed-runs: off}\n", audit.Policy{MaxTTL: -1, UnusedAfter: -1, FailedRunsThreshold: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("c.yaml", []byte(head+tt.src), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Audit.Policy(); got != tt.want {
				t.Errorf("policy %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMaxInterval(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) // a Friday
	tests := []struct {
		spec string
		want time.Duration
	}{
		{"@every 1s", time.Second},
		{"@every 12h", 12 * time.Hour},
		{"@hourly", time.Hour},
		{"@daily", 24 * time.Hour},
		{"0 3 * * *", 24 * time.Hour},
		{"0 3,15 * * *", 12 * time.Hour},
		{"0 9 * * 1-5", 72 * time.Hour},
		{"*/5 9-17 * * 1-5", 63*time.Hour + 5*time.Minute},
		{"@weekly", 7 * 24 * time.Hour},
		{"0 3 1 * *", 31 * 24 * time.Hour},
		{"@yearly", 366 * 24 * time.Hour}, // 2028 is a leap year
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			s, err := cron.ParseStandard(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MaxInterval(s, from)
			if err != nil || got != tt.want {
				t.Errorf("MaxInterval(%q) = %s, %v; want %s", tt.spec, got, err, tt.want)
			}
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "examples", "rotator.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("examples/rotator.yaml: %v", err)
	}
	cfg, err := Load(path, noEnv)
	if err != nil {
		t.Fatalf("the shipped example does not validate:\n%v", err)
	}
	if len(cfg.Targets) < 4 {
		t.Errorf("the example has %d targets; it should show every scope", len(cfg.Targets))
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), noEnv); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
