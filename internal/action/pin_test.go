package action

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const pinScript = "../../scripts/release/pin-action-image.sh"

// TestPinActionImageRefuses runs the release's pin script on refusals that
// need no registry: a malformed reference or --expect digest, and action.yml
// files not in the shape it rewrites. Each must exit non-zero with a message
// naming the problem, leave the file byte for byte as it was, and stop
// before it installs or runs crane (its tools directory stays empty). The
// script's success path, against a real registry, is checked by
// scripts/container/act-e2e.sh (make e2e-act).
func TestPinActionImageRefuses(t *testing.T) {
	t.Parallel()
	real, err := os.ReadFile(actionYMLPath)
	if err != nil {
		t.Fatal(err)
	}
	runs := func(body string) string { return "name: x\nruns:\n" + body }
	const ref = "ghcr.io/groo/pat-action:v1.2.3"
	for _, tc := range []struct {
		name, actionYML string
		args            []string
		want            string
	}{
		{"no registry", "", []string{"groo/pat-action:v1"}, "'groo' is no registry host"},
		{"no slash", "", []string{"pat-action:v1"}, "has no registry"},
		{"no tag", "", []string{"ghcr.io/groo/pat-action"}, "has no tag"},
		{"empty tag", "", []string{"ghcr.io/groo/pat-action:"}, "is no valid tag"},
		{"bad tag", "", []string{"ghcr.io/groo/pat-action:-v1"}, "'-v1' is no valid tag"},
		{"uppercase repository", "", []string{"ghcr.io/groo/Pat-Action:v1"}, "repository 'groo/Pat-Action' is not lowercase"},
		{"empty component", "", []string{"ghcr.io/groo//pat-action:v1"}, "repository 'groo//pat-action'"},
		{"empty repository", "", []string{"ghcr.io/:v1"}, "has an empty repository"},
		{"by digest", "", []string{"ghcr.io/groo/pat-action@sha256:" + strings.Repeat("a", 64)}, "is already by digest"},
		{"no reference", "", nil, "usage:"},
		{"two references", "", []string{ref, ref}, "usage:"},
		{"unknown flag", "", []string{"--force", ref}, "usage:"},
		{"bad expect", "", []string{"--expect", "sha256:abc", ref}, "--expect 'sha256:abc' is not a digest"},
		{"no runs", "name: x\n", []string{ref}, "no top-level runs: mapping"},
		{"node action", runs("  using: node20\n  main: index.js\n"), []string{ref}, `runs.using is "node20", want docker`},
		{"composite action", runs("  using: composite\n  steps: []\n"), []string{ref}, `runs.using is "composite", want docker`},
		{"no image", runs("  using: docker\n"), []string{ref}, "runs has 0 image: lines, want exactly one"},
		{"two images", runs("  using: docker\n  image: docker://ghcr.io/a/b:v1\n  image: docker://ghcr.io/a/c:v1\n"), []string{ref}, "runs has 2 image: lines"},
		{"Dockerfile image", runs("  using: docker\n  image: Dockerfile\n"), []string{ref}, "want 'image: docker://REGISTRY/REPOSITORY:TAG'"},
		{"image without tag", runs("  using: docker\n  image: docker://ghcr.io/groo/pat-action\n"), []string{ref}, "is not in the expected shape"},
		{"image with a comment", runs("  using: docker\n  image: docker://ghcr.io/groo/pat-action:v1 # moving\n"), []string{ref}, "is not in the expected shape"},
		{"short digest", runs("  using: docker\n  image: docker://ghcr.io/groo/pat-action@sha256:abc\n"), []string{ref}, "is not in the expected shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := filepath.Join(dir, "action.yml")
			content := real
			if tc.actionYML != "" {
				content = []byte(tc.actionYML)
			}
			if err := os.WriteFile(file, content, 0o644); err != nil {
				t.Fatal(err)
			}
			tools := filepath.Join(dir, "tools")
			if err := os.Mkdir(tools, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", append([]string{pinScript, "--action-yml", file}, tc.args...)...)
			cmd.Env = append(os.Environ(), "PAT_TOOLS_DIR="+tools)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("want exit status 1, got %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("a refusal printed %q on stdout, where the pinned image goes", stdout.String())
			}
			after, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, content) {
				t.Errorf("a refusal changed action.yml:\n%s", after)
			}
			if entries, err := os.ReadDir(tools); err != nil || len(entries) != 0 {
				t.Errorf("the script reached crane before refusing (tools dir: %v, %v)", entries, err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 2 {
				t.Errorf("a refusal left files beside action.yml: %v", entries)
			}
		})
	}
}
