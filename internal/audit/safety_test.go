package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/groo/pat-action/internal/groo"
)

// TestRenderNeutralisesServerText: a token name (anyone can name a Groo
// token) cannot start a workflow command on a line of the table (the Action
// prints it to the runner), nor smuggle bidi overrides, escapes or Markdown
// into either rendering.
func TestRenderNeutralisesServerText(t *testing.T) {
	t.Parallel()
	names := []string{
		"::error::pwned",
		"GitHub Actions - \u202eevil\u202c \u2066iso\u2069",
		"GitHub Actions - x ##[error]legacy",
		"GitHub Actions - `code` | <b>bold</b>",
		"GitHub Actions - \x1b]8;;http://x\x07link\u0085",
	}
	for _, name := range names {
		in := Input{Now: fixtureNow, ToolNamePrefixes: append(DefaultToolNamePrefixes, "::"),
			Tokens: []groo.TokenInfo{fxToken("tok_evil_01", name, "2026-01-01T00:00:00Z", nil, nil)}}
		outs := renderAll(t, Build(in))
		for _, k := range []string{"report.table.golden", "report.md.golden"} {
			s := string(outs[k])
			if !strings.Contains(s, "tok_evil_01") {
				t.Fatalf("%s lacks the orphan row:\n%s", k, s)
			}
			for _, l := range strings.Split(s, "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "::") {
					t.Errorf("%s: a line starts a workflow command: %q", k, l)
				}
			}
			if strings.Contains(s, "##[") || strings.ContainsAny(s, "\u202e\u202c\u2066\u2069\x1b\x07\u0085") {
				t.Errorf("%s holds a bidi or control character or a legacy command:\n%q", k, s)
			}
		}
		md := string(outs["report.md.golden"])
		if strings.Contains(md, "<b>") {
			t.Errorf("Markdown holds raw HTML:\n%s", md)
		}
	}
}

// TestRecordersScrubTokens: an error text that echoes a token, in any
// letter case, is redacted before the JSON lines hold it.
func TestRecordersScrubTokens(t *testing.T) {
	t.Parallel()
	pat := "groo_pat_" + strings.Repeat("7e", 32)
	var buf bytes.Buffer
	e := Event{ID: "att_1", Outcome: OutcomeFailed, Error: "groo said " + strings.ToUpper(pat) + " and " + pat + " ##[error]legacy", Step: "revoke " + pat}
	if err := NewJSONLines(&buf).Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(buf.String()), strings.Repeat("7e", 32)) {
		t.Errorf("JSON line holds a token: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "GROO_PAT_…7E7E") {
		t.Errorf("JSON line lost the redacted form: %s", buf.String())
	}
	// A runner reads "##[" anywhere in a line as a legacy command; the JSON
	// escape keeps the event the same.
	if strings.Contains(buf.String(), "##[") {
		t.Errorf("JSON line holds a legacy command start: %s", buf.String())
	}
	var back Event
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || !strings.HasSuffix(back.Error, " ##[error]legacy") {
		t.Errorf("decoded error %q, %v", back.Error, err)
	}
}
