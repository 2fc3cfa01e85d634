package daemon

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/statuspage"
)

// The daemon is the status page's source of truth.
var _ statuspage.Source = (*Daemon)(nil)

// credentialInfo is what the daemon knows of its own PAT, once identified.
type credentialInfo struct {
	mu   sync.Mutex
	user string
	tok  groo.TokenInfo
	ok   bool
}

func (c *credentialInfo) set(user string, tok groo.TokenInfo, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.user, c.tok, c.ok = user, tok, ok
}

func (c *credentialInfo) get() (string, groo.TokenInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user, c.tok, c.ok
}

// Status is every target's state as the store and the scheduler know it:
// never a token value (ids and last fours only), read-only.
func (d *Daemon) Status(ctx context.Context) (statuspage.Status, error) {
	now := d.now()
	var st statuspage.Status
	if user, tok, ok := d.credInfo.get(); ok || user != "" {
		st.Credential = statuspage.Credential{User: user, TokenID: tok.ID, LastFour: tok.LastFour, ExpiresAt: tok.ExpiresAt}
	}
	pending, err := d.store.PendingRevokes(ctx)
	if err != nil {
		return st, fmt.Errorf("status: pending revokes: %w", err)
	}
	for _, t := range d.targets {
		uc := t.cfg.UseCase
		tg := statuspage.Target{Name: t.cfg.Name, UseCase: uc, Findings: []audit.Finding{}, RetryAt: t.retryAt.Load()}
		var mine []audit.PendingRevoke
		for _, p := range pending {
			if p.UseCase == uc {
				mine = append(mine, p)
			}
		}
		tg.Pending = statuspage.PendingFromAudit(mine)
		cur, ok, err := d.store.Current(ctx, uc)
		if err != nil {
			return st, fmt.Errorf("status: %s: %w", t.cfg.Name, err)
		}
		if ok {
			tg.Secret = statuspage.Secret{TokenID: cur.TokenID, LastFour: cur.LastFour, ExpiresAt: cur.ExpiresAt}
		}
		evs, err := d.store.History(ctx, audit.HistoryQuery{UseCase: uc, Limit: 1})
		if err != nil {
			return st, fmt.Errorf("status: %s: %w", t.cfg.Name, err)
		}
		if n := len(evs); n > 0 {
			e := evs[n-1]
			tg.LastRotation = &statuspage.Rotation{Time: e.Time, Outcome: e.Outcome, Error: e.Error}
		}
		if t.cfg.Schedule != nil {
			next := t.cfg.Schedule.Next(now)
			tg.NextRun = &next
		}
		st.Targets = append(st.Targets, tg)
	}
	// The replicas sharing the store, by the leases they hold now.
	held, err := d.store.HeldLeases(ctx)
	if err != nil {
		return st, fmt.Errorf("status: leases: %w", err)
	}
	byHolder := map[string]int{}
	for _, l := range held {
		i, ok := byHolder[l.Holder]
		if !ok {
			i = len(st.Replicas)
			byHolder[l.Holder] = i
			st.Replicas = append(st.Replicas, statuspage.Replica{Holder: l.Holder, Self: l.Holder == d.holder})
		}
		st.Replicas[i].Leases = append(st.Replicas[i].Leases, statuspage.Lease{UseCase: l.UseCase, ExpiresAt: l.Expires, Term: l.Term})
	}
	return st, nil
}

// History is the store's events of a use case (all when empty) since a
// time. A use case that neither the configuration nor the store knows is
// statuspage.ErrUnknownUseCase.
func (d *Daemon) History(ctx context.Context, useCase string, since time.Time) ([]audit.Event, error) {
	evs, err := d.store.History(ctx, audit.HistoryQuery{UseCase: useCase, Since: since})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if useCase != "" && len(evs) == 0 && !slices.ContainsFunc(d.targets, func(t *target) bool { return t.cfg.UseCase == useCase }) {
		return nil, fmt.Errorf("%w: %q", statuspage.ErrUnknownUseCase, useCase)
	}
	return evs, nil
}
