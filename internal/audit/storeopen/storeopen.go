// Package storeopen opens the audit.Store a DSN names, SQLite or
// PostgreSQL. Only pat-rotator imports it: the Action keeps no store and
// links neither database.
package storeopen

import (
	"context"
	"errors"
	"strings"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/pgstore"
	"github.com/groo/pat-action/internal/audit/sqlitestore"
)

// Open opens the store dsn names: sqlite:///abs/path.db or
// sqlite://./rel.db; postgres://USER@HOST:PORT/DB?sslmode=... (or
// postgresql://) or a libpq key=value string (host=... dbname=...). A
// PostgreSQL password comes from PGPASSWORD, PGPASSFILE or passwordFile
// (configuration key store-password-file), never from the DSN. passwordFile is refused for
// a SQLite DSN, which has no password.
func Open(ctx context.Context, dsn, passwordFile string) (audit.Store, error) {
	return open(ctx, dsn, passwordFile)
}

// OpenExisting is Open for the commands that only read a store (plan,
// history): a SQLite file that does not exist is an error naming the path,
// and nothing is created.
func OpenExisting(ctx context.Context, dsn, passwordFile string) (audit.Store, error) {
	return open(ctx, dsn, passwordFile, sqlitestore.Existing())
}

// Check refuses, without opening anything, what Open would refuse before it
// connects or creates a file: a DSN of no known kind, a sqlite:// DSN
// without a path or with a password file, a PostgreSQL DSN holding a
// password (pgstore.ErrInlinePassword) or one pgx cannot parse.
// pat-rotator's validate uses it, so that a DSN it lets through opens.
func Check(dsn, passwordFile string) error {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		if passwordFile != "" {
			return errSQLitePassword
		}
		if strings.TrimPrefix(dsn, "sqlite://") == "" {
			return errors.New("open sqlite store: empty path; use sqlite:///absolute/path.db or sqlite://./relative.db")
		}
		return nil
	case isPostgres(dsn):
		return pgstore.CheckDSN(dsn)
	}
	return errUnknown
}

var (
	errSQLitePassword = errors.New("open store: store-password-file is for a PostgreSQL store; a sqlite:// store has no password")
	errUnknown        = errors.New("open store: unknown DSN; use sqlite:///absolute/path.db, sqlite://./relative.db, " +
		"postgres://USER@HOST:PORT/DB?sslmode=verify-full or a libpq key=value string (host=HOST dbname=DB user=USER)")
)

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") || strings.Contains(dsn, "=")
}

func open(ctx context.Context, dsn, passwordFile string, sqliteOpts ...sqlitestore.Option) (audit.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		if passwordFile != "" {
			return nil, errSQLitePassword
		}
		return sqlitestore.OpenDSN(ctx, dsn, sqliteOpts...)
	case isPostgres(dsn):
		s, err := pgstore.Open(ctx, dsn, pgstore.WithPasswordFile(passwordFile))
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, errUnknown
}
