package action

import (
	"fmt"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
	"github.com/groo/pat-action/internal/safetext"
)

// The renderers below build the step summary (Markdown) from results that
// hold ids, prefixes and last fours only. None of them is ever given a
// token value: Result.NewToken is read for its last four alone.

// runLink is the workflow run as a Markdown link, or "" outside a runner.
func runLink(runURL string) string {
	if runURL == "" {
		return "-"
	}
	return "[" + mdText(runURL) + "](" + mdURL(runURL) + ")"
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

// auditInput is the audit of the Action's one target: the caller's Groo
// tokens and, when a GitHub credential could read it, the secret's metadata
// (nil: unreadable). The Action keeps no store, so there is no history, no
// pending revoke and no schedule (a replaced token's grace comes from the
// revoke-grace input and the secret's updated_at, by the retire rule); and
// it knows no other target, so it does not look for orphans. It does list
// the account's unmanaged tokens and its credential (groo-token), with
// fixes in the Action's terms.
func auditInput(in *Inputs, caller string, tokens []groo.TokenInfo, secret *ghsecret.Metadata, now time.Time) audit.Input {
	return audit.Input{
		Now: now, Caller: caller, Tokens: tokens,
		UseCases:    []audit.UseCaseInput{{UseCase: in.UseCase, Target: in.Target.String(), Secret: secret, Grace: in.Grace}},
		Credential:  audit.CredentialRef{Prefix: in.GrooToken.TokenPrefix(), LastFour: in.GrooToken.LastFour()},
		ActionFixes: true,
	}
}

// renderAudit is the summary of mode: audit: the report as Markdown, then
// the workflow run.
func renderAudit(r audit.Report, runURL string) (string, error) {
	var b strings.Builder
	if err := audit.RenderMarkdown(&b, r); err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "Workflow run: %s\n", runLink(runURL))
	return b.String(), nil
}

// findingAnnotation is one finding as an annotation: its code, what is
// wrong and the fix, on one line.
func findingAnnotation(f audit.Finding) string {
	return joinFix(f.Code+": "+f.Message, f.Fix)
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

// mdCode is an inline code span safe inside a table cell (safetext).
func mdCode(s string) string { return safetext.MarkdownCode(s) }

// mdText is plain text safe inside a table cell or a list item (safetext).
func mdText(s string) string { return safetext.Markdown(s) }

// mdURL is a link target: anything that could end the link or break the
// line is percent-encoded.
func mdURL(u string) string {
	var b strings.Builder
	for _, r := range u {
		if r <= ' ' || r == 0x7f || r == '(' || r == ')' || r == '<' || r == '>' || r == '"' || r == '`' || safetext.IsUnsafe(r) {
			for _, c := range []byte(string(r)) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
