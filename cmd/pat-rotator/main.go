// Command pat-rotator keeps Groo PATs fresh in many GitHub secrets: a daemon
// with an in-process cron (run), one-shot passes for a CronJob (rotate), a
// dry run (plan), the audit report and its prune (audit), the store's
// rotation history (history), a configuration check (validate) and a
// self-contained demo (demo).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/storeopen"
	"github.com/groo/pat-action/internal/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintf(os.Stderr, "pat-rotator: %v\n", err)
		}
		os.Exit(exitStatus(err))
	}
}

// exitStatus is the process exit code of realMain's error: 0 for none, 2
// for a usage error, the code an *exitError carries, else 1.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// exitError makes the process exit with a chosen code (audit's documented
// codes, docs/audit.md).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

const usage = `usage: pat-rotator COMMAND [flags]

Commands:
  run      --config FILE                 the daemon: rotate every target on its schedule
  rotate   --config FILE [--target NAME]  one pass now (a Kubernetes CronJob); exit 1 if a target failed
  plan     --config FILE [--target NAME]  what a rotation would do now, changing nothing
  audit    --config FILE [--target NAME]... [--format table|json|markdown] [--since 30d]
           [--fail-on warning|error] [--prune [--yes]]
                                          who holds which token and what breaks the rules;
                                          --prune shows what is safe to revoke, --yes revokes it
                                          (exit 1: findings at --fail-on, 2: usage or
                                          configuration, 3: the audit or a revoke failed)
  history  --config FILE [--use-case UC] [--since 72h] [--limit N]
                                          the store's rotation history and pending revokes
  validate --config FILE                  check the configuration, make no request
  demo                                    rotate three targets twice against in-process emulators
`

// usageError makes the process exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + "\n\n" + usage }

// errReported marks an error whose details were printed already.
var errReported = errors.New("failed")

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return cli{stdout: stdout, stderr: stderr, getenv: getenv}.run(ctx, args)
}

// cli is one invocation's surroundings; tests set now to a fixed clock.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time // nil: time.Now
	// transport is the base transport of the daemon's (and the demo's)
	// Groo and GitHub clients; nil: http.DefaultTransport. Tests check
	// GitHub requests with it.
	transport http.RoundTripper
}

func (c cli) run(ctx context.Context, args []string) error {
	stdout, stderr, getenv := c.stdout, c.stderr, c.getenv
	if len(args) == 0 {
		return &usageError{"no command"}
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	case "demo":
		fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
		fs.SetOutput(stderr)
		verbose := fs.Bool("v", false, "log every step (JSON, to stderr)")
		if err := fs.Parse(args); err != nil {
			return &usageError{err.Error()}
		}
		var log *slog.Logger
		if *verbose {
			log = slog.New(slog.NewJSONHandler(stderr, nil))
		}
		return daemon.Demo(ctx, stdout, daemon.DemoOptions{Logger: log, Transport: c.transport})
	case "run", "rotate", "plan", "audit", "history", "validate":
	default:
		return &usageError{fmt.Sprintf("unknown command %q", cmd)}
	}

	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "configuration file (YAML)")
	var targets stringList
	if cmd == "rotate" || cmd == "plan" || cmd == "audit" {
		fs.Var(&targets, "target", `target to act on, e.g. "repo:octo/app GROO_PAT" or its use case (repeatable; default: all)`)
	}
	var useCase, since string
	var limit int
	if cmd == "history" {
		fs.StringVar(&useCase, "use-case", "", "only this use case")
		fs.StringVar(&since, "since", "", "only events newer than this (e.g. 72h, 7d)")
		fs.IntVar(&limit, "limit", 200, "at most this many events (the newest)")
	}
	var ao auditFlags
	if cmd == "audit" {
		ao.register(fs)
	}
	level := new(slog.LevelVar)
	fs.Func("log-level", "debug, info, warn or error (default info)", func(s string) error { return level.UnmarshalText([]byte(s)) })
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *config == "" {
		return &usageError{"--config FILE is required"}
	}
	if cmd == "audit" {
		if err := ao.check(fs); err != nil {
			return err
		}
	}
	cfg, err := daemon.LoadConfig(*config, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s is not valid:\n%v\n", *config, err)
		if cmd == "audit" {
			return &exitError{code: exitUsage, err: errReported}
		}
		return errReported
	}
	if cmd == "validate" {
		fmt.Fprintf(stdout, "%s: valid, %d target(s)\n", *config, len(cfg.Targets))
		daemon.WriteTargets(stdout, cfg)
		return nil
	}

	if cmd == "history" {
		// The history needs the store only: no credential.
		store, err := storeopen.Open(ctx, cfg.Store, "")
		if err != nil {
			return err
		}
		defer store.Close()
		q := audit.HistoryQuery{UseCase: useCase, Limit: limit}
		if since != "" {
			dur, err := daemon.ParseDuration(since)
			if err != nil {
				return &usageError{fmt.Sprintf("--since %q: write e.g. 72h or 7d", since)}
			}
			q.Since = time.Now().Add(-dur)
		}
		events, err := store.History(ctx, q)
		if err != nil {
			return err
		}
		daemon.WriteHistory(stdout, events)
		pending, err := store.PendingRevokes(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		daemon.WritePending(stdout, pending)
		return nil
	}

	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log, Getenv: getenv, Now: c.now, Transport: c.transport})
	if err != nil {
		if cmd == "audit" {
			// A credential the configuration names but the environment
			// lacks is a configuration problem; anything else is not.
			code := exitFailed
			if errors.Is(err, daemon.ErrCredential) {
				code = exitUsage
			}
			return &exitError{code: code, err: err}
		}
		return err
	}
	defer d.Close()

	switch cmd {
	case "run":
		return d.Run(ctx)
	case "rotate":
		results, err := d.RotateOnce(ctx, targets)
		daemon.WriteResults(stdout, results)
		if err != nil {
			fmt.Fprintf(stderr, "rotate: %d target(s) not rotated:\n%v\n", failed(results), err)
			return errReported
		}
		return nil
	case "plan":
		plans, err := d.PlanAll(ctx, targets)
		daemon.WritePlans(stdout, plans)
		return err
	case "audit":
		return runAudit(ctx, d, targets, ao, stdout, stderr)
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
