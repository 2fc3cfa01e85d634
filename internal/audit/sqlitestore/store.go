// Package sqlitestore is pat-rotator's embedded audit.Store: SQLite through
// modernc.org/sqlite (pure Go, so the binaries stay static). It lives apart
// from package audit so that the Action, which keeps no store, does not carry
// a database engine in its image.
package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/audit"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Store is the embedded Store: one file, WAL, a busy timeout so that a
// second process (a restart racing the old one, `rotate` next to `run`) waits
// rather than fails. Its SQL is kept portable (numbered placeholders,
// ON CONFLICT, BIGINT unix nanoseconds for times) so that a PostgreSQL store
// can share the schema.
type Store struct {
	db   *sql.DB
	path string
	// Now is the store's clock for leases and recorded times; tests move it.
	Now func() time.Time
}

var _ audit.Store = (*Store)(nil)

// migrations are applied in order, each once, recorded in schema_migrations.
// Never edit one that has shipped: append a new one.
var migrations = []string{
	1: `
CREATE TABLE events (
	attempt_id      TEXT PRIMARY KEY,
	time            BIGINT NOT NULL,
	recorded_at     BIGINT NOT NULL,
	outcome         TEXT NOT NULL,
	use_case        TEXT NOT NULL,
	target          TEXT NOT NULL,
	actor           TEXT NOT NULL,
	tool            TEXT NOT NULL,
	new_token_id    TEXT,
	outcome_unknown INTEGER NOT NULL DEFAULT 0,
	body            TEXT NOT NULL
);
CREATE INDEX events_use_case_time ON events (use_case, time);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_new_token ON events (new_token_id);

CREATE TABLE current_tokens (
	use_case   TEXT PRIMARY KEY,
	target     TEXT NOT NULL,
	token_id   TEXT NOT NULL,
	prefix     TEXT NOT NULL,
	last_four  TEXT NOT NULL,
	expires_at BIGINT,
	written_at BIGINT,
	attempt_id TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE pending_revokes (
	token_id     TEXT PRIMARY KEY,
	use_case     TEXT NOT NULL,
	target       TEXT NOT NULL,
	revoke_after BIGINT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	next_try     BIGINT NOT NULL,
	added_at     BIGINT NOT NULL
);
CREATE INDEX pending_revokes_next_try ON pending_revokes (next_try);

CREATE TABLE leases (
	use_case    TEXT PRIMARY KEY,
	holder      TEXT NOT NULL,
	acquired_at BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL
);
`,
	// 2: lease terms (fencing) and the shared pacing of GitHub mutations. A
	// released lease keeps its row (with an empty holder) so that its term
	// keeps growing.
	2: `
ALTER TABLE leases ADD COLUMN term BIGINT NOT NULL DEFAULT 1;

CREATE TABLE mutation_slots (
	key     TEXT PRIMARY KEY,
	next_at BIGINT NOT NULL
);
`,
	// 3: claims, so that one replica of several sends a notification.
	3: `
CREATE TABLE claims (
	key        TEXT PRIMARY KEY,
	claimed_at BIGINT NOT NULL
);
`,
	// 4: a claim's holder, and whether its act is done: a claim whose holder
	// died before it was done is taken over. Claims made before are done.
	4: `
ALTER TABLE claims ADD COLUMN holder TEXT NOT NULL DEFAULT '';
ALTER TABLE claims ADD COLUMN done INTEGER NOT NULL DEFAULT 1;
`,
}

// Option changes how Open opens a store.
type Option func(*openOptions)

type openOptions struct{ existing bool }

// Existing makes Open refuse a database file that does not exist (an error
// that names the path and matches fs.ErrNotExist) instead of creating it:
// for the commands that only read the store.
func Existing() Option { return func(o *openOptions) { o.existing = true } }

// Open opens (creating if needed, unless Existing) the database at path and
// migrates it.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite store: empty path; use sqlite:///absolute/path.db or sqlite://./relative.db")
	}
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.existing {
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("open sqlite store: %s does not exist (check the configuration's store; a rotation creates it): %w", path, fs.ErrNotExist)
			}
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open sqlite store: create directory: %w", err)
		}
	}
	// The files hold audit data and leases: keep them to their owner. SQLite
	// creates -wal and -shm with the database file's mode, so the file is made
	// 0600 before SQLite first opens it (an older one is tightened); the
	// companions are set again below, in case a crash left older ones.
	if err := ownerOnly(path, true); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate") // take the write lock at BEGIN: no upgrade deadlocks between processes
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	// SQLite has one writer at a time anyway; a small pool keeps readers
	// off the writer's connection without multiplying busy waits.
	db.SetMaxOpenConns(4)
	s := &Store{db: db, path: path, Now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := ownerOnly(f, false); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
		}
	}
	return s, nil
}

// ownerOnly makes the file at path mode 0600, creating it (empty, which
// SQLite takes for a new database) when create is set; a missing file is
// left missing otherwise. The mode is set with chmod, so the umask does not
// matter.
func ownerOnly(path string, create bool) error {
	if create {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case err == nil:
			if err := f.Close(); err != nil {
				return err
			}
		case !errors.Is(err, os.ErrExist):
			return fmt.Errorf("create the database file: %w", err)
		}
	}
	err := os.Chmod(path, 0o600)
	switch {
	case err == nil, errors.Is(err, os.ErrNotExist) && !create:
	case errors.Is(err, os.ErrPermission):
		// A file of another user (a shared volume) keeps the mode its
		// owner gave it, as before; SQLite still opens it if it may.
	default:
		return fmt.Errorf("make %s readable by its owner only: %w", filepath.Base(path), err)
	}
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	for v := 1; v < len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, v, s.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate store to version %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion is the highest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func nullNanos(t *time.Time) sql.NullInt64 {
	if t == nil || t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNanos(n.Int64)
	return &t
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
	e = audit.ScrubEvent(e)
	if e.ID == "" {
		return errors.New("record event: empty attempt id")
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("record event %s: %w", e.ID, err)
	}
	now := s.Now()
	var tokenID sql.NullString
	if e.NewTokenID != "" {
		tokenID = sql.NullString{String: e.NewTokenID, Valid: true}
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := checkFence(ctx, tx, fence); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
INSERT INTO events (attempt_id, time, recorded_at, outcome, use_case, target, actor, tool, new_token_id, outcome_unknown, body)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (attempt_id) DO UPDATE SET
	time = excluded.time, recorded_at = excluded.recorded_at, outcome = excluded.outcome,
	use_case = excluded.use_case, target = excluded.target, actor = excluded.actor, tool = excluded.tool,
	new_token_id = COALESCE(excluded.new_token_id, events.new_token_id),
	outcome_unknown = excluded.outcome_unknown, body = excluded.body
WHERE events.outcome = 'started' OR excluded.outcome <> 'started'`,
			e.ID, nanos(e.Time), nanos(now), string(e.Outcome), e.UseCase, e.Target, e.Actor, e.Tool,
			tokenID, boolInt(e.OutcomeUnknown), string(body))
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
		_, err = tx.ExecContext(ctx, `
INSERT INTO current_tokens (use_case, target, token_id, prefix, last_four, expires_at, written_at, attempt_id, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (use_case) DO UPDATE SET
	target = excluded.target, token_id = excluded.token_id, prefix = excluded.prefix, last_four = excluded.last_four,
	expires_at = excluded.expires_at, written_at = excluded.written_at, attempt_id = excluded.attempt_id,
	updated_at = excluded.updated_at
WHERE current_tokens.written_at IS NULL OR current_tokens.written_at <= excluded.written_at`,
			e.UseCase, e.Target, e.NewTokenID, e.NewTokenPrefix, e.NewTokenLast4, nullNanos(e.NewExpiresAt),
			nullNanos(written), e.ID, nanos(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("record event %s (%s): %w", e.ID, e.Outcome, err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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
	rows, err := s.db.QueryContext(ctx, query, args...)
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
	var exp, written sql.NullInt64
	err := s.db.QueryRowContext(ctx, `
SELECT target, token_id, prefix, last_four, expires_at, written_at, attempt_id
FROM current_tokens WHERE use_case = $1`, useCase).Scan(&c.Target, &c.TokenID, &c.Prefix, &c.LastFour, &exp, &written, &c.AttemptID)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.CurrentToken{}, false, nil
	}
	if err != nil {
		return audit.CurrentToken{}, false, fmt.Errorf("read current token of %q: %w", useCase, err)
	}
	c.ExpiresAt, c.WrittenAt = timePtr(exp), timePtr(written)
	return c, true, nil
}

// WritesEnded is when the rotation that minted tokenID recorded its final
// outcome: its writes had returned by then. A failure whose write outcome
// stayed unknown does not count (a write may still have been in flight), nor
// does an attempt that never finished.
func (s *Store) WritesEnded(ctx context.Context, useCase, tokenID string) (time.Time, bool, error) {
	var at int64
	err := s.db.QueryRowContext(ctx, `
SELECT recorded_at FROM events
WHERE use_case = $1 AND new_token_id = $2 AND outcome IN ('succeeded', 'failed') AND outcome_unknown = 0
ORDER BY recorded_at DESC LIMIT 1`, useCase, tokenID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read writes of %s: %w", tokenID, err)
	}
	return fromNanos(at), true, nil
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
	now := s.Now()
	if p.NextTry.IsZero() {
		p.NextTry = p.RevokeAfter
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := checkFence(ctx, tx, fence); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
INSERT INTO pending_revokes (token_id, use_case, target, revoke_after, attempts, last_error, next_try, added_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (token_id) DO UPDATE SET
	revoke_after = CASE WHEN excluded.revoke_after < pending_revokes.revoke_after THEN excluded.revoke_after ELSE pending_revokes.revoke_after END,
	last_error = CASE WHEN excluded.last_error <> '' THEN excluded.last_error ELSE pending_revokes.last_error END`,
			p.TokenID, p.UseCase, p.Target, nanos(p.RevokeAfter), p.Attempts, audit.Scrub(p.LastError), nanos(p.NextTry), nanos(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("add pending revoke %s: %w", p.TokenID, err)
	}
	return nil
}

const pendingColumns = `token_id, use_case, target, revoke_after, attempts, last_error, next_try, added_at`

func scanPending(rows *sql.Rows) ([]audit.PendingRevoke, error) {
	defer rows.Close()
	var out []audit.PendingRevoke
	for rows.Next() {
		var p audit.PendingRevoke
		var ra, nt, aa int64
		if err := rows.Scan(&p.TokenID, &p.UseCase, &p.Target, &ra, &p.Attempts, &p.LastError, &nt, &aa); err != nil {
			return nil, err
		}
		p.RevokeAfter, p.NextTry, p.AddedAt = fromNanos(ra), fromNanos(nt), fromNanos(aa)
		out = append(out, p)
	}
	return out, rows.Err()
}

// DueRevokes lists pending revokes to try now, earliest first.
func (s *Store) DueRevokes(ctx context.Context, now time.Time, limit int) ([]audit.PendingRevoke, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+pendingColumns+` FROM pending_revokes
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
	rows, err := s.db.QueryContext(ctx, `SELECT `+pendingColumns+` FROM pending_revokes ORDER BY revoke_after, token_id`)
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
	_, err := s.db.ExecContext(ctx, `UPDATE pending_revokes SET attempts = attempts + 1, last_error = $2, next_try = $3 WHERE token_id = $1`,
		tokenID, audit.Scrub(errMsg), nanos(nextTry))
	if err != nil {
		return fmt.Errorf("note failed revoke of %s: %w", tokenID, err)
	}
	return nil
}

// RevokeDone forgets a pending revoke.
func (s *Store) RevokeDone(ctx context.Context, tokenID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM pending_revokes WHERE token_id = $1`, tokenID); err != nil {
		return fmt.Errorf("forget pending revoke %s: %w", tokenID, err)
	}
	return nil
}

// checkFence fails with audit.ErrLeaseLost unless l's holder still holds
// its use case's lease in l's term. The transaction holds SQLite's write
// lock (BEGIN IMMEDIATE), so no takeover can come between it and the write.
func checkFence(ctx context.Context, tx *sql.Tx, l *audit.Lease) error {
	if l == nil {
		return nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM leases WHERE use_case = $1 AND holder = $2 AND term = $3 AND holder <> ''`,
		l.UseCase, l.Holder, l.Term).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("lease of %q (term %d): %w", l.UseCase, l.Term, audit.ErrLeaseLost)
	}
	return nil
}

// AcquireLease takes the lease, or takes over an expired one or one whose
// holder's process on this host is gone; every change of holder increments
// the term.
func (s *Store) AcquireLease(ctx context.Context, useCase, holder string, ttl time.Duration) (audit.Lease, error) {
	if holder == "" {
		return audit.Lease{}, fmt.Errorf("acquire lease of %q: empty holder", useCase)
	}
	now := s.Now()
	l := audit.Lease{UseCase: useCase, Holder: holder, Expires: now.Add(ttl), Term: 1}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var prevHolder string
		var prevExp, prevTerm int64
		err := tx.QueryRowContext(ctx, `SELECT holder, expires_at, term FROM leases WHERE use_case = $1`, useCase).Scan(&prevHolder, &prevExp, &prevTerm)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO leases (use_case, holder, acquired_at, expires_at, term) VALUES ($1, $2, $3, $4, 1)`,
				useCase, holder, nanos(now), nanos(l.Expires))
			return err
		case err != nil:
			return err
		}
		gone := false
		if prevHolder != "" && prevExp > nanos(now) {
			if gone = audit.HolderGone(prevHolder); !gone {
				return &audit.LeaseHeldError{UseCase: useCase, Holder: prevHolder, Expires: fromNanos(prevExp)}
			}
		}
		l.Term = prevTerm + 1
		if _, err := tx.ExecContext(ctx, `UPDATE leases SET holder = $2, acquired_at = $3, expires_at = $4, term = $5 WHERE use_case = $1`,
			useCase, holder, nanos(now), nanos(l.Expires), l.Term); err != nil {
			return err
		}
		switch {
		case prevHolder == "": // released: its attempts ended
			return nil
		case gone:
			return abandon(ctx, tx, useCase, now, fmt.Sprintf("its lease holder (%s) is no longer running on this host", prevHolder))
		default:
			expired := fromNanos(prevExp)
			return abandon(ctx, tx, useCase, now, fmt.Sprintf("its lease (%s) expired at %s", prevHolder, expired.UTC().Format(time.RFC3339)))
		}
	})
	if err != nil {
		var held *audit.LeaseHeldError
		if errors.As(err, &held) {
			return audit.Lease{}, held
		}
		return audit.Lease{}, fmt.Errorf("acquire lease of %q: %w", useCase, err)
	}
	return l, nil
}

// abandon marks the attempts a lost lease left "started" up to until (the
// takeover): their process stopped, or can no longer record (its fenced
// writes are refused), before they ended.
func abandon(ctx context.Context, tx *sql.Tx, useCase string, until time.Time, why string) error {
	rows, err := tx.QueryContext(ctx, `SELECT attempt_id, body FROM events WHERE use_case = $1 AND outcome = 'started' AND time <= $2`,
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
		if _, err := tx.ExecContext(ctx, `UPDATE events SET outcome = 'abandoned', body = $2 WHERE attempt_id = $1 AND outcome = 'started'`,
			r.id, string(body)); err != nil {
			return err
		}
	}
	return nil
}

// RenewLease extends the lease if l.Holder still holds it in l.Term.
func (s *Store) RenewLease(ctx context.Context, l audit.Lease, ttl time.Duration) (audit.Lease, error) {
	now := s.Now()
	exp := now.Add(ttl)
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = $3 WHERE use_case = $1 AND holder = $2 AND term = $5 AND expires_at > $4`,
		l.UseCase, l.Holder, nanos(exp), nanos(now), l.Term)
	if err != nil {
		return l, fmt.Errorf("renew lease of %q: %w", l.UseCase, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return l, fmt.Errorf("renew lease of %q: %w", l.UseCase, err)
	} else if n == 0 {
		return l, fmt.Errorf("renew lease of %q: %w", l.UseCase, audit.ErrLeaseLost)
	}
	l.Expires = exp
	return l, nil
}

// ReleaseLease frees the lease if l.Holder still holds it in l.Term. The
// row stays (with an empty holder) so that the next holder's term is higher.
func (s *Store) ReleaseLease(ctx context.Context, l audit.Lease) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE leases SET holder = '', expires_at = $4 WHERE use_case = $1 AND holder = $2 AND term = $3`,
		l.UseCase, l.Holder, l.Term, nanos(s.Now())); err != nil {
		return fmt.Errorf("release lease of %q: %w", l.UseCase, err)
	}
	return nil
}

// ReserveMutationSlot reserves the next mutation start on key: the later of
// now and the previous reservation plus interval, atomically (one UPSERT).
func (s *Store) ReserveMutationSlot(ctx context.Context, key string, interval time.Duration) (audit.Slot, error) {
	if key == "" || interval < 0 {
		return audit.Slot{}, errors.New("reserve mutation slot: empty key or negative interval")
	}
	now := s.Now()
	var next int64
	err := s.db.QueryRowContext(ctx, `
INSERT INTO mutation_slots (key, next_at) VALUES ($1, $2 + $3)
ON CONFLICT (key) DO UPDATE SET next_at = MAX(mutation_slots.next_at, $2) + $3
RETURNING next_at - $3`, key, nanos(now), int64(interval)).Scan(&next)
	if err != nil {
		return audit.Slot{}, fmt.Errorf("reserve mutation slot: %w", err)
	}
	return audit.Slot{Start: fromNanos(next), Now: now}, nil
}

// OpenDSN opens the store a DSN names: sqlite:///abs/path.db or
// sqlite://./rel.db. A PostgreSQL DSN is refused with what to use instead:
// internal/audit/storeopen opens both (this package does not link pgx).
func OpenDSN(ctx context.Context, dsn string, opts ...Option) (audit.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		return Open(ctx, strings.TrimPrefix(dsn, "sqlite://"), opts...)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return nil, errors.New("open store: sqlitestore opens sqlite:// DSNs only; open a PostgreSQL DSN with storeopen.Open")
	}
	return nil, fmt.Errorf("open store: unknown DSN scheme; use sqlite:///absolute/path.db or sqlite://./relative.db")
}

// Claim reports whether holder has key now: the first claim, its own, or
// one it took over from a holder that is gone before the claim was done.
func (s *Store) Claim(ctx context.Context, key, holder string) (bool, error) {
	if key == "" || holder == "" {
		return false, fmt.Errorf("claim %q: empty key or holder", key)
	}
	won := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO claims (key, claimed_at, holder, done) VALUES ($1, $2, $3, 0) ON CONFLICT (key) DO NOTHING`,
			key, nanos(s.Now()), holder)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			won = n == 1
			return err
		}
		var prev string
		var done bool
		if err := tx.QueryRowContext(ctx, `SELECT holder, done FROM claims WHERE key = $1`, key).Scan(&prev, &done); err != nil {
			return err
		}
		switch {
		case prev == holder:
			won = !done
		case !done && audit.HolderGone(prev):
			_, err := tx.ExecContext(ctx, `UPDATE claims SET holder = $2, claimed_at = $3 WHERE key = $1`, key, holder, nanos(s.Now()))
			won = err == nil
			return err
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
	if _, err := s.db.ExecContext(ctx, `UPDATE claims SET done = 1 WHERE key = $1 AND holder = $2`, key, holder); err != nil {
		return fmt.Errorf("claim %q done: %w", key, err)
	}
	return nil
}

// HeldLeases lists the leases held now (a holder, not yet expired).
func (s *Store) HeldLeases(ctx context.Context) ([]audit.Lease, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT use_case, holder, term, expires_at FROM leases
WHERE holder <> '' AND expires_at > $1 ORDER BY use_case`, nanos(s.Now()))
	if err != nil {
		return nil, fmt.Errorf("held leases: %w", err)
	}
	defer rows.Close()
	var out []audit.Lease
	for rows.Next() {
		var l audit.Lease
		var exp int64
		if err := rows.Scan(&l.UseCase, &l.Holder, &l.Term, &exp); err != nil {
			return nil, fmt.Errorf("held leases: %w", err)
		}
		l.Expires = fromNanos(exp)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("held leases: %w", err)
	}
	return out, nil
}
