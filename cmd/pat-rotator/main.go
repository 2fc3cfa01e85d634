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
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/groo/pat-action/internal/buildinfo"
	"github.com/groo/pat-action/internal/safetext"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil && !errors.Is(err, errReported) {
		fmt.Fprintf(os.Stderr, "pat-rotator: %s\n", errText(err))
	}
	os.Exit(exitStatus(err))
}

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

// command is one of pat-rotator's commands. Flags returns a new flag set
// bound to the command's fields; Run parses args with it (flag.ErrHelp
// when -h was asked: the caller prints Help) and does the work.
type command interface {
	Name() string
	Desc() string // one line, for the command table
	Help() string // usage line and description; the flags follow it
	Flags() *flag.FlagSet
	Run(ctx context.Context, args []string) error
}

// commands is the command table, in the order the usage lists them.
func (c *cli) commands() []command {
	return []command{
		&runCommand{cli: c},
		&rotateCommand{cli: c},
		&planCommand{cli: c},
		&auditCommand{cli: c},
		&historyCommand{cli: c},
		&validateCommand{cli: c},
		&demoCommand{cli: c},
		&versionCommand{cli: c},
	}
}

func (c *cli) lookup(name string) command {
	for _, cmd := range c.commands() {
		if cmd.Name() == name {
			return cmd
		}
	}
	return nil
}

// usage is the general help: the command table and the exit codes.
func (c *cli) usage() string {
	var b strings.Builder
	b.WriteString("usage: pat-rotator COMMAND [flags]\n\nCommands:\n")
	for _, cmd := range c.commands() {
		fmt.Fprintf(&b, "  %-9s %s\n", cmd.Name(), cmd.Desc())
	}
	b.WriteString("  help      COMMAND: that command's flags (also: pat-rotator COMMAND -h)\n")
	b.WriteString(`
Flags: --help, --version

Exit codes (every command):
  0  done
  1  the work failed: a target was not rotated, a finding at --fail-on
  2  usage or configuration error: bad flags, an invalid configuration, a missing credential
  3  could not run: the store, Groo or GitHub could not be reached or read, a revoke failed
`)
	return b.String()
}

// commandHelp is a command's help and its flags, written --flag.
func commandHelp(cmd command) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(cmd.Help(), "\n"))
	b.WriteString("\n")
	fs := cmd.Flags()
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage == "" { // a short alias, named in its long flag's usage
			return
		}
		if first {
			b.WriteString("\nFlags:\n")
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(&b, "%s\n      %s", line, usage)
		if !isZeroDefault(f) {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	return b.String()
}

func isZeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "[]":
		return true
	}
	return false
}

func (c cli) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{msg: "no command", help: c.usage()}
	}
	name, args := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		fmt.Fprint(c.stdout, c.usage())
		return nil
	case "-version", "--version":
		name = "version"
	case "help":
		switch len(args) {
		case 0:
			fmt.Fprint(c.stdout, c.usage())
			return nil
		case 1:
			cmd := c.lookup(args[0])
			if cmd == nil {
				return &usageError{msg: fmt.Sprintf("help: unknown command %q", args[0]), help: c.usage()}
			}
			fmt.Fprint(c.stdout, commandHelp(cmd))
			return nil
		}
		return &usageError{msg: "help takes one command", help: c.usage()}
	}
	cmd := c.lookup(name)
	if cmd == nil {
		return &usageError{msg: fmt.Sprintf("unknown command %q", name), help: c.usage()}
	}
	err := cmd.Run(ctx, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.stdout, commandHelp(cmd))
		return nil
	}
	return err
}

// parse parses args with cmd's flags: flag.ErrHelp for -h, a usage error
// (with the command's help) for a bad flag or an argument.
func parse(cmd command, args []string) (*flag.FlagSet, error) {
	fs := cmd.Flags()
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, flag.ErrHelp
		}
		return nil, &usageError{msg: cmd.Name() + ": " + err.Error(), help: commandHelp(cmd)}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{msg: fmt.Sprintf("%s: unexpected argument %q", cmd.Name(), fs.Arg(0)), help: commandHelp(cmd)}
	}
	return fs, nil
}

// versionCommand prints the build's module version and commit.
type versionCommand struct{ *cli }

func (*versionCommand) Name() string { return "version" }
func (*versionCommand) Desc() string {
	return "the module version and commit of this binary (also: --version)"
}
func (*versionCommand) Help() string {
	return "usage: pat-rotator version\n\nPrints the module version, the commit and its time, from the build information.\n"
}
func (*versionCommand) Flags() *flag.FlagSet { return flag.NewFlagSet("version", flag.ContinueOnError) }
func (c *versionCommand) Run(_ context.Context, args []string) error {
	if _, err := parse(c, args); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, buildinfo.Version("pat-rotator"))
	return nil
}

// errText is an error as pat-rotator prints it on a terminal: every token
// value redacted, control characters escaped (line breaks kept).
func errText(err error) string { return safetext.Text(safetext.Redact(err.Error())) }
