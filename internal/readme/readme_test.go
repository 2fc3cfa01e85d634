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

	"gopkg.in/yaml.v3"

	"github.com/groo/pat-action/internal/daemon"
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
			if _, err := daemon.ParseConfig("README.md block "+strconv.Itoa(i), []byte(b.body), env); err != nil {
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
	if _, err := daemon.LoadConfig(filepath.Join(root, "examples", "rotator.yaml"), func(string) string { return "" }); err != nil {
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
