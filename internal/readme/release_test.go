package readme

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type releaseWorkflow struct {
	Env  map[string]string `yaml:"env"`
	Jobs map[string]struct {
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
			Run  string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

var (
	verifyCommand = regexp.MustCompile(`(?m)^gh attestation verify oci://(\S+)@sha256:<digest> --owner (\S+)$`)
	envExpr       = regexp.MustCompile(`^\$\{\{ *env\.([A-Z_]+) *\}\}$`)
)

// The README's `gh attestation verify` names the image that the release
// workflow attests and pins action.yml to, and the owner that image lives
// under. The verification itself needs GitHub's attestation API, Sigstore and
// ghcr.io, so no test here runs it; this keeps the command from naming an
// image nobody attests.
func TestReadmeAttestationMatchesRelease(t *testing.T) {
	t.Parallel()
	m := verifyCommand.FindAllStringSubmatch(readme(t), -1)
	if len(m) != 1 {
		t.Fatalf("README has %d `gh attestation verify oci://IMAGE@sha256:<digest> --owner OWNER` lines, want one", len(m))
	}
	image, owner := m[0][1], m[0][2]
	if parts := strings.Split(image, "/"); len(parts) < 3 || parts[1] != owner {
		t.Errorf("README verifies %s with --owner %s: the owner is not the image's namespace", image, owner)
	}

	b, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf releaseWorkflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("release.yml: %v", err)
	}
	var imageVar string
	for k, v := range wf.Env {
		if v == image {
			imageVar = k
		}
	}
	if imageVar == "" {
		t.Fatalf("release.yml's env names no image %s (env: %v)", image, wf.Env)
	}
	attested, pinned := false, false
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "actions/attest-build-provenance@") {
				sub := s.With["subject-name"]
				if e := envExpr.FindStringSubmatch(sub); e != nil {
					sub = wf.Env[e[1]]
				}
				if sub != image {
					continue
				}
				attested = true
				if s.With["push-to-registry"] != "true" || !strings.Contains(s.With["subject-digest"], ".outputs.digest") {
					t.Errorf("release.yml attests %s without push-to-registry: true and the pushed digest: %v", image, s.With)
				}
				if job.Permissions["id-token"] != "write" || job.Permissions["attestations"] != "write" {
					t.Errorf("release.yml job %s attests without id-token: write and attestations: write: %v", name, job.Permissions)
				}
			}
			if strings.Contains(s.Run, "scripts/release/pin-action-image.sh") && strings.Contains(s.Run, `"$`+imageVar+`:`) {
				pinned = true
			}
		}
	}
	if !attested {
		t.Errorf("release.yml has no actions/attest-build-provenance step with subject-name %s", image)
	}
	if !pinned {
		t.Errorf("release.yml does not pin action.yml to $%s (%s) with scripts/release/pin-action-image.sh", imageVar, image)
	}

	var action struct {
		Runs struct {
			Image string `yaml:"image"`
		} `yaml:"runs"`
	}
	ab, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(ab, &action); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if rest, ok := strings.CutPrefix(action.Runs.Image, "docker://"+image); !ok || (!strings.HasPrefix(rest, ":") && !strings.HasPrefix(rest, "@sha256:")) {
		t.Errorf("action.yml runs %s, not the image %s the README verifies", action.Runs.Image, image)
	}
}
