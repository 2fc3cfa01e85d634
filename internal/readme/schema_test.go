package readme

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/audit/reportschema"
	"github.com/groo/pat-action/internal/config"
)

// rotatorSchema loads docs/rotator.schema.json, the configuration's schema
// for editors (yaml-language-server).
func rotatorSchema(t *testing.T) *reportschema.Schema {
	t.Helper()
	s, err := reportschema.Load(filepath.Join(root, "docs", "rotator.schema.json"), false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// asJSON is a YAML document as the JSON an editor's schema checker sees.
func asJSON(t *testing.T, src string) []byte {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	return b
}

// TestConfigurationsMatchTheSchema: the example configuration (which names
// the schema for editors) and every README configuration block pass it.
func TestConfigurationsMatchTheSchema(t *testing.T) {
	t.Parallel()
	s := rotatorSchema(t)
	ex, err := os.ReadFile(filepath.Join(root, "examples", "rotator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(ex), "# yaml-language-server: $schema=../docs/rotator.schema.json\n") {
		t.Error("examples/rotator.yaml does not name the schema for editors on its first line")
	}
	if err := s.Validate(asJSON(t, string(ex))); err != nil {
		t.Errorf("examples/rotator.yaml: %v", err)
	}
	n := 0
	for i, b := range blocks(t) {
		if b.lang != "yaml" || !strings.Contains(b.body, "\ntargets:") {
			continue
		}
		n++
		if err := s.Validate(asJSON(t, b.body)); err != nil {
			t.Errorf("README configuration block %d: %v", i, err)
		}
	}
	if n == 0 {
		t.Fatal("no configuration block in the README")
	}
}

// TestSchemaAgreesWithValidate: on files that differ in one thing, the
// schema and `pat-rotator validate` (config.Parse) give the same verdict.
func TestSchemaAgreesWithValidate(t *testing.T) {
	t.Parallel()
	s := rotatorSchema(t)
	const head = "groo: {token-env: G}\ngithub: {token-env: T}\n"
	tests := []struct {
		name string
		src  string
		ok   bool
	}{
		{"minimal", head + "targets: [{repository: octo/app}]\n", true},
		{"every section", head + "store: sqlite://./s.db\nlisten: 127.0.0.1:9464\ndefaults: {schedule: \"0 3 * * *\", ttl: 7d, revoke-grace: 15m, jitter: 10m}\n" +
			"rotation: {write-window: 2m, clock-margin: 5s}\ndaemon: {concurrency: 4, retry-min: 1m, retry-max: 1h}\n" +
			"audit: {max-ttl: off, unused-after: 30d, failed-runs: 3}\nstatus: {token-env: S}\nnotify: {webhooks: [{url-env: W, format: slack}], failed-runs: 2}\n" +
			"targets:\n  - {repository: octo/app, environment: prod/eu, ttl: 1d12h}\n  - {organization: octo, visibility: selected, selected-repositories: [app]}\n", true},
		{"github app", "groo: {token-env: G}\ngithub: {app: {id: 1, installation-id: 2, private-key-file: k.pem}}\ntargets: [{repository: o/r}]\n", true},
		{"unknown top-level key", head + "target: [{repository: o/r}]\ntargets: [{repository: o/r}]\n", false},
		{"unknown target key", head + "targets: [{repository: o/r, ttll: 3d}]\n", false},
		{"no targets", head, false},
		{"no groo credential", "groo: {}\ngithub: {token-env: T}\ntargets: [{repository: o/r}]\n", false},
		{"both github credentials", "groo: {token-env: G}\ngithub: {token-env: T, token-file: f}\ntargets: [{repository: o/r}]\n", false},
		{"repository and organization", head + "targets: [{repository: o/r, organization: o}]\n", false},
		{"neither repository nor organization", head + "targets: [{secret: X}]\n", false},
		{"a signed duration", head + "defaults: {ttl: -3d}\ntargets: [{repository: o/r}]\n", false},
		{"a duration in words", head + "targets: [{repository: o/r, ttl: 3 days}]\n", false},
		{"a value for an env name", head + "status: {token-env: \"groo_pat_x y\"}\ntargets: [{repository: o/r}]\n", false},
		{"a webhook URL inline", head + "notify: {webhooks: [{url: \"https://hooks.example/x\"}]}\ntargets: [{repository: o/r}]\n", false},
		{"a bad visibility", head + "targets: [{organization: o, visibility: internal}]\n", false},
		{"a secret name with a dash", head + "targets: [{repository: o/r, secret: GROO-PAT}]\n", false},
		{"a bad format", head + "notify: {webhooks: [{url-env: W, format: xml}]}\ntargets: [{repository: o/r}]\n", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			schemaErr := s.Validate(asJSON(t, tt.src))
			_, parseErr := config.Parse("case "+strconv.Itoa(i)+".yaml", []byte(tt.src), func(string) string { return "" })
			if (schemaErr == nil) != tt.ok || (parseErr == nil) != tt.ok {
				t.Errorf("want ok=%v; schema: %v; validate: %v", tt.ok, schemaErr, parseErr)
			}
		})
	}
}
