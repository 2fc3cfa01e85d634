package pgtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// Without the server binaries, the error says what to install.
func TestBinariesMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := debianBins
	debianBins = filepath.Join(t.TempDir(), "*", "bin")
	defer func() { debianBins = old }()
	if _, err := Binaries(); err == nil || !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("Binaries() = %v, want the package to install", err)
	}
}

func TestClusterDatabasesAndRestart(t *testing.T) {
	ctx := context.Background()
	c := Shared(t)
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("two tests got one database %s", a)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, `SHOW fsync`).Scan(&fsync); err != nil || fsync != "off" {
		t.Errorf("fsync = %q, %v", fsync, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err = pgx.Connect(cctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != 7 {
		t.Errorf("after restart: %d, %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, ".s.PGSQL."+strconv.Itoa(c.Port))); err != nil {
		t.Errorf("no unix socket in the cluster's directory: %v", err)
	}
}

// A test binary that dies without stopping its cluster (a timeout's panic,
// a kill) leaves no server behind: the watchdog stops it.
func TestWatchdogStopsAnOrphanedCluster(t *testing.T) {
	if os.Getenv("PGTEST_ORPHAN") == "1" {
		c := Shared(t)
		os.Stdout.WriteString("DIR=" + c.Dir + "\n")
		os.Exit(0) // neither Stop nor Main's cleanup
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchdogStopsAnOrphanedCluster$")
	cmd.Env = append(os.Environ(), "PGTEST_ORPHAN=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, dir, ok := strings.Cut(strings.TrimSpace(string(out)), "DIR=")
	if !ok || dir == "" {
		t.Fatalf("child printed %q", out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphaned cluster in %s is still there", dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
