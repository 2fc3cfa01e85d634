package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/prune"
)

// `pat-rotator audit`: the daemon gathers what audit.Build needs (the bot's
// Groo tokens, each target's secret metadata, the store, the schedules),
// and applies a prune plan. Building, rendering and planning are the audit
// package's; nothing here holds a token value.

// AuditRequest says what an audit covers.
type AuditRequest struct {
	// Targets are target names or use cases (as Select takes them); none
	// audits every configured target.
	Targets []string
	// Since limits the history read to this period before now; 0 reads it
	// all.
	Since time.Duration
}

// AuditInput reads everything the report is computed from. It changes
// nothing: GET /v1/auth/me and /v1/account/tokens on Groo (which only moves
// the bot token's lastUsed), a GET of each target's secret (its metadata,
// never its value) on GitHub, and reads of the store.
//
// A secret whose metadata cannot be read is reported as unreadable rather
// than failing the audit; a Groo or store failure fails it, since the report
// would say nothing true without them.
//
// Orphans are looked for only when the audit covers every configured
// target: with a subset, the tokens of the targets left out would look
// like orphans, and --prune would revoke them.
func (d *Daemon) AuditInput(ctx context.Context, req AuditRequest) (audit.Input, error) {
	targets, err := d.Select(req.Targets)
	if err != nil {
		return audit.Input{}, err
	}
	now := d.now().UTC()
	cred := d.cred()
	in := audit.Input{Now: now, Policy: d.cfg.Audit.Policy(),
		Credential: audit.CredentialRef{Prefix: cred.TokenPrefix(), LastFour: cred.LastFour()}}
	for _, t := range d.cfg.Targets {
		in.KnownNames = append(in.KnownNames, t.UseCase)
	}
	if req.Since > 0 {
		in.Policy.Since = now.Add(-req.Since)
	}
	if len(req.Targets) == 0 {
		in.ToolNamePrefixes = audit.DefaultToolNamePrefixes
	}

	me, err := d.grooC.Me(ctx, cred)
	if err != nil {
		return audit.Input{}, fmt.Errorf("audit: read the bot's Groo identity: %w", err)
	}
	in.Caller = me.ID
	if in.Tokens, err = d.grooC.List(ctx, cred); err != nil {
		return audit.Input{}, fmt.Errorf("audit: list the bot's Groo tokens: %w", err)
	}

	// One read of the history and of the pending revokes for the whole
	// fleet, split by use case.
	events, err := d.store.History(ctx, audit.HistoryQuery{Since: in.Policy.Since})
	if err != nil {
		return audit.Input{}, fmt.Errorf("audit: %w", err)
	}
	history := map[string][]audit.Event{}
	for _, e := range events {
		history[e.UseCase] = append(history[e.UseCase], e)
	}
	pending, err := d.store.PendingRevokes(ctx)
	if err != nil {
		return audit.Input{}, fmt.Errorf("audit: %w", err)
	}
	pendingBy := map[string][]audit.PendingRevoke{}
	for _, p := range pending {
		pendingBy[p.UseCase] = append(pendingBy[p.UseCase], p)
	}

	// The secrets' metadata, a GET each: concurrent within the configured
	// bound, in configuration order in the report.
	in.UseCases = make([]audit.UseCaseInput, len(targets))
	errs := make([]error, len(targets))
	sem := make(chan struct{}, max(d.cfg.Daemon.Concurrency, 1))
	var wg sync.WaitGroup
	for i, tc := range targets {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			in.UseCases[i], errs[i] = d.auditUseCase(ctx, tc, now, history[tc.UseCase], pendingBy[tc.UseCase])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return audit.Input{}, fmt.Errorf("audit: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return audit.Input{}, fmt.Errorf("audit: %w", err)
	}
	return in, nil
}

func (d *Daemon) auditUseCase(ctx context.Context, tc *config.TargetConfig, now time.Time, history []audit.Event,
	pending []audit.PendingRevoke) (audit.UseCaseInput, error) {
	uc := audit.UseCaseInput{
		UseCase: tc.UseCase, Target: tc.Name, History: history, PendingRevokes: pending, Interval: tc.MaxInterval,
		Grace: tc.Grace,
	}
	if next := tc.Schedule.Next(now); !next.IsZero() {
		uc.NextRun = &next
	}
	cur, ok, err := d.store.Current(ctx, tc.UseCase)
	if err != nil {
		return uc, err
	}
	if ok {
		uc.CurrentTokenID = cur.TokenID
	}
	md, err := d.secrets.Metadata(ctx, tc.Target)
	if err != nil {
		// The report says "unreadable" and what to do; the reason goes to
		// the log.
		d.log.Warn("audit: could not read the secret's metadata", "target", tc.Name, "error", err.Error())
		return uc, nil
	}
	uc.Secret = &md
	return uc, nil
}

// PrunePlan says which of the report's extra tokens and orphans are safe to
// revoke now (audit.PlanPrune): each use case with its target's
// revoke-grace, each token judged by its own writer's write window, the
// orphans once no run can still write them, the unmanaged tokens only when
// in.IncludeUnmanaged. The bot's own credential is never planned for
// revocation.
func (d *Daemon) PrunePlan(r audit.Report, in audit.Input) []audit.PruneAction {
	grace := map[string]time.Duration{}
	for _, t := range d.cfg.Targets {
		grace[t.UseCase] = t.Grace
	}
	keep := d.credentialMatcher()
	out := []audit.PruneAction{}
	for _, uc := range r.UseCases {
		one := r
		one.UseCases, one.Orphans, one.Unmanaged = []audit.UseCaseReport{uc}, nil, nil
		out = append(out, audit.PlanPrune(one, in, grace[uc.UseCase], keep)...)
	}
	orphans := r
	orphans.UseCases = nil
	return append(out, audit.PlanPrune(orphans, in, 0, keep)...)
}

// Prune revokes the plan's tokens that are not skipped, with the bot's
// credential, and returns the ids Groo confirmed revoked.
//
// Each revoke is logged (token id, use case, actor). The store keeps no
// event for it: its events are rotation attempts (I7), which the report
// reads as the use case's last rotation, its successes and its failures; a
// revoke is none of those. What the store does keep is updated: a pending
// revoke of a pruned token is done, so the sweep does not retry it.
func (d *Daemon) Prune(ctx context.Context, plan []audit.PruneAction) ([]string, error) {
	revoked, err := prune.Apply(ctx, d.grooC, d.cred(), plan)
	byID := map[string]audit.PruneAction{}
	for _, a := range plan {
		byID[a.TokenID] = a
	}
	for _, id := range revoked {
		a := byID[id]
		d.log.Info("audit prune: token revoked", "token_id", id, "use_case", a.UseCase, "orphan", a.Orphan,
			"prefix", a.Prefix, "last_four", a.LastFour, "actor", d.actor)
		if derr := d.store.RevokeDone(context.WithoutCancel(ctx), id); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if err != nil {
		d.log.Error("audit prune: not every revoke succeeded", "error", err.Error())
	}
	d.refreshPendingGauge(ctx)
	return revoked, err
}
