package config

import (
	"bytes"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

const hygieneHead = "groo: {token-env: GROO_ROTATOR_PAT}\ngithub: {token-env: GITHUB_TOKEN}\n"

// TestParseConfigRefusesUnsafeText: no configuration error echoes a PAT,
// wherever it is written (a key, a nested key, any letter case) or a URL's
// password, and every string with a line break or control character is
// refused at its line with the fix, without echoing it.
func TestParseConfigRefusesUnsafeText(t *testing.T) {
	t.Parallel()
	hex := strings.Repeat("ab12", 16)
	pat := "groo_pat_" + hex
	tests := []struct {
		name    string
		src     string
		want    string   // a regexp one error line must match
		secrets []string // what no error may hold, in any case
	}{
		{"PAT as a root key", hygieneHead + pat + ": x\ntargets: [{repository: o/r}]\n",
			`^c\.yaml:3: groo_pat_…: this value looks like a credential \(a Groo PAT`, []string{hex}},
		{"PAT as a nested key", hygieneHead + "targets:\n  - repository: o/r\n    " + pat + ": x\n",
			`^c\.yaml:5: targets\[0\]\.groo_pat_…: this value looks like a credential`, []string{hex}},
		{"upper-cased PAT value", hygieneHead + "targets:\n  - {repository: octo/app, secret: " + strings.ToUpper(pat) + "}\n",
			`^c\.yaml:4: targets\[0\]\.secret: this value looks like a credential \(a Groo PAT`, []string{hex}},
		{"newline in environment", hygieneHead + "targets:\n  - {repository: octo/app, environment: \"prod\\n::error::x\"}\n",
			`^c\.yaml:4: targets\[0\]\.environment: a line break \(\\n, U\+000A\) at character 5 in a configuration string; every value is single-line text: remove it`, []string{"::error::x", "prod\n"}},
		{"block scalar", hygieneHead + "targets:\n  - repository: octo/app\n    token-name: |\n      GitHub Actions\n",
			`^c\.yaml:5: targets\[0\]\.token-name: a line break .* single-line text`, nil},
		{"tab in schedule", hygieneHead + "defaults: {schedule: \"0 3 * *\\t*\"}\ntargets: [{repository: o/r}]\n",
			`^c\.yaml:3: defaults\.schedule: a control character \(\\t, U\+0009\)`, nil},
		{"escape in a key", hygieneHead + "\"x\\e[31m\": 1\ntargets: [{repository: o/r}]\n",
			`^c\.yaml:3: x\\x1b\[31m: a control character \(\\x1b, U\+001B\)`, []string{"\x1b"}},
		{"bidi override in a name", hygieneHead + "targets:\n  - {repository: octo/app, token-name: \"a\\u202Eb\"}\n",
			`^c\.yaml:4: targets\[0\]\.token-name: a bidirectional control character \(\\u202e, U\+202E\)`, []string{"\u202e"}},
		{"groo api-url with a password", "groo: {token-env: G, api-url: \"http://user:s3cretpass@groo.example\"}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n",
			`^c\.yaml:1: groo\.api-url: "http://groo\.example" holds user info.*token-env`, []string{"s3cretpass", "user:"}},
		{"store DSN with a password", hygieneHead + "store: \"postgres://rotator:dbpassw0rd@db.internal:5432/rotator?sslmode=verify-full\"\ntargets: [{repository: o/r}]\n",
			`^c\.yaml:3: store: the DSN holds a password \(not shown\).*store-password-file`, []string{"dbpassw0rd", "rotator:"}},
		{"libpq DSN with a password", hygieneHead + "store: \"host=db.internal dbname=rotator user=rotator password='dbpassw0rd'\"\ntargets: [{repository: o/r}]\n",
			`^c\.yaml:3: store: the DSN holds a password \(not shown\).*store-password-file`, []string{"dbpassw0rd"}},
		{"github api-url with a token as user", "groo: {token-env: G}\ngithub: {token-env: T, api-url: \"https://" + pat + "@api.github.com\"}\ntargets: [{repository: o/r}]\n",
			`^c\.yaml:2: github\.api-url: this value looks like a credential`, []string{hex}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("c.yaml", []byte(tt.src), noEnv)
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			msg := err.Error()
			found := false
			for _, l := range strings.Split(msg, "\n") {
				if regexp.MustCompile(tt.want).MatchString(l) {
					found = true
				}
				if !regexp.MustCompile(`^c\.yaml:\d+: `).MatchString(l) {
					t.Errorf("error line without file:line: %q", l)
				}
				if strings.ContainsAny(l, "\r\t\x1b\u202e") {
					t.Errorf("error line holds a control character: %q", l)
				}
			}
			if !found {
				t.Errorf("no error matches %s in:\n%s", tt.want, msg)
			}
			for _, s := range tt.secrets {
				if strings.Contains(strings.ToLower(msg), strings.ToLower(s)) {
					t.Errorf("error echoes %q:\n%s", s, msg)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Line == 0 {
				t.Errorf("errors.As Error = %+v", ce)
			}
		})
	}
}

// TestConfigLogValueHidesUserInfo: a store DSN with a password (Parse
// refuses one; a Config built by hand may hold it) and the URLs are logged
// without their user info.
func TestConfigLogValueHidesUserInfo(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("c.yaml", []byte(hygieneHead+"store: \"postgres://rotator@db.internal/rotator\"\ntargets: [{repository: o/r}]\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = "postgres://rotator:dbpassw0rd@db.internal/rotator"
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", cfg)
	if strings.Contains(buf.String(), "dbpassw0rd") || !strings.Contains(buf.String(), "db.internal") {
		t.Errorf("log: %s", buf.String())
	}
}

// TestParseConfigKeepsNamesLikeTokens: names that merely start like a token
// (a secret GROO_PAT_PROD, a variable GITHUB_PAT_WRITER) are not credentials.
func TestParseConfigKeepsNamesLikeTokens(t *testing.T) {
	t.Parallel()
	src := "groo: {token-env: GROO_PAT_ROTATOR}\ngithub: {token-env: GITHUB_PAT_WRITER}\ntargets:\n  - {repository: octo/app, secret: GROO_PAT_PRODUCTION}\n"
	cfg, err := Parse("c.yaml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GitHub.TokenEnv != "GITHUB_PAT_WRITER" || cfg.Targets[0].Target.Name != "GROO_PAT_PRODUCTION" {
		t.Errorf("config = %+v %+v", cfg.GitHub, cfg.Targets[0].Target)
	}
}
