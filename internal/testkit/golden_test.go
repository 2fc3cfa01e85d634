package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTB records what Golden reports instead of failing the test.
type fakeTB struct {
	testing.TB
	errs []string
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return "TestSomething/sub" }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func TestGolden(t *testing.T) {
	if Updating() {
		t.Skip("-update: nothing to compare")
	}
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeTB{TB: t}
	Golden(f, path, []byte("a\nb\nc\n"))
	if len(f.errs) != 0 {
		t.Fatalf("equal contents reported: %q", f.errs)
	}
	Golden(f, path, []byte("a\nB\nc\n"))
	if len(f.errs) != 1 {
		t.Fatalf("a difference reported %d times, want once", len(f.errs))
	}
	for _, want := range []string{"  a\n- b\n+ B\n  c\n", "run `go test ./internal/testkit -run '^TestSomething$' -update` if the change is intended"} {
		if !strings.Contains(f.errs[0], want) {
			t.Errorf("the report lacks %q:\n%s", want, f.errs[0])
		}
	}
}

func TestLineDiff(t *testing.T) {
	var want, got strings.Builder
	for i := range 20 {
		fmt.Fprintf(&want, "line %d\n", i)
		if i != 10 {
			fmt.Fprintf(&got, "line %d\n", i)
		}
	}
	got.WriteString("last")
	d := lineDiff([]byte(want.String()), []byte(got.String()))
	const wantDiff = "  ...\n  line 7\n  line 8\n  line 9\n- line 10\n  line 11\n  line 12\n  line 13\n  ...\n" +
		"  line 17\n  line 18\n  line 19\n+ last\n\\ no newline at end of file\n"
	if d != wantDiff {
		t.Errorf("diff:\n%s\nwant:\n%s", d, wantDiff)
	}
}
