package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The JSON rendering is checked against docs/audit-report.schema.json with
// kin-openapi (already a dependency, for the GitHub conformance tests): its
// openapi3.Schema.VisitJSON with EnableJSONSchema2020 runs a full JSON
// Schema 2020-12 validator ($defs, $ref, const, type arrays, enum), so the
// published schema is what is tested, not a hand-written copy of it. A hand
// check would only prove that the code agrees with the test.

func loadSchemaMap(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "audit-report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("docs/audit-report.schema.json is not JSON: %v", err)
	}
	return m
}

// strict forbids undeclared properties in every object schema: the
// published schema lets consumers accept fields added later, but our own
// output must declare every field it has.
func forbidExtraProperties(node any) {
	switch n := node.(type) {
	case map[string]any:
		if _, ok := n["properties"]; ok {
			n["additionalProperties"] = false
		}
		for _, v := range n {
			forbidExtraProperties(v)
		}
	case []any:
		for _, v := range n {
			forbidExtraProperties(v)
		}
	}
}

func compileSchema(t *testing.T, m map[string]any) *openapi3.Schema {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var s openapi3.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("schema does not load: %v", err)
	}
	return &s
}

func validateAgainstSchema(s *openapi3.Schema, doc []byte) error {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return err
	}
	return s.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

func TestJSONMatchesSchema(t *testing.T) {
	t.Parallel()
	m := loadSchemaMap(t)
	if m["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", m["$schema"])
	}
	forbidExtraProperties(m)
	schema := compileSchema(t, m)

	reports := map[string]Report{
		"fixture": Build(fixtureInput()),
		"empty":   Build(Input{Now: fixtureNow}),
	}
	for name, r := range reports {
		var b bytes.Buffer
		if err := RenderJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		if err := validateAgainstSchema(schema, b.Bytes()); err != nil {
			t.Errorf("%s report does not match the schema: %v\n%s", name, err, b.String())
		}
	}

	// The validator does reject: each broken copy of the fixture must fail.
	var good bytes.Buffer
	if err := RenderJSON(&good, reports["fixture"]); err != nil {
		t.Fatal(err)
	}
	breaks := map[string]func(map[string]any){
		"version 2":        func(d map[string]any) { d["version"] = 2 },
		"no summary":       func(d map[string]any) { delete(d, "summary") },
		"unknown severity": func(d map[string]any) { finding0(d)["severity"] = "fatal" },
		"unknown code":     func(d map[string]any) { finding0(d)["code"] = "made-up" },
		"undeclared field": func(d map[string]any) { finding0(d)["token_value"] = "x" },
		"bad source":       func(d map[string]any) { useCase0(d)["in_secret_source"] = "guess" },
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
		if err := validateAgainstSchema(schema, b); err == nil {
			t.Errorf("%s: the schema accepted a broken report", name)
		}
	}
}

func finding0(d map[string]any) map[string]any { return d["findings"].([]any)[0].(map[string]any) }
func useCase0(d map[string]any) map[string]any { return d["use_cases"].([]any)[0].(map[string]any) }
