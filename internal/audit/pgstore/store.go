// Package pgstore is pat-rotator's shared audit.Store: PostgreSQL, for
// several replicas of the daemon that must agree on leases, pending revokes
// and the pacing of GitHub mutations.
//
// It talks to the server through pgx/v5's native interface and its pool
// (pgxpool), not through database/sql: the pool's BeforeConnect hook reads
// the password file at every new connection (a rotated database password is
// picked up without a restart), its ping as a connection leaves the pool
// replaces the ones a server restart broke before a call fails on them,
// server errors come typed (*pgconn.PgError), and nothing of database/sql's
// second pool and its conversions stands between the store and the server.
//
// Every time the store decides with (a lease's expiry, a takeover, a
// mutation slot, when an event was recorded) is the database's clock,
// now(): replicas whose clocks disagree still agree on who holds a lease.
// Times a caller gives (an event's time, a revoke's schedule) are kept as
// given, as BIGINT unix nanoseconds.
//
// The schema is migrated at Open by the embedded migrations/*.sql, each
// applied once (schema_migrations) in one transaction under an advisory
// lock, so that replicas starting together migrate once.
//
// The password never comes inline in the DSN (such a DSN is refused): it
// comes from libpq's environment (PGPASSWORD, PGPASSFILE or ~/.pgpass,
// which pgx honours) or from a file given with WithPasswordFile. Nothing in
// the store is ever a token value: error texts are scrubbed (audit.Scrub)
// before they are kept.
package pgstore

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groo/pat-action/internal/audit"
)

// Store is the PostgreSQL Store.
type Store struct {
	pool *pgxpool.Pool
}

var _ audit.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key the migrations run under.
const migrationLock int64 = 0x7061745f726f7461 // "pat_rota"

type migration struct {
	version int
	name    string
	sql     string
}

// migrations are migrations/NNNN_name.sql in order. Never edit one that has
// shipped: add a new file.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, f := range files {
		base := strings.TrimPrefix(f, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name it NNNN_what.sql", base)
		}
		b, err := migrationFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must be 1, 2, 3, ... without gaps", m.name)
		}
	}
	return out, nil
}

// Option configures Open.
type Option func(*options)

type options struct {
	passwordFile string
}

// WithPasswordFile reads the database password from the file at path (its
// first line), at every new connection; it takes precedence over PGPASSWORD
// and PGPASSFILE. Empty path: no file.
func WithPasswordFile(path string) Option {
	return func(o *options) { o.passwordFile = path }
}

// Open connects to the database the DSN names and migrates it. The DSN is a
// postgres:// URL (postgres://USER@HOST:PORT/DB?sslmode=...) or a libpq
// key=value string; one holding a password is refused.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkDSN(dsn); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx redacts passwords in its parse errors; there is none anyway.
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "pat-rotator"
	}
	// Every connection is pinged as it leaves the pool: one round trip per
	// store call (a handful per rotation) buys that a connection a server
	// restart or failover broke is replaced before a call fails on it.
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return true }
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = 10 * time.Second
	}
	if o.passwordFile != "" {
		path := o.passwordFile
		if _, err := readPasswordFile(path); err != nil {
			return nil, err
		}
		cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
			pw, err := readPasswordFile(path)
			if err != nil {
				return err
			}
			cc.Password = pw
			return nil
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// readPasswordFile returns the file's first line; its errors name the file,
// never its content.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("open postgres store: read password file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("open postgres store: password file %s is empty", path)
	}
	return pw, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Held until the transaction ends: a replica starting at the same
		// time waits here, then finds the versions applied.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		applied := map[int]bool{}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for v := range applied {
			if v > len(ms) {
				return fmt.Errorf("the database has schema version %d, newer than this build knows (%d): run a newer pat-rotator", v, len(ms))
			}
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	return nil
}

// SchemaVersion is the highest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v *int
	if err := s.pool.QueryRow(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func nullNanos(t *time.Time) *int64 {
	if t == nil || t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func timePtr(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := fromNanos(*n)
	return &t
}

func micros(d time.Duration) int64 { return d.Microseconds() }

// text makes a string storable in a TEXT column (PostgreSQL refuses NUL and
// invalid UTF-8, and a refused event would be a lost one).
func text(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// Record keeps the latest outcome of each attempt. A late "started" never
// overwrites a final outcome. A success also becomes the use case's current
// token.
func (s *Store) Record(ctx context.Context, e audit.Event) error {
	return s.record(ctx, nil, e)
}

// RecordFenced is Record if l still holds its use case's lease in its term.
func (s *Store) RecordFenced(ctx context.Context, l audit.Lease, e audit.Event) error {
	if e.UseCase != l.UseCase {
		return fmt.Errorf("record event %s: the event's use case is not the lease's", e.ID)
	}
	return s.record(ctx, &l, e)
}

func (s *Store) record(ctx context.Context, fence *audit.Lease, e audit.Event) error {
	e.Error = audit.Scrub(e.Error)
	e.Step = audit.Scrub(e.Step)
	if e.ID == "" {
		return errors.New("record event: empty attempt id")
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("record event %s: %w", e.ID, err)
	}
	var tokenID *string
	if e.NewTokenID != "" {
		id := text(e.NewTokenID)
		tokenID = &id
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, fence); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
INSERT INTO events (attempt_id, time, recorded_at, outcome, use_case, target, actor, tool, new_token_id, outcome_unknown, body)
VALUES ($1, $2, now(), $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (attempt_id) DO UPDATE SET
	time = excluded.time, recorded_at = excluded.recorded_at, outcome = excluded.outcome,
	use_case = excluded.use_case, target = excluded.target, actor = excluded.actor, tool = excluded.tool,
	new_token_id = COALESCE(excluded.new_token_id, events.new_token_id),
	outcome_unknown = excluded.outcome_unknown, body = excluded.body
WHERE events.outcome = 'started' OR excluded.outcome <> 'started'`,
			text(e.ID), nanos(e.Time), text(string(e.Outcome)), text(e.UseCase), text(e.Target), text(e.Actor), text(e.Tool),
			tokenID, e.OutcomeUnknown, string(body))
		if err != nil {
			return err
		}
		if e.Outcome != audit.OutcomeSucceeded || e.NewTokenID == "" {
			return nil
		}
		written := e.WrittenAt
		if written == nil {
			t := e.Time.Add(e.Duration)
			written = &t
		}
		_, err = tx.Exec(ctx, `
INSERT INTO current_tokens (use_case, target, token_id, prefix, last_four, expires_at, written_at, attempt_id, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
ON CONFLICT (use_case) DO UPDATE SET
	target = excluded.target, token_id = excluded.token_id, prefix = excluded.prefix, last_four = excluded.last_four,
	expires_at = excluded.expires_at, written_at = excluded.written_at, attempt_id = excluded.attempt_id,
	updated_at = excluded.updated_at
WHERE current_tokens.written_at IS NULL OR current_tokens.written_at <= excluded.written_at`,
			text(e.UseCase), text(e.Target), text(e.NewTokenID), text(e.NewTokenPrefix), text(e.NewTokenLast4),
			nullNanos(e.NewExpiresAt), nullNanos(written), text(e.ID))
		return err
	})
	if err != nil {
		return fmt.Errorf("record event %s (%s): %w", e.ID, e.Outcome, err)
	}
	return nil
}

// checkFence fails with audit.ErrLeaseLost unless l's holder still holds
// its use case's lease in l's term. FOR SHARE keeps the lease row as it is
// until the transaction ends: a takeover waits for the fenced write, or the
// fenced write sees the takeover.
func checkFence(ctx context.Context, tx pgx.Tx, l *audit.Lease) error {
	if l == nil {
		return nil
	}
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM leases WHERE use_case = $1 AND holder = $2 AND term = $3 AND holder <> '' FOR SHARE`,
		l.UseCase, l.Holder, l.Term).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("lease of %q (term %d): %w", l.UseCase, l.Term, audit.ErrLeaseLost)
	}
	return err
}

// History returns events oldest first.
func (s *Store) History(ctx context.Context, q audit.HistoryQuery) ([]audit.Event, error) {
	var (
		where []string
		args  []any
	)
	if q.UseCase != "" {
		args = append(args, q.UseCase)
		where = append(where, fmt.Sprintf("use_case = $%d", len(args)))
	}
	if !q.Since.IsZero() {
		args = append(args, nanos(q.Since))
		where = append(where, fmt.Sprintf("time >= $%d", len(args)))
	}
	query := `SELECT body FROM events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY time DESC, recorded_at DESC, attempt_id DESC"
	if q.Limit > 0 {
		args = append(args, q.Limit)
		query += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		var e audit.Event
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, fmt.Errorf("read history: decode event: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Current returns the use case's current token, if a rotation succeeded.
func (s *Store) Current(ctx context.Context, useCase string) (audit.CurrentToken, bool, error) {
	c := audit.CurrentToken{UseCase: useCase}
	var exp, written *int64
	err := s.pool.QueryRow(ctx, `
SELECT target, token_id, prefix, last_four, expires_at, written_at, attempt_id
FROM current_tokens WHERE use_case = $1`, useCase).Scan(&c.Target, &c.TokenID, &c.Prefix, &c.LastFour, &exp, &written, &c.AttemptID)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.CurrentToken{}, false, nil
	}
	if err != nil {
		return audit.CurrentToken{}, false, fmt.Errorf("read current token of %q: %w", useCase, err)
	}
	c.ExpiresAt, c.WrittenAt = timePtr(exp), timePtr(written)
	return c, true, nil
}

// WritesEnded is when (database clock) the rotation that minted tokenID
// recorded its final outcome: its writes had returned by then. A failure
// whose write outcome stayed unknown does not count, nor does an attempt
// that never finished.
func (s *Store) WritesEnded(ctx context.Context, useCase, tokenID string) (time.Time, bool, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `
SELECT recorded_at FROM events
WHERE use_case = $1 AND new_token_id = $2 AND outcome IN ('succeeded', 'failed') AND NOT outcome_unknown
ORDER BY recorded_at DESC LIMIT 1`, useCase, tokenID).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read writes of %s: %w", tokenID, err)
	}
	return at.UTC(), true, nil
}

// AddPendingRevoke inserts a pending revoke or keeps the one there.
func (s *Store) AddPendingRevoke(ctx context.Context, p audit.PendingRevoke) error {
	return s.addPendingRevoke(ctx, nil, p)
}

// AddPendingRevokeFenced is AddPendingRevoke if l still holds its use
// case's lease in its term.
func (s *Store) AddPendingRevokeFenced(ctx context.Context, l audit.Lease, p audit.PendingRevoke) error {
	if p.UseCase != l.UseCase {
		return fmt.Errorf("add pending revoke %s: the revoke's use case is not the lease's", p.TokenID)
	}
	return s.addPendingRevoke(ctx, &l, p)
}

func (s *Store) addPendingRevoke(ctx context.Context, fence *audit.Lease, p audit.PendingRevoke) error {
	if p.TokenID == "" {
		return errors.New("add pending revoke: empty token id")
	}
	if p.NextTry.IsZero() {
		p.NextTry = p.RevokeAfter
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, fence); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
INSERT INTO pending_revokes (token_id, use_case, target, revoke_after, attempts, last_error, next_try, added_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now())
ON CONFLICT (token_id) DO UPDATE SET
	revoke_after = LEAST(excluded.revoke_after, pending_revokes.revoke_after),
	last_error = CASE WHEN excluded.last_error <> '' THEN excluded.last_error ELSE pending_revokes.last_error END`,
			text(p.TokenID), text(p.UseCase), text(p.Target), nanos(p.RevokeAfter), p.Attempts, text(audit.Scrub(p.LastError)), nanos(p.NextTry))
		return err
	})
	if err != nil {
		return fmt.Errorf("add pending revoke %s: %w", p.TokenID, err)
	}
	return nil
}

const pendingColumns = `token_id, use_case, target, revoke_after, attempts, last_error, next_try, added_at`

func scanPending(rows pgx.Rows) ([]audit.PendingRevoke, error) {
	defer rows.Close()
	var out []audit.PendingRevoke
	for rows.Next() {
		var p audit.PendingRevoke
		var ra, nt int64
		var aa time.Time
		if err := rows.Scan(&p.TokenID, &p.UseCase, &p.Target, &ra, &p.Attempts, &p.LastError, &nt, &aa); err != nil {
			return nil, err
		}
		p.RevokeAfter, p.NextTry, p.AddedAt = fromNanos(ra), fromNanos(nt), aa.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// DueRevokes lists pending revokes to try at now, earliest first.
func (s *Store) DueRevokes(ctx context.Context, now time.Time, limit int) ([]audit.PendingRevoke, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT `+pendingColumns+` FROM pending_revokes
WHERE revoke_after <= $1 AND next_try <= $1 ORDER BY next_try, token_id LIMIT $2`, nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("read due revokes: %w", err)
	}
	out, err := scanPending(rows)
	if err != nil {
		return nil, fmt.Errorf("read due revokes: %w", err)
	}
	return out, nil
}

// PendingRevokes lists every pending revoke.
func (s *Store) PendingRevokes(ctx context.Context) ([]audit.PendingRevoke, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pendingColumns+` FROM pending_revokes ORDER BY revoke_after, token_id`)
	if err != nil {
		return nil, fmt.Errorf("read pending revokes: %w", err)
	}
	out, err := scanPending(rows)
	if err != nil {
		return nil, fmt.Errorf("read pending revokes: %w", err)
	}
	return out, nil
}

// RevokeFailed counts a failed attempt.
func (s *Store) RevokeFailed(ctx context.Context, tokenID, errMsg string, nextTry time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE pending_revokes SET attempts = attempts + 1, last_error = $2, next_try = $3 WHERE token_id = $1`,
		tokenID, text(audit.Scrub(errMsg)), nanos(nextTry))
	if err != nil {
		return fmt.Errorf("note failed revoke of %s: %w", tokenID, err)
	}
	return nil
}

// RevokeDone forgets a pending revoke.
func (s *Store) RevokeDone(ctx context.Context, tokenID string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM pending_revokes WHERE token_id = $1`, tokenID); err != nil {
		return fmt.Errorf("forget pending revoke %s: %w", tokenID, err)
	}
	return nil
}

// AcquireLease takes the lease, or takes over an expired one or one whose
// holder's process on this host is gone; every change of holder increments
// the term. Expiry is the database's clock.
func (s *Store) AcquireLease(ctx context.Context, useCase, holder string, ttl time.Duration) (audit.Lease, error) {
	if holder == "" {
		return audit.Lease{}, fmt.Errorf("acquire lease of %q: empty holder", useCase)
	}
	l := audit.Lease{UseCase: useCase, Holder: holder}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// A first holder inserts; concurrent ones wait for its commit and
		// then find the row.
		err := tx.QueryRow(ctx, `
INSERT INTO leases (use_case, holder, term, acquired_at, expires_at)
VALUES ($1, $2, 1, now(), now() + $3::bigint * interval '1 microsecond')
ON CONFLICT (use_case) DO NOTHING
RETURNING term, expires_at`, text(useCase), text(holder), micros(ttl)).Scan(&l.Term, &l.Expires)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var (
			prevHolder     string
			prevExp, dbNow time.Time
			expired        bool
		)
		if err := tx.QueryRow(ctx, `SELECT holder, expires_at, now(), expires_at <= now() FROM leases WHERE use_case = $1 FOR UPDATE`,
			useCase).Scan(&prevHolder, &prevExp, &dbNow, &expired); err != nil {
			return err
		}
		gone := false
		if prevHolder != "" && !expired {
			if gone = audit.HolderGone(prevHolder); !gone {
				return &audit.LeaseHeldError{UseCase: useCase, Holder: prevHolder, Expires: prevExp.UTC()}
			}
		}
		if err := tx.QueryRow(ctx, `
UPDATE leases SET holder = $2, term = term + 1, acquired_at = now(), expires_at = now() + $3::bigint * interval '1 microsecond'
WHERE use_case = $1 RETURNING term, expires_at`, useCase, text(holder), micros(ttl)).Scan(&l.Term, &l.Expires); err != nil {
			return err
		}
		switch {
		case prevHolder == "": // released: its attempts ended
			return nil
		case gone:
			return abandon(ctx, tx, useCase, dbNow, fmt.Sprintf("its lease holder (%s) is no longer running on this host", prevHolder))
		default:
			return abandon(ctx, tx, useCase, dbNow, fmt.Sprintf("its lease (%s) expired at %s", prevHolder, prevExp.UTC().Format(time.RFC3339)))
		}
	})
	if err != nil {
		var held *audit.LeaseHeldError
		if errors.As(err, &held) {
			return audit.Lease{}, held
		}
		return audit.Lease{}, fmt.Errorf("acquire lease of %q: %w", useCase, err)
	}
	l.Expires = l.Expires.UTC()
	return l, nil
}

// abandon marks the attempts a lost lease left "started" up to until (the
// takeover): their process stopped, or can no longer record (its fenced
// writes are refused), before they ended.
func abandon(ctx context.Context, tx pgx.Tx, useCase string, until time.Time, why string) error {
	rows, err := tx.Query(ctx, `SELECT attempt_id, body FROM events WHERE use_case = $1 AND outcome = 'started' AND time <= $2 FOR UPDATE`,
		useCase, nanos(until))
	if err != nil {
		return err
	}
	type row struct {
		id string
		e  audit.Event
	}
	var found []row
	for rows.Next() {
		var r row
		var body string
		if err := rows.Scan(&r.id, &body); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(body), &r.e); err != nil {
			rows.Close()
			return fmt.Errorf("decode event %s: %w", r.id, err)
		}
		found = append(found, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range found {
		r.e.Outcome = audit.OutcomeAbandoned
		r.e.Error = "the process stopped before the attempt ended: " + why
		body, err := json.Marshal(r.e)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE events SET outcome = 'abandoned', body = $2 WHERE attempt_id = $1 AND outcome = 'started'`,
			r.id, string(body)); err != nil {
			return err
		}
	}
	return nil
}

// RenewLease extends the lease if l.Holder still holds it in l.Term and it
// has not expired.
func (s *Store) RenewLease(ctx context.Context, l audit.Lease, ttl time.Duration) (audit.Lease, error) {
	var exp time.Time
	err := s.pool.QueryRow(ctx, `
UPDATE leases SET expires_at = now() + $4::bigint * interval '1 microsecond'
WHERE use_case = $1 AND holder = $2 AND term = $3 AND expires_at > now()
RETURNING expires_at`, l.UseCase, l.Holder, l.Term, micros(ttl)).Scan(&exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, fmt.Errorf("renew lease of %q: %w", l.UseCase, audit.ErrLeaseLost)
	}
	if err != nil {
		return l, fmt.Errorf("renew lease of %q: %w", l.UseCase, err)
	}
	l.Expires = exp.UTC()
	return l, nil
}

// ReleaseLease frees the lease if l.Holder still holds it in l.Term. The
// row stays (with an empty holder) so that the next holder's term is higher.
func (s *Store) ReleaseLease(ctx context.Context, l audit.Lease) error {
	if _, err := s.pool.Exec(ctx, `UPDATE leases SET holder = '', expires_at = now() WHERE use_case = $1 AND holder = $2 AND term = $3`,
		l.UseCase, l.Holder, l.Term); err != nil {
		return fmt.Errorf("release lease of %q: %w", l.UseCase, err)
	}
	return nil
}

// ReserveMutationSlot reserves the next mutation start on key, on the
// database's clock: the later of now and the previous reservation plus
// interval, in one atomic UPSERT ... RETURNING.
func (s *Store) ReserveMutationSlot(ctx context.Context, key string, interval time.Duration) (audit.Slot, error) {
	if key == "" || interval < 0 {
		return audit.Slot{}, errors.New("reserve mutation slot: empty key or negative interval")
	}
	var start, now time.Time
	err := s.pool.QueryRow(ctx, `
INSERT INTO mutation_slots (key, next_at) VALUES ($1, clock_timestamp() + $2::bigint * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(mutation_slots.next_at, clock_timestamp()) + $2::bigint * interval '1 microsecond'
RETURNING next_at - $2::bigint * interval '1 microsecond', clock_timestamp()`, text(key), micros(interval)).Scan(&start, &now)
	if err != nil {
		return audit.Slot{}, fmt.Errorf("reserve mutation slot: %w", err)
	}
	return audit.Slot{Start: start.UTC(), Now: now.UTC()}, nil
}

// Claim reports whether holder has key now: the first claim, its own, or
// one it took over from a holder that is gone before the claim was done.
func (s *Store) Claim(ctx context.Context, key, holder string) (bool, error) {
	if key == "" || holder == "" {
		return false, fmt.Errorf("claim %q: empty key or holder", key)
	}
	won := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// A first claimer inserts; concurrent ones wait for its commit and
		// then find the row.
		tag, err := tx.Exec(ctx, `INSERT INTO claims (key, holder, done) VALUES ($1, $2, false) ON CONFLICT (key) DO NOTHING`,
			text(key), text(holder))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			won = true
			return nil
		}
		var prev string
		var done bool
		if err := tx.QueryRow(ctx, `SELECT holder, done FROM claims WHERE key = $1 FOR UPDATE`, text(key)).Scan(&prev, &done); err != nil {
			return err
		}
		switch {
		case prev == text(holder):
			won = !done
		case !done && audit.HolderGone(prev):
			if _, err := tx.Exec(ctx, `UPDATE claims SET holder = $2, claimed_at = now() WHERE key = $1`, text(key), text(holder)); err != nil {
				return err
			}
			won = true
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("claim %q: %w", key, err)
	}
	return won, nil
}

// ClaimDone marks holder's claim of key done.
func (s *Store) ClaimDone(ctx context.Context, key, holder string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE claims SET done = true WHERE key = $1 AND holder = $2`, text(key), text(holder)); err != nil {
		return fmt.Errorf("claim %q done: %w", key, err)
	}
	return nil
}

// HeldLeases lists the leases held now (a holder, not yet expired on the
// database's clock).
func (s *Store) HeldLeases(ctx context.Context) ([]audit.Lease, error) {
	rows, err := s.pool.Query(ctx, `SELECT use_case, holder, term, expires_at FROM leases
WHERE holder <> '' AND expires_at > now() ORDER BY use_case`)
	if err != nil {
		return nil, fmt.Errorf("held leases: %w", err)
	}
	defer rows.Close()
	var out []audit.Lease
	for rows.Next() {
		var l audit.Lease
		if err := rows.Scan(&l.UseCase, &l.Holder, &l.Term, &l.Expires); err != nil {
			return nil, fmt.Errorf("held leases: %w", err)
		}
		l.Expires = l.Expires.UTC()
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("held leases: %w", err)
	}
	return out, nil
}
