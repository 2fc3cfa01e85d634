package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `pat-rotator validate` refuses what GitHub would take for one secret, or
// not take at all, with file:line and the fix, and lists no target.
func TestValidateRefusesNamesAndCaseDuplicates(t *testing.T) {
	t.Parallel()
	const head = "groo: {token-env: G}\ngithub: {token-env: T}\ntargets:\n"
	tests := []struct {
		name    string
		targets string
		want    []string
	}{
		{"targets differing only in case", "  - repository: octo/app\n  - repository: Octo/App\n",
			[]string{":5: targets[1]: use case \"GitHub Actions - Octo/App GROO_PAT\" is already the use case of repo:octo/app GROO_PAT (line 4)"}},
		{"secret names differing only in case", "  - {repository: octo/app, secret: GROO_PAT, token-name: a}\n  - {repository: octo/APP, secret: Groo_Pat, token-name: b}\n",
			[]string{":5: targets[1]: repo:octo/APP Groo_Pat is already written by the target at line 4"}},
		{"bad names", "  - repository: octo-/app\n  - {repository: octo/app, environment: \"prod?x\"}\n  - organization: a--b\n",
			[]string{":4: targets[0].repository:", "starts or ends with a hyphen", ":5: targets[1].environment:", "'?'", ":6: targets[2].organization:", "two hyphens"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "rotator.yaml")
			if err := os.WriteFile(file, []byte(head+tt.targets), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			err := realMain(context.Background(), []string{"validate", "--config", file}, &out, &errb, noEnv)
			if err == nil {
				t.Fatalf("validate accepted it:\n%s", out.String())
			}
			all := errb.String() + err.Error()
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if strings.Contains(out.String(), "valid,") {
				t.Errorf("validate said valid:\n%s", out.String())
			}
		})
	}
}
