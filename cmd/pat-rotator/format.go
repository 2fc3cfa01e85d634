package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/daemon"
	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/rotation"
	"github.com/groo/pat-action/internal/safetext"
)

// Terminal output of rotate, plan and validate (history's tables are
// audit.RenderHistory and audit.RenderPending). Tokens appear only as id and
// last four. Every cell that holds text from outside (names, ids and errors
// from Groo, GitHub or the store) goes through cell: redacted, one line, no
// control, bidi or workflow-command start (safetext.Clean).

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
func WriteResults(w io.Writer, results []daemon.TargetResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tTARGET\tNEW TOKEN\tEXPIRES\tREVOKED\tPENDING\tDETAIL")
	for _, r := range results {
		name := cell(r.Target.Name)
		switch {
		case r.Skipped:
			fmt.Fprintf(tw, "skipped\t%s\t-\t-\t-\t-\t%s\n", name, short(resultText(r.Err), 100))
		case r.Err != nil && r.Result == nil:
			fmt.Fprintf(tw, "failed\t%s\t-\t-\t-\t-\t%s\n", name, short(resultText(r.Err), 160))
		default:
			res := r.Result
			outcome := "rotated"
			detail := ""
			if r.Err != nil {
				outcome, detail = "warning", short(resultText(r.Err), 120)
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

// resultText is an error's message; a rotation.Error is already complete.
func resultText(err error) string {
	if err == nil {
		return ""
	}
	var re *rotation.Error
	if errors.As(err, &re) {
		return re.Error()
	}
	return err.Error()
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
func WriteTargets(w io.Writer, cfg *config.Config) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tUSE CASE\tSCHEDULE\tTTL\tGRACE\tJITTER")
	for _, t := range cfg.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(t.Name), cell(t.UseCase), cell(t.ScheduleSpec), duration.Format(t.TTL), duration.Format(t.Grace), duration.Format(t.Jitter))
	}
	_ = tw.Flush()
}
