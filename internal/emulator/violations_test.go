package emulator

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestViolations(t *testing.T) {
	t.Parallel()
	t.Run("revoking the token a secret holds", func(t *testing.T) {
		t.Parallel()
		e, url := newTestServer(t, testSeed())
		putSecret(t, url+"/repos/octo/app/actions/secrets", bearer(ghFull), "GROO_PAT", patOld, nil).want(t, 201)
		call(t, "DELETE", url+"/v1/account/tokens/tok_old", bearer(patAlice), nil).want(t, 200)
		v := e.Violations()
		if len(v) != 1 || !strings.Contains(v[0], "tok_old") || !strings.Contains(v[0], "repo:octo/app GROO_PAT") {
			t.Fatalf("violations %q", v)
		}
		// Revoking again is no new event.
		call(t, "DELETE", url+"/v1/account/tokens/tok_old", bearer(patAlice), nil).want(t, 200)
		if got := e.State().Violations; len(got) != 1 {
			t.Fatalf("violations %q", got)
		}
	})
	t.Run("writing a revoked token", func(t *testing.T) {
		t.Parallel()
		e, url := newTestServer(t, testSeed())
		call(t, "DELETE", url+"/v1/account/tokens/tok_old", bearer(patAlice), nil).want(t, 200)
		if len(e.Violations()) != 0 {
			t.Fatal("a revoke nobody holds is no violation")
		}
		putSecret(t, url+"/orgs/octo/actions/secrets", bearer(ghFull), "GROO_PAT", patOld, map[string]any{"visibility": "private"}).want(t, 201)
		v := e.Violations()
		if len(v) != 1 || !strings.Contains(v[0], "org:octo GROO_PAT") || !strings.Contains(v[0], "revoked token tok_old") {
			t.Fatalf("violations %q", v)
		}
	})
	t.Run("the rotation order is clean", func(t *testing.T) {
		t.Parallel()
		e, url := newTestServer(t, testSeed())
		base := url + "/repos/octo/app/environments/prod%2Feu/secrets"
		putSecret(t, base, bearer(ghFull), "GROO_PAT", patOld, nil).want(t, 201)
		r := call(t, "POST", url+"/v1/account/tokens", bearer(patOld), map[string]any{"name": "GitHub Actions - octo/app GROO_PAT"}).want(t, 201)
		putSecret(t, base, bearer(ghFull), "GROO_PAT", r.str("secret"), nil).want(t, 204)
		call(t, "DELETE", url+"/v1/account/tokens/tok_old", bearer(r.str("secret")), nil).want(t, 200)
		st := e.State()
		if len(st.Violations) != 0 {
			t.Fatalf("violations %q", st.Violations)
		}
		live := st.LiveTokens("GitHub Actions - octo/app GROO_PAT")
		sec, _ := st.Secret("env:octo/app:prod/eu", "GROO_PAT")
		if len(live) != 1 || live[0].Secret != sec.Value {
			t.Fatalf("live %+v, secret holds another value", live)
		}
	})
}

// TestLogsCarryNoSecret runs a rotation at debug level and checks that no
// token value reaches the emulator's log (I5 holds for the oracle too).
func TestLogsCarryNoSecret(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	var mu sync.Mutex
	e := New(WithLogger(slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err := e.Seed(testSeed()); err != nil {
		t.Fatal(err)
	}
	url, shutdown, err := Start("127.0.0.1:0", e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	r := call(t, "POST", url+"/v1/account/tokens", bearer(patAlice), map[string]any{"name": "n"}).want(t, 201)
	putSecret(t, url+"/repos/octo/app/actions/secrets", bearer(ghFull), "GROO_PAT", r.str("secret"), nil).want(t, 201)
	call(t, "DELETE", url+"/v1/account/tokens/tok_old", bearer(r.str("secret")), nil).want(t, 200)
	mu.Lock()
	logs := buf.String()
	mu.Unlock()
	if !strings.Contains(logs, "groo token created") || !strings.Contains(logs, "github secret created") {
		t.Fatalf("expected events missing from log:\n%s", logs)
	}
	for _, secret := range []string{r.str("secret"), patAlice, patOld, ghFull} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log carries a token value:\n%s", logs)
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
