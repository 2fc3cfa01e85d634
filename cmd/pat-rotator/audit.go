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

// auditFlags are the flags of the audit command.
type auditFlags struct {
	format, since, failOn string
	prune, yes            bool
	includeUnmanaged      bool

	sinceDur time.Duration
}

func (o *auditFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "table", "`FORMAT` of the report: table, json or markdown")
	fs.StringVar(&o.since, "since", "", "read only this much history, an `AGE` such as 30d, 1d12h or 36h (default: all)")
	fs.StringVar(&o.failOn, "fail-on", "", "`SEVERITY`, warning or error: exit 1 when a finding at least this bad exists (default: never)")
	fs.BoolVar(&o.prune, "prune", false, "show which orphans and extra tokens are safe to revoke")
	fs.BoolVar(&o.yes, "yes", false, "with --prune: revoke them")
	fs.BoolVar(&o.includeUnmanaged, "include-unmanaged", false, "with --prune: plan the revoke of tokens the tool does not manage too (never the credential)")
}

// check refuses bad flag values before anything is read.
func (o *auditFlags) check(fs *flag.FlagSet) error {
	switch o.format {
	case "table", "json", "markdown":
	default:
		return &usageError{msg: fmt.Sprintf("audit: --format %q: use table, json or markdown", o.format)}
	}
	if err := audit.ValidateFailOn(o.failOn); err != nil {
		return &usageError{msg: "audit: --fail-on: " + err.Error()}
	}
	d, err := parseSince(o.since)
	if err != nil {
		return &usageError{msg: "audit: --since: " + err.Error()}
	}
	o.sinceDur = d
	if o.yes && !o.prune {
		return &usageError{msg: "audit: --yes only confirms --prune; add --prune"}
	}
	if o.includeUnmanaged && !o.prune {
		return &usageError{msg: "audit: --include-unmanaged only widens --prune; add --prune"}
	}
	formatSet := false
	fs.Visit(func(f *flag.Flag) { formatSet = formatSet || f.Name == "format" })
	if o.prune && formatSet && o.format != "table" {
		return &usageError{msg: "audit: --prune prints a plan as text; run the report (--format " + o.format + ") without --prune"}
	}
	return nil
}

// runAudit is the audit command: gather, build, render, and with --prune
// plan (and with --yes apply) the revokes. The report goes to stdout; so do
// the plan and what was revoked. Logs go to stderr.
func runAudit(ctx context.Context, d *daemon.Daemon, targets []string, o auditFlags, stdout, stderr io.Writer) error {
	if err := selectTargets(d, targets); err != nil {
		return err
	}
	in, err := d.AuditInput(ctx, daemon.AuditRequest{Targets: targets, Since: o.sinceDur})
	if err != nil {
		return &runError{err}
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
			return &runError{rerr}
		}
		return findingsExit(r, o.failOn)
	}

	in.IncludeUnmanaged = o.includeUnmanaged
	plan := d.PrunePlan(r, in)
	if err := audit.RenderPrunePlan(stdout, plan); err != nil {
		return &runError{err}
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
		fmt.Fprintf(stderr, "audit --prune: %d revoke(s) failed:\n%s\n", todo-len(revoked), errText(err))
		return &runError{errReported}
	}
	// The findings are those of the report before the prune.
	return findingsExit(r, o.failOn)
}

// findingsExit is audit.ExitCode (1 for findings at --fail-on) as an error
// for realMain: the work found what it must fail on.
func findingsExit(r audit.Report, failOn string) error {
	if audit.ExitCode(r, failOn) != 0 {
		return &workError{fmt.Errorf("audit: %d error(s), %d warning(s): a finding is at least as bad as --fail-on %s",
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

// auditCommand is `pat-rotator audit`.
type auditCommand struct {
	*cli
	cf      configFlags
	targets stringList
	ao      auditFlags
}

func (*auditCommand) Name() string { return "audit" }
func (*auditCommand) Desc() string {
	return "who holds which token and what breaks the rules; --prune [--yes] revokes the safe extras"
}
func (*auditCommand) Help() string {
	return `usage: pat-rotator audit --config FILE [--target NAME]... [--format table|json|markdown]
                         [--since 30d] [--fail-on warning|error]
                         [--prune [--include-unmanaged] [--yes]]

The audit report: the live tokens of each use case, the one in the secret, the
account's unmanaged tokens and the credential, and every finding with its fix
(docs/audit.md). --prune shows which orphans and extra tokens are safe to
revoke (unmanaged ones only with --include-unmanaged, never the credential);
--prune --yes revokes them.
Exit 1 when a finding is at least as bad as --fail-on (with --prune: the
findings of the report made before it); 3 when the audit could not be made or a
revoke failed.
`
}
func (c *auditCommand) Flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name(), flag.ContinueOnError)
	c.cf.register(fs)
	registerTargets(fs, &c.targets)
	c.ao.register(fs)
	return fs
}
func (c *auditCommand) Run(ctx context.Context, args []string) error {
	fs, err := parse(c, args)
	if err != nil {
		return err
	}
	if c.cf.config == "" {
		return &usageError{msg: "audit: --config FILE is required", help: commandHelp(c)}
	}
	if err := c.ao.check(fs); err != nil {
		return err
	}
	cfg, err := c.load(c, &c.cf)
	if err != nil {
		return err
	}
	d, err := c.newDaemon(ctx, cfg, c.logger(&c.cf), nil)
	if err != nil {
		return err
	}
	defer d.Close()
	return runAudit(ctx, d, c.targets, c.ao, c.stdout, c.stderr)
}
