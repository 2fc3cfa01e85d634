package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/groo"
)

// TestTokenFileIsReadAgainWhenItChanges: an external manager replaces the
// bot's PAT in groo.token-file and revokes the old one. The running daemon
// picks the new one up without a restart; a file that holds no PAT keeps
// the one in use.
func TestTokenFileIsReadAgainWhenItChanges(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, nil)
	ctx := context.Background()
	file := filepath.Join(f.dir, "groo-pat")
	if err := os.WriteFile(file, []byte(f.botPAT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`groo: {api-url: %q, token-file: %s}
github: {api-url: %q, token-env: TEST_GITHUB_TOKEN, mutation-interval: 10ms}
store: sqlite://%s
listen: ""
defaults: {ttl: 72h, revoke-grace: 0s}
targets:
  - repository: octo/r0
`, f.url, file, f.url, filepath.Join(f.dir, "state.db"))
	cfg, err := config.Parse(filepath.Join(f.dir, "rotator.yaml"), []byte(src), f.getenv)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(ctx, cfg, Options{Getenv: f.getenv, Transport: conforming(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.RotateOnce(ctx, nil); err != nil {
		t.Fatalf("first pass: %v", err)
	}

	// The manager mints the bot a new PAT, writes it, revokes the old one.
	gc, err := groo.New(groo.WithBaseURL(f.url))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := groo.ParseToken(f.botPAT)
	info, fresh, err := gc.Create(ctx, old, groo.CreateRequest{Name: "pat-rotator bot", ExpiresAt: time.Now().Add(30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("not a PAT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := d.cred(); !got.Equal(old) {
		t.Fatal("a file without a PAT replaced the credential in use")
	}
	time.Sleep(10 * time.Millisecond) // a new modification time
	if err := os.WriteFile(file, []byte(fresh.Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var oldID string
	for _, tok := range f.emu.State().Tokens {
		if tok.Secret == f.botPAT {
			oldID = tok.ID
		}
	}
	if err := gc.Revoke(ctx, fresh, oldID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RotateOnce(ctx, nil); err != nil {
		t.Fatalf("after the manager renewed the credential: %v", err)
	}
	if got := d.cred(); !got.Equal(fresh) {
		t.Errorf("the daemon uses %s, want the new credential %s", got.LastFour(), info.ID)
	}
	if _, err := checkInvariants(f.emu.State(), cfg.Targets); err != nil {
		t.Error(err)
	}
}
