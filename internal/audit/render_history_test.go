package audit

import (
	"bytes"
	"strings"
	"testing"
)

// TestRenderHistoryNeutralisesText: an error stored from a server answer
// cannot break a line, start a workflow command, color the terminal or
// show a token.
func TestRenderHistoryNeutralisesText(t *testing.T) {
	t.Parallel()
	pat := "GROO_PAT_" + strings.Repeat("CD34", 16)
	var buf bytes.Buffer
	RenderHistory(&buf, []Event{{ID: "att_1", Outcome: OutcomeFailed, Target: "repo:o/r GROO_PAT\n::error::t",
		NewTokenID: "tok_1", Error: "::error::boom \x1b[31m\u202e " + pat}})
	out := buf.String()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "::") {
			t.Errorf("a line starts a workflow command: %q", l)
		}
	}
	if strings.ContainsAny(out, "\x1b\u202e") || strings.Contains(strings.ToLower(out), strings.Repeat("cd34", 16)) {
		t.Errorf("history holds a control character or a token:\n%q", out)
	}
	if strings.Count(out, "\n") != 2 {
		t.Errorf("history is not a header and one row:\n%s", out)
	}
}
