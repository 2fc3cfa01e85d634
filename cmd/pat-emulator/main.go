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

	"github.com/groo/pat-action/internal/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pat-emulator:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pat-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on (loopback: the admin API serves secrets)")
	seedFile := fs.String("seed", "", "JSON seed file (users, tokens, repositories, ...)")
	verbose := fs.Bool("v", false, "log every request to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
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
			return fmt.Errorf("read seed: %w", err)
		}
		var s emulator.Seed
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("parse seed %s: %w", *seedFile, err)
		}
		if err := e.Seed(s); err != nil {
			return fmt.Errorf("seed from %s: %w", *seedFile, err)
		}
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
