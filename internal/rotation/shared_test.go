package rotation_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/retire"
	"github.com/groo/pat-action/internal/rotation"
)

// afterPut runs hook once, after GitHub acted on the first secret PUT and
// before its answer reaches the rotation: a slow answer, during which other
// actors go on.
type afterPut struct {
	base http.RoundTripper
	once sync.Once
	hook func()
}

func (p *afterPut) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.base.RoundTrip(r)
	if err == nil && r.Method == http.MethodPut {
		p.once.Do(p.hook)
	}
	return resp, err
}

// TestSharedListNeverRevokesWhatAFresherLookWouldKeep: the daemon's
// rotations share one list of the account. A rotation judges with the list
// it took before its write, never with a fresher one another rotation shared
// after it: here another writer mints Y after the shared list, writes it
// into the secret after the rotation's write (within Y's own short window),
// and a list read once Y's window is over is shared before the rotation
// retires. Judged with that list Y would look revocable while the secret
// holds it (I1); judged with its own, the rotation never sees Y. Then the
// other writer rotates once more, and once the shared list is older than
// the write window on Groo's clock the next shared-list rotation reads its
// own and leaves exactly one live token (I3).
func TestSharedListNeverRevokesWhatAFresherLookWouldKeep(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	ctx := context.Background()
	other := f.engine(t, 0) // the other writer (an Action run) and its clients
	// The daemon's own credential, a PAT of no use case.
	_, bot, err := other.Groo.Create(ctx, f.cred, groo.CreateRequest{Name: "pat-rotator bot", ExpiresAt: time.Now().Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	shortWindow := 200 * time.Millisecond
	var y groo.Token
	var yInfo groo.TokenInfo
	var shared *rotation.SharedList
	pause := &afterPut{base: f.transport, hook: func() {
		// The rotation's write landed; the other writer's lands after it.
		key, err := other.Secrets.PublicKey(ctx, f.target)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := other.Secrets.Put(ctx, f.target, key, []byte(y.Reveal())); err != nil {
			t.Error(err)
			return
		}
		// Y's window ends; a list read now shows it, and is shared.
		f.advance(time.Second)
		at := time.Now()
		fresh, err := other.Groo.List(ctx, bot)
		if err != nil {
			t.Error(err)
			return
		}
		shared.Offer(bot, fresh, at)
	}}
	daemon := f.engineVia(t, 0, pause)
	shared = rotation.NewSharedList(daemon.Groo, time.Minute, nil)
	req := rotation.Request{Target: f.target, Credential: bot, TTL: 24 * time.Hour, Actor: "test", Tool: "pat-rotator",
		KeepCredential: true, Shared: shared,
		BeforeWrite: func(ctx context.Context) error {
			// After the shared list was read: the other writer mints Y.
			var err error
			yInfo, y, err = other.Groo.Create(ctx, bot, groo.CreateRequest{Name: f.useCase,
				Description: retire.Description("pat-action", f.target.String(), "rot_0123456789abcdef", 1, shortWindow),
				ExpiresAt:   time.Now().Add(24 * time.Hour)})
			return err
		}}
	res, err := daemon.Rotate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.Revoked, yInfo.ID) {
		t.Errorf("the rotation revoked %s, which another writer put into the secret after the rotation's write", yInfo.ID)
	}
	st := f.checkI1(t)
	if sec, _ := st.Secret(f.target.Key(), f.target.Name); sec.Value != y.Reveal() {
		t.Fatal("the secret should hold the other writer's token, written last")
	}

	// The other writer rotates again from the secret (its own list, its own
	// window); the shared list has not seen its token.
	if _, err := other.Rotate(ctx, f.requestFromSecret(t)); err != nil {
		t.Fatal(err)
	}
	// Past the write window on Groo's clock, though not on the shared
	// list's own (maxAge is a minute): the next rotation must read its own
	// list, or the other writer's token would stay live beside the secret's.
	f.advance(testWindow + testMargin + time.Second)
	req.BeforeWrite = nil
	if _, err := daemon.Rotate(ctx, req); err != nil {
		t.Fatal(err)
	}
	f.checkI3(t)
	f.checkI5(t)
}
