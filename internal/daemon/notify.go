package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/notify"
)

// newNotifier resolves the configured webhooks (their URLs are credentials,
// named by url-env or url-file) and starts the notifier; nil without any.
func newNotifier(cfg *config.Config, getenv func(string) string, claims notify.Claimer, log *slog.Logger) (*notify.Notifier, error) {
	ns := cfg.Notify
	if len(ns.Webhooks) == 0 {
		return nil, nil
	}
	s := notify.Settings{FailedRuns: ns.FailedRuns, ExpiryWarning: ns.ExpiryWarning, StuckRevoke: ns.StuckRevoke}
	for i, w := range ns.Webhooks {
		url, err := readSecret(fmt.Sprintf("notify.webhooks[%d]", i), w.URLEnv, w.URLFile, getenv)
		if err != nil {
			return nil, err
		}
		src := "env " + w.URLEnv
		if w.URLFile != "" {
			src = "file " + w.URLFile
		}
		s.Webhooks = append(s.Webhooks, notify.Webhook{URL: url, Format: notify.Format(w.Format), Source: src})
	}
	// The store's claims make one replica of several send each notification.
	n, err := notify.New(notify.Options{Settings: s.WithDefaults(), Logger: log, Claimer: claims})
	if err != nil {
		return nil, fmt.Errorf("%w: notify: %w", ErrCredential, err)
	}
	return n, nil
}

// storeClaimer is the store's claims as the notifier's, in the name of
// this daemon's lease holder ("host/pid/random"): a notification claimed by
// a process that died before it was sent is the next claimer's.
type storeClaimer struct {
	claims audit.Claims
	holder string
}

var _ notify.Claimer = storeClaimer{}

func (c storeClaimer) Claim(ctx context.Context, key string) (bool, error) {
	return c.claims.Claim(ctx, key, c.holder)
}

func (c storeClaimer) Done(ctx context.Context, key string) error {
	return c.claims.ClaimDone(ctx, key, c.holder)
}

// observe tells the notifier every condition that is true now; it sends
// what is new and what cleared, once. It gathers its facts from the store
// and the targets' counters, and never blocks on a webhook.
func (d *Daemon) observe(ctx context.Context) {
	if d.notifier == nil {
		return
	}
	now := d.now()
	pending, err := d.store.PendingRevokes(ctx)
	if err != nil {
		d.log.Warn("notifications: pending revokes unavailable", "error", err.Error())
	}
	var facts notify.Facts
	for _, t := range d.targets {
		tf := notify.TargetFacts{Target: t.cfg.Name, UseCase: t.cfg.UseCase, ConsecutiveFailures: int(t.failures.Load())}
		if e := t.lastError.Load(); e != nil {
			tf.LastError = *e
		}
		tf.FailingSince = t.failingSince.Load()
		if cur, ok, err := d.store.Current(ctx, t.cfg.UseCase); err == nil && ok {
			tf.SecretTokenExpiresAt = cur.ExpiresAt
			tf.LastSuccess = cur.WrittenAt
		}
		for _, p := range pending {
			if p.UseCase == t.cfg.UseCase {
				tf.PendingRevokes = append(tf.PendingRevokes, notify.PendingRevoke{TokenID: p.TokenID, RevokeAfter: p.RevokeAfter})
			}
		}
		facts.Targets = append(facts.Targets, tf)
	}
	if _, tok, ok := d.credInfo.get(); ok {
		facts.Credentials = append(facts.Credentials, notify.CredentialFacts{Name: "pat-rotator's Groo credential " + tok.ID, ExpiresAt: tok.ExpiresAt})
	}
	d.notifier.Observe(ctx, now, notify.Evaluate(facts, d.notifySettings(), now))
}

func (d *Daemon) notifySettings() notify.Settings {
	ns := d.cfg.Notify
	return notify.Settings{FailedRuns: ns.FailedRuns, ExpiryWarning: ns.ExpiryWarning, StuckRevoke: ns.StuckRevoke}.WithDefaults()
}

// settle records a finished attempt of t for the retries, the status page
// and the notifications.
func (d *Daemon) settle(t *target, tr TargetResult) {
	if tr.Err == nil {
		t.failures.Store(0)
		t.lastError.Store(nil)
		t.failingSince.Store(nil)
		return
	}
	if t.failures.Add(1) == 1 {
		now := d.now()
		t.failingSince.Store(&now)
	}
	msg := tr.Err.Error()
	t.lastError.Store(&msg)
}
