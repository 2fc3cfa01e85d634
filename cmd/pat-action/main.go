// Command pat-action is the container GitHub Action that keeps a Groo PAT in
// a GitHub secret fresh and alone (uses: groo/pat-action@v1). The runner
// passes the step's inputs as INPUT_* variables; see action.yml.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-githubactions"

	"github.com/groo/pat-action/internal/action"
	"github.com/groo/pat-action/internal/buildinfo"
)

func main() {
	// The runner sends SIGTERM when a job is cancelled: the context lets a
	// rotation stop between steps instead of dying in the middle of one.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A write to a closed stdout pipe would raise SIGPIPE and end the
	// process mid-rotation (a new token minted, the old one not revoked, no
	// final audit event). Ignored, the write fails with EPIPE instead, which
	// the step's log absorbs (action.StepLog) while the rotation goes on.
	signal.Ignore(syscall.SIGPIPE)
	err := realMain(ctx, os.Args[1:], os.Stdout)
	stop()
	var u *usageError
	switch {
	case err == nil:
	case errors.As(err, &u):
		fmt.Fprintf(os.Stderr, "pat-action: %v\n\n%s", err, help)
		os.Exit(2)
	default:
		// action.Run has printed the ::error:: annotation already.
		os.Exit(1)
	}
}

const help = `usage: pat-action [--help | --version]

The container GitHub Action that rotates a Groo PAT into a GitHub secret:
  - uses: groo/pat-action@v1
    with: {groo-token: ..., github-token: ...}
The runner runs it without arguments and passes the step's inputs as INPUT_*
variables (action.yml lists them; the README documents them). Outside a runner,
try it against the emulators: bash examples/try.sh.

Flags:
  --help
      print this help, and exit
  --version
      print the module version and commit, and exit
`

// usageError is an argument the Action does not take: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// realMain runs the Action; with an argument (the runner passes none) it
// prints its help or version instead.
func realMain(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stdout, help)
			return nil
		case "-version", "--version", "version":
			fmt.Fprintln(stdout, buildinfo.Version("pat-action"))
			return nil
		}
		return &usageError{fmt.Sprintf("unexpected argument %q: the runner passes the inputs as INPUT_* variables", args[0])}
	}
	log := action.NewStepLog(stdout, os.Stderr)
	a := githubactions.New(githubactions.WithWriter(log.Lossy()))
	return action.Run(ctx, a, action.Deps{Log: log, AuditFallback: os.Stderr})
}
