package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// errRecorder keeps what a check reported instead of failing the test.
type errRecorder struct {
	testing.TB
	errs []string
}

func (r *errRecorder) Helper() {}
func (r *errRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestNoTokenValues(t *testing.T) {
	t.Parallel()
	tok := PAT(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "state.db-wal"), []byte("x"+tok+"y"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &errRecorder{TB: t}
	NoTokenValues(r, []string{tok}, map[string]string{"the log": "clean", "the error": "failed: " + tok}, filepath.Join(dir, "state.db*"))
	if len(r.errs) != 2 || !strings.Contains(r.errs[0], "state.db-wal") || !strings.Contains(r.errs[1], "the error") {
		t.Fatalf("reported %q, want the file and the error", r.errs)
	}
	for _, e := range r.errs {
		if strings.Contains(e, tok) {
			t.Errorf("the report repeats the value: %s", e)
		}
	}
	clean := &errRecorder{TB: t}
	NoTokenValues(clean, []string{tok}, map[string]string{"the log": "clean"}, filepath.Join(dir, "none*"))
	if len(clean.errs) != 0 {
		t.Errorf("reported %q on clean texts", clean.errs)
	}
}
