package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/storetest"
	"github.com/groo/pat-action/internal/pgtest"
	"github.com/groo/pat-action/internal/testkit"
)

// One PostgreSQL cluster for the binary, stopped when the tests end.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openFresh(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The store contract, shared with sqlitestore, against a real PostgreSQL.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) audit.Store { return openFresh(t) })
}

// Replicas starting together migrate once, under the advisory lock, and
// then share one lease per use case.
func TestReplicasMigrateOnceAndShareLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	const replicas = 6
	stores := make([]*Store, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			s, err := Open(ctx, dsn)
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
				return
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s == nil {
			t.FailNow()
		}
		defer s.Close()
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var n, maxV int
	if err := stores[0].pool.QueryRow(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || maxV != len(ms) {
		t.Errorf("schema_migrations has %d rows up to %d, want %d", n, maxV, len(ms))
	}
	if v, err := stores[3].SchemaVersion(ctx); err != nil || v != len(ms) {
		t.Errorf("SchemaVersion = %d, %v", v, err)
	}
	// Reopening migrates nothing more.
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for round := range 3 {
		uc := fmt.Sprintf("uc-%d", round)
		var (
			mu        sync.Mutex
			won, held int
		)
		for i, s := range stores {
			for j := range 3 {
				wg.Go(func() {
					_, err := s.AcquireLease(ctx, uc, fmt.Sprintf("replica-%d/%d/x", i, j+10), time.Minute)
					mu.Lock()
					defer mu.Unlock()
					var h *audit.LeaseHeldError
					switch {
					case err == nil:
						won++
					case errors.As(err, &h):
						held++
					default:
						t.Errorf("acquire: %v", err)
					}
				})
			}
		}
		wg.Wait()
		if won != 1 || held != replicas*3-1 {
			t.Errorf("round %d: %d won, %d held; want 1 and %d", round, won, held, replicas*3-1)
		}
	}
	// Pacing is shared too: slots reserved through different replicas are
	// spaced by the interval.
	var slots []time.Time
	for _, s := range stores {
		at, err := s.ReserveMutationSlot(ctx, "cred", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, at.Start)
	}
	for i := 1; i < len(slots); i++ {
		if d := slots[i].Sub(slots[i-1]); d != time.Second {
			t.Errorf("slot %d came %v after the previous (another replica's), want 1s", i, d)
		}
	}
}

// Leases are on the database's clock: a lease's expiry is the server's
// now() plus the TTL, whatever this process's clock says.
func TestLeaseOnDatabaseClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openFresh(t)
	var dbNow time.Time
	if err := s.pool.QueryRow(ctx, `SELECT now()`).Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	l, err := s.AcquireLease(ctx, "uc", "host-a/1/x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var stored time.Time
	if err := s.pool.QueryRow(ctx, `SELECT expires_at FROM leases WHERE use_case = 'uc'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !stored.Equal(l.Expires) || l.Expires.Sub(dbNow) < time.Hour || l.Expires.Sub(dbNow) > time.Hour+5*time.Second {
		t.Errorf("lease expires %v (stored %v), want the database's now %v + 1h", l.Expires, stored, dbNow)
	}
	// Expire it on the database's side only: the takeover follows the
	// database, not this process's clock.
	if _, err := s.pool.Exec(ctx, `UPDATE leases SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	l2, err := s.AcquireLease(ctx, "uc", "host-b/2/y", time.Minute)
	if err != nil || l2.Term != l.Term+1 {
		t.Fatalf("takeover after the database's expiry = %+v, %v", l2, err)
	}
}

func TestDSNWithPasswordIsRefused(t *testing.T) {
	t.Parallel()
	const pw = "s3cr3t-Pa55"
	for _, dsn := range []string{
		"postgres://rotator:" + pw + "@db.example:5432/pat?sslmode=verify-full",
		"postgresql://rotator:" + pw + "@h1:5432,h2:5432/pat",
		"postgres://rotator@db.example/pat?sslmode=require&password=" + pw,
		"postgres://rotator@db.example/pat?pass%77ord=" + pw,
		"host=db.example user=rotator password=" + pw + " dbname=pat",
		"host=db.example user=rotator password='" + pw + " x' dbname=pat",
		"host=db.example PASSWORD = " + pw,
	} {
		start := time.Now()
		s, err := Open(context.Background(), dsn)
		if err == nil {
			s.Close()
			t.Errorf("a DSN with a password was accepted")
			continue
		}
		if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "PGPASSWORD") || !strings.Contains(err.Error(), "password-file") {
			t.Errorf("error %q: want what to do, without the password", err)
		}
		if time.Since(start) > time.Second {
			t.Errorf("refusing took %v: it connected first?", time.Since(start))
		}
	}
	for _, dsn := range []string{"nonsense", "host='unterminated", "=x"} {
		if _, err := Open(context.Background(), dsn); err == nil || strings.Contains(err.Error(), dsn) {
			t.Errorf("Open(%q) = %v, want an error that does not quote the DSN", dsn, err)
		}
	}
}

func TestOpenKeyValueDSNOverSocket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
	s, err := Open(ctx, pgtest.Shared(t).SocketDSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AcquireLease(ctx, "uc", "h/1/x", time.Minute); err != nil {
		t.Fatal(err)
	}
	var app string
	if err := s.pool.QueryRow(ctx, `SHOW application_name`).Scan(&app); err != nil || app != "pat-rotator" {
		t.Errorf("application_name = %q, %v", app, err)
	}
}

// The password comes from PGPASSWORD, PGPASSFILE or the password file, with
// the server asking for it (scram) for this role. Not parallel: it sets the
// environment.
func TestPasswordSources(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Shared(t)
	dsn := pgtest.NewDatabase(t)
	db := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
	role, pw := "pw_"+db, "Corr3ct-horse"
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN PASSWORD '` + pw + `'`,
		`GRANT ALL ON SCHEMA public TO ` + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PrependHBA("host all " + role + " 127.0.0.1/32 scram-sha-256"); err != nil {
		t.Fatal(err)
	}
	roleDSN := fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", role, c.Port, db)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home) // no ~/.pgpass of the machine's
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", filepath.Join(dir, "none"))
	os.Unsetenv("PGPASSWORD")

	if s, err := Open(ctx, roleDSN); err == nil {
		s.Close()
		t.Fatal("connected without a password: the test's server does not ask for one")
	}

	t.Run("PGPASSWORD", func(t *testing.T) {
		t.Setenv("PGPASSWORD", pw)
		s, err := Open(ctx, roleDSN)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	t.Run("PGPASSFILE", func(t *testing.T) {
		f := filepath.Join(dir, "pgpass")
		if err := os.WriteFile(f, []byte(fmt.Sprintf("127.0.0.1:%d:%s:%s:%s\n", c.Port, db, role, pw)), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PGPASSFILE", f)
		s, err := Open(ctx, roleDSN)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	t.Run("password-file", func(t *testing.T) {
		f := filepath.Join(dir, "db-password")
		if err := os.WriteFile(f, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, roleDSN, WithPasswordFile(f))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.AcquireLease(ctx, "uc", "h/1/x", time.Minute); err != nil {
			t.Fatal(err)
		}
		// A wrong password is refused, and the error does not carry it.
		wrong := filepath.Join(dir, "wrong")
		if err := os.WriteFile(wrong, []byte("Wr0ng-battery\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(ctx, roleDSN, WithPasswordFile(wrong)); err == nil {
			s.Close()
			t.Error("a wrong password file was accepted")
		} else if strings.Contains(err.Error(), "Wr0ng-battery") {
			t.Errorf("error %q carries the password", err)
		}
		if _, err := Open(ctx, roleDSN, WithPasswordFile(filepath.Join(dir, "missing"))); err == nil {
			t.Error("a missing password file was accepted")
		}
		empty := filepath.Join(dir, "empty")
		_ = os.WriteFile(empty, nil, 0o600)
		if _, err := Open(ctx, roleDSN, WithPasswordFile(empty)); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Errorf("empty password file: %v", err)
		}
	})
}

// The server goes away and comes back: the store works again without being
// reopened, and no call fails on a broken connection (the pool pings).
func TestServerRestart(t *testing.T) {
	ctx := context.Background()
	s := openFresh(t)
	l, err := s.AcquireLease(ctx, "uc", "host-a/1/x", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Several connections in the pool, all broken by the restart.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := s.pool.Exec(ctx, `SELECT pg_sleep(0.05)`); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := pgtest.Shared(t).Restart(); err != nil {
		t.Fatal(err)
	}
	// No call fails on a connection the restart broke.
	for i := range 8 {
		if l, err = s.RenewLease(ctx, l, time.Minute); err != nil {
			t.Fatalf("call %d after the restart: %v", i+1, err)
		}
	}
	if _, err := s.AcquireLease(ctx, "uc", "host-b/2/y", time.Minute); !errors.As(err, new(*audit.LeaseHeldError)) {
		t.Errorf("the lease did not survive the restart: %v", err)
	}
}

// I5: whatever the store is given, no token value reaches the database:
// neither its rows nor its files (tables and WAL).
func TestNoTokenBytesInDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openFresh(t)
	var secrets []string
	for i := range 20 {
		pat := testkit.PAT(t)
		secrets = append(secrets, pat)
		exp := time.Now().Add(time.Hour)
		e := audit.Event{
			ID: fmt.Sprintf("att_%d", i), Time: time.Now(), Outcome: audit.OutcomeFailed, UseCase: "uc", Target: "repo:octo/app GROO_PAT",
			NewTokenID: fmt.Sprintf("tok_%d", i), NewTokenPrefix: pat[:11], NewTokenLast4: pat[len(pat)-4:], NewExpiresAt: &exp,
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
	holds := func(b []byte) bool {
		for _, sec := range secrets {
			// The secret part after the public prefix, so that the prefix
			// and last four (which are stored) do not match.
			if bytes.Contains(b, []byte(sec[11:len(sec)-4])) {
				return true
			}
		}
		return false
	}
	for _, table := range []string{"events", "current_tokens", "pending_revokes", "leases", "mutation_slots"} {
		rows, err := s.pool.Query(ctx, `SELECT t::text FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			if holds([]byte(row)) {
				t.Errorf("a row of %s holds a token value", table)
			}
		}
		rows.Close()
	}
	var dbOID uint32
	if err := s.pool.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = current_database()`).Scan(&dbOID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(pgtest.Shared(t).Dir, "data")
	scanned := 0
	for _, dir := range []string{filepath.Join(data, "base", fmt.Sprint(dbOID)), filepath.Join(data, "pg_wal")} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			scanned++
			if holds(b) {
				t.Errorf("%s holds a token value", strings.TrimPrefix(path, data))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if scanned == 0 {
		t.Fatal("no database files scanned")
	}
}

// A database migrated by a newer build is not touched by an older one.
func TestOpenRefusesANewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, dsn); err == nil {
		s.Close()
		t.Fatal("an older build opened a newer schema")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q, want it to say the schema is newer", err)
	}
}
