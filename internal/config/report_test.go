package config

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/groo"
)

// errorLines parses src and returns its error lines (none: it loaded).
func errorLines(t *testing.T, src string, env map[string]string) []string {
	t.Helper()
	_, err := Parse("c.yaml", []byte(src), func(k string) string { return env[k] })
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// A value inside a flow mapping is reported at its own line, not at the
// file's first: defaults.schedule used to be reported at line 1.
func TestFlowMappingValueReportedAtItsLine(t *testing.T) {
	t.Parallel()
	src := "groo: {token-env: G}\ngithub: {token-env: T}\nstore: sqlite://./x.db\nlisten: \"\"\n" +
		"defaults: {schedule: \"0 3 * * 8\"}\n" +
		"targets: [{repository: octo/app, schedule: \"@daily\"}]\n"
	lines := errorLines(t, src, nil)
	if len(lines) != 1 || !regexp.MustCompile(`^c\.yaml:5: defaults\.schedule: cron cannot parse "0 3 \* \* 8"`).MatchString(lines[0]) {
		t.Errorf("errors = %q, want one at line 5 naming defaults.schedule", lines)
	}
	// The other keys of a flow mapping keep their lines too.
	src = "groo: {token-env: G}\ngithub: {token-env: T}\n\n\n" +
		"defaults: {ttl: 3x, jitter: -1m}\n" +
		"targets: [{repository: octo/app}]\n"
	lines = errorLines(t, src, nil)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "c.yaml:5: defaults.ttl: ") || !strings.HasPrefix(lines[1], "c.yaml:5: defaults.jitter: ") {
		t.Errorf("errors = %q, want defaults.ttl and defaults.jitter at line 5", lines)
	}
}

// Duplicate use cases and secrets are reported in the same pass as the
// schedule and TTL errors (the README promises every problem at once);
// they used to appear only once those were fixed.
func TestDuplicatesReportedWithScheduleAndTTLErrors(t *testing.T) {
	t.Parallel()
	src := "groo: {token-env: G}\ngithub: {token-env: T}\ntargets:\n" +
		"  - {repository: octo/app, schedule: \"0 3 * * 8\"}\n" + // 4: bad schedule
		"  - {repository: octo/app, ttl: 1h}\n" + // 5: TTL too short, and a duplicate of line 4
		"  - {repository: octo/api, ttl: 1h}\n" + // 6: TTL too short
		"  - {repository: octo/web, token-name: \"GitHub Actions - octo/api GROO_PAT\", ttl: 2x}\n" + // 7: bad ttl, use case of line 6
		"  - {repository: OCTO/API, secret: groo_pat, token-name: other, schedule: \"@every 1h\"}\n" // 8: the secret of line 6, another case
	want := []string{
		`^c\.yaml:4: targets\[0\]\.schedule: cron cannot parse`,
		`^c\.yaml:5: targets\[1\]\.ttl: 1h does not outlast`,
		`^c\.yaml:5: targets\[1\]: use case "GitHub Actions - octo/app GROO_PAT" is already the use case of repo:octo/app GROO_PAT \(line 4\)`,
		`^c\.yaml:6: targets\[2\]\.ttl: 1h does not outlast`,
		`^c\.yaml:7: targets\[3\]\.ttl: "2x" is not a duration`,
		`^c\.yaml:7: targets\[3\]: use case "GitHub Actions - octo/api GROO_PAT" is already the use case of repo:octo/api GROO_PAT \(line 6\)`,
		`^c\.yaml:8: targets\[4\]: .*is already written by the target at line 6`,
	}
	lines := errorLines(t, src, nil)
	if len(lines) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			found = found || regexp.MustCompile(w).MatchString(l)
		}
		if !found {
			t.Errorf("no error matches %s in:\n%s", w, strings.Join(lines, "\n"))
		}
	}
}

// Every duration of the file takes internal/duration's grammar.
func TestDurationsTakeTheOneGrammar(t *testing.T) {
	t.Parallel()
	const head = "groo: {token-env: G}\ngithub: {token-env: T}\n"
	tests := []struct {
		name, src string
		ok        bool
		check     func(*Config) bool
	}{
		{"ttl in days and hours", head + "targets: [{repository: o/r, ttl: 1d12h}]\n", true,
			func(c *Config) bool { return c.Targets[0].TTL == 36*time.Hour }},
		{"defaults in days and minutes", head + "defaults: {ttl: 2d30m, revoke-grace: 1h30m, jitter: 0}\ntargets: [{repository: o/r}]\n", true,
			func(c *Config) bool {
				return c.Defaults.TTL == 48*time.Hour+30*time.Minute && c.Defaults.Grace == 90*time.Minute && c.Defaults.Jitter == 0
			}},
		{"audit in days and hours", head + "audit: {max-ttl: 30d12h, unused-after: 1d1h}\ntargets: [{repository: o/r}]\n", true,
			func(c *Config) bool {
				return c.Audit.MaxTTL == 30*24*time.Hour+12*time.Hour && c.Audit.UnusedAfter == 25*time.Hour
			}},
		{"daemon durations", head + "daemon: {lease-margin: 1m30s, sweep-interval: 1d, shutdown-timeout: 5m}\ntargets: [{repository: o/r}]\n", true,
			func(c *Config) bool {
				return c.Daemon.SweepInterval == 24*time.Hour && c.Daemon.LeaseMargin == 90*time.Second
			}},
		{"a sign", head + "targets: [{repository: o/r, revoke-grace: -0s}]\n", false, nil},
		{"a plus sign", head + "targets: [{repository: o/r, ttl: +3d}]\n", false, nil},
		{"half days", head + "targets: [{repository: o/r, ttl: 1.5d}]\n", false, nil},
		{"days last", head + "targets: [{repository: o/r, ttl: 12h1d}]\n", false, nil},
		{"weeks", head + "targets: [{repository: o/r, ttl: 1w}]\n", false, nil},
		{"a bare number", head + "targets: [{repository: o/r, ttl: 72}]\n", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("c.yaml", []byte(tt.src), noEnv)
			switch {
			case tt.ok && err != nil:
				t.Fatal(err)
			case tt.ok && !tt.check(cfg):
				t.Errorf("config = %+v %+v %+v", cfg.Defaults, cfg.Daemon, cfg.Audit)
			case !tt.ok && (err == nil || !strings.Contains(err.Error(), "90m, 72h, 7d or 1d12h")):
				t.Errorf("err = %v, want a refusal with the grammar's examples", err)
			}
		})
	}
}

// A token name is counted in characters, as Groo and the Action count it.
func TestTokenNameCountedInCharacters(t *testing.T) {
	t.Parallel()
	const head = "groo: {token-env: G}\ngithub: {token-env: T}\n"
	name := strings.Repeat("é", 60) // 120 bytes
	cfg, err := Parse("c.yaml", []byte(head+"targets: [{repository: o/r, token-name: \""+name+"\"}]\n"), noEnv)
	if err != nil {
		t.Fatalf("60 characters refused: %v", err)
	}
	if cfg.Targets[0].UseCase != name {
		t.Errorf("use case = %q", cfg.Targets[0].UseCase)
	}
	long := strings.Repeat("é", groo.MaxNameLen+1)
	_, err = Parse("c.yaml", []byte(head+"targets: [{repository: o/r, token-name: \""+long+"\"}]\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), "101 characters, more than the 100 Groo accepts") {
		t.Errorf("err = %v, want 101 characters refused", err)
	}
}

// groo.api-url, else GROO_ACCOUNTS_URL, else the default: the Action's
// precedence (groo.ResolveBaseURL). The variable used to beat the file.
func TestGrooURLPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, groo, env, want, from string
	}{
		{"the file beats the variable", "{api-url: \"https://groo.internal/\", token-env: G}", "http://127.0.0.1:9", "https://groo.internal", groo.FromExplicit},
		{"the default written out still beats the variable", "{api-url: https://accounts.groo.dev, token-env: G}", "http://127.0.0.1:9", groo.DefaultBaseURL, groo.FromExplicit},
		{"the variable beats the default", "{token-env: G}", "http://127.0.0.1:9/", "http://127.0.0.1:9", groo.FromEnv},
		{"the default", "{token-env: G}", "", groo.DefaultBaseURL, groo.FromDefault},
		{"a blank variable is not set", "{token-env: G}", "  ", groo.DefaultBaseURL, groo.FromDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "groo: " + tt.groo + "\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n"
			cfg, err := Parse("c.yaml", []byte(src), func(k string) string { return map[string]string{groo.EnvBaseURL: tt.env}[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Groo.APIURL != tt.want || cfg.Groo.APIURLFrom != tt.from {
				t.Errorf("groo url = %q from %q, want %q from %q", cfg.Groo.APIURL, cfg.Groo.APIURLFrom, tt.want, tt.from)
			}
		})
	}
	// A variable the file overrides is not checked: it is not used.
	src := "groo: {api-url: \"https://groo.internal\", token-env: G}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n"
	if _, err := Parse("c.yaml", []byte(src), func(string) string { return "http://groo.example" }); err != nil {
		t.Errorf("an unused GROO_ACCOUNTS_URL was checked: %v", err)
	}
}

// store takes what the store opens, and only that: sqlite://, postgres://,
// postgresql:// and libpq key=value DSNs; store-password-file for the
// PostgreSQL ones, resolved next to the file.
func TestStoreDSNs(t *testing.T) {
	t.Parallel()
	const head = "groo: {token-env: G}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n"
	dir := t.TempDir()
	tests := []struct {
		name, extra string
		want        string // a regexp one error line must match; "" = accepted
		pwFile      string
	}{
		{"sqlite", "store: sqlite:///var/lib/pat-rotator/state.db\n", "", ""},
		{"postgres URL", "store: \"postgres://rotator@db.internal:5432/rotator?sslmode=verify-full\"\nstore-password-file: secrets/db\n", "", filepath.Join(dir, "secrets/db")},
		{"postgresql URL", "store: \"postgresql://rotator@db.internal/rotator\"\n", "", ""},
		{"libpq key=value", "store: \"host=db.internal port=5432 dbname=rotator user=rotator sslmode=require\"\nstore-password-file: /run/secrets/db\n", "", "/run/secrets/db"},
		{"no scheme", "store: /var/lib/x.db\n", `^c\.yaml:4: store: "/var/lib/x\.db" is not a store DSN: unknown DSN`, ""},
		{"sqlite without a path", "store: \"sqlite://\"\n", `^c\.yaml:4: store: "sqlite://" is not a store DSN: empty path`, ""},
		{"a password file for sqlite", "store: sqlite://./x.db\nstore-password-file: pw\n", `^c\.yaml:5: store-password-file: a sqlite:// store has no password`, ""},
		{"an sslmode pgx refuses", "store: \"postgres://rotator@db.internal/rotator?sslmode=sometimes\"\n", `^c\.yaml:4: store: .* is not a store DSN: .*sslmode`, ""},
		{"a key=value string pgx cannot read", "store: \"host=db.internal dbname='rotator\"\n", `^c\.yaml:4: store: .* is not a store DSN`, ""},
		{"a password in the URL", "store: \"postgres://rotator:hunter2hunter2@db.internal/rotator\"\n", `^c\.yaml:4: store: the DSN holds a password \(not shown\); .*store-password-file`, ""},
		{"a password query parameter", "store: \"postgres://rotator@db.internal/rotator?password=hunter2hunter2\"\n", `^c\.yaml:4: store: the DSN holds a password \(not shown\)`, ""},
		{"a libpq password", "store: \"host=db.internal user=rotator password=hunter2hunter2\"\n", `^c\.yaml:4: store: the DSN holds a password \(not shown\)`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse(filepath.Join(dir, "c.yaml"), []byte(head+tt.extra), noEnv)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.StorePasswordFile != tt.pwFile {
					t.Errorf("password file = %q, want %q", cfg.StorePasswordFile, tt.pwFile)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %q", cfg.Store)
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			if !regexp.MustCompile("(?m)" + tt.want).MatchString(msg) {
				t.Errorf("no error matches %s in:\n%s", tt.want, msg)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("the password is echoed:\n%s", msg)
			}
		})
	}
}
