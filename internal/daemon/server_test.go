package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/ghconform"
)

// startServer runs a daemon whose HTTP server has short limits, over one
// target that is not due, so that no request reaches the emulator. It
// returns the server's address.
func startServer(t *testing.T, limits serverLimits) string {
	t.Helper()
	f := newFleet(t, 0, []string{"GitHub Actions - octo/app GROO_PAT"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(context.Background(), f.config(t, "targets: [{repository: octo/app}]\n"),
		Options{Getenv: f.getenv, Transport: conforming(t, ghconform.AllowNone()), Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	d.limits = limits
	t.Cleanup(func() { d.Close() }) // after running's clean-up stopped Run
	running(t, d)
	return ln.Addr().String()
}

var shortLimits = serverLimits{readHeader: 300 * time.Millisecond, read: time.Second, write: time.Second,
	idle: 300 * time.Millisecond, maxHeaderBytes: 4 << 10}

// closedBy waits until deadline (a generous bound) for the server to close
// conn, after reading what it already sent, and fails when it stays open.
func closedBy(t *testing.T, conn net.Conn, r io.Reader, deadline time.Time, what string) {
	t.Helper()
	_ = conn.SetReadDeadline(deadline)
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("%s: the server kept the connection open", what)
	}
}

// get sends one keep-alive GET on conn and reads its answer.
func get(t *testing.T, conn net.Conn, br *bufio.Reader, path string, extra string) *http.Response {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: pat-rotator\r\n%s\r\n", path, extra); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestServerClosesIdleKeepAliveConnection(t *testing.T) {
	t.Parallel()
	addr := startServer(t, shortLimits)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if resp := get(t, conn, br, "/healthz", ""); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("GET /healthz = %d (close %v), want 200 keeping the connection", resp.StatusCode, resp.Close)
	}
	closedBy(t, conn, br, time.Now().Add(15*time.Second), "idle keep-alive connection")
}

// Connections that never send a request, or stop after one, are closed by
// the server, and while they are open /healthz still answers.
func TestServerAnswersHealthzWhileManyConnectionsIdle(t *testing.T) {
	t.Parallel()
	addr := startServer(t, shortLimits)
	type idle struct {
		conn net.Conn
		br   *bufio.Reader
		what string
	}
	var conns []idle
	for i := range 200 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := idle{conn: conn, br: bufio.NewReader(conn), what: "silent connection"}
		switch i % 3 {
		case 1:
			c.what = "keep-alive connection after one request"
			get(t, conn, c.br, "/healthz", "")
		case 2:
			c.what = "connection that sent half a request"
			if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: pat-rotator\r\n"); err != nil {
				t.Fatal(err)
			}
		}
		conns = append(conns, c)
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	resp, err := hc.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz with %d connections open: %v", len(conns), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz = %d with %d connections open", resp.StatusCode, len(conns))
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range conns {
		closedBy(t, c.conn, c.br, deadline, c.what)
	}
}

func TestServerRefusesOversizedHeaders(t *testing.T) {
	t.Parallel()
	addr := startServer(t, shortLimits)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp := get(t, conn, bufio.NewReader(conn), "/healthz", "X-Big: "+strings.Repeat("a", 64<<10)+"\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("GET /healthz with 64 KiB of headers = %d, want 431", resp.StatusCode)
	}
}

// The defaults set every limit (a zero one means none).
func TestDefaultServerLimitsAreSet(t *testing.T) {
	t.Parallel()
	srv := (&Daemon{limits: defaultServerLimits, metrics: NewMetrics(), log: slog.New(slog.DiscardHandler)}).newServer()
	for name, v := range map[string]time.Duration{"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout} {
		if v <= 0 {
			t.Errorf("%s is %s, want a limit", name, v)
		}
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes %d, want a limit below Go's default", srv.MaxHeaderBytes)
	}
}
