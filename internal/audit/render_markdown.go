package audit

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/safetext"
)

// severityMark labels a severity for readers who skim (GitHub renders the
// emoji; the bold word stays for those who do not).
var severityMark = map[string]string{
	SeverityError:   "❌ **error**",
	SeverityWarning: "⚠️ **warning**",
	SeverityInfo:    "ℹ️ info",
}

// RenderMarkdown writes the report as GitHub-flavoured Markdown, for the
// Action's step summary: a summary line, the use cases, the live tokens,
// the orphans and the findings with their fixes.
func RenderMarkdown(w io.Writer, r Report) error {
	var b strings.Builder
	now := r.GeneratedAt
	b.WriteString("## Groo PAT audit\n\n")
	s := r.Summary
	counts := []string{pluralize(s.Errors, "error"), pluralize(s.Warnings, "warning"), pluralize(s.Infos, "info")}
	if s.Errors > 0 {
		counts[0] = "**" + counts[0] + "**"
	}
	if s.Warnings > 0 {
		counts[1] = "**" + counts[1] + "**"
	}
	fmt.Fprintf(&b, "%s · %s · %s · %s · generated %s", strings.Join(counts, ", "), pluralize(s.UseCases, "use case"),
		pluralize(s.LiveTokens, "live token"), pluralize(s.Unmanaged, "unmanaged token"), fmtTime(now))
	if r.Caller != "" {
		fmt.Fprintf(&b, " for Groo user %s", mdCode(r.Caller))
	}
	if r.HistorySince != nil {
		fmt.Fprintf(&b, " · history since %s", fmtTime(*r.HistorySince))
	}
	b.WriteString("\n\n")

	if len(r.UseCases) > 0 {
		b.WriteString("| Use case | Target | Secret | In secret | Live tokens | Last rotation | Next run |\n")
		b.WriteString("| --- | --- | --- | --- | --: | --- | --- |\n")
		for _, uc := range r.UseCases {
			inSecret := "unknown"
			switch uc.InSecretSource {
			case InSecretStore, InSecretDerived:
				inSecret = mdCode(uc.InSecret) + " (" + uc.InSecretSource + ")"
			case InSecretNone:
				inSecret = "-"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s |\n", mdCode(uc.UseCase), mdCode(uc.Target),
				mdText(secretCell(uc, now)), inSecret, len(uc.Live), mdRotation(uc.LastRotation, now), mdText(timeCell(uc.NextRun, now)))
		}
		b.WriteString("\n")
	}

	b.WriteString("### Findings\n\n")
	if len(r.Findings) == 0 {
		b.WriteString("None: every use case has exactly one live token, fresh and in its secret.\n\n")
	}
	for _, f := range r.Findings {
		mark, ok := severityMark[f.Severity]
		if !ok {
			mark = mdText(f.Severity)
		}
		fmt.Fprintf(&b, "- %s %s · %s", mark, mdCode(f.Code), mdCode(f.UseCase))
		if f.TokenID != "" {
			fmt.Fprintf(&b, " · token %s", mdCode(f.TokenID))
		}
		fmt.Fprintf(&b, "<br>%s<br>**Fix:** %s\n", mdText(f.Message), mdText(f.Fix))
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n")
	}

	n := 0
	for _, uc := range r.UseCases {
		n += len(uc.Live)
	}
	if n > 0 {
		b.WriteString("### Live tokens\n\n")
		b.WriteString("| Use case | Token | Prefix | Last four | Created | Last used | Expires | In secret |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- | :-: |\n")
		for _, uc := range r.UseCases {
			for _, t := range uc.Live {
				in := ""
				if t.InSecret {
					in = "✅"
				}
				fmt.Fprintf(&b, "| %s | %s | %s |\n", mdCode(uc.UseCase), mdTokenCells(t, now), in)
			}
		}
		b.WriteString("\n")
	}
	if len(r.Orphans) > 0 {
		b.WriteString("### Orphans\n\nLive tokens named like the tool's, for no configured target.\n\n")
		b.WriteString("| Name | Token | Prefix | Last four | Created | Last used | Expires |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
		for _, t := range r.Orphans {
			fmt.Fprintf(&b, "| %s | %s |\n", mdCode(t.Name), mdTokenCells(t, now))
		}
		b.WriteString("\n")
	}
	if len(r.Unmanaged) > 0 {
		b.WriteString("### Unmanaged tokens\n\nThe account's other live tokens: the tool does not rotate them.\n\n")
		b.WriteString("| Name | Token | Prefix | Last four | Created | Last used | Expires |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
		for _, t := range r.Unmanaged {
			fmt.Fprintf(&b, "| %s | %s |\n", mdCode(t.Name), mdTokenCells(t, now))
		}
		b.WriteString("\n")
	}
	if r.Credential != nil {
		b.WriteString("### Credential\n\nThe token the audit authenticates with.\n\n")
		b.WriteString("| Name | Token | Prefix | Last four | Created | Last used | Expires |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
		fmt.Fprintf(&b, "| %s | %s |\n", mdCode(r.Credential.Name), mdTokenCells(*r.Credential, now))
		b.WriteString("\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("render audit report as Markdown: %w", err)
	}
	return nil
}

func mdTokenCells(t TokenRow, now time.Time) string {
	return strings.Join([]string{mdCode(t.ID), mdCode(orDash(t.Prefix)), mdCode(orDash(t.LastFour)),
		mdText(fmtTimeRel(t.CreatedAt, now)), mdText(lastUsedCell(t.LastUsed, now)), mdText(expiresCell(t.ExpiresAt, now))}, " | ")
}

func mdRotation(ri *RotationInfo, now time.Time) string {
	if ri == nil {
		return "-"
	}
	mark := ""
	switch ri.Outcome {
	case string(OutcomeSucceeded):
		mark = "✅ "
	case string(OutcomeFailed), string(OutcomeAbandoned):
		mark = "❌ "
	}
	return mark + mdText(ri.Outcome+" "+fmtTimeRel(ri.Time, now))
}

// mdText escapes text for a Markdown table cell or list item
// (safetext.Markdown): Markdown punctuation, the pipe and backticks are
// backslash-escaped, HTML is neutralised, and line breaks and control
// characters are escaped so that a cell stays on its row.
func mdText(s string) string { return safetext.Markdown(s) }

// mdCode is s as a code span (safetext.MarkdownCode); "" is "-".
func mdCode(s string) string { return safetext.MarkdownCode(s) }
