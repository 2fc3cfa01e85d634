package audit

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/groo/pat-action/internal/audit/reportschema"
)

// The JSON rendering is checked against the published schema; see package
// reportschema for why kin-openapi's validator.

func TestJSONMatchesSchema(t *testing.T) {
	t.Parallel()
	schema, err := reportschema.Load(filepath.Join("..", "..", "docs", "audit-report.schema.json"), true)
	if err != nil {
		t.Fatal(err)
	}

	reports := map[string]Report{
		"fixture":       Build(fixtureInput()),
		"empty":         Build(Input{Now: fixtureNow}),
		"no credential": Build(Input{Now: fixtureNow, Credential: CredentialRef{Prefix: "groo_pat_zz", LastFour: "0000"}}),
	}
	for name, r := range reports {
		var b bytes.Buffer
		if err := RenderJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(b.Bytes()); err != nil {
			t.Errorf("%s report does not match the schema: %v\n%s", name, err, b.String())
		}
	}

	// The validator does reject: each broken copy of the fixture must fail.
	var good bytes.Buffer
	if err := RenderJSON(&good, reports["fixture"]); err != nil {
		t.Fatal(err)
	}
	breaks := map[string]func(map[string]any){
		"version 1":    func(d map[string]any) { d["version"] = 1 },
		"no unmanaged": func(d map[string]any) { delete(d, "unmanaged") },
		"credential not a token": func(d map[string]any) {
			d["credential"] = map[string]any{"id": "tok_x"}
		},
		"unmanaged count missing": func(d map[string]any) { delete(d["summary"].(map[string]any), "unmanaged_tokens") },
		"no summary":              func(d map[string]any) { delete(d, "summary") },
		"unknown severity":        func(d map[string]any) { finding0(d)["severity"] = "fatal" },
		"unknown code":            func(d map[string]any) { finding0(d)["code"] = "made-up" },
		"undeclared field":        func(d map[string]any) { finding0(d)["token_value"] = "x" },
		"bad source":              func(d map[string]any) { useCase0(d)["in_secret_source"] = "guess" },
		"last four too long": func(d map[string]any) {
			useCase0(d)["live_tokens"].([]any)[0].(map[string]any)["last_four"] = "abcdef"
		},
		"time not a string": func(d map[string]any) { d["generated_at"] = 12 },
	}
	for name, breakIt := range breaks {
		var d map[string]any
		if err := json.Unmarshal(good.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		breakIt(d)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(b); err == nil {
			t.Errorf("%s: the schema accepted a broken report", name)
		}
	}
}

func finding0(d map[string]any) map[string]any { return d["findings"].([]any)[0].(map[string]any) }
func useCase0(d map[string]any) map[string]any { return d["use_cases"].([]any)[0].(map[string]any) }
