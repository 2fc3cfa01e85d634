package action

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"

	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/testkit"
)

// TestFileCommandsCannotBeInjected: go-githubactions v1.4.0 writes outputs
// with one fixed delimiter, so a value holding it could set any output; the
// Action's own writer uses a random delimiter per value and refuses line
// breaks in single-line values and any value holding a delimiter.
func TestFileCommandsCannotBeInjected(t *testing.T) {
	t.Parallel()
	const fixed = "_GitHubActionsFileCommandDelimeter_"
	tests := []struct {
		name, value string
		multiLine   bool
		wantErr     bool
	}{
		{"plain", "tok_1", false, false},
		{"empty", "", false, false},
		{"the library's delimiter, multi-line", "x\n" + fixed + "\nrotated=true\n" + fixed, true, false},
		{"the library's delimiter, single-line", "x\n" + fixed + "\nrotated=true", false, true},
		{"a newline in a single-line value", "tok_1\nrotated=true", false, true},
		{"a carriage return in a single-line value", "tok_1\rrotated=true", false, true},
		{"a guessed delimiter", "x\nghadelimiter_00000000000000000000000000000000\nrotated=true", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "output")
			a := githubactions.New(githubactions.WithGetenv(func(k string) string {
				if k == "GITHUB_OUTPUT" {
					return path
				}
				return ""
			}), githubactions.WithWriter(io.Discard))
			err := writeFileCommand(a, "GITHUB_OUTPUT", "token-id", tc.value, tc.multiLine)
			got := readFileCommands(t, path)
			if tc.wantErr {
				if !errors.Is(err, errUnsafeValue) {
					t.Fatalf("err = %v, want a refusal", err)
				}
				if len(got) != 0 {
					t.Errorf("a refused value was written: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got["token-id"] != tc.value {
				t.Errorf("outputs = %q, want only token-id = %q", got, tc.value)
			}
			raw, _ := os.ReadFile(path)
			if strings.Contains(string(raw), fixed+"\n") && !tc.multiLine {
				t.Errorf("the fixed delimiter is in use:\n%s", raw)
			}
		})
	}
	// Two values never share a delimiter.
	a, b := mustEntry(t, "a", "1"), mustEntry(t, "a", "1")
	if a == b || !strings.HasPrefix(a, "a<<ghadelimiter_") {
		t.Errorf("entries %q and %q", a, b)
	}
}

func mustEntry(t *testing.T, name, value string) string {
	t.Helper()
	e, err := fileCommandEntry(name, value, false)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRunAuditTableStartsNoWorkflowCommand: the audit table printed to the
// runner's log starts its rows with the use case name; a name that is a
// workflow command ("::error::...", any input or Groo token may hold one)
// must not become one.
func TestRunAuditTableStartsNoWorkflowCommand(t *testing.T) {
	t.Parallel()
	uc := "::error title=pwned::injected ##[warning]legacy"
	w := newWorld(t, uc, "repo:octo/app", func(s *emulator.Seed) {
		s.Groo.Tokens = append(s.Groo.Tokens, emulator.SeedToken{ID: "tok_stray", Name: uc, Secret: testkit.PAT(t)})
	})
	res := runStep(t, step{inputs: w.inputs(map[string]string{inMode: "audit", inTokenName: uc, inGitHubToken: ""}), noGitHub: true})
	var failed *FailedError
	if !errors.As(res.err, &failed) {
		t.Fatalf("err = %v, want the audit to fail on two live tokens\n%s", res.err, res.log)
	}
	if !strings.Contains(res.log, "tok_stray") {
		t.Fatalf("the table lacks the tokens:\n%s", res.log)
	}
	for _, l := range strings.Split(res.log, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "::error title=") || strings.HasPrefix(l, "::error::injected") || strings.Contains(l, "##[") {
			t.Errorf("log line starts a workflow command from the name: %q", l)
		}
		if strings.HasPrefix(l, "::") && !strings.HasPrefix(l, "::add-mask::") && !strings.HasPrefix(l, "::error::") && !strings.HasPrefix(l, "::warning::") {
			t.Errorf("unexpected workflow command: %q", l)
		}
	}
	if strings.Contains(res.summary, "::error title") {
		t.Errorf("summary holds the raw name:\n%s", res.summary)
	}
}

// echoTransport answers GET /v1/account/tokens with a 403 whose message
// echoes the credential upper-cased and carries a line break and a command.
type echoTransport struct {
	next http.RoundTripper
	echo string
}

func (e echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && r.URL.Path == "/v1/account/tokens" {
		body := `{"error":"token ` + e.echo + ` lacks a scope\n::error::pwned","code":"forbidden"}`
		return &http.Response{StatusCode: 403, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader([]byte(body))), Request: r}, nil
	}
	return e.next.RoundTrip(r)
}

// TestRunRedactsEchoedCredentialAnyCase: Groo's error body that echoes the
// credential in upper case reaches neither the annotation, the log nor the
// summary, and its line break starts no command.
func TestRunRedactsEchoedCredentialAnyCase(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", nil)
	upper := strings.ToUpper(w.oldPAT)
	res := runStep(t, step{inputs: w.inputs(map[string]string{inMode: "audit", inGitHubToken: ""}), noGitHub: true,
		wrap: func(next http.RoundTripper) http.RoundTripper { return echoTransport{next: next, echo: upper} }})
	var failed *FailedError
	if !errors.As(res.err, &failed) {
		t.Fatalf("err = %v, want a failure", res.err)
	}
	hexPart := strings.ToLower(w.oldPAT[len("groo_pat_"):])
	for i, l := range strings.Split(res.log, "\n") {
		if l == "::add-mask::"+w.oldPAT {
			continue
		}
		if strings.Contains(strings.ToLower(l), hexPart) {
			t.Errorf("log line %d holds the credential in some letter case: %q", i, strings.ReplaceAll(l, upper, "<UPPER>"))
		}
		if strings.HasPrefix(l, "::error::pwned") {
			t.Errorf("log line %d is a command from the server: %q", i, l)
		}
	}
	if strings.Contains(strings.ToLower(res.summary), hexPart) {
		t.Error("the summary holds the credential")
	}
	if !strings.Contains(res.log, "::error::groo-token may not manage tokens") || !strings.Contains(res.log, "GROO_PAT_[redacted]") {
		t.Errorf("no redacted error annotation:\n%s", res.log)
	}
}

// TestRunRefusesHostileTokenName: a live token of the user named with a
// line break and a workflow command makes Groo's list unusable: the step
// fails with an annotation that names the field and the fix, the name
// reaches no log line, and the secret and the tokens are as before (I4).
func TestRunRefusesHostileTokenName(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	w := newWorld(t, uc, "repo:octo/app", func(s *emulator.Seed) {
		s.Groo.Tokens = append(s.Groo.Tokens, emulator.SeedToken{ID: "tok_evil", Name: uc + "\n::error::pwned", Secret: testkit.PAT(t)})
	})
	res := runStep(t, step{inputs: w.inputs(nil)})
	var failed *FailedError
	if !errors.As(res.err, &failed) {
		t.Fatalf("err = %v, want a failure\n%s", res.err, res.log)
	}
	if !strings.Contains(res.log, `::error::`) || !strings.Contains(res.log, `token tok_evil: field "name" refused`) ||
		!strings.Contains(res.log, "Rename or revoke that token") {
		t.Errorf("no annotation naming the field and the fix:\n%s", res.log)
	}
	for _, l := range strings.Split(res.log, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "::error::pwned") || strings.Contains(l, "\n::error::pwned") {
			t.Errorf("the name became a command: %q", l)
		}
	}
	st := w.emu.State()
	if sec, _ := st.Secret("repo:octo/app", "GROO_PAT"); sec.Value != w.oldPAT {
		t.Error("the secret changed")
	}
	for _, tok := range st.Tokens {
		if tok.ID != "tok_old" && tok.ID != "tok_evil" && tok.Live(st.Now) {
			t.Errorf("failed run left new token %s live", tok.ID)
		}
	}
	if res.outputs["rotated"] != "false" {
		t.Errorf("outputs %v", res.outputs)
	}
}
