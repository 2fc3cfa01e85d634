package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/sqlitestore"
	"github.com/groo/pat-action/internal/emulator"
)

// TestDaemonNeverRevokesItsCredential: the bot's PAT bears the name of a
// configured use case (as the README's emulator seed once did). `rotate`
// (and `run`, and `plan`) refuse such a configuration, naming the target
// and the fix, before anything is minted. Rotations that run all the same
// keep the credential live, the sweep drops a pending revoke of it without
// revoking, and later rotations still authenticate.
func TestDaemonNeverRevokesItsCredential(t *testing.T) {
	t.Parallel()
	const uc = "GitHub Actions - octo/app GROO_PAT"
	f := newFleetBot(t, 0, nil, uc)
	cfg := f.config(t, "defaults: {ttl: 72h, revoke-grace: 0s}\ntargets:\n  - repository: octo/app\n")
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	botID := ""
	for _, tok := range f.emu.State().Tokens {
		if tok.Secret == f.botPAT {
			botID = tok.ID
		}
	}
	_, err = d.RotateOnce(context.Background(), nil)
	var inUse *CredentialInUseCaseError
	if !errors.As(err, &inUse) || inUse.Target != "repo:octo/app GROO_PAT" || inUse.TokenID != botID {
		t.Fatalf("RotateOnce = %v, want a refusal naming the target and the credential's token", err)
	}
	if n := f.emu.State().Hits[emulator.RouteGrooCreate]; n != 0 {
		t.Fatalf("%d mints after the refusal", n)
	}
	if _, err := d.PlanAll(context.Background(), nil); !errors.Is(err, ErrCredentialInUseCase) {
		t.Errorf("plan = %v, want the same refusal", err)
	}
	for i := range 2 {
		results, err := d.RotateTargets(context.Background(), cfg.Targets)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if r := results[0].Result; r == nil || len(r.Kept) != 1 || r.Kept[0] != botID {
			t.Fatalf("run %d kept %v, want the credential %s", i, r.Kept, botID)
		}
	}
	// A pending revoke of the credential (an older version's, a bad
	// merge) is dropped by the sweep, never carried out.
	if err := d.store.AddPendingRevoke(context.Background(), audit.PendingRevoke{TokenID: botID, UseCase: uc,
		Target: "repo:octo/app GROO_PAT", RevokeAfter: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := d.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := f.emu.State()
	for _, tok := range st.Tokens {
		if tok.ID == botID && !tok.Live(st.Now) {
			t.Fatal("the daemon revoked its own credential")
		}
	}
	if p, _ := d.store.PendingRevokes(context.Background()); len(p) != 0 {
		t.Errorf("pending revokes left: %+v", p)
	}
	if len(st.Violations) != 0 {
		t.Errorf("I1: %v", st.Violations)
	}
}

// TestLeaseFenceAfterTakeover: a holder whose lease expired and was taken
// over fails its fence, so its rotation stops before the write.
func TestLeaseFenceAfterTakeover(t *testing.T) {
	t.Parallel()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := &Daemon{store: st}
	const ttl = 2 * time.Second // room for a loaded machine before the first check
	l, err := st.AcquireLease(context.Background(), "uc", "host-a/1", ttl)
	if err != nil {
		t.Fatal(err)
	}
	h := &heldLease{d: d, ttl: ttl, l: l, cancel: func() {}}
	if err := h.check(context.Background()); err != nil {
		t.Fatalf("fence of a held lease: %v", err)
	}
	time.Sleep(ttl + 500*time.Millisecond) // the lease runs out (renewed once by the check: ttl from then)
	if _, err := st.AcquireLease(context.Background(), "uc", "host-b/2", time.Minute); err != nil {
		t.Fatalf("takeover: %v", err)
	}
	if err := h.check(context.Background()); !errors.Is(err, audit.ErrLeaseLost) {
		t.Fatalf("fence after the takeover = %v, want ErrLeaseLost", err)
	}
}
