package action

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/testkit"
)

// brokenAfter passes the first n writes to buf and fails every later one,
// as a stdout pipe does once its reader is gone.
type brokenAfter struct {
	mu     sync.Mutex
	n      int
	buf    bytes.Buffer
	writes int
}

var errBrokenPipe = errors.New("write |1: broken pipe")

func (b *brokenAfter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	if b.writes > b.n {
		return 0, errBrokenPipe
	}
	return b.buf.Write(p)
}

func TestStepLogStopsAtFirstFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		okFirst int
	}{
		{"fails at once", 0},
		{"fails after two lines", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			under := &brokenAfter{n: tc.okFirst}
			var notice bytes.Buffer
			l := NewStepLog(under, &notice)
			for range tc.okFirst {
				if _, err := l.Write([]byte("line\n")); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				if _, err := l.Write([]byte("lost\n")); !errors.Is(err, errBrokenPipe) {
					t.Errorf("write %d after the failure: %v, want the pipe's error", i, err)
				}
				if n, err := l.Lossy().Write([]byte("lost\n")); n != 5 || err != nil {
					t.Errorf("Lossy().Write = %d, %v; want 5, nil", n, err)
				}
			}
			if under.writes != tc.okFirst+1 {
				t.Errorf("%d writes reached the broken writer, want %d (none after the failure)", under.writes, tc.okFirst+1)
			}
			if c := strings.Count(notice.String(), "writing the step's log failed"); c != 1 {
				t.Errorf("notice said it %d times, want once: %q", c, notice.String())
			}
		})
	}
}

// The step's log breaks in the middle of a rotation: the rotation goes on,
// the secret is written, the old token revoked, and the final audit event
// goes to the fallback.
func TestRunRotatesWhenTheLogBreaks(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", nil)
	vars := map[string]string{"GITHUB_REPOSITORY": "octo/app"}
	for k, v := range w.inputs(map[string]string{inRevokeGrace: "0s"}) {
		vars["INPUT_"+strings.ToUpper(k)] = v
	}
	under := &brokenAfter{n: 4} // the first lines (masks, the start), then nothing
	var notice bytes.Buffer
	log := NewStepLog(under, &notice)
	fallback := &testkit.Buffer{}
	a := githubactions.New(githubactions.WithGetenv(func(k string) string { return vars[k] }), githubactions.WithWriter(log.Lossy()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Run(ctx, a, Deps{Log: log, AuditFallback: fallback,
		HTTPClient: &http.Client{Transport: ghconform.New(t, http.DefaultTransport), Timeout: time.Minute}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(notice.String(), "writing the step's log failed") {
		t.Errorf("the log did not break (%d writes); the test needs a smaller n", under.writes)
	}
	st := w.emu.State()
	sec, _ := st.Secret("repo:octo/app", "GROO_PAT")
	newTok, ok := st.TokenBySecret(sec.Value)
	if !ok || sec.Value == w.oldPAT || !newTok.Live(st.Now) {
		t.Fatalf("secret holds %+v, want a new live token", newTok)
	}
	if old, _ := st.TokenBySecret(w.oldPAT); !old.Revoked {
		t.Error("the old token is still live")
	}
	if !strings.Contains(fallback.String(), `"outcome":"succeeded"`) || !strings.Contains(fallback.String(), newTok.ID) {
		t.Errorf("no succeeded event on the fallback:\n%s", fallback.String())
	}
}
