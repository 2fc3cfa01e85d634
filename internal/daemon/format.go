package daemon

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/rotation"
	"github.com/groo/pat-action/internal/safetext"
)

// Terminal output of the commands. Tokens appear only as id and last four.
// Every cell that holds text from outside (names, ids and errors from Groo,
// GitHub or the store) goes through cell: redacted, one line, no control,
// bidi or workflow-command start (safetext.Clean).

func cell(s string) string { return safetext.Clean(s) }

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func tsPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ts(*t)
}

func list(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	return cell(strings.Join(ids, ","))
}

func short(s string, n int) string {
	s = cell(strings.Join(strings.Fields(s), " "))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// WriteResults prints one line per attempt of a pass.
func WriteResults(w io.Writer, results []TargetResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tTARGET\tNEW TOKEN\tEXPIRES\tREVOKED\tPENDING\tDETAIL")
	for _, r := range results {
		name := cell(r.Target.Name)
		switch {
		case r.Skipped:
			fmt.Fprintf(tw, "skipped\t%s\t-\t-\t-\t-\t%s\n", name, short(errText(r.Err), 100))
		case r.Err != nil && r.Result == nil:
			fmt.Fprintf(tw, "failed\t%s\t-\t-\t-\t-\t%s\n", name, short(errText(r.Err), 160))
		default:
			res := r.Result
			outcome := "rotated"
			detail := ""
			if r.Err != nil {
				outcome, detail = "warning", short(errText(r.Err), 120)
			}
			if len(res.TooRecent) > 0 {
				detail = strings.TrimSpace(detail + " left live (too recent): " + list(res.TooRecent))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s …%s\t%s\t%s\t%s\t%s\n", outcome, name, cell(res.New.ID), cell(res.New.LastFour),
				tsPtr(res.New.ExpiresAt), list(res.Revoked), list(res.Pending), detail)
		}
	}
	_ = tw.Flush()
}

// errText is an error's message; a rotation.Error is already complete.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var re *rotation.Error
	if errors.As(err, &re) {
		return re.Error()
	}
	return err.Error()
}

// WriteHistory prints the store's events as a table, oldest first.
func WriteHistory(w io.Writer, events []audit.Event) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tOUTCOME\tTARGET\tNEW TOKEN\tEXPIRES\tREVOKED\tPENDING\tDURATION\tERROR")
	for _, e := range events {
		tok := "-"
		if e.NewTokenID != "" {
			tok = cell(e.NewTokenID + " …" + e.NewTokenLast4)
		}
		pending := list(append(append([]string{}, e.Pending...), e.TooRecent...))
		errMsg := "-"
		if e.Error != "" {
			errMsg = short(e.Error, 100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ts(e.Time), cell(string(e.Outcome)), cell(e.Target), tok,
			tsPtr(e.NewExpiresAt), list(e.Revoked), pending, e.Duration.Round(time.Millisecond), errMsg)
	}
	if len(events) == 0 {
		fmt.Fprintln(tw, "(no events)")
	}
	_ = tw.Flush()
}

// WritePending prints the revokes the sweep still has to do.
func WritePending(w io.Writer, pending []audit.PendingRevoke) {
	if len(pending) == 0 {
		fmt.Fprintln(w, "No pending revokes.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PENDING TOKEN\tTARGET\tREVOKE AFTER\tATTEMPTS\tNEXT TRY\tLAST ERROR")
	for _, p := range pending {
		last := "-"
		if p.LastError != "" {
			last = short(p.LastError, 100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", cell(p.TokenID), cell(p.Target), ts(p.RevokeAfter), p.Attempts, ts(p.NextTry), last)
	}
	_ = tw.Flush()
}

// WritePlans prints each target's dry run.
func WritePlans(w io.Writer, plans []*rotation.Plan) {
	for i, p := range plans {
		if p == nil {
			continue
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (use case %q): %d live token(s)\n", cell(p.Target), cell(p.UseCase), len(p.Live))
		for _, s := range p.Steps {
			fmt.Fprintf(w, "  %-7s %s\n", cell(s.Step), cell(s.Detail))
		}
	}
}

// WriteTargets lists the configuration's targets (validate).
func WriteTargets(w io.Writer, cfg *Config) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tUSE CASE\tSCHEDULE\tTTL\tGRACE\tJITTER")
	for _, t := range cfg.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(t.Name), cell(t.UseCase), cell(t.ScheduleSpec), fmtDur(t.TTL), fmtDur(t.Grace), fmtDur(t.Jitter))
	}
	_ = tw.Flush()
}
