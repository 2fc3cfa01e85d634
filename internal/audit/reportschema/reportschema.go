// Package reportschema checks audit reports in JSON against the published
// schema, docs/audit-report.schema.json. kin-openapi (already a dependency,
// for the GitHub conformance tests) runs a full JSON Schema 2020-12
// validator ($defs, $ref, const, type arrays, enum), so what is tested is
// the published schema itself, not a hand-written copy of it. Its strict
// mode (ForbidExtraProperties) also serves the Helm chart's tests.
package reportschema

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/getkin/kin-openapi/openapi3"
)

// Schema is a loaded report schema.
type Schema struct{ s *openapi3.Schema }

// Load reads the schema file. Strict forbids undeclared properties in every
// object: the published schema lets consumers accept fields added later,
// but the project's own output must declare every field it has.
func Load(path string, strict bool) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report schema: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("report schema %s is not JSON: %w", path, err)
	}
	if m["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		return nil, fmt.Errorf("report schema %s: $schema is %v, want draft 2020-12", path, m["$schema"])
	}
	if strict {
		ForbidExtraProperties(m)
	}
	if b, err = json.Marshal(m); err != nil {
		return nil, err
	}
	var s openapi3.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("report schema %s does not load: %w", path, err)
	}
	return &Schema{s: &s}, nil
}

// ForbidExtraProperties makes every object schema under node (a decoded
// JSON schema) that declares properties refuse any other key. A node that
// says what other keys may hold (additionalProperties), or keeps unknown
// fields on purpose (Kubernetes' x-kubernetes-preserve-unknown-fields),
// stays as written. internal/helmchart applies it to Kubernetes' schemas,
// which leave every object open.
func ForbidExtraProperties(node any) {
	switch n := node.(type) {
	case map[string]any:
		_, props := n["properties"]
		_, declared := n["additionalProperties"]
		if props && !declared && n["x-kubernetes-preserve-unknown-fields"] != true {
			n["additionalProperties"] = false
		}
		for _, v := range n {
			ForbidExtraProperties(v)
		}
	case []any:
		for _, v := range n {
			ForbidExtraProperties(v)
		}
	}
}

// Validate checks one JSON document.
func (s *Schema) Validate(doc []byte) error {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return fmt.Errorf("report is not JSON: %w", err)
	}
	return s.s.VisitJSON(v, openapi3.EnableJSONSchema2020())
}
