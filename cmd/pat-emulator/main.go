// Command pat-emulator serves stateful emulators of the Groo Accounts API and
// of GitHub's secrets API on one address, for local trials, the demo and
// end-to-end tests. Its admin API (/_emulator/state, ...) hands out token
// secrets and secret values on purpose: listen on loopback only.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/groo/pat-action/internal/buildinfo"
	"github.com/groo/pat-action/internal/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pat-emulator:", err)
	}
	os.Exit(exitStatus(err))
}

// usageError is a command line or seed refused: exit 2, as pat-rotator's
// usage and configuration errors (README "Exit codes"); any other error
// (the address cannot be listened on) is 3, could not run.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func exitStatus(err error) int {
	var u *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 3
}

const help = `usage: pat-emulator [--listen ADDR] [--seed FILE] [--chaos RATE [--chaos-seed N]] [--verbose]

Serves stateful emulators of the Groo Accounts API and of GitHub's secrets API
on one address, and prints "pat-emulator listening on URL" once it listens.
Its admin API (/_emulator/state, ...) hands out token secrets and secret
values on purpose: listen on loopback only. SIGTERM or Ctrl-C stops it.

Flags:
  --listen ADDR
      address to listen on (default 127.0.0.1:8080)
  --seed FILE
      JSON seed file: users, tokens, repositories, environments, secrets
  --chaos RATE
      fail this fraction (0..1) of the API requests at random: 5xx, 429,
      timeouts and answers dropped after acting (POST /_emulator/chaos
      changes or stops it)
  --chaos-seed N
      the chaos's random seed (default 1)
  --verbose
      log every request to stderr (-v for short)
  --version
      print the module version and commit, and exit
`

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pat-emulator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	listen := fs.String("listen", "127.0.0.1:8080", "")
	seedFile := fs.String("seed", "", "")
	chaosRate := fs.Float64("chaos", 0, "")
	chaosSeed := fs.Uint64("chaos-seed", 1, "")
	verbose := fs.Bool("verbose", false, "")
	fs.BoolVar(verbose, "v", false, "")
	version := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, help)
			return nil
		}
		return &usageError{fmt.Errorf("%w\n\n%s", err, help)}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Errorf("unexpected arguments %q\n\n%s", fs.Args(), help)}
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.Version("pat-emulator"))
		return nil
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if host, _, err := net.SplitHostPort(*listen); err == nil {
		if ip := net.ParseIP(host); (ip == nil && host != "localhost") || (ip != nil && !ip.IsLoopback()) {
			logger.Warn("listening beyond loopback: the admin API hands out every token and secret value", "listen", *listen)
		}
	}

	e := emulator.New(emulator.WithLogger(logger))
	if *seedFile != "" {
		b, err := os.ReadFile(*seedFile)
		if err != nil {
			return &usageError{fmt.Errorf("read seed: %w", err)}
		}
		var s emulator.Seed
		if err := json.Unmarshal(b, &s); err != nil {
			return &usageError{fmt.Errorf("parse seed %s: %w", *seedFile, err)}
		}
		if err := e.Seed(s); err != nil {
			return &usageError{fmt.Errorf("seed from %s: %w", *seedFile, err)}
		}
	}

	if err := e.SetChaos(emulator.Chaos{Rate: *chaosRate, Seed: *chaosSeed}); err != nil {
		return &usageError{fmt.Errorf("--chaos: %w", err)}
	}

	url, shutdown, err := emulator.Start(*listen, e)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(stdout)
	fmt.Fprintf(out, "pat-emulator listening on %s\n", url)
	if err := out.Flush(); err != nil {
		_ = shutdown(context.Background())
		return fmt.Errorf("write address: %w", err)
	}

	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}
