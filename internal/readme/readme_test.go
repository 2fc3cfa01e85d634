// Package readme keeps the README honest: its first commands, its examples
// and its configuration blocks are run or parsed here.
package readme

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/config"
)

const root = "../.."

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var fence = regexp.MustCompile("(?s)```(\\w*)\\n(.*?)```")

type block struct{ lang, body string }

func blocks(t *testing.T) []block {
	var out []block
	for _, m := range fence.FindAllStringSubmatch(readme(t), -1) {
		out = append(out, block{m[1], m[2]})
	}
	return out
}

func TestReadmeStartsWithTheTwoCommands(t *testing.T) {
	t.Parallel()
	b := blocks(t)
	if len(b) == 0 {
		t.Fatal("README has no code block")
	}
	first := b[0].body
	for _, cmd := range []string{"go run ./cmd/pat-rotator demo", "make test"} {
		if !strings.Contains(first, cmd) {
			t.Errorf("README's first block lacks %q", cmd)
		}
	}
	if i := strings.Index(readme(t), "```"); i > 20 {
		t.Errorf("README's first code block starts at byte %d; the two commands come first", i)
	}
}

// Every YAML block parses; those that are pat-rotator configurations (they
// have targets) pass the same validation as `pat-rotator validate`.
func TestReadmeYAMLBlocks(t *testing.T) {
	t.Parallel()
	env := func(string) string { return "" }
	n := 0
	for i, b := range blocks(t) {
		if b.lang != "yaml" {
			continue
		}
		n++
		var v any
		if err := yaml.Unmarshal([]byte(b.body), &v); err != nil {
			t.Errorf("yaml block %d does not parse: %v\n%s", i, err, b.body)
			continue
		}
		if strings.Contains(b.body, "\ntargets:") {
			if _, err := config.Parse("README.md block "+strconv.Itoa(i), []byte(b.body), env); err != nil {
				t.Errorf("README configuration block %d is refused: %v", i, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no yaml block found")
	}
}

func TestExampleRotatorConfigValidates(t *testing.T) {
	t.Parallel()
	if _, err := config.Load(filepath.Join(root, "examples", "rotator.yaml"), func(string) string { return "" }); err != nil {
		t.Fatalf("examples/rotator.yaml: %v", err)
	}
}

// TestTryScript runs examples/try.sh, the README's "Try it now", end to end.
func TestTryScript(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("bash", filepath.Join(root, "examples", "try.sh"))
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("examples/try.sh: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"rotated<<", "\ntrue\n", "tok_bootstrap                revoked", "<- in the secret", "violations: none"} {
		if !strings.Contains(s, want) {
			t.Errorf("try.sh output lacks %q:\n%s", want, s)
		}
	}
	// The seed's token appears only in the runner's mask command.
	seed := "groo_pat_0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a"
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, seed) && !strings.HasPrefix(line, "::add-mask::") {
			t.Errorf("the token leaked outside its mask: %q", line)
		}
	}
}

// The README's table of pat-rotator commands matches the binary: every
// command of the binary has a row, and every flag a row shows is one that
// `pat-rotator help CMD` lists (written --flag, as there). The exit-code
// table lists 0 to 3.
func TestReadmeRotatorCommands(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "pat-rotator")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pat-rotator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	help := func(args ...string) string {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("pat-rotator %v: %v", args, err)
		}
		return string(out)
	}
	text := readme(t)
	rows := regexp.MustCompile("(?m)^\\| `pat-rotator ([a-z]+)([^`]*)`").FindAllStringSubmatch(text, -1)
	inReadme := map[string]bool{}
	flagName := regexp.MustCompile(`(^|[\s\[])(-{1,2})([a-z][a-z-]*)`)
	for _, r := range rows {
		cmd, rest := r[1], r[2]
		inReadme[cmd] = true
		if cmd == "help" {
			continue
		}
		h := help("help", cmd)
		for _, m := range flagName.FindAllStringSubmatch(rest, -1) {
			if m[2] != "--" {
				t.Errorf("README writes %s%s in `pat-rotator %s`; write --%s", m[2], m[3], cmd, m[3])
			}
			if !strings.Contains(h, "\n  --"+m[3]) {
				t.Errorf("README shows --%s for `pat-rotator %s`, which `pat-rotator help %s` does not list", m[3], cmd, cmd)
			}
		}
	}
	usage := help("--help")
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+) `).FindAllStringSubmatch(usage, -1) {
		if cmd := m[1]; cmd != "help" && cmd != "version" && !inReadme[cmd] {
			t.Errorf("the README's command table lacks `pat-rotator %s`", cmd)
		}
	}
	for code := range 4 {
		if !strings.Contains(text, "\n| "+strconv.Itoa(code)+" | ") {
			t.Errorf("the README's exit-code table lacks %d", code)
		}
	}
}
