package action

import (
	"fmt"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
)

// The renderers below build the step summary (Markdown) from results that
// hold ids, prefixes and last fours only. None of them is ever given a
// token value: Result.NewToken is read for its last four alone.

// runLink is the workflow run as a Markdown link, or "" outside a runner.
func runLink(runURL string) string {
	if runURL == "" {
		return "-"
	}
	return "[" + mdText(runURL) + "](" + runURL + ")"
}

// renderRotation is the summary of a successful rotation.
func renderRotation(res *rotation.Result, in *Inputs, runURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Groo PAT rotated: %s\n\n", mdCode(in.Target.String()))
	b.WriteString("| | |\n| --- | --- |\n")
	secret := "updated"
	if res.SecretCreated {
		secret = "created"
	}
	row(&b, "Target", mdCode(in.Target.String())+" ("+secret+")")
	row(&b, "Use case", mdCode(res.UseCase))
	row(&b, "New token", mdCode(res.New.ID)+", last four "+mdCode(lastFour(res)))
	row(&b, "Expires", fmtTimePtr(res.New.ExpiresAt))
	row(&b, "Revoked", mdIDs(res.Revoked))
	pending := mdIDs(res.Pending)
	if len(res.Pending) > 0 && in.Grace > 0 {
		pending += fmt.Sprintf(" (revoke grace %s)", in.Grace)
	}
	row(&b, "Pending revoke", pending)
	row(&b, "Left live, too recent to revoke", mdIDs(res.TooRecent))
	row(&b, "Duration", res.Duration.Round(time.Millisecond).String())
	row(&b, "Workflow run", runLink(runURL))
	return b.String()
}

// renderFailure is the summary of a failed run: what failed and the fix.
// leftLive describes a new token the failed attempt left live, if any.
func renderFailure(in *Inputs, message, leftLive, runURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Groo PAT rotation failed: %s\n\n", mdCode(in.Target.String()))
	b.WriteString("| | |\n| --- | --- |\n")
	row(&b, "Target", mdCode(in.Target.String()))
	row(&b, "Use case", mdCode(in.UseCase))
	if leftLive != "" {
		row(&b, "New token left live", mdText(leftLive))
	}
	row(&b, "Error", mdText(message))
	row(&b, "Workflow run", runLink(runURL))
	return b.String()
}

// renderPlan is the summary of mode: plan.
func renderPlan(p *rotation.Plan, in *Inputs, runURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Groo PAT rotation plan: %s (nothing changed)\n\n", mdCode(in.Target.String()))
	b.WriteString("| | |\n| --- | --- |\n")
	row(&b, "Target", mdCode(p.Target))
	row(&b, "Use case", mdCode(p.UseCase))
	row(&b, "Secret", secretState(p))
	ids := make([]string, 0, len(p.Live))
	for _, t := range p.Live {
		ids = append(ids, t.ID)
	}
	row(&b, "Live tokens", mdIDs(ids))
	row(&b, "Workflow run", runLink(runURL))
	b.WriteString("\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "%d. **%s**: %s\n", i+1, mdText(s.Step), mdText(s.Detail))
	}
	return b.String()
}

func secretState(p *rotation.Plan) string {
	if !p.Secret.Exists {
		return "does not exist yet"
	}
	return "exists, updated " + p.Secret.UpdatedAt.UTC().Format(time.RFC3339)
}

// auditFinding is one rule a use case breaks.
type auditFinding struct {
	Error bool // an error annotation (and exit 1), else a warning
	Msg   string
}

// auditUseCase applies the rules of DESIGN.md to the tokens Groo lists:
// one live token per use case, every token with an expiry, none about to lapse.
func auditUseCase(useCase string, all []groo.TokenInfo, now time.Time) (live []groo.TokenInfo, findings []auditFinding) {
	for _, t := range all {
		if t.Name != useCase || t.Revoked || (t.ExpiresAt != nil && !t.ExpiresAt.After(now)) {
			continue
		}
		live = append(live, t)
	}
	switch len(live) {
	case 0:
		findings = append(findings, auditFinding{Msg: fmt.Sprintf("use case %q has no live token: the secret holds a revoked or expired token, "+
			"or none; store a fresh PAT in the secret and rotate", useCase)})
	case 1:
	default:
		ids := make([]string, 0, len(live))
		for _, t := range live {
			ids = append(ids, t.ID)
		}
		findings = append(findings, auditFinding{Error: true, Msg: fmt.Sprintf("use case %q has %d live tokens (%s); the rule is one per use case: "+
			"run mode: rotate (it revokes the older ones) or revoke all but the one in the secret", useCase, len(live), strings.Join(ids, ", "))})
	}
	for _, t := range live {
		switch {
		case t.ExpiresAt == nil:
			findings = append(findings, auditFinding{Msg: fmt.Sprintf("token %s of %q never expires; rotate it so that its successor has an expiry", t.ID, useCase)})
		case t.ExpiresAt.Sub(now) < 24*time.Hour:
			findings = append(findings, auditFinding{Msg: fmt.Sprintf("token %s of %q expires at %s, in less than a day; rotate now",
				t.ID, useCase, t.ExpiresAt.UTC().Format(time.RFC3339))})
		}
	}
	return live, findings
}

// renderAudit is the summary of mode: audit.
func renderAudit(useCase string, live []groo.TokenInfo, findings []auditFinding, runURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Groo PAT audit: %s\n\n", mdCode(useCase))
	b.WriteString(tokenTable(live))
	b.WriteString("\n")
	if len(findings) == 0 {
		b.WriteString("No finding: exactly one live token, with an expiry.\n")
	}
	for _, f := range findings {
		level := "warning"
		if f.Error {
			level = "error"
		}
		fmt.Fprintf(&b, "- **%s**: %s\n", level, mdText(f.Msg))
	}
	fmt.Fprintf(&b, "\nWorkflow run: %s\n", runLink(runURL))
	return b.String()
}

// tokenTable lists tokens as the Groo UI does: never more than prefix and last four.
func tokenTable(ts []groo.TokenInfo) string {
	var b strings.Builder
	b.WriteString("| ID | Prefix | Last four | Created | Last used | Expires |\n| --- | --- | --- | --- | --- | --- |\n")
	if len(ts) == 0 {
		b.WriteString("| - | - | - | - | - | - |\n")
	}
	for _, t := range ts {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdCode(t.ID), mdCode(t.TokenPrefix), orDash(t.LastFour, mdCode),
			t.CreatedAt.UTC().Format(time.RFC3339), fmtTimePtr(t.LastUsed), fmtTimePtr(t.ExpiresAt))
	}
	return b.String()
}

func row(b *strings.Builder, k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, v) }

func lastFour(res *rotation.Result) string {
	if l := res.NewToken.LastFour(); l != "" {
		return l
	}
	return res.New.LastFour
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string, f func(string) string) string {
	if s == "" {
		return "-"
	}
	return f(s)
}

func mdIDs(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = mdCode(id)
	}
	return strings.Join(out, ", ")
}

// mdCode is an inline code span safe inside a table cell.
func mdCode(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return "`" + s + "`"
}

// mdText is plain text safe inside a table cell or a list item.
func mdText(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}
