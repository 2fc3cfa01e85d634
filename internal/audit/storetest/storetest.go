// Package storetest is the contract every audit.Store passes: events with
// the latest outcome per attempt, the current token, WritesEnded, pending
// revokes, leases (exclusion, expiry, terms, takeover of a dead holder,
// abandoned attempts), fenced writes and the pacing of mutations, on the
// store's own clock and under concurrency. Import it from _test.go files
// only:
//
//	func TestContract(t *testing.T) { storetest.Run(t, openFresh) }
package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/testkit"
)

// Run runs the contract against stores from open, which returns a fresh,
// empty store whose clock is the real one (the store closes at the test's
// end by open's own cleanup).
func Run(t *testing.T, open func(t *testing.T) audit.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, audit.Store)
	}{
		{"RecordKeepsLatestOutcomeAndCurrentToken", testRecord},
		{"CurrentKeepsTheLatestWrite", testCurrentLatestWrite},
		{"WritesEndedIgnoresUnknownWriteOutcome", testWritesEndedUnknown},
		{"HistoryFilters", testHistoryFilters},
		{"RecordRefusesEmptyID", testRecordEmptyID},
		{"PendingRevokesAreRetriedNeverDropped", testPendingRevokes},
		{"ErrorsAreScrubbed", testScrubbed},
		{"LeaseExclusionExpiryAndTakeover", testLeaseLifecycle},
		{"LeaseReleasedIsFreeAndTermGrows", testLeaseRelease},
		{"LeaseOfDeadProcessOnThisHost", testLeaseDeadHolder},
		{"LeaseConcurrentAcquire", testLeaseConcurrentAcquire},
		{"LeaseConcurrentTakeover", testLeaseConcurrentTakeover},
		{"FencedWrites", testFencedWrites},
		{"FencedWritesRaceTakeover", testFencedRace},
		{"FencedRecorderUsesTheContextsLease", testFencedRecorder},
		{"MutationSlots", testMutationSlots},
		{"MutationSlotsConcurrent", testMutationSlotsConcurrent},
		{"ClaimsOnceAmongConcurrentClaimers", testClaims},
		{"ClaimOfADeadHolderIsTakenOver", testClaimDeadHolder},
		{"HeldLeasesListsTheLiveOnes", testHeldLeases},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

const uc = "GitHub Actions - octo/app GROO_PAT"

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// within reports whether a time the store took itself lies between before
// and after, read on this machine around the call (the store's clock may be
// the database server's, on this machine in the tests: a second of slack
// for its resolution and offset).
// reserveStart reserves a slot and returns its start, checking that its
// wait agrees with it.
func reserveStart(t *testing.T, s audit.Store, c context.Context, key string, interval time.Duration) (time.Time, error) {
	t.Helper()
	sl, err := s.ReserveMutationSlot(c, key, interval)
	if err == nil && (sl.Wait() < 0 || sl.Wait() != max(sl.Start.Sub(sl.Now), 0)) {
		t.Errorf("slot %+v waits %v", sl, sl.Wait())
	}
	return sl.Start, err
}

func within(got, before, after time.Time) bool {
	return !got.Before(before.Add(-time.Second)) && !got.After(after.Add(time.Second))
}

func testRecord(t *testing.T, s audit.Store) {
	c := ctx(t)
	start := time.Now().UTC()
	started := audit.Event{ID: "att_1", Time: start, Outcome: audit.OutcomeStarted, UseCase: uc, Target: "repo:octo/app GROO_PAT", Actor: "host", Tool: "pat-rotator"}
	if err := s.Record(c, started); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.WritesEnded(c, uc, "tok_1"); err != nil || ok {
		t.Fatalf("WritesEnded before the end = %v, %v; want false", ok, err)
	}
	exp := start.Add(72 * time.Hour)
	written := start.Add(time.Second)
	done := started
	done.Outcome, done.NewTokenID, done.NewTokenPrefix, done.NewTokenLast4 = audit.OutcomeSucceeded, "tok_1", "groo_pat_ab", "c183"
	done.NewExpiresAt, done.WrittenAt, done.Duration = &exp, &written, 2*time.Second
	done.Revoked = []string{"tok_0"}
	before := time.Now()
	if err := s.Record(c, done); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	// A started event arriving late must not undo the final outcome.
	if err := s.Record(c, started); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(c, audit.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Outcome != audit.OutcomeSucceeded || h[0].NewTokenLast4 != "c183" || len(h[0].Revoked) != 1 || !h[0].Time.Equal(start) {
		t.Fatalf("history = %+v, want one succeeded event", h)
	}
	cur, ok, err := s.Current(c, uc)
	if err != nil || !ok {
		t.Fatalf("Current = %v, %v", ok, err)
	}
	if cur.TokenID != "tok_1" || cur.LastFour != "c183" || cur.Prefix != "groo_pat_ab" || cur.ExpiresAt == nil || !cur.ExpiresAt.Equal(exp) ||
		cur.WrittenAt == nil || !cur.WrittenAt.Equal(written) || cur.AttemptID != "att_1" || cur.Target != "repo:octo/app GROO_PAT" {
		t.Errorf("current = %+v", cur)
	}
	end, ok, err := s.WritesEnded(c, uc, "tok_1")
	if err != nil || !ok || !within(end, before, after) {
		t.Errorf("WritesEnded = %v, %v, %v; want when the success was recorded (%v..%v)", end, ok, err, before, after)
	}
	if _, ok, _ := s.WritesEnded(c, "other use case", "tok_1"); ok {
		t.Error("WritesEnded answered for another use case")
	}
	if _, ok, err := s.Current(c, "other use case"); ok || err != nil {
		t.Errorf("Current of an unknown use case = %v, %v", ok, err)
	}
}

func testCurrentLatestWrite(t *testing.T, s audit.Store) {
	c := ctx(t)
	base := time.Now().UTC()
	for _, r := range []struct {
		id, tok string
		written time.Time
	}{{"att_new", "tok_new", base.Add(time.Minute)}, {"att_old", "tok_old", base}} {
		w := r.written
		e := audit.Event{ID: r.id, Time: base, Outcome: audit.OutcomeSucceeded, UseCase: uc, Target: "t", NewTokenID: r.tok, WrittenAt: &w}
		if err := s.Record(c, e); err != nil {
			t.Fatal(err)
		}
	}
	// The older write, recorded later, does not displace the newer one.
	if cur, ok, err := s.Current(c, uc); err != nil || !ok || cur.TokenID != "tok_new" || cur.ExpiresAt != nil {
		t.Errorf("current = %+v, %v, %v; want tok_new", cur, ok, err)
	}
}

func testWritesEndedUnknown(t *testing.T, s audit.Store) {
	c := ctx(t)
	e := audit.Event{ID: "att_u", Time: time.Now(), Outcome: audit.OutcomeFailed, UseCase: "uc", Target: "t", NewTokenID: "tok_u", OutcomeUnknown: true, Error: "write: timeout"}
	if err := s.Record(c, e); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.WritesEnded(c, "uc", "tok_u"); err != nil || ok {
		t.Errorf("WritesEnded of an unknown write = %v, %v; want false", ok, err)
	}
	e.ID, e.NewTokenID, e.OutcomeUnknown = "att_r", "tok_r", false
	if err := s.Record(c, e); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.WritesEnded(c, "uc", "tok_r"); err != nil || !ok {
		t.Errorf("WritesEnded of a refused write = %v, %v; want true", ok, err)
	}
	if _, ok, _ := s.Current(c, "uc"); ok {
		t.Error("a failed attempt became the current token")
	}
	// An abandoned attempt's writes never ended as far as the store knows.
	a := audit.Event{ID: "att_a", Time: time.Now(), Outcome: audit.OutcomeAbandoned, UseCase: "uc", Target: "t", NewTokenID: "tok_a"}
	if err := s.Record(c, a); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.WritesEnded(c, "uc", "tok_a"); err != nil || ok {
		t.Errorf("WritesEnded of an abandoned attempt = %v, %v; want false", ok, err)
	}
}

func testHistoryFilters(t *testing.T, s audit.Store) {
	c := ctx(t)
	base := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	for i, u := range []string{"a", "b", "a", "a", "b"} {
		e := audit.Event{ID: fmt.Sprintf("att_%d", i), Time: base.Add(time.Duration(i) * time.Minute), Outcome: audit.OutcomeSucceeded, UseCase: u, Target: u}
		if err := s.Record(c, e); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(es []audit.Event) string {
		var b strings.Builder
		for _, e := range es {
			b.WriteString(e.ID[4:])
		}
		return b.String()
	}
	tests := []struct {
		name string
		q    audit.HistoryQuery
		want string
	}{
		{"all, oldest first", audit.HistoryQuery{}, "01234"},
		{"use case", audit.HistoryQuery{UseCase: "a"}, "023"},
		{"since", audit.HistoryQuery{Since: base.Add(2 * time.Minute)}, "234"},
		{"newest two", audit.HistoryQuery{Limit: 2}, "34"},
		{"use case and since", audit.HistoryQuery{UseCase: "b", Since: base.Add(time.Minute)}, "14"},
		{"use case, since and limit", audit.HistoryQuery{UseCase: "a", Since: base, Limit: 2}, "23"},
		{"nothing", audit.HistoryQuery{UseCase: "c"}, ""},
	}
	for _, tt := range tests {
		h, err := s.History(c, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(h); got != tt.want {
			t.Errorf("%s: History(%+v) = %s, want %s", tt.name, tt.q, got, tt.want)
		}
	}
}

func testRecordEmptyID(t *testing.T, s audit.Store) {
	c := ctx(t)
	if err := s.Record(c, audit.Event{UseCase: uc, Outcome: audit.OutcomeStarted}); err == nil {
		t.Error("Record of an event without an id succeeded")
	}
	if err := s.AddPendingRevoke(c, audit.PendingRevoke{UseCase: uc}); err == nil {
		t.Error("AddPendingRevoke without a token id succeeded")
	}
	if h, _ := s.History(c, audit.HistoryQuery{}); len(h) != 0 {
		t.Errorf("history = %+v, want none", h)
	}
}

func testPendingRevokes(t *testing.T, s audit.Store) {
	c := ctx(t)
	now := time.Now().UTC()
	for _, p := range []audit.PendingRevoke{
		{TokenID: "tok_grace", UseCase: "a", Target: "ta", RevokeAfter: now.Add(15 * time.Minute)},
		{TokenID: "tok_now", UseCase: "b", Target: "tb", RevokeAfter: now},
	} {
		if err := s.AddPendingRevoke(c, p); err != nil {
			t.Fatal(err)
		}
	}
	added := time.Now()
	due, err := s.DueRevokes(c, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].TokenID != "tok_now" || !due[0].RevokeAfter.Equal(now) || !due[0].NextTry.Equal(now) ||
		due[0].UseCase != "b" || due[0].Target != "tb" || !within(due[0].AddedAt, now, added) {
		t.Fatalf("due now = %+v, want tok_now", due)
	}
	pat := testkit.PAT(t)
	at := now
	for i := 1; i <= 5; i++ {
		if err := s.RevokeFailed(c, "tok_now", "revoke: HTTP 500 near "+pat, at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.DueRevokes(c, at, 0); len(due) != 0 {
			t.Fatalf("attempt %d: due before the backoff ended: %+v", i, due)
		}
		at = at.Add(time.Minute)
	}
	if due, _ := s.DueRevokes(c, at, 0); len(due) != 1 || due[0].Attempts != 5 {
		t.Fatalf("due after the backoff = %+v, want tok_now with 5 attempts", due)
	}
	all, err := s.PendingRevokes(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].TokenID != "tok_now" || all[1].TokenID != "tok_grace" {
		t.Fatalf("pending = %+v, want tok_now then tok_grace (failures never drop one)", all)
	}
	failing := all[0]
	if failing.Attempts != 5 || !strings.Contains(failing.LastError, "HTTP 500") || strings.Contains(failing.LastError, pat) {
		t.Errorf("failing = %+v, want 5 attempts and a scrubbed error", failing)
	}
	// Adding it again (the next rotation saw it too) keeps the count and the
	// earlier revoke-after; a later one does not move it.
	if err := s.AddPendingRevoke(c, audit.PendingRevoke{TokenID: "tok_now", UseCase: "b", Target: "tb", RevokeAfter: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// An earlier revoke-after for the grace one moves it earlier.
	if err := s.AddPendingRevoke(c, audit.PendingRevoke{TokenID: "tok_grace", UseCase: "a", Target: "ta", RevokeAfter: now.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	all, _ = s.PendingRevokes(c)
	for _, p := range all {
		switch p.TokenID {
		case "tok_now":
			if p.Attempts != 5 || !p.RevokeAfter.Equal(now) {
				t.Errorf("re-added tok_now = %+v, want 5 attempts and revoke-after %v", p, now)
			}
		case "tok_grace":
			if !p.RevokeAfter.Equal(now.Add(5 * time.Minute)) {
				t.Errorf("re-added tok_grace = %+v, want the earlier revoke-after", p)
			}
		}
	}
	due, _ = s.DueRevokes(c, now.Add(16*time.Minute), 0)
	if len(due) != 2 {
		t.Fatalf("due after grace = %+v, want both", due)
	}
	if due, _ := s.DueRevokes(c, now.Add(16*time.Minute), 1); len(due) != 1 {
		t.Errorf("due with limit 1 = %+v", due)
	}
	if err := s.RevokeDone(c, "tok_now"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeDone(c, "tok_unknown"); err != nil {
		t.Errorf("RevokeDone of an unknown token = %v", err)
	}
	if all, _ := s.PendingRevokes(c); len(all) != 1 || all[0].TokenID != "tok_grace" {
		t.Errorf("after done = %+v, want tok_grace alone", all)
	}
}

func testScrubbed(t *testing.T, s audit.Store) {
	c := ctx(t)
	pat := testkit.PAT(t)
	e := audit.Event{ID: "att_s", Time: time.Now(), Outcome: audit.OutcomeFailed, UseCase: uc, Target: "t",
		NewTokenID: "tok_s", NewTokenPrefix: pat[:11], NewTokenLast4: pat[len(pat)-4:],
		Error: "verify " + pat + ": unauthorized", Step: "verify " + pat}
	if err := s.Record(c, e); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPendingRevoke(c, audit.PendingRevoke{TokenID: "tok_s", UseCase: uc, Target: "t", RevokeAfter: time.Now(), LastError: "x " + pat}); err != nil {
		t.Fatal(err)
	}
	h, _ := s.History(c, audit.HistoryQuery{})
	p, _ := s.PendingRevokes(c)
	if len(h) != 1 || len(p) != 1 {
		t.Fatalf("history %+v, pending %+v", h, p)
	}
	for _, txt := range []string{h[0].Error, h[0].Step, p[0].LastError} {
		if strings.Contains(txt, pat) || strings.Contains(txt, pat[11:len(pat)-4]) {
			t.Errorf("a token value was kept: %q", txt)
		}
	}
	if !strings.Contains(h[0].Error, "unauthorized") || !strings.Contains(h[0].Error, pat[len(pat)-4:]) {
		t.Errorf("scrubbed error %q lost its sense", h[0].Error)
	}
}

func isHeld(err error, holder string) bool {
	var held *audit.LeaseHeldError
	return errors.As(err, &held) && held.Holder == holder
}

// expire waits until a lease of ttl taken before now has expired on the
// store's clock.
func expire(ttl time.Duration) { time.Sleep(ttl + 150*time.Millisecond) }

func testLeaseLifecycle(t *testing.T, s audit.Store) {
	c := ctx(t)
	const ttl = 250 * time.Millisecond
	before := time.Now()
	l1, err := s.AcquireLease(c, uc, "host-a/1/aaaaaa", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if l1.UseCase != uc || l1.Holder != "host-a/1/aaaaaa" || l1.Term < 1 || !within(l1.Expires, before.Add(time.Minute), time.Now().Add(time.Minute)) {
		t.Fatalf("lease = %+v", l1)
	}
	// The holder records a start and then dies.
	if err := s.Record(c, audit.Event{ID: "att_dead", Time: time.Now(), Outcome: audit.OutcomeStarted, UseCase: uc, Target: "t"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.AcquireLease(c, uc, "host-b/2/bbbbbb", time.Minute)
	var held *audit.LeaseHeldError
	if !errors.As(err, &held) || held.Holder != "host-a/1/aaaaaa" || held.UseCase != uc || !held.Expires.Equal(l1.Expires) {
		t.Fatalf("second acquire = %v, want audit.LeaseHeldError by host-a/1/aaaaaa until %v", err, l1.Expires)
	}
	// The holder itself does not get it twice.
	if _, err := s.AcquireLease(c, uc, "host-a/1/aaaaaa", time.Minute); !isHeld(err, "host-a/1/aaaaaa") {
		t.Fatalf("re-acquire by the holder = %v, want held", err)
	}
	// Another use case is independent.
	if _, err := s.AcquireLease(c, "other", "host-b/2/bbbbbb", time.Minute); err != nil {
		t.Fatalf("other use case: %v", err)
	}
	// Renewing sets the expiry from now on the store's clock, keeps the term.
	r, err := s.RenewLease(c, l1, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if r.Term != l1.Term || !r.Expires.After(l1.Expires) || r.Holder != l1.Holder {
		t.Fatalf("renewed = %+v, was %+v", r, l1)
	}
	// A short renewal, then it expires.
	if l1, err = s.RenewLease(c, r, ttl); err != nil {
		t.Fatal(err)
	}
	expire(ttl)
	if _, err := s.RenewLease(c, l1, time.Minute); !errors.Is(err, audit.ErrLeaseLost) {
		t.Fatalf("renew of an expired lease = %v, want audit.ErrLeaseLost", err)
	}
	// Expired: taken over with a higher term; the dead attempt is abandoned.
	l2, err := s.AcquireLease(c, uc, "host-b/2/bbbbbb", time.Minute)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	if l2.Term != l1.Term+1 || l2.Holder != "host-b/2/bbbbbb" {
		t.Fatalf("takeover lease = %+v, want term %d", l2, l1.Term+1)
	}
	h, err := s.History(c, audit.HistoryQuery{UseCase: uc})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Outcome != audit.OutcomeAbandoned || !strings.Contains(h[0].Error, "host-a/1/aaaaaa") || !strings.Contains(h[0].Error, "expired") {
		t.Errorf("after takeover history = %+v, want the dead attempt abandoned", h)
	}
	// The old holder can neither renew nor release the new holder's lease.
	if _, err := s.RenewLease(c, l1, time.Minute); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("old holder renew = %v, want audit.ErrLeaseLost", err)
	}
	if err := s.ReleaseLease(c, l1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(c, uc, "host-c/3/cccccc", time.Second); !isHeld(err, "host-b/2/bbbbbb") {
		t.Errorf("after the old holder's release = %v, want still held by host-b/2/bbbbbb", err)
	}
	// Same holder name, stale term: still not the lease.
	stale := l2
	stale.Term--
	if _, err := s.RenewLease(c, stale, time.Minute); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("renew with a stale term = %v, want audit.ErrLeaseLost", err)
	}
	if err := s.ReleaseLease(c, stale); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RenewLease(c, l2, time.Minute); err != nil {
		t.Errorf("the holder's renewal after a stale release = %v", err)
	}
	// A later attempt of the new holder is not abandoned by anything.
	if err := s.Record(c, audit.Event{ID: "att_live", Time: time.Now(), Outcome: audit.OutcomeStarted, UseCase: uc, Target: "t"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(c, uc, "host-c/3/cccccc", time.Second); !isHeld(err, "host-b/2/bbbbbb") {
		t.Errorf("acquire of a live lease = %v", err)
	}
	if h, _ := s.History(c, audit.HistoryQuery{UseCase: uc}); len(h) != 2 || h[1].Outcome != audit.OutcomeStarted {
		t.Errorf("history = %+v, want the live attempt still started", h)
	}
}

func testLeaseRelease(t *testing.T, s audit.Store) {
	c := ctx(t)
	l1, err := s.AcquireLease(c, uc, "host-a/1/aaaaaa", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// A finished attempt, and one of the Action's (no lease) still running.
	for _, e := range []audit.Event{
		{ID: "att_done", Time: time.Now(), Outcome: audit.OutcomeSucceeded, UseCase: uc, Target: "t"},
		{ID: "att_other", Time: time.Now(), Outcome: audit.OutcomeStarted, UseCase: uc, Target: "t", Tool: "pat-action"},
	} {
		if err := s.Record(c, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ReleaseLease(c, l1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RenewLease(c, l1, time.Minute); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("renew of a released lease = %v, want audit.ErrLeaseLost", err)
	}
	if err := s.RecordFenced(c, l1, audit.Event{ID: "att_late", Time: time.Now(), Outcome: audit.OutcomeStarted, UseCase: uc}); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("fenced record under a released lease = %v, want audit.ErrLeaseLost", err)
	}
	// Released: free at once, and the term still grows.
	l2, err := s.AcquireLease(c, uc, "host-c/3/cccccc", time.Minute)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if l2.Term <= l1.Term {
		t.Errorf("term after release %d, want more than %d", l2.Term, l1.Term)
	}
	// A clean release abandons nothing.
	h, _ := s.History(c, audit.HistoryQuery{UseCase: uc})
	if len(h) != 2 || h[0].Outcome == audit.OutcomeAbandoned || h[1].Outcome == audit.OutcomeAbandoned {
		t.Errorf("history = %+v, want nothing abandoned", h)
	}
	if err := s.ReleaseLease(c, l2); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseLease(c, l2); err != nil {
		t.Errorf("second release = %v", err)
	}
	if _, err := s.AcquireLease(c, uc, "host-a/1/aaaaaa", time.Minute); err != nil {
		t.Errorf("acquire after two releases: %v", err)
	}
}

// deadPID is the pid of a process that ran and is gone (reaped).
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process to let die: %v", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return pid
}

func livePID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

func testLeaseDeadHolder(t *testing.T, s audit.Store) {
	c := ctx(t)
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	dead := fmt.Sprintf("%s/%d/dead00", host, deadPID(t))
	live := fmt.Sprintf("%s/%d/live00", host, livePID(t))
	elsewhere := fmt.Sprintf("%s-elsewhere/%d/away00", host, deadPID(t))
	// A live process on this host and a dead pid on another host keep theirs.
	for _, holder := range []string{live, elsewhere, fmt.Sprintf("%s/%d/self00", host, os.Getpid())} {
		u := "uc " + holder
		if _, err := s.AcquireLease(c, u, holder, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireLease(c, u, "restarted/1/r", time.Minute); !isHeld(err, holder) {
			t.Errorf("acquire of %s's lease = %v, want held", holder, err)
		}
	}
	l1, err := s.AcquireLease(c, uc, dead, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record(c, audit.Event{ID: "att_dead", Time: time.Now(), Outcome: audit.OutcomeStarted, UseCase: uc, Target: "t"}); err != nil {
		t.Fatal(err)
	}
	// The restarted daemon takes it at once, an hour before it expires.
	restarted := fmt.Sprintf("%s/%d/new000", host, os.Getpid())
	l2, err := s.AcquireLease(c, uc, restarted, time.Minute)
	if err != nil {
		t.Fatalf("acquire of a dead process's lease: %v", err)
	}
	if l2.Term != l1.Term+1 || l2.Holder != restarted {
		t.Errorf("lease = %+v, want term %d", l2, l1.Term+1)
	}
	h, _ := s.History(c, audit.HistoryQuery{UseCase: uc})
	if len(h) != 1 || h[0].Outcome != audit.OutcomeAbandoned || !strings.Contains(h[0].Error, dead) || !strings.Contains(h[0].Error, "no longer running") {
		t.Errorf("history = %+v, want the dead attempt abandoned", h)
	}
	if err := s.RecordFenced(c, l1, audit.Event{ID: "att_ghost", Time: time.Now(), Outcome: audit.OutcomeFailed, UseCase: uc}); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("fenced record by the dead holder's lease = %v, want audit.ErrLeaseLost", err)
	}
}

func testLeaseConcurrentAcquire(t *testing.T, s audit.Store) {
	c := ctx(t)
	for round := range 4 {
		u := fmt.Sprintf("uc-%d", round)
		var (
			wg         sync.WaitGroup
			mu         sync.Mutex
			won, held  int
			winnerTerm int64
		)
		for i := range 12 {
			wg.Go(func() {
				l, err := s.AcquireLease(c, u, fmt.Sprintf("host-%d/%d/r", round, i+1), time.Minute)
				var h *audit.LeaseHeldError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
					winnerTerm = l.Term
				case errors.As(err, &h):
					held++
				default:
					t.Errorf("acquire: %v", err)
				}
			})
		}
		wg.Wait()
		if won != 1 || held != 11 || winnerTerm != 1 {
			t.Errorf("round %d: %d won (term %d), %d held; want 1 (term 1) and 11", round, won, winnerTerm, held)
		}
	}
}

func testLeaseConcurrentTakeover(t *testing.T, s audit.Store) {
	c := ctx(t)
	const ttl = 200 * time.Millisecond
	l0, err := s.AcquireLease(c, uc, "host-a/1/old", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record(c, audit.Event{ID: "att_old", Time: time.Now(), Outcome: audit.OutcomeStarted, UseCase: uc}); err != nil {
		t.Fatal(err)
	}
	expire(ttl)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		terms []int64
	)
	for i := range 10 {
		wg.Go(func() {
			l, err := s.AcquireLease(c, uc, fmt.Sprintf("host-b/%d/new", i+2), time.Minute)
			if err != nil {
				var h *audit.LeaseHeldError
				if !errors.As(err, &h) {
					t.Errorf("takeover: %v", err)
				}
				return
			}
			mu.Lock()
			terms = append(terms, l.Term)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(terms) != 1 || terms[0] != l0.Term+1 {
		t.Errorf("takeovers = terms %v, want exactly one with term %d", terms, l0.Term+1)
	}
	h, _ := s.History(c, audit.HistoryQuery{UseCase: uc})
	if len(h) != 1 || h[0].Outcome != audit.OutcomeAbandoned {
		t.Errorf("history = %+v, want the old attempt abandoned once", h)
	}
}

func testFencedWrites(t *testing.T, s audit.Store) {
	c := ctx(t)
	const ttl = 200 * time.Millisecond
	l1, err := s.AcquireLease(c, uc, "host-a/1/aaaaaa", ttl)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(id string, o audit.Outcome) audit.Event {
		return audit.Event{ID: id, Time: time.Now(), Outcome: o, UseCase: uc, Target: "t", NewTokenID: "tok_" + id}
	}
	if err := s.RecordFenced(c, l1, ev("a1", audit.OutcomeStarted)); err != nil {
		t.Fatalf("fenced record by the holder: %v", err)
	}
	if err := s.AddPendingRevokeFenced(c, l1, audit.PendingRevoke{TokenID: "tok_p1", UseCase: uc, Target: "t", RevokeAfter: time.Now()}); err != nil {
		t.Fatalf("fenced pending revoke by the holder: %v", err)
	}
	// The use case must be the lease's.
	other := ev("x1", audit.OutcomeStarted)
	other.UseCase = "another use case"
	if err := s.RecordFenced(c, l1, other); err == nil {
		t.Error("fenced record of another use case succeeded")
	}
	if err := s.AddPendingRevokeFenced(c, l1, audit.PendingRevoke{TokenID: "tok_x", UseCase: "another use case", RevokeAfter: time.Now()}); err == nil {
		t.Error("fenced pending revoke of another use case succeeded")
	}
	// Lapsed but not taken: the holder is still the last one; it records.
	expire(ttl)
	if err := s.RecordFenced(c, l1, ev("a1", audit.OutcomeSucceeded)); err != nil {
		t.Fatalf("fenced record under a lapsed, untaken lease: %v", err)
	}
	// Taken over: the old holder (paused, partitioned) records nothing.
	if err := s.RecordFenced(c, l1, ev("a2", audit.OutcomeStarted)); err != nil {
		t.Fatal(err)
	}
	expire(ttl)
	l2, err := s.AcquireLease(c, uc, "host-b/2/bbbbbb", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordFenced(c, l1, ev("a2", audit.OutcomeSucceeded)); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("fenced record by the old holder = %v, want audit.ErrLeaseLost", err)
	}
	if err := s.RecordFenced(c, l1, ev("a3", audit.OutcomeStarted)); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("fenced record by the old holder = %v, want audit.ErrLeaseLost", err)
	}
	if err := s.AddPendingRevokeFenced(c, l1, audit.PendingRevoke{TokenID: "tok_p2", UseCase: uc, Target: "t", RevokeAfter: time.Now()}); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("fenced pending revoke by the old holder = %v, want audit.ErrLeaseLost", err)
	}
	// Same holder name with the old term is the old lease too.
	stale := l2
	stale.Term = l1.Term
	if err := s.RecordFenced(c, stale, ev("a4", audit.OutcomeStarted)); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("fenced record with a stale term = %v, want audit.ErrLeaseLost", err)
	}
	if err := s.RecordFenced(c, l2, ev("b1", audit.OutcomeSucceeded)); err != nil {
		t.Fatalf("fenced record by the new holder: %v", err)
	}
	if err := s.AddPendingRevokeFenced(c, l2, audit.PendingRevoke{TokenID: "tok_p3", UseCase: uc, Target: "t", RevokeAfter: time.Now()}); err != nil {
		t.Fatalf("fenced pending revoke by the new holder: %v", err)
	}
	h, _ := s.History(c, audit.HistoryQuery{UseCase: uc})
	got := map[string]audit.Outcome{}
	for _, e := range h {
		got[e.ID] = e.Outcome
	}
	want := map[string]audit.Outcome{"a1": audit.OutcomeSucceeded, "a2": audit.OutcomeAbandoned, "b1": audit.OutcomeSucceeded}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history = %v, want %v (nothing of the old holder after the takeover)", got, want)
	}
	if cur, _, _ := s.Current(c, uc); cur.TokenID != "tok_b1" {
		t.Errorf("current = %+v, want tok_b1", cur)
	}
	p, _ := s.PendingRevokes(c)
	var ids []string
	for _, r := range p {
		ids = append(ids, r.TokenID)
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "tok_p1,tok_p3" {
		t.Errorf("pending = %v, want tok_p1,tok_p3", ids)
	}
}

// The old holder's fenced writes race a takeover: each lands entirely before
// it or is refused; none lands after.
func testFencedRace(t *testing.T, s audit.Store) {
	c := ctx(t)
	const ttl = 150 * time.Millisecond
	for round := range 3 {
		u := fmt.Sprintf("uc-race-%d", round)
		l1, err := s.AcquireLease(c, u, "host-a/1/old", ttl)
		if err != nil {
			t.Fatal(err)
		}
		expire(ttl)
		stop := make(chan struct{})
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			accepted []string
		)
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("r%d_%d", round, i)
				err := s.RecordFenced(c, l1, audit.Event{ID: id, Time: time.Now(), Outcome: audit.OutcomeFailed, UseCase: u})
				switch {
				case err == nil:
					mu.Lock()
					accepted = append(accepted, id)
					mu.Unlock()
				case errors.Is(err, audit.ErrLeaseLost):
					return
				default:
					t.Errorf("fenced record: %v", err)
					return
				}
			}
		})
		time.Sleep(20 * time.Millisecond)
		if _, err := s.AcquireLease(c, u, "host-b/2/new", time.Minute); err != nil {
			t.Fatal(err)
		}
		// After the takeover committed, the old holder records nothing.
		afterID := fmt.Sprintf("r%d_after", round)
		if err := s.RecordFenced(c, l1, audit.Event{ID: afterID, Time: time.Now(), Outcome: audit.OutcomeFailed, UseCase: u}); !errors.Is(err, audit.ErrLeaseLost) {
			t.Errorf("fenced record after the takeover = %v, want audit.ErrLeaseLost", err)
		}
		close(stop)
		wg.Wait()
		h, _ := s.History(c, audit.HistoryQuery{UseCase: u})
		mu.Lock()
		if len(h) != len(accepted) {
			t.Errorf("round %d: %d events stored, %d accepted", round, len(h), len(accepted))
		}
		mu.Unlock()
	}
}

func testFencedRecorder(t *testing.T, s audit.Store) {
	c := ctx(t)
	const ttl = 150 * time.Millisecond
	r := audit.FencedRecorder{Store: s}
	l1, err := s.AcquireLease(c, uc, "host-a/1/aaaaaa", ttl)
	if err != nil {
		t.Fatal(err)
	}
	under := audit.WithLease(c, l1)
	if got, ok := audit.LeaseFrom(under); !ok || got != l1 {
		t.Fatalf("LeaseFrom = %+v, %v", got, ok)
	}
	if err := r.Record(under, audit.Event{ID: "a1", Time: time.Now(), Outcome: audit.OutcomeStarted, UseCase: uc}); err != nil {
		t.Fatal(err)
	}
	expire(ttl)
	if _, err := s.AcquireLease(c, uc, "host-b/2/bbbbbb", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := r.Record(under, audit.Event{ID: "a1", Time: time.Now(), Outcome: audit.OutcomeSucceeded, UseCase: uc}); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("record under the taken lease = %v, want audit.ErrLeaseLost", err)
	}
	// Without a lease, or for another use case, it is a plain Record.
	if err := r.Record(c, audit.Event{ID: "p1", Time: time.Now(), Outcome: audit.OutcomePlanned, UseCase: uc}); err != nil {
		t.Error(err)
	}
	if err := r.Record(under, audit.Event{ID: "o1", Time: time.Now(), Outcome: audit.OutcomePlanned, UseCase: "other"}); err != nil {
		t.Error(err)
	}
	h, _ := s.History(c, audit.HistoryQuery{})
	got := map[string]audit.Outcome{}
	for _, e := range h {
		got[e.ID] = e.Outcome
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]audit.Outcome{"a1": audit.OutcomeAbandoned, "p1": audit.OutcomePlanned, "o1": audit.OutcomePlanned}) {
		t.Errorf("history = %v", got)
	}
}

func testMutationSlots(t *testing.T, s audit.Store) {
	c := ctx(t)
	const interval = time.Second
	before := time.Now()
	first, err := reserveStart(t, s, c, "cred-a", interval)
	if err != nil {
		t.Fatal(err)
	}
	if !within(first, before, time.Now()) {
		t.Errorf("first slot %v, want about now (%v)", first, before)
	}
	prev := first
	for i := range 4 {
		next, err := reserveStart(t, s, c, "cred-a", interval)
		if err != nil {
			t.Fatal(err)
		}
		if !next.Equal(prev.Add(interval)) {
			t.Errorf("slot %d = %v, want %v (the previous one plus the interval)", i+2, next, prev.Add(interval))
		}
		prev = next
	}
	// Another key is paced apart.
	before = time.Now()
	b, err := reserveStart(t, s, c, "cred-b", interval)
	if err != nil {
		t.Fatal(err)
	}
	if !within(b, before, time.Now()) {
		t.Errorf("other key's slot %v, want about now", b)
	}
	// Once the reservations are past, the next one is now, not the stale next.
	const short = 100 * time.Millisecond
	x1, err := reserveStart(t, s, c, "cred-c", short)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * short)
	x2, err := reserveStart(t, s, c, "cred-c", short)
	if err != nil {
		t.Fatal(err)
	}
	if d := x2.Sub(x1); d < 3*short {
		t.Errorf("a slot after a pause came %v after the previous, want at least %v (now, not the stale reservation)", d, 3*short)
	}
	if _, err := reserveStart(t, s, c, "cred-c", -time.Second); err == nil {
		t.Error("a negative interval was accepted")
	}
	if _, err := reserveStart(t, s, c, "", time.Second); err == nil {
		t.Error("an empty key was accepted")
	}
}

func testMutationSlotsConcurrent(t *testing.T, s audit.Store) {
	c := ctx(t)
	const interval = 50 * time.Millisecond
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		slots []time.Time
	)
	for range 16 {
		wg.Go(func() {
			at, err := reserveStart(t, s, c, "cred", interval)
			if err != nil {
				t.Errorf("reserve: %v", err)
				return
			}
			mu.Lock()
			slots = append(slots, at)
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(slots, func(i, j int) bool { return slots[i].Before(slots[j]) })
	for i := 1; i < len(slots); i++ {
		if d := slots[i].Sub(slots[i-1]); d < interval {
			t.Errorf("slots %d and %d are %v apart, want at least %v", i-1, i, d, interval)
		}
	}
	if len(slots) == 16 {
		if span := slots[15].Sub(slots[0]); span > 15*interval+10*time.Second {
			t.Errorf("16 slots span %v, want about %v", span, 15*interval)
		}
	}
}

// testClaims: of many concurrent claimers of a key, exactly one wins, and
// it stays won (its holder still has it; others do not, before or after it
// is done); another key is claimed apart.
func testClaims(t *testing.T, s audit.Store) {
	c := ctx(t)
	const key = "notify rotation-failing repo:octo/app"
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		winner string
		won    atomic.Int32
	)
	for i := range 16 {
		holder := fmt.Sprintf("elsewhere/%d/aaaaaa", i+1) // another host: never taken for gone
		wg.Go(func() {
			ok, err := s.Claim(c, key, holder)
			if err != nil {
				t.Errorf("claim: %v", err)
				return
			}
			if ok {
				won.Add(1)
				mu.Lock()
				winner = holder
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := won.Load(); n != 1 {
		t.Fatalf("%d claimers won, want exactly 1", n)
	}
	if ok, err := s.Claim(c, key, "elsewhere/99/bbbbbb"); err != nil || ok {
		t.Errorf("a later claim = %v, %v; want lost", ok, err)
	}
	if ok, err := s.Claim(c, key, winner); err != nil || !ok {
		t.Errorf("the winner claiming again = %v, %v; want still its own", ok, err)
	}
	if err := s.ClaimDone(c, key, "elsewhere/99/bbbbbb"); err != nil {
		t.Errorf("done by another holder: %v", err)
	}
	if err := s.ClaimDone(c, key, winner); err != nil {
		t.Errorf("done: %v", err)
	}
	if ok, err := s.Claim(c, key, winner); err != nil || ok {
		t.Errorf("the winner claiming a done key = %v, %v; want lost: it acted already", ok, err)
	}
	if ok, err := s.Claim(c, "notify recovered repo:octo/app", "elsewhere/99/bbbbbb"); err != nil || !ok {
		t.Errorf("another key = %v, %v; want won", ok, err)
	}
	if _, err := s.Claim(c, "", "elsewhere/1/aaaaaa"); err == nil {
		t.Error("an empty key was accepted")
	}
	if _, err := s.Claim(c, "k", ""); err == nil {
		t.Error("an empty holder was accepted")
	}
}

// testClaimDeadHolder: a claim not done whose holder ran on this host in a
// process that is gone is won by the next claimer (the act it died in is
// not lost); a done one, a live holder's and another host's are not.
func testClaimDeadHolder(t *testing.T, s audit.Store) {
	c := ctx(t)
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	dead := fmt.Sprintf("%s/%d/dead00", host, deadPID(t))
	live := fmt.Sprintf("%s/%d/live00", host, livePID(t))
	elsewhere := fmt.Sprintf("elsewhere/%d/away00", deadPID(t))
	next := fmt.Sprintf("%s/%d/next00", host, os.Getpid())
	for _, tc := range []struct {
		holder string
		done   bool
		want   bool
	}{
		{dead, false, true},
		{dead, true, false},
		{live, false, false},
		{elsewhere, false, false},
	} {
		key := fmt.Sprintf("notify credential-expiring %s done=%v", tc.holder, tc.done)
		if ok, err := s.Claim(c, key, tc.holder); err != nil || !ok {
			t.Fatalf("first claim by %s: %v, %v", tc.holder, ok, err)
		}
		if tc.done {
			if err := s.ClaimDone(c, key, tc.holder); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := s.Claim(c, key, next); err != nil || ok != tc.want {
			t.Errorf("claim after %s (done %v) = %v, %v; want %v", tc.holder, tc.done, ok, err, tc.want)
		}
		if tc.want {
			if ok, err := s.Claim(c, key, "elsewhere/7/other0"); err != nil || ok {
				t.Errorf("a claim taken over was won again: %v, %v", ok, err)
			}
		}
	}
}

// testHeldLeases: held leases are listed with their holder and term; a
// released one and an expired one are not.
func testHeldLeases(t *testing.T, s audit.Store) {
	c := ctx(t)
	a, err := s.AcquireLease(c, "uc-a", "host-a/1/x", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(c, "uc-b", "host-b/2/y", time.Minute); err != nil {
		t.Fatal(err)
	}
	rel, err := s.AcquireLease(c, "uc-c", "host-a/1/x", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseLease(c, rel); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(c, "uc-d", "host-a/1/x", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // uc-d's lease runs out
	held, err := s.HeldLeases(c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range held {
		got = append(got, fmt.Sprintf("%s %s %d", l.UseCase, l.Holder, l.Term))
	}
	want := []string{fmt.Sprintf("uc-a host-a/1/x %d", a.Term), "uc-b host-b/2/y 1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("held leases %v, want %v", got, want)
	}
}
