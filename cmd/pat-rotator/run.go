package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/daemon"
)

// runCommand is the daemon. SIGTERM and Ctrl-C stop it (main's context);
// SIGHUP reloads the configuration.
type runCommand struct {
	*cli
	cf     configFlags
	listen string
}

func (*runCommand) Name() string { return "run" }
func (*runCommand) Desc() string {
	return "the daemon: rotate every target on its schedule"
}
func (*runCommand) Help() string {
	return `usage: pat-rotator run --config FILE [--listen ADDR]

The daemon: rotates every target on its schedule, sweeps the pending revokes,
and serves /healthz, /readyz, /metrics and the status page on the
configuration's listen (--listen overrides it, e.g. 0.0.0.0:9464 in a
container, without editing the file).

SIGTERM or Ctrl-C: no new rotation starts, the ones in flight finish (at most
daemon.shutdown-timeout), the process exits 0.
SIGHUP: reloads the configuration. A file that is not valid (or names a
credential the environment lacks) is logged and the daemon keeps running with
the configuration it has; a valid one replaces it: the running daemon stops as
on SIGTERM (its rotations in flight finish) and the new one starts (its
metrics start from zero).
`
}
func (c *runCommand) Flags() *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name(), flag.ContinueOnError)
	c.cf.register(fs)
	fs.StringVar(&c.listen, "listen", "", "`ADDR` (host:port) of the HTTP listener, instead of the configuration's listen")
	return fs
}

// override applies the flags that beat the file.
func (c *runCommand) override(cfg *config.Config) {
	if c.listen != "" {
		cfg.Listen = c.listen
	}
}

func (c *runCommand) Run(ctx context.Context, args []string) error {
	// From here on SIGHUP no longer ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if _, err := parse(c, args); err != nil {
		return err
	}
	cfg, err := c.load(c, &c.cf)
	if err != nil {
		return err
	}
	c.override(cfg)
	log := c.logger(&c.cf)
	d, err := c.newDaemon(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		var next *daemon.Daemon
		var targets int
		for next == nil {
			select {
			case err := <-done:
				stop()
				d.Close()
				if err != nil {
					return &runError{err}
				}
				return nil
			case <-hup:
				next, targets = c.reload(ctx, log)
			}
		}
		log.Info("SIGHUP: the new configuration is valid; stopping the running daemon to start it", "config", c.cf.config)
		stop()
		err := <-done
		d.Close()
		d = next
		if err != nil || ctx.Err() != nil {
			d.Close()
			if err != nil {
				return &runError{err}
			}
			return nil
		}
		log.Info("SIGHUP: configuration reloaded", "config", c.cf.config, "targets", targets)
	}
}

// reload reads and checks the configuration again and builds its daemon;
// nil (and a log line saying why) keeps the running one.
func (c *runCommand) reload(ctx context.Context, log *slog.Logger) (*daemon.Daemon, int) {
	log.Info("SIGHUP: reloading the configuration", "config", c.cf.config)
	cfg, err := config.Load(c.cf.config, c.getenv)
	if err != nil {
		log.Error("SIGHUP: the configuration is not valid; the daemon keeps running with the one it has",
			"config", c.cf.config, "error", err.Error())
		return nil, 0
	}
	c.override(cfg)
	d, err := c.newDaemon(ctx, cfg, log, nil)
	if err != nil {
		log.Error("SIGHUP: the new configuration cannot be used; the daemon keeps running with the one it has",
			"config", c.cf.config, "error", err.Error())
		return nil, 0
	}
	return d, len(cfg.Targets)
}
