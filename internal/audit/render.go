package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/groo/pat-action/internal/safetext"
)

// The renderers print what the Report holds and nothing else: a Report has
// no token value to print (TokenInfo carries none), so none can leak here.
// Names and messages can come from anyone who can create a Groo token or
// fail a rotation, so the table escapes control characters (no terminal
// escape sequences) and the Markdown escapes what GitHub would interpret,
// both with internal/safetext.

// RenderJSON writes the report as indented JSON (docs/audit-report.schema.json).
func RenderJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(withEmptySlices(r)); err != nil {
		return fmt.Errorf("render audit report as JSON: %w", err)
	}
	return nil
}

// withEmptySlices replaces nil slices by empty ones, so the JSON always has
// arrays where the schema says so, whoever built the Report.
func withEmptySlices(r Report) Report {
	if r.UseCases == nil {
		r.UseCases = []UseCaseReport{}
	}
	if r.Orphans == nil {
		r.Orphans = []TokenRow{}
	}
	if r.Unmanaged == nil {
		r.Unmanaged = []TokenRow{}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	ucs := make([]UseCaseReport, len(r.UseCases))
	for i, uc := range r.UseCases {
		if uc.Live == nil {
			uc.Live = []TokenRow{}
		}
		if uc.Findings == nil {
			uc.Findings = []Finding{}
		}
		ucs[i] = uc
	}
	r.UseCases = ucs
	return r
}

// RenderTable writes the report for a terminal: a header, the use cases,
// their live tokens, the orphans and the findings with their fixes.
func RenderTable(w io.Writer, r Report) error {
	ew := &renderWriter{w: w}
	now := r.GeneratedAt
	fmt.Fprintf(ew, "Groo PAT audit, generated %s", fmtTime(now))
	if r.Caller != "" {
		fmt.Fprintf(ew, " for Groo user %s", termSafe(r.Caller))
	}
	if r.HistorySince != nil {
		fmt.Fprintf(ew, ", history since %s", fmtTime(*r.HistorySince))
	}
	fmt.Fprintf(ew, "\n%s\n", summaryLine(r.Summary))

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(ew, "\nUSE CASES\n")
	if len(r.UseCases) == 0 {
		fmt.Fprintf(ew, "  (none configured)\n")
	} else {
		fmt.Fprintln(tw, "USE CASE\tTARGET\tSECRET\tIN SECRET\tLIVE\tLAST ROTATION\tNEXT RUN")
		for _, uc := range r.UseCases {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", termSafe(uc.UseCase), termSafe(uc.Target), secretCell(uc, now),
				inSecretCell(uc), len(uc.Live), rotationCell(uc.LastRotation, now), timeCell(uc.NextRun, now))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("render audit table: %w", err)
		}
	}

	fmt.Fprintf(ew, "\nLIVE TOKENS (* in the secret)\n")
	n := 0
	for _, uc := range r.UseCases {
		n += len(uc.Live)
	}
	if n == 0 {
		fmt.Fprintf(ew, "  (none)\n")
	} else {
		fmt.Fprintln(tw, "\tUSE CASE\tID\tPREFIX\tLAST4\tCREATED\tLAST USED\tEXPIRES")
		for _, uc := range r.UseCases {
			for _, t := range uc.Live {
				mark := ""
				if t.InSecret {
					mark = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, termSafe(uc.UseCase), tokenCells(t, now))
			}
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("render audit table: %w", err)
		}
	}

	if len(r.Orphans) > 0 {
		fmt.Fprintf(ew, "\nORPHANS (named like the tool's tokens, no configured target)\n")
		fmt.Fprintln(tw, "NAME\tID\tPREFIX\tLAST4\tCREATED\tLAST USED\tEXPIRES")
		for _, t := range r.Orphans {
			fmt.Fprintf(tw, "%s\t%s\n", termSafe(t.Name), tokenCells(t, now))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("render audit table: %w", err)
		}
	}

	if len(r.Unmanaged) > 0 {
		fmt.Fprintf(ew, "\nUNMANAGED (the account's other tokens: the tool does not rotate them)\n")
		fmt.Fprintln(tw, "NAME\tID\tPREFIX\tLAST4\tCREATED\tLAST USED\tEXPIRES")
		for _, t := range r.Unmanaged {
			fmt.Fprintf(tw, "%s\t%s\n", termSafe(t.Name), tokenCells(t, now))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("render audit table: %w", err)
		}
	}

	if r.Credential != nil {
		fmt.Fprintf(ew, "\nCREDENTIAL (the token the audit authenticates with)\n")
		fmt.Fprintln(tw, "NAME\tID\tPREFIX\tLAST4\tCREATED\tLAST USED\tEXPIRES")
		fmt.Fprintf(tw, "%s\t%s\n", termSafe(r.Credential.Name), tokenCells(*r.Credential, now))
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("render audit table: %w", err)
		}
	}

	fmt.Fprintf(ew, "\nFINDINGS\n")
	if len(r.Findings) == 0 {
		fmt.Fprintf(ew, "  none: every use case has exactly one live token, fresh and in its secret\n")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(ew, "%-7s  %s  %s", strings.ToUpper(f.Severity), f.Code, termSafe(f.UseCase))
		if f.TokenID != "" {
			fmt.Fprintf(ew, "  [%s]", termSafe(f.TokenID))
		}
		fmt.Fprintf(ew, "\n         %s\n         fix: %s\n", termSafe(f.Message), termSafe(f.Fix))
	}
	if ew.err != nil {
		return fmt.Errorf("render audit table: %w", ew.err)
	}
	return nil
}

func summaryLine(s Summary) string {
	return fmt.Sprintf("%s, %s, %s: %s, %s, %s", pluralize(s.UseCases, "use case"), pluralize(s.LiveTokens, "live token"),
		pluralize(s.Unmanaged, "unmanaged token"), pluralize(s.Errors, "error"), pluralize(s.Warnings, "warning"), pluralize(s.Infos, "info"))
}

func pluralize(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func tokenCells(t TokenRow, now time.Time) string {
	return strings.Join([]string{termSafe(t.ID), orDash(termSafe(t.Prefix)), orDash(termSafe(t.LastFour)),
		fmtTimeRel(t.CreatedAt, now), lastUsedCell(t.LastUsed, now), expiresCell(t.ExpiresAt, now)}, "\t")
}

func secretCell(uc UseCaseReport, now time.Time) string {
	if uc.Secret == SecretPresent && uc.SecretUpdatedAt != nil {
		return "updated " + fmtTimeRel(*uc.SecretUpdatedAt, now)
	}
	return uc.Secret
}

func inSecretCell(uc UseCaseReport) string {
	switch uc.InSecretSource {
	case InSecretStore, InSecretDerived:
		return termSafe(uc.InSecret) + " (" + uc.InSecretSource + ")"
	case InSecretNone:
		return "-"
	}
	return "unknown"
}

func rotationCell(ri *RotationInfo, now time.Time) string {
	if ri == nil {
		return "-"
	}
	return ri.Outcome + " " + fmtTimeRel(ri.Time, now)
}

func timeCell(t *time.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTimeRel(*t, now)
}

func lastUsedCell(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return fmtTimeRel(*t, now)
}

func expiresCell(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return fmtTimeRel(*t, now)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// termSafe makes a string safe for a terminal and a tabwriter cell
// (safetext.Line): control characters (escape sequences, tabs, newlines),
// bidi controls and workflow-command starts are escaped.
func termSafe(s string) string { return safetext.Line(s) }

// renderWriter keeps the first write error so that rendering code can print
// freely and check once.
type renderWriter struct {
	w   io.Writer
	err error
}

func (e *renderWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// Times: RFC 3339 in UTC in messages and JSON; "2006-01-02 15:04Z" with a
// relative hint in tables.

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func fmtShort(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") }

func fmtTimeRel(t, now time.Time) string { return fmtShort(t) + " (" + fmtAgo(t, now) + ")" }

// fmtAgo is "3d ago", "in 5h", "now".
func fmtAgo(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d >= time.Minute:
		return roundDur(d) + " ago"
	case d <= -time.Minute:
		return "in " + roundDur(-d)
	}
	return "now"
}

// roundDur is a coarse duration: whole days from two days up, whole hours
// from two hours, whole minutes, else seconds.
func roundDur(d time.Duration) string {
	d = absDur(d)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// fmtDays is a TTL: "120 days" when whole, else the Go duration.
func fmtDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return pluralize(int(d/(24*time.Hour)), "day")
	}
	return d.String()
}
