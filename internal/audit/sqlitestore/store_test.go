package sqlitestore

import (
	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/testkit"

	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) (*Store, *testkit.Clock) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := testkit.NewClock(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC))
	s.Now = c.Now
	return s, c
}

func TestOpenMigratesOnceAndReopens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "state.db")
	for range 3 {
		s, err := OpenDSN(ctx, "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.(*Store).SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != len(migrations)-1 {
			t.Errorf("schema version %d, want %d", v, len(migrations)-1)
		}
		var n int
		if err := s.(*Store).db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(migrations)-1 {
			t.Errorf("%d migration rows, want %d", n, len(migrations)-1)
		}
		var mode string
		if err := s.(*Store).db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Errorf("journal_mode %q, want wal", mode)
		}
		s.Close()
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpenRefusesUnknownDSN(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"mysql://x", "postgres://localhost/db", "sqlite://"} {
		if s, err := OpenDSN(context.Background(), dsn); err == nil {
			s.Close()
			t.Errorf("OpenDSN(%q) succeeded", dsn)
		}
	}
}

func TestRecordKeepsLatestOutcomeAndCurrentToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := openTest(t)
	start := c.Now()
	uc := "GitHub Actions - octo/app GROO_PAT"
	started := audit.Event{ID: "att_1", Time: start, Outcome: audit.OutcomeStarted, UseCase: uc, Target: "repo:octo/app GROO_PAT", Actor: "host", Tool: "pat-rotator"}
	if err := s.Record(ctx, started); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.WritesEnded(ctx, uc, "tok_1"); err != nil || ok {
		t.Fatalf("WritesEnded before the end = %v, %v; want false", ok, err)
	}
	c.Add(2 * time.Second)
	exp := start.Add(72 * time.Hour)
	written := start.Add(time.Second)
	done := started
	done.Outcome, done.NewTokenID, done.NewTokenPrefix, done.NewTokenLast4 = audit.OutcomeSucceeded, "tok_1", "groo_pat_ab", "c183"
	done.NewExpiresAt, done.WrittenAt, done.Duration = &exp, &written, 2*time.Second
	done.Revoked = []string{"tok_0"}
	if err := s.Record(ctx, done); err != nil {
		t.Fatal(err)
	}
	// A started event arriving late must not undo the final outcome.
	if err := s.Record(ctx, started); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, audit.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Outcome != audit.OutcomeSucceeded || h[0].NewTokenLast4 != "c183" || len(h[0].Revoked) != 1 {
		t.Fatalf("history = %+v, want one succeeded event", h)
	}
	cur, ok, err := s.Current(ctx, uc)
	if err != nil || !ok {
		t.Fatalf("Current = %v, %v", ok, err)
	}
	if cur.TokenID != "tok_1" || cur.LastFour != "c183" || cur.ExpiresAt == nil || !cur.ExpiresAt.Equal(exp) || cur.AttemptID != "att_1" {
		t.Errorf("current = %+v", cur)
	}
	end, ok, err := s.WritesEnded(ctx, uc, "tok_1")
	if err != nil || !ok || !end.Equal(c.Now()) {
		t.Errorf("WritesEnded = %v, %v, %v; want %v", end, ok, err, c.Now())
	}
	if _, ok, _ := s.WritesEnded(ctx, "other use case", "tok_1"); ok {
		t.Error("WritesEnded answered for another use case")
	}
}

func TestWritesEndedIgnoresUnknownWriteOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := openTest(t)
	e := audit.Event{ID: "att_u", Time: c.Now(), Outcome: audit.OutcomeFailed, UseCase: "uc", Target: "t", NewTokenID: "tok_u", OutcomeUnknown: true, Error: "write: timeout"}
	if err := s.Record(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.WritesEnded(ctx, "uc", "tok_u"); err != nil || ok {
		t.Errorf("WritesEnded of an unknown write = %v, %v; want false", ok, err)
	}
	e.ID, e.NewTokenID, e.OutcomeUnknown = "att_r", "tok_r", false
	if err := s.Record(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.WritesEnded(ctx, "uc", "tok_r"); err != nil || !ok {
		t.Errorf("WritesEnded of a refused write = %v, %v; want true", ok, err)
	}
	if _, ok, _ := s.Current(ctx, "uc"); ok {
		t.Error("a failed attempt became the current token")
	}
}

func TestHistoryFilters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := openTest(t)
	base := c.Now()
	for i, uc := range []string{"a", "b", "a", "a", "b"} {
		e := audit.Event{ID: "att_" + string(rune('0'+i)), Time: base.Add(time.Duration(i) * time.Minute), Outcome: audit.OutcomeSucceeded, UseCase: uc, Target: uc}
		if err := s.Record(ctx, e); err != nil {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := s.History(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(h); got != tt.want {
				t.Errorf("History(%+v) = %s, want %s", tt.q, got, tt.want)
			}
		})
	}
}

func TestLeaseExclusionExpiryAndTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := openTest(t)
	uc := "GitHub Actions - octo/app GROO_PAT"
	l1, err := s.AcquireLease(ctx, uc, "host-a/1", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The holder records a start and then dies.
	if err := s.Record(ctx, audit.Event{ID: "att_dead", Time: c.Now(), Outcome: audit.OutcomeStarted, UseCase: uc, Target: "t"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.AcquireLease(ctx, uc, "host-b/2", 10*time.Second)
	var held *audit.LeaseHeldError
	if !errors.As(err, &held) || held.Holder != "host-a/1" || !held.Expires.Equal(l1.Expires) {
		t.Fatalf("second acquire = %v, want audit.LeaseHeldError by host-a/1", err)
	}
	// Another use case is independent.
	if _, err := s.AcquireLease(ctx, "other", "host-b/2", 10*time.Second); err != nil {
		t.Fatalf("other use case: %v", err)
	}
	// Renewing extends it past the first expiry.
	c.Add(8 * time.Second)
	l1, err = s.RenewLease(ctx, l1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Add(8 * time.Second)
	if _, err := s.AcquireLease(ctx, uc, "host-b/2", 10*time.Second); !errors.As(err, &held) {
		t.Fatalf("acquire of a renewed lease = %v, want held", err)
	}
	// Expired: taken over; the dead attempt is marked abandoned.
	c.Add(3 * time.Second)
	l2, err := s.AcquireLease(ctx, uc, "host-b/2", 10*time.Second)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	h, err := s.History(ctx, audit.HistoryQuery{UseCase: uc})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Outcome != audit.OutcomeAbandoned || !strings.Contains(h[0].Error, "host-a/1") {
		t.Errorf("after takeover history = %+v, want the dead attempt abandoned", h)
	}
	// The old holder can neither renew nor release the new holder's lease.
	if _, err := s.RenewLease(ctx, l1, time.Minute); !errors.Is(err, audit.ErrLeaseLost) {
		t.Errorf("old holder renew = %v, want audit.ErrLeaseLost", err)
	}
	if err := s.ReleaseLease(ctx, l1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(ctx, uc, "host-c/3", time.Second); !errors.As(err, &held) || held.Holder != "host-b/2" {
		t.Errorf("after the old holder's release = %v, want still held by host-b/2", err)
	}
	// Released: free at once.
	if err := s.ReleaseLease(ctx, l2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireLease(ctx, uc, "host-c/3", time.Second); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// Two processes share one file: exactly one of them gets each lease.
func TestLeaseAcrossConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	var stores []*Store
	for range 4 {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	for round := range 5 {
		uc := "uc-" + string(rune('a'+round))
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, held := 0, 0
		for i, s := range stores {
			for j := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.AcquireLease(ctx, uc, "holder-"+string(rune('0'+i))+string(rune('0'+j)), time.Minute)
					var h *audit.LeaseHeldError
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won++
					case errors.As(err, &h):
						held++
					default:
						t.Errorf("acquire: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		if won != 1 || held != 15 {
			t.Errorf("round %d: %d won, %d held; want 1 and 15", round, won, held)
		}
	}
}

func TestPendingRevokesAreRetriedNeverDropped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := openTest(t)
	now := c.Now()
	for _, p := range []audit.PendingRevoke{
		{TokenID: "tok_grace", UseCase: "a", Target: "ta", RevokeAfter: now.Add(15 * time.Minute)},
		{TokenID: "tok_now", UseCase: "b", Target: "tb", RevokeAfter: now},
	} {
		if err := s.AddPendingRevoke(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	due, err := s.DueRevokes(ctx, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].TokenID != "tok_now" {
		t.Fatalf("due now = %+v, want tok_now", due)
	}
	pat := testkit.PAT(t)
	for i := 1; i <= 5; i++ {
		if err := s.RevokeFailed(ctx, "tok_now", "revoke: HTTP 500 near "+pat, c.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.DueRevokes(ctx, c.Now(), 0); len(due) != 0 {
			t.Fatalf("attempt %d: due before the backoff ended: %+v", i, due)
		}
		c.Add(time.Minute)
	}
	all, err := s.PendingRevokes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("pending = %d, want 2 (failures never drop one)", len(all))
	}
	var failing audit.PendingRevoke
	for _, p := range all {
		if p.TokenID == "tok_now" {
			failing = p
		}
	}
	if failing.Attempts != 5 || !strings.Contains(failing.LastError, "HTTP 500") || strings.Contains(failing.LastError, pat) {
		t.Errorf("failing = %+v, want 5 attempts and a scrubbed error", failing)
	}
	// Adding it again (the next rotation saw it too) keeps the count.
	if err := s.AddPendingRevoke(ctx, audit.PendingRevoke{TokenID: "tok_now", UseCase: "b", Target: "tb", RevokeAfter: c.Now()}); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueRevokes(ctx, c.Now().Add(16*time.Minute), 0)
	if len(due) != 2 || due[1].Attempts != 5 && due[0].Attempts != 5 {
		t.Fatalf("due after grace = %+v, want both, attempts kept", due)
	}
	if err := s.RevokeDone(ctx, "tok_now"); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.PendingRevokes(ctx); len(all) != 1 || all[0].TokenID != "tok_grace" {
		t.Errorf("after done = %+v, want tok_grace alone", all)
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	pat := "groo_pat_" + strings.Repeat("ab", 32)
	tests := []struct{ in, want string }{
		{"bad token " + pat + " here", "bad token groo_pat_…abab here"},
		{"ghs_" + strings.Repeat("Z", 36), "ghs_…ZZZZ"},
		{"github_pat_11ABCDEFG_" + strings.Repeat("x", 40), "github_pat_…xxxx"},
		{"no token tok_123 groo_pat_ab…c183", "no token tok_123 groo_pat_ab…c183"},
	}
	for _, tt := range tests {
		if got := audit.Scrub(tt.in); got != tt.want {
			t.Errorf("audit.Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// I5: whatever the store is given, the token values never reach its files.
func TestNoTokenBytesInDatabaseFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for i := range 20 {
		pat := testkit.PAT(t)
		secrets = append(secrets, pat)
		exp := time.Now().Add(time.Hour)
		e := audit.Event{
			ID: "att_" + string(rune('a'+i)), Time: time.Now(), Outcome: audit.OutcomeFailed, UseCase: "uc", Target: "repo:octo/app GROO_PAT",
			NewTokenID: "tok_" + string(rune('a'+i)), NewTokenPrefix: pat[:11], NewTokenLast4: pat[len(pat)-4:], NewExpiresAt: &exp,
			Error: "verify " + pat + ": unauthorized", Step: "verify",
		}
		if err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		e.Outcome = audit.OutcomeSucceeded
		if err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := s.AddPendingRevoke(ctx, audit.PendingRevoke{TokenID: e.NewTokenID, UseCase: "uc", Target: "t", RevokeAfter: time.Now(), LastError: "x " + pat}); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeFailed(ctx, e.NewTokenID, "revoke failed for "+pat, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// Scan the files while open (the WAL holds the recent pages) and after close.
	scan := func(when string) {
		files, _ := filepath.Glob(filepath.Join(dir, "state.db*"))
		if len(files) == 0 {
			t.Fatal("no database files")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, sec := range secrets {
				// The secret part after the public prefix, so that the
				// prefix and last four (which are stored) do not match.
				if bytes.Contains(b, []byte(sec)) || bytes.Contains(b, []byte(sec[11:len(sec)-4])) {
					t.Errorf("%s: %s holds a token value", when, filepath.Base(f))
				}
			}
		}
	}
	scan("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	scan("closed")
}

func TestOpenExistingCreatesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.db")
	_, err := Open(context.Background(), path, Existing())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open(missing, Existing()) = %v; want an error naming %s that is fs.ErrNotExist", err, path)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Existing() created the directory: %v", err)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := OpenDSN(context.Background(), "sqlite://"+path, Existing())
	if err != nil {
		t.Fatalf("OpenDSN(existing, Existing()) = %v", err)
	}
	s2.Close()
}
