package action

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/testkit"
)

// docsPath holds the inputs and outputs tables that must equal action.yml.
// The lead moves them into README.md: change this one constant then.
const docsPath = "../../README.md"

const actionYMLPath = "../../action.yml"

type actionYML struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Author      string `yaml:"author"`
	Branding    struct {
		Icon  string `yaml:"icon"`
		Color string `yaml:"color"`
	} `yaml:"branding"`
	Inputs  yaml.Node `yaml:"inputs"` // a node, to keep the file's order
	Outputs yaml.Node `yaml:"outputs"`
	Runs    struct {
		Using string `yaml:"using"`
		Image string `yaml:"image"`
	} `yaml:"runs"`
}

type ymlInput struct {
	Name        string
	Description string  `yaml:"description"`
	Required    bool    `yaml:"required"`
	Default     *string `yaml:"default"`
}

type ymlOutput struct {
	Name        string
	Description string `yaml:"description"`
}

func loadActionYML(t *testing.T) (actionYML, []ymlInput, []ymlOutput) {
	t.Helper()
	b, err := os.ReadFile(actionYMLPath)
	if err != nil {
		t.Fatal(err)
	}
	var a actionYML
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("parse action.yml: %v", err)
	}
	var ins []ymlInput
	for i := 0; i+1 < len(a.Inputs.Content); i += 2 {
		var in ymlInput
		if err := a.Inputs.Content[i+1].Decode(&in); err != nil {
			t.Fatalf("input %s: %v", a.Inputs.Content[i].Value, err)
		}
		in.Name = a.Inputs.Content[i].Value
		ins = append(ins, in)
	}
	var outs []ymlOutput
	for i := 0; i+1 < len(a.Outputs.Content); i += 2 {
		var o ymlOutput
		if err := a.Outputs.Content[i+1].Decode(&o); err != nil {
			t.Fatalf("output %s: %v", a.Outputs.Content[i].Value, err)
		}
		o.Name = a.Outputs.Content[i].Value
		outs = append(outs, o)
	}
	return a, ins, outs
}

var actionImage = regexp.MustCompile(`^docker://ghcr\.io/groo/pat-action(:v1|@sha256:[0-9a-f]{64})$`)

// TestActionYML pins action.yml to the issue: the container image, the exact
// inputs with their defaults, the exact outputs, and a description for each.
func TestActionYML(t *testing.T) {
	t.Parallel()
	a, ins, outs := loadActionYML(t)
	if a.Name == "" || a.Description == "" || a.Author == "" || a.Branding.Icon == "" || a.Branding.Color == "" {
		t.Errorf("name, description, author and branding are all required: %+v", a)
	}
	// The prebuilt image: the moving tag between releases, pinned by digest
	// on a release commit (scripts/release/pin-action-image.sh).
	if a.Runs.Using != "docker" || !actionImage.MatchString(a.Runs.Image) {
		t.Errorf("runs = %+v, want docker with the prebuilt image (%s)", a.Runs, actionImage)
	}
	wantDefaults := map[string]string{
		"repository": "${{ github.repository }}", "secret-name": "GROO_PAT", "scope": "repository",
		"expires-in": "168h", "revoke-grace": "0s", "mode": "rotate", "export-env": "false",
		"github-api-url": "${{ github.api_url }}",
	}
	wantInputs := []string{"groo-token", "github-token", "app-id", "app-private-key", "repository", "secret-name", "scope",
		"environment", "organization", "visibility", "selected-repositories", "token-name", "expires-in", "revoke-grace",
		"mode", "export-env", "groo-api-url", "github-api-url"}
	var gotInputs []string
	for _, in := range ins {
		gotInputs = append(gotInputs, in.Name)
		if strings.TrimSpace(in.Description) == "" {
			t.Errorf("input %s has no description", in.Name)
		}
		if in.Required != (in.Name == "groo-token") {
			t.Errorf("input %s: required = %v", in.Name, in.Required)
		}
		want, hasDefault := wantDefaults[in.Name]
		switch {
		case hasDefault && (in.Default == nil || *in.Default != want):
			t.Errorf("input %s: default = %v, want %q", in.Name, in.Default, want)
		case !hasDefault && in.Default != nil:
			t.Errorf("input %s: default %q, want none", in.Name, *in.Default)
		}
	}
	if !slices.Equal(gotInputs, wantInputs) {
		t.Errorf("inputs = %v\nwant %v", gotInputs, wantInputs)
	}
	var gotOutputs []string
	for _, o := range outs {
		gotOutputs = append(gotOutputs, o.Name)
		if strings.TrimSpace(o.Description) == "" {
			t.Errorf("output %s has no description", o.Name)
		}
	}
	wantOutputs := []string{"token-id", "token-last4", "expires-at", "rotated", "revoked-token-ids", "pending-revoke-token-ids"}
	if !slices.Equal(gotOutputs, wantOutputs) {
		t.Errorf("outputs = %v\nwant %v", gotOutputs, wantOutputs)
	}
}

// TestActionYMLMatchesCode keeps the input names the binary reads equal to
// the ones action.yml declares, in both directions.
func TestActionYMLMatchesCode(t *testing.T) {
	t.Parallel()
	_, ins, outs := loadActionYML(t)
	read := map[string]bool{}
	ParseInputs(func(name string) string { read[name] = true; return "" }, func(string) string { return "" }) //nolint:errcheck // only the names matter
	for _, n := range secretInputs {
		read[n] = true
	}
	declared := map[string]bool{}
	for _, in := range ins {
		declared[in.Name] = true
		if !read[in.Name] {
			t.Errorf("action.yml declares input %s, which the binary never reads", in.Name)
		}
	}
	for n := range read {
		if !declared[n] {
			t.Errorf("the binary reads input %s, which action.yml does not declare", n)
		}
	}
	set := map[string]bool{}
	for _, kv := range outputNames {
		set[kv] = true
	}
	for _, o := range outs {
		if !set[o.Name] {
			t.Errorf("action.yml declares output %s, which the binary never sets", o.Name)
		}
		delete(set, o.Name)
	}
	for n := range set {
		t.Errorf("the binary sets output %s, which action.yml does not declare", n)
	}
}

// TestDocsTables keeps the inputs and outputs tables of the docs equal to
// action.yml. Run with -update to regenerate them.
func TestDocsTables(t *testing.T) {
	_, ins, outs := loadActionYML(t)
	var inTable bytes.Buffer
	inTable.WriteString("| Input | Required | Default | Description |\n| --- | --- | --- | --- |\n")
	for _, in := range ins {
		req, def := "no", ""
		if in.Required {
			req = "yes"
		}
		if in.Default != nil {
			def = "`" + *in.Default + "`"
		}
		fmt.Fprintf(&inTable, "| `%s` | %s | %s | %s |\n", in.Name, req, def, cell(in.Description))
	}
	var outTable bytes.Buffer
	outTable.WriteString("| Output | Description |\n| --- | --- |\n")
	for _, o := range outs {
		fmt.Fprintf(&outTable, "| `%s` | %s |\n", o.Name, cell(o.Description))
	}

	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, sec := range []struct{ name, want string }{{"inputs", inTable.String()}, {"outputs", outTable.String()}} {
		re := regexp.MustCompile(`(?s)(<!-- ` + sec.name + `:start -->\n)(.*?)(<!-- ` + sec.name + `:end -->)`)
		m := re.FindStringSubmatch(doc)
		if m == nil {
			t.Fatalf("%s: no <!-- %s:start --> ... <!-- %s:end --> markers", docsPath, sec.name, sec.name)
		}
		if m[2] == sec.want {
			continue
		}
		if testkit.Updating() {
			doc = re.ReplaceAllLiteralString(doc, m[1]+sec.want+m[3])
			continue
		}
		t.Errorf("%s: the %s table differs from action.yml; run go test ./internal/action -run TestDocsTables -update\ngot:\n%s\nwant:\n%s",
			filepath.Base(docsPath), sec.name, m[2], sec.want)
	}
	if testkit.Updating() {
		if err := os.WriteFile(docsPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cell makes a description one table cell: one line, pipes escaped.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
