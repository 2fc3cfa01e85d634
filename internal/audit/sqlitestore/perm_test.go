package sqlitestore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
)

// TestStoreFilesAreOwnerOnly: the database and its -wal and -shm files hold
// audit data and leases; each is 0600 after a write, whether the store was
// created now or an older version left the files readable by others.
func TestStoreFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string) // before the Open under test
	}{
		{name: "new store"},
		{name: "files left 0644 by an older version", prepare: func(t *testing.T, path string) {
			s, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			record(t, s, "att_old")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.Chmod(f, 0o644); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.db")
			if tc.prepare != nil {
				tc.prepare(t, path)
			}
			s, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			record(t, s, "att_new")
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatalf("after a write: %v", err) // WAL mode keeps both beside the open database
				}
				if got := fi.Mode().Perm(); got != 0o600 {
					t.Errorf("%s is %#o, want 0600", filepath.Base(f), got)
				}
			}
		})
	}
}

func record(t *testing.T, s *Store, id string) {
	t.Helper()
	ev := audit.Event{ID: id, Time: time.Now(), Outcome: audit.OutcomeStarted, UseCase: "uc", Target: "repo:octo/app GROO_PAT", Actor: "host", Tool: "pat-rotator"}
	if err := s.Record(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}
