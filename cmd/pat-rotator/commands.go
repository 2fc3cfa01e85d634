package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/storeopen"
	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/daemon"
	"github.com/groo/pat-action/internal/demo"
	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/safetext"
	"github.com/groo/pat-action/internal/statuspage"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseSince reads a --since AGE (history, audit) in the one grammar of
// durations (internal/duration: 90m, 72h, 7d, 1d12h; no sign). "" is no
// limit.
func parseSince(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	return duration.Parse(s)
}

// configFlags are the flags every command that reads the configuration has.
type configFlags struct {
	config string
	level  slog.LevelVar
	format string
}

func (f *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "configuration `FILE` (YAML); required")
	fs.Func("log-level", "`LEVEL` of the logs on stderr: debug, info, warn or error (default info)",
		func(s string) error { return f.level.UnmarshalText([]byte(s)) })
	f.format = "json"
	fs.Func("log-format", "`FORMAT` of the logs on stderr: json (one object a line) or text (key=value) (default json)",
		func(s string) error {
			if s != "json" && s != "text" {
				return fmt.Errorf("%q: use json or text", s)
			}
			f.format = s
			return nil
		})
}

func registerTargets(fs *flag.FlagSet, targets *stringList) {
	fs.Var(targets, "target", "`NAME` of a target to act on, e.g. \"repo:octo/app GROO_PAT\", or its use case (repeatable; default: all)")
}

// load reads and checks the configuration; an invalid one is printed with
// every problem and is a configuration error.
func (c *cli) load(cmd command, f *configFlags) (*config.Config, error) {
	if f.config == "" {
		return nil, &usageError{msg: cmd.Name() + ": --config FILE is required", help: commandHelp(cmd)}
	}
	cfg, err := config.Load(f.config, c.getenv)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s is not valid:\n%s\n", f.config, errText(err))
		return nil, &configError{errReported}
	}
	return cfg, nil
}

func (c *cli) logger(f *configFlags) *slog.Logger {
	return slog.New(safetext.NewHandler(logHandler(c.stderr, f.format, &f.level)))
}

// logHandler is pat-rotator's log format: JSON or text, durations written
// in the one grammar ("3m", "1d12h"), never as nanoseconds.
func logHandler(w io.Writer, format string, level slog.Leveler) slog.Handler {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(duration.Format(a.Value.Duration()))
		}
		return a
	}}
	if format == "text" {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}

// newDaemon builds the daemon; store nil: the daemon opens (and creates)
// the configured one. A missing credential is a configuration error;
// anything else (the store) could not run.
func (c *cli) newDaemon(ctx context.Context, cfg *config.Config, log *slog.Logger, store audit.Store) (*daemon.Daemon, error) {
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log, Getenv: c.getenv, Now: c.now, Transport: c.transport, Store: store})
	if err != nil {
		if errors.Is(err, daemon.ErrCredential) {
			return nil, &configError{err}
		}
		return nil, &runError{err}
	}
	return d, nil
}

// selectTargets refuses an unknown --target before any request.
func selectTargets(d *daemon.Daemon, targets []string) error {
	if _, err := d.Select(targets); err != nil {
		return &usageError{msg: err.Error()}
	}
	return nil
}

// --- rotate ---

type rotateCommand struct {
	*cli
	cf      configFlags
	targets stringList
}

func (*rotateCommand) Name() string { return "rotate" }
func (*rotateCommand) Desc() string {
	return "one pass now (a Kubernetes CronJob); exit 1 if a target failed"
}
func (*rotateCommand) Help() string {
	return `usage: pat-rotator rotate --config FILE [--target NAME]...

Rotates every target (or those --target names) once now, then revokes what that
pass left due, and exits 1 if any target was not rotated.
`
}
func (c *rotateCommand) Flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name(), flag.ContinueOnError)
	c.cf.register(fs)
	registerTargets(fs, &c.targets)
	return fs
}
func (c *rotateCommand) Run(ctx context.Context, args []string) error {
	if _, err := parse(c, args); err != nil {
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
	if err := selectTargets(d, c.targets); err != nil {
		return err
	}
	results, err := d.RotateOnce(ctx, c.targets)
	if errors.Is(err, daemon.ErrCredentialInUseCase) {
		return &configError{err}
	}
	WriteResults(c.stdout, results)
	if err != nil {
		fmt.Fprintf(c.stderr, "rotate: %d target(s) not rotated:\n%s\n", failed(results), errText(err))
		return &workError{errReported}
	}
	return nil
}

func failed(results []daemon.TargetResult) int {
	n := 0
	for _, r := range results {
		if r.Err != nil {
			n++
		}
	}
	return n
}

// --- plan ---

type planCommand struct {
	*cli
	cf      configFlags
	targets stringList
}

func (*planCommand) Name() string { return "plan" }
func (*planCommand) Desc() string {
	return "what a rotation would do now, changing nothing"
}
func (*planCommand) Help() string {
	return `usage: pat-rotator plan --config FILE [--target NAME]...

Prints what a rotation of each target (or those --target names) would do now:
which token it would mint, what it would write and revoke. It reads Groo,
GitHub and the store, and changes nothing; a store that does not exist yet is
an error (plan never creates one).
`
}
func (c *planCommand) Flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name(), flag.ContinueOnError)
	c.cf.register(fs)
	registerTargets(fs, &c.targets)
	return fs
}
func (c *planCommand) Run(ctx context.Context, args []string) error {
	if _, err := parse(c, args); err != nil {
		return err
	}
	cfg, err := c.load(c, &c.cf)
	if err != nil {
		return err
	}
	store, err := storeopen.OpenExisting(ctx, cfg.Store, cfg.StorePasswordFile)
	if err != nil {
		return &runError{err}
	}
	defer store.Close()
	d, err := c.newDaemon(ctx, cfg, c.logger(&c.cf), store)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := selectTargets(d, c.targets); err != nil {
		return err
	}
	plans, err := d.PlanAll(ctx, c.targets)
	if errors.Is(err, daemon.ErrCredentialInUseCase) {
		return &configError{err}
	}
	WritePlans(c.stdout, plans)
	if err != nil {
		return &runError{err}
	}
	return nil
}

// --- history ---

type historyCommand struct {
	*cli
	cf                     configFlags
	useCase, since, format string
	limit                  int
}

func (*historyCommand) Name() string { return "history" }
func (*historyCommand) Desc() string {
	return "the store's rotation history and pending revokes (no credential needed)"
}
func (*historyCommand) Help() string {
	return `usage: pat-rotator history --config FILE [--use-case UC] [--since 72h] [--limit N] [--format table|json|csv]

Prints the store's rotation events (the newest --limit, oldest first) and the
pending revokes, of every use case or of --use-case only: a table, JSON (the
status page's /api/v1/history form, with the pending revokes) or CSV (the
events only, the status page's CSV). It reads the store only: no credential
is needed, and a store that does not exist is an error.
`
}
func (c *historyCommand) Flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name(), flag.ContinueOnError)
	c.cf.register(fs)
	fs.StringVar(&c.useCase, "use-case", "", "only this use case (`UC`, the token name), in the events and the pending revokes")
	fs.StringVar(&c.since, "since", "", "only events newer than this `AGE`, e.g. 72h, 7d or 1d12h (default: all)")
	fs.IntVar(&c.limit, "limit", 200, "at most `N` events (the newest)")
	fs.StringVar(&c.format, "format", "table", "`FORMAT`: table, json or csv")
	return fs
}
func (c *historyCommand) Run(ctx context.Context, args []string) error {
	if _, err := parse(c, args); err != nil {
		return err
	}
	switch c.format {
	case "table", "json", "csv":
	default:
		return &usageError{msg: fmt.Sprintf("history: --format %q: use table, json or csv", c.format)}
	}
	q := audit.HistoryQuery{UseCase: c.useCase, Limit: c.limit}
	if c.since != "" {
		dur, err := parseSince(c.since)
		if err != nil {
			return &usageError{msg: "history: --since: " + err.Error()}
		}
		if dur > 0 {
			now := time.Now
			if c.now != nil {
				now = c.now
			}
			q.Since = now().Add(-dur)
		}
	}
	cfg, err := c.load(c, &c.cf)
	if err != nil {
		return err
	}
	// The history needs the store only: no credential.
	store, err := storeopen.OpenExisting(ctx, cfg.Store, cfg.StorePasswordFile)
	if err != nil {
		return &runError{err}
	}
	defer store.Close()
	events, err := store.History(ctx, q)
	if err != nil {
		return &runError{err}
	}
	pending, err := store.PendingRevokes(ctx)
	if err != nil {
		return &runError{err}
	}
	if c.useCase != "" {
		if err := c.knownUseCase(ctx, cfg, store, pending); err != nil {
			return err
		}
		pending = slices.DeleteFunc(pending, func(p audit.PendingRevoke) bool { return p.UseCase != c.useCase })
	}
	switch c.format {
	case "csv":
		if err := audit.WriteHistoryCSV(c.stdout, events); err != nil {
			return &runError{err}
		}
		return nil
	case "json":
		out := struct {
			statuspage.History
			Pending []statuspage.PendingRevoke `json:"pending_revokes"`
		}{statuspage.History{Version: statuspage.Version, GeneratedAt: time.Now().UTC(), UseCase: c.useCase, Since: q.Since.UTC(),
			Events: events}, statuspage.PendingFromAudit(pending)}
		if out.Events == nil {
			out.Events = []audit.Event{}
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return &runError{err}
		}
		return nil
	}
	audit.RenderHistory(c.stdout, events)
	fmt.Fprintln(c.stdout)
	audit.RenderPending(c.stdout, pending)
	return nil
}

// knownUseCase refuses a --use-case that neither the configuration nor the
// store knows, with the ones they know.
func (c *historyCommand) knownUseCase(ctx context.Context, cfg *config.Config, store audit.Store, pending []audit.PendingRevoke) error {
	var known []string
	for _, t := range cfg.Targets {
		known = append(known, t.UseCase)
	}
	for _, p := range pending {
		known = append(known, p.UseCase)
	}
	if slices.Contains(known, c.useCase) {
		return nil
	}
	// A use case no longer configured may still have history.
	old, err := store.History(ctx, audit.HistoryQuery{UseCase: c.useCase, Limit: 1})
	if err != nil {
		return &runError{err}
	}
	if len(old) > 0 {
		return nil
	}
	slices.Sort(known)
	known = slices.Compact(known)
	quoted := make([]string, len(known))
	for i, k := range known {
		quoted[i] = fmt.Sprintf("  %q", k)
	}
	return &usageError{msg: fmt.Sprintf("history: --use-case %q: no such use case in %s or its store; the known ones:\n%s",
		c.useCase, c.cf.config, strings.Join(quoted, "\n"))}
}

// --- validate ---

type validateCommand struct {
	*cli
	cf configFlags
}

func (*validateCommand) Name() string { return "validate" }
func (*validateCommand) Desc() string { return "check the configuration, make no request" }
func (*validateCommand) Help() string {
	return `usage: pat-rotator validate --config FILE

Checks the configuration and lists its targets with their schedules. Makes no
request and opens no store. Every problem is reported at once, with file:line.
`
}
func (c *validateCommand) Flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name(), flag.ContinueOnError)
	c.cf.register(fs)
	return fs
}
func (c *validateCommand) Run(_ context.Context, args []string) error {
	if _, err := parse(c, args); err != nil {
		return err
	}
	cfg, err := c.load(c, &c.cf)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: valid, %d target(s)\n", c.cf.config, len(cfg.Targets))
	WriteTargets(c.stdout, cfg)
	return nil
}

// --- demo ---

type demoCommand struct {
	*cli
	verbose bool
}

func (*demoCommand) Name() string { return "demo" }
func (*demoCommand) Desc() string {
	return "rotate three targets twice against in-process emulators"
}
func (*demoCommand) Help() string {
	return `usage: pat-rotator demo [--verbose]

Starts the Groo and GitHub emulators in process on loopback, rotates a
repository, an environment and an organization target twice through the real
code path, prints each rotation and the audit history, and checks that every
secret holds a live token. Needs no configuration and no network.
`
}
func (c *demoCommand) Flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name(), flag.ContinueOnError)
	fs.BoolVar(&c.verbose, "verbose", false, "log every step (JSON, to stderr); -v for short")
	fs.BoolVar(&c.verbose, "v", false, "")
	return fs
}
func (c *demoCommand) Run(ctx context.Context, args []string) error {
	if _, err := parse(c, args); err != nil {
		return err
	}
	var log *slog.Logger
	if c.verbose {
		log = slog.New(safetext.NewHandler(logHandler(c.stderr, "json", nil)))
	}
	if err := demo.Run(ctx, c.stdout, demo.Options{Logger: log, Transport: c.transport}); err != nil {
		return &workError{err}
	}
	return nil
}
