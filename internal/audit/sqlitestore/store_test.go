package sqlitestore

import (
	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/storetest"
	"github.com/groo/pat-action/internal/testkit"

	"bytes"
	"context"
	"database/sql"
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

// The store contract, shared with pgstore, on the store's real clock.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) audit.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// A database of the first schema (before lease terms) migrates in place:
// its leases get term 1 and keep working, with the fence.
func TestMigratesVersion1Database(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
		migrations[1],
		`INSERT INTO schema_migrations VALUES (1, 0)`,
		`INSERT INTO leases (use_case, holder, acquired_at, expires_at) VALUES ('uc', 'host-a/1', 0, 9000000000000000000)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(migrations)-1 {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations)-1)
	}
	if _, err := s.AcquireLease(ctx, "uc", "host-b/2", time.Minute); !errors.As(err, new(*audit.LeaseHeldError)) {
		t.Fatalf("acquire of the old lease = %v, want held", err)
	}
	old := audit.Lease{UseCase: "uc", Holder: "host-a/1", Term: 1}
	if err := s.RecordFenced(ctx, old, audit.Event{ID: "att", Time: time.Now(), Outcome: audit.OutcomeStarted, UseCase: "uc"}); err != nil {
		t.Errorf("fenced record under the migrated lease: %v", err)
	}
	if err := s.ReleaseLease(ctx, old); err != nil {
		t.Fatal(err)
	}
	if l, err := s.AcquireLease(ctx, "uc", "host-b/2", time.Minute); err != nil || l.Term != 2 {
		t.Errorf("acquire after release = %+v, %v; want term 2", l, err)
	}
}

// The pacing row is on the store's clock (Now).
func TestMutationSlotsOnStoreClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := openTest(t)
	t0 := c.Now()
	for i := range 3 {
		at, err := s.ReserveMutationSlot(ctx, "cred", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := t0.Add(time.Duration(i) * time.Second); !at.Start.Equal(want) || at.Wait() != time.Duration(i)*time.Second {
			t.Errorf("slot %d = %+v (wait %v), want %v", i, at, at.Wait(), want)
		}
	}
	c.Add(time.Minute)
	if at, _ := s.ReserveMutationSlot(ctx, "cred", time.Second); !at.Start.Equal(c.Now()) || at.Wait() != 0 {
		t.Errorf("slot after a minute = %+v, want now %v and no wait", at, c.Now())
	}
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
