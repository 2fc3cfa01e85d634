// Command pat-action is the container GitHub Action that keeps a Groo PAT in
// a GitHub secret fresh and alone (uses: groo/pat-action@v1). The runner
// passes the step's inputs as INPUT_* variables; see action.yml.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-githubactions"

	"github.com/groo/pat-action/internal/action"
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
	err := realMain(ctx)
	stop()
	if err != nil {
		// action.Run has printed the ::error:: annotation already.
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	log := action.NewStepLog(os.Stdout, os.Stderr)
	a := githubactions.New(githubactions.WithWriter(log.Lossy()))
	return action.Run(ctx, a, action.Deps{Log: log, AuditFallback: os.Stderr})
}
