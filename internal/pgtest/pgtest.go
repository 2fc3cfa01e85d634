// Package pgtest gives tests a real PostgreSQL: one throwaway cluster per
// test binary, started on first use with the machine's initdb and pg_ctl (as
// the postgres user when the tests run as root, since PostgreSQL refuses to
// run as root), listening on a free 127.0.0.1 port and a unix socket in its
// temporary directory, with fsync off; and a fresh database per test.
//
// A test package that uses it stops the cluster from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Without the server binaries the tests fail, with what to install.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Install is what a machine without PostgreSQL's server binaries needs.
const Install = "apt-get install postgresql"

// Cluster is a running throwaway PostgreSQL cluster.
type Cluster struct {
	Dir    string // temporary directory: data/, log, the socket
	Port   int
	Bin    string // directory of initdb, pg_ctl, postgres
	asUser []string
	mu     sync.Mutex
	dbs    atomic.Int64
}

var (
	once    sync.Once
	shared  *Cluster
	initErr error
)

// Shared starts the binary's cluster on first use and returns it; a test
// that cannot have it fails.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	once.Do(func() { shared, initErr = start() })
	if initErr != nil {
		t.Fatalf("pgtest: %v", initErr)
	}
	return shared
}

// NewDatabase creates a fresh database for the test and returns its DSN
// (postgres://postgres@127.0.0.1:PORT/NAME?sslmode=disable).
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return c.DSN(name)
}

// DSN is the URL of database db on the cluster, over TCP.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// SocketDSN is the key=value DSN of database db over the cluster's unix socket.
func (c *Cluster) SocketDSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", c.Dir, c.Port, db)
}

// Restart restarts the server (pg_ctl restart, fast shutdown): connections
// break, the data stays.
func (c *Cluster) Restart() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pgCtl("restart", "-m", "fast", "-o", c.serverOptions())
}

// PrependHBA puts line first in pg_hba.conf (the first matching line
// decides) and reloads the server, e.g. to make one role use passwords:
// "host all pw_user 127.0.0.1/32 scram-sha-256".
func (c *Cluster) PrependHBA(line string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	path := filepath.Join(c.data(), "pg_hba.conf")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append([]byte(line+"\n"), b...), 0o600); err != nil {
		return err
	}
	return c.run(filepath.Join(c.Bin, "pg_ctl"), "reload", "-D", c.data())
}

// Stop stops the server at once and removes its directory.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.pgCtl("stop", "-m", "immediate")
	if rerr := os.RemoveAll(c.Dir); err == nil {
		err = rerr
	}
	return err
}

// Main runs the tests, then stops the cluster if one was started.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stop: %v\n", err)
		}
	}
	return code
}

// debianBins is where Debian's postgresql packages put the server binaries.
var debianBins = "/usr/lib/postgresql/*/bin"

// Binaries finds the directory holding initdb and pg_ctl: PATH first, then
// the highest version under /usr/lib/postgresql/*/bin.
func Binaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(debianBins)
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		_, e1 := os.Stat(filepath.Join(d, "initdb"))
		_, e2 := os.Stat(filepath.Join(d, "pg_ctl"))
		if e1 == nil && e2 == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL's server binaries (initdb, pg_ctl) are not on PATH nor under /usr/lib/postgresql/*/bin: %s", Install)
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func start() (*Cluster, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	tmp := ""
	if os.Geteuid() == 0 {
		// The postgres user must reach the directory: /tmp rather than a
		// TMPDIR that may sit under root's home.
		tmp = "/tmp"
	}
	dir, err := os.MkdirTemp(tmp, "pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs the postgres user to run the server as (%v): %s", err, Install)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	if err := c.run(filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The free port may be taken between the probe and the start: retry.
	for attempt := 0; ; attempt++ {
		if c.Port, err = freePort(); err != nil {
			break
		}
		if err = c.pgCtl("start", "-o", c.serverOptions()); err == nil {
			c.watchdog()
			return c, nil
		}
		if attempt == 2 {
			break
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

// watchdog stops the cluster and removes its directory should this process
// end without Stop (a test timeout's panic, a kill): a detached shell polls
// for it every second.
func (c *Cluster) watchdog() {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	stop := append(append([]string{}, c.asUser...), filepath.Join(c.Bin, "pg_ctl"), "stop", "-D", c.data(), "-m", "immediate")
	for i := range stop {
		stop[i] = q(stop[i])
	}
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; if [ -d %s ]; then %s >/dev/null 2>&1; rm -rf %s; fi",
		os.Getpid(), q(c.data()), strings.Join(stop, " "), q(c.Dir))
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		go func() { _ = cmd.Wait() }()
	}
}

func (c *Cluster) serverOptions() string {
	return fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		c.Port, c.Dir)
}

func (c *Cluster) pgCtl(args ...string) error {
	full := append([]string{args[0], "-D", c.data(), "-w", "-t", "60", "-l", filepath.Join(c.Dir, "log")}, args[1:]...)
	err := c.run(filepath.Join(c.Bin, "pg_ctl"), full...)
	if err != nil {
		if log, rerr := os.ReadFile(filepath.Join(c.Dir, "log")); rerr == nil {
			err = fmt.Errorf("%w\nserver log:\n%s", err, tail(string(log), 2000))
		}
	}
	return err
}

func (c *Cluster) run(name string, args ...string) error {
	argv := append(append(append([]string{}, c.asUser...), name), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
		return fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, tail(out.String(), 2000))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
