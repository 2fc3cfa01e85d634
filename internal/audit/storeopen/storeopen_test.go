package storeopen

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit/pgstore"
	"github.com/groo/pat-action/internal/audit/sqlitestore"
	"github.com/groo/pat-action/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestOpenDispatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := dsn[strings.LastIndex(dsn, "/")+1 : strings.Index(dsn, "?")]
	for _, tt := range []struct {
		name, dsn string
		pg        bool
	}{
		{"sqlite", "sqlite://" + filepath.Join(t.TempDir(), "state.db"), false},
		{"postgres URL", dsn, true},
		{"postgresql URL", strings.Replace(dsn, "postgres://", "postgresql://", 1), true},
		{"key=value", pgtest.Shared(t).SocketDSN(db), true},
	} {
		s, err := Open(ctx, tt.dsn, "")
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		switch s.(type) {
		case *pgstore.Store:
			if !tt.pg {
				t.Errorf("%s: opened PostgreSQL", tt.name)
			}
		case *sqlitestore.Store:
			if tt.pg {
				t.Errorf("%s: opened SQLite", tt.name)
			}
		}
		// The store works: a lease, taken once.
		l, err := s.AcquireLease(ctx, "uc "+tt.name, "h/1/x", time.Minute)
		if err != nil || l.Term < 1 {
			t.Errorf("%s: acquire = %+v, %v", tt.name, l, err)
		}
		s.Close()
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct{ dsn, file, want string }{
		{"mysql://x", "", "unknown DSN"},
		{"", "", "unknown DSN"},
		{"sqlite://" + filepath.Join(t.TempDir(), "s.db"), "/run/secrets/pw", "password-file"},
		{"postgres://rotator:hunter2-pw@127.0.0.1:1/db", "", "PGPASSWORD"},
		{"host=127.0.0.1 password=hunter2-pw", "", "PGPASSWORD"},
		{"postgres://rotator@127.0.0.1:1/db", filepath.Join(t.TempDir(), "missing"), "password file"},
	} {
		s, err := Open(ctx, tt.dsn, tt.file)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q, %q) succeeded", tt.dsn, tt.file)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2-pw") {
			t.Errorf("Open(%q, %q) = %q, want it to say %q and never the password", tt.dsn, tt.file, err, tt.want)
		}
	}
}

// Check refuses, without opening anything, what Open refuses before it
// connects, and lets through the DSNs Open opens.
func TestCheckAgreesWithOpen(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ dsn, file, want string }{
		{"mysql://x", "", "unknown DSN"},
		{"", "", "unknown DSN"},
		{"sqlite://", "", "empty path"},
		{"sqlite://./s.db", "/run/secrets/pw", "password-file"},
		{"postgres://rotator:hunter2-pw@127.0.0.1:1/db", "", "PGPASSWORD"},
		{"postgres://rotator@127.0.0.1:1/db?password=hunter2-pw", "", "PGPASSWORD"},
		{"host=127.0.0.1 password=hunter2-pw", "", "PGPASSWORD"},
		{"postgres://rotator@127.0.0.1:1/db?sslmode=sometimes", "", "sslmode"},
		{"sqlite:///var/lib/pat-rotator/state.db", "", ""},
		{"postgres://rotator@db.internal:5432/rotator?sslmode=verify-full", "/run/secrets/pw", ""},
		{"postgresql://rotator@db.internal/rotator", "", ""},
		{"host=db.internal dbname=rotator user=rotator sslmode=require", "", ""},
	} {
		err := Check(tt.dsn, tt.file)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%q, %q) = %v, want nil", tt.dsn, tt.file, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2-pw")):
			t.Errorf("Check(%q, %q) = %v, want it to say %q and never the password", tt.dsn, tt.file, err, tt.want)
		}
	}
}
