package audit

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/safetext"
)

// The store's history and pending revokes as terminal tables (pat-rotator
// history, the demo). Tokens appear only as id and last four. Every cell
// that holds text from outside (names, ids and errors from Groo, GitHub or
// the store) goes through historyCell: redacted, one line, no control, bidi
// or workflow-command start (safetext.Clean).

func historyCell(s string) string { return safetext.Clean(s) }

func historyTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func historyTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return historyTime(*t)
}

func historyList(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	return historyCell(strings.Join(ids, ","))
}

func historyShort(s string, n int) string {
	s = historyCell(strings.Join(strings.Fields(s), " "))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// RenderHistory prints the store's events as a table, oldest first.
func RenderHistory(w io.Writer, events []Event) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tOUTCOME\tTARGET\tNEW TOKEN\tEXPIRES\tREVOKED\tPENDING\tDURATION\tERROR")
	for _, e := range events {
		tok := "-"
		if e.NewTokenID != "" {
			tok = historyCell(e.NewTokenID + " …" + e.NewTokenLast4)
		}
		pending := historyList(append(append([]string{}, e.Pending...), e.TooRecent...))
		errMsg := "-"
		if e.Error != "" {
			errMsg = historyShort(e.Error, 100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", historyTime(e.Time), historyCell(string(e.Outcome)), historyCell(e.Target), tok,
			historyTimePtr(e.NewExpiresAt), historyList(e.Revoked), pending, duration.Format(e.Duration.Round(time.Millisecond)), errMsg)
	}
	if len(events) == 0 {
		fmt.Fprintln(tw, "(no events)")
	}
	_ = tw.Flush()
}

// RenderPending prints the revokes the sweep still has to do.
func RenderPending(w io.Writer, pending []PendingRevoke) {
	if len(pending) == 0 {
		fmt.Fprintln(w, "No pending revokes.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PENDING TOKEN\tTARGET\tREVOKE AFTER\tATTEMPTS\tNEXT TRY\tLAST ERROR")
	for _, p := range pending {
		last := "-"
		if p.LastError != "" {
			last = historyShort(p.LastError, 100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", historyCell(p.TokenID), historyCell(p.Target), historyTime(p.RevokeAfter), p.Attempts, historyTime(p.NextTry), last)
	}
	_ = tw.Flush()
}
