package ghconform

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// prune keeps of GitHub's description what request validation reads: every
// path and operation with its parameters and request body, and the
// components they reference, transitively. It drops the responses (most of
// the document), the webhooks and whatever only they reference. Loading the
// whole description takes kin-openapi seconds (twenty under -race), once
// per test binary; the pruned one a fraction of that. Requests are judged
// exactly as before: nothing a request is checked against is removed.
func prune(data []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("decode description: %w", err)
	}
	delete(top, "x-webhooks")

	var paths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top["paths"], &paths); err != nil {
		return nil, fmt.Errorf("decode paths: %w", err)
	}
	// Responses are not validated; an operation still needs one to be an
	// OpenAPI operation.
	minimal := json.RawMessage(`{"default":{"description":"pruned: requests are validated, responses are not"}}`)
	var err error
	for _, item := range paths {
		for method, raw := range item {
			if !httpMethods[method] {
				continue
			}
			var op map[string]json.RawMessage
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("decode operation: %w", err)
			}
			op["responses"] = minimal
			// Prose and examples: no bearing on what a request may be.
			for _, k := range []string{"description", "summary", "externalDocs", "x-github", "x-octokit"} {
				delete(op, k)
			}
			if rb, ok := op["requestBody"]; ok {
				if op["requestBody"], err = dropExamples(rb); err != nil {
					return nil, err
				}
			}
			b, err := json.Marshal(op)
			if err != nil {
				return nil, err
			}
			item[method] = b
		}
	}
	pathsJSON, err := json.Marshal(paths)
	if err != nil {
		return nil, err
	}
	top["paths"] = pathsJSON

	var comps map[string]map[string]json.RawMessage
	if err := json.Unmarshal(top["components"], &comps); err != nil {
		return nil, fmt.Errorf("decode components: %w", err)
	}
	kept := map[string]map[string]json.RawMessage{}
	queue := [][]byte{pathsJSON}
	for len(queue) > 0 {
		b := queue[0]
		queue = queue[1:]
		for _, m := range componentRef.FindAllSubmatch(b, -1) {
			kind, name := string(m[1]), string(m[2])
			if kept[kind] == nil {
				kept[kind] = map[string]json.RawMessage{}
			}
			if _, done := kept[kind][name]; done {
				continue
			}
			c, ok := comps[kind][name]
			if !ok {
				return nil, fmt.Errorf("description refers to missing #/components/%s/%s", kind, name)
			}
			kept[kind][name] = c
			queue = append(queue, c)
		}
	}
	if top["components"], err = json.Marshal(kept); err != nil {
		return nil, err
	}
	return json.Marshal(top)
}

// componentRef matches local references; names in GitHub's description are
// plain (no "~" or "/" escapes).
var componentRef = regexp.MustCompile(`"\$ref"\s*:\s*"#/components/([A-Za-z]+)/([^"/~]+)"`)

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true, "trace": true}

// dropExamples removes the examples of a request body's media types (a
// $ref body is left alone).
func dropExamples(raw json.RawMessage) (json.RawMessage, error) {
	var rb map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rb); err != nil {
		return nil, fmt.Errorf("decode request body: %w", err)
	}
	content, ok := rb["content"]
	if !ok {
		return raw, nil
	}
	var media map[string]map[string]json.RawMessage
	if err := json.Unmarshal(content, &media); err != nil {
		return nil, fmt.Errorf("decode request body content: %w", err)
	}
	for _, m := range media {
		delete(m, "examples")
		delete(m, "example")
	}
	b, err := json.Marshal(media)
	if err != nil {
		return nil, err
	}
	rb["content"] = b
	return json.Marshal(rb)
}
