package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/daemon"
)

// Exit codes of `pat-rotator audit` (docs/audit.md). 1 is also what
// audit.ExitCode returns for findings at --fail-on.
const (
	exitFindings = 1 // a finding at least as bad as --fail-on
	exitUsage    = 2 // bad flags, configuration or credential names: nothing was read
	exitFailed   = 3 // the audit could not be made, or a prune revoke failed
)

// auditFlags are the flags of the audit command.
type auditFlags struct {
	format, since, failOn string
	prune, yes            bool

	sinceDur time.Duration
}

func (o *auditFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "table", "table, json or markdown")
	fs.StringVar(&o.since, "since", "", "read only this much history, e.g. 30d, 1d12h or 36h (default: all)")
	fs.StringVar(&o.failOn, "fail-on", "", "warning or error: exit 1 when a finding at least this bad exists (default: never)")
	fs.BoolVar(&o.prune, "prune", false, "show which orphans and extra tokens are safe to revoke")
	fs.BoolVar(&o.yes, "yes", false, "with --prune: revoke them")
}

// check refuses bad flag values before anything is read.
func (o *auditFlags) check(fs *flag.FlagSet) error {
	switch o.format {
	case "table", "json", "markdown":
	default:
		return &usageError{fmt.Sprintf("--format %q: use table, json or markdown", o.format)}
	}
	if err := audit.ValidateFailOn(o.failOn); err != nil {
		return &usageError{"--fail-on: " + err.Error()}
	}
	d, err := audit.ParseSince(o.since)
	if err != nil {
		return &usageError{"--since: " + err.Error()}
	}
	o.sinceDur = d
	if o.yes && !o.prune {
		return &usageError{"--yes only confirms --prune; add --prune"}
	}
	formatSet := false
	fs.Visit(func(f *flag.Flag) { formatSet = formatSet || f.Name == "format" })
	if o.prune && formatSet && o.format != "table" {
		return &usageError{"--prune prints a plan as text; run the report (--format " + o.format + ") without --prune"}
	}
	return nil
}

// runAudit is the audit command: gather, build, render, and with --prune
// plan (and with --yes apply) the revokes. The report goes to stdout; so do
// the plan and what was revoked. Logs go to stderr.
func runAudit(ctx context.Context, d *daemon.Daemon, targets []string, o auditFlags, stdout, stderr io.Writer) error {
	if _, err := d.Select(targets); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	in, err := d.AuditInput(ctx, daemon.AuditRequest{Targets: targets, Since: o.sinceDur})
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	r := audit.Build(in)

	if !o.prune {
		var rerr error
		switch o.format {
		case "json":
			rerr = audit.RenderJSON(stdout, r)
		case "markdown":
			rerr = audit.RenderMarkdown(stdout, r)
		default:
			rerr = audit.RenderTable(stdout, r)
		}
		if rerr != nil {
			return &exitError{code: exitFailed, err: rerr}
		}
		return findingsExit(r, o.failOn)
	}

	plan := d.PrunePlan(r, in)
	if err := audit.RenderPrunePlan(stdout, plan); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	todo := 0
	for _, a := range plan {
		if !a.Skip {
			todo++
		}
	}
	switch {
	case todo == 0:
		fmt.Fprintln(stdout, "\nNothing to revoke.")
		return findingsExit(r, o.failOn)
	case !o.yes:
		fmt.Fprintln(stdout, "\nNothing was revoked: add --yes to revoke the tokens marked revoke.")
		return findingsExit(r, o.failOn)
	}

	revoked, err := d.Prune(ctx, plan)
	fmt.Fprintf(stdout, "\nRevoked %d of %d:\n", len(revoked), todo)
	done := map[string]bool{}
	for _, id := range revoked {
		done[id] = true
	}
	for _, a := range plan {
		if a.Skip {
			continue
		}
		state := "revoked"
		if !done[a.TokenID] {
			state = "FAILED "
		}
		fmt.Fprintf(stdout, "  %s  %s  %s  (%s)\n", state, a.TokenID, oneLine(a.UseCase), a.Reason)
	}
	if err != nil {
		fmt.Fprintf(stderr, "audit --prune: %d revoke(s) failed:\n%v\n", todo-len(revoked), err)
		return &exitError{code: exitFailed, err: errReported}
	}
	// The findings are those of the report before the prune.
	return findingsExit(r, o.failOn)
}

// findingsExit is audit.ExitCode as an error for realMain.
func findingsExit(r audit.Report, failOn string) error {
	if code := audit.ExitCode(r, failOn); code != 0 {
		return &exitError{code: code, err: fmt.Errorf("audit: %d error(s), %d warning(s): a finding is at least as bad as --fail-on %s",
			r.Summary.Errors, r.Summary.Warnings, failOn)}
	}
	return nil
}

// oneLine keeps a token name on its line (names come from whoever can
// create a Groo token).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}
