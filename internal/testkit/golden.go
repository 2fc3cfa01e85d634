package testkit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// update is the one -update flag: every test binary that imports testkit
// accepts it. Run `go test ./PKG -update` to rewrite PKG's golden files.
var update = flag.Bool("update", false, "rewrite the golden files (testkit.Golden) and other generated test files")

// Updating reports whether the test binary runs with -update, for tests that
// rewrite generated files other than through Golden (the README's tables).
func Updating() bool { return *update }

// Golden compares got with the golden file at path (relative to the test's
// package directory). On a difference it fails the test with a line diff and
// the command that rewrites the file; with -update it writes got to path
// instead (creating its directory) and passes.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v\n%s", err, updateHint(t, "to create it"))
	}
	if bytes.Equal(got, want) {
		return
	}
	t.Errorf("%s differs from the golden file (- want, + got):\n%s%s", path, lineDiff(want, got), updateHint(t, "if the change is intended"))
}

// updateHint is the command that rewrites the calling test's golden files.
func updateHint(t testing.TB, why string) string {
	top, _, _ := strings.Cut(t.Name(), "/")
	return fmt.Sprintf("run `go test ./%s -run '^%s$' -update` %s", pkgDir(), top, why)
}

var (
	pkgDirOnce sync.Once
	pkgDirRel  string
)

// pkgDir is the test's package directory relative to the module root (the
// directory holding go.mod), with forward slashes; "PKG" when not found.
func pkgDir() string {
	pkgDirOnce.Do(func() {
		pkgDirRel = "PKG"
		wd, err := os.Getwd()
		if err != nil {
			return
		}
		for dir := wd; ; {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if rel, err := filepath.Rel(dir, wd); err == nil {
					pkgDirRel = filepath.ToSlash(rel)
				}
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return
			}
			dir = parent
		}
	})
	return pkgDirRel
}

// diffContext is how many equal lines a diff shows around a change.
const diffContext = 3

// lineDiff is a line diff of want and got: changed lines prefixed with "-"
// (want) and "+" (got), diffContext equal lines around them, "..." for equal
// lines left out. A last line without a newline is marked. Inputs too large
// for a quick diff are shown whole instead.
func lineDiff(want, got []byte) string {
	a, b := splitLines(want), splitLines(got)
	if len(a)*len(b) > 4_000_000 {
		return fmt.Sprintf("--- want ---\n%s\n--- got ---\n%s\n", want, got)
	}
	// lcs[i][j]: the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int32, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte // ' ', '-' or '+'
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i++
			j++
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', a[i]})
			i++
		default:
			lines = append(lines, line{'+', b[j]})
			j++
		}
	}
	// Show a line when a change is within diffContext lines of it.
	show := make([]bool, len(lines))
	for k, l := range lines {
		if l.op == ' ' {
			continue
		}
		for c := max(0, k-diffContext); c <= min(len(lines)-1, k+diffContext); c++ {
			show[c] = true
		}
	}
	var sb strings.Builder
	skipped := false
	for k, l := range lines {
		if !show[k] {
			skipped = true
			continue
		}
		if skipped {
			sb.WriteString("  ...\n")
			skipped = false
		}
		sb.WriteByte(l.op)
		sb.WriteByte(' ')
		if text, ok := strings.CutSuffix(l.text, "\n"); ok {
			sb.WriteString(text)
			sb.WriteByte('\n')
		} else {
			sb.WriteString(l.text)
			sb.WriteString("\n\\ no newline at end of file\n")
		}
	}
	if skipped {
		sb.WriteString("  ...\n")
	}
	return sb.String()
}

// splitLines splits s after each newline; a last line without one is kept.
func splitLines(s []byte) []string {
	lines := strings.SplitAfter(string(s), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
