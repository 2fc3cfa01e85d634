package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
)

// lostThenRefused is a transport in front of the emulator: the first PUT of
// a secret reaches the emulator, which writes it, and its answer is lost;
// every later PUT is answered with status without reaching it.
type lostThenRefused struct {
	next   http.RoundTripper
	status int
	puts   atomic.Int32
}

func (l *lostThenRefused) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/secrets/") {
		return l.next.RoundTrip(r)
	}
	if l.puts.Add(1) == 1 {
		resp, err := l.next.RoundTrip(r)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		return nil, errors.New("connection reset by peer (the answer was lost)")
	}
	body := `{"message":"refused","documentation_url":"https://docs.github.com/rest","status":"` + http.StatusText(l.status) + `"}`
	return &http.Response{StatusCode: l.status, Status: http.StatusText(l.status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// TestLostWriteThenRefusedRetry: a write that landed but lost its answer,
// then a refused retry (403, 404, 422). The outcome stays unknown (sticky):
// the new token, now in the secret, is kept live; the next run settles.
func TestLostWriteThenRefusedRetry(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{noConformance: true})
			lt := &lostThenRefused{next: http.DefaultTransport, status: status}
			f.transport = lt
			_, err := f.engine(t, 0).Rotate(context.Background(), f.request())
			var rerr *rotation.Error
			if !errors.As(err, &rerr) || !rerr.OutcomeUnknown || rerr.Step != rotation.StepWrite {
				t.Fatalf("want an outcome-unknown write failure, got %v", err)
			}
			var refused *ghsecret.RefusedError
			if errors.As(err, &refused) {
				t.Errorf("the error says nothing was written (a RefusedError), but the first PUT landed: %v", err)
			}
			if lt.puts.Load() < 2 {
				t.Fatalf("the PUT was not retried (%d)", lt.puts.Load())
			}
			st := f.checkI1(t) // the secret holds the new token, and it is live
			sec, _ := st.Secret(f.target.Key(), f.target.Name)
			holder, _ := st.TokenBySecret(sec.Value)
			if holder.ID != rerr.LeftLive {
				t.Errorf("the secret holds %s, the attempt left %s live", holder.ID, rerr.LeftLive)
			}
			// The next run, from the secret, settles the use case.
			f.transport = http.DefaultTransport
			if _, err := f.engine(t, 0).Rotate(context.Background(), f.requestFromSecret(t)); err != nil {
				t.Fatalf("settling run: %v", err)
			}
			f.checkI1(t)
			f.checkI5(t, err.Error())
		})
	}
}

// stripCreatedAt drops createdAt from every listed token, as a list without
// the field (or one this client could not parse) would.
type stripCreatedAt struct{ rotation.GrooAPI }

func (s stripCreatedAt) List(ctx context.Context, cred groo.Token) ([]groo.TokenInfo, error) {
	ts, err := s.GrooAPI.List(ctx, cred)
	for i := range ts {
		ts[i].CreatedAt = time.Time{}
	}
	return ts, err
}

// TestOverlapUnderClockSkewAndMissingTimes: rotation A's PUT is slow and
// in flight while rotation B of the same use case runs to the end; A's PUT
// then lands. B must not have revoked A's token, whether B's clock is 15
// minutes ahead of Groo's (as if Groo's were behind) or the list carries no
// createdAt. Before the retire rule compared Groo times with Groo times, B
// revoked A's token and the secret ended up holding it (I1).
func TestOverlapUnderClockSkewAndMissingTimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(e *rotation.Engine)
	}{
		{"this machine 15m ahead of Groo", func(e *rotation.Engine) {
			e.Config.Now = func() time.Time { return time.Now().Add(15 * time.Minute) }
		}},
		{"this machine 15m behind Groo", func(e *rotation.Engine) {
			e.Config.Now = func() time.Time { return time.Now().Add(-15 * time.Minute) }
		}},
		{"list without createdAt", func(e *rotation.Engine) { e.Groo = stripCreatedAt{e.Groo} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{})
			f.emu.SetFaults([]emulator.Fault{{Route: emulator.RouteSecretPut, Latency: 700 * time.Millisecond, Count: 1}})
			putA := f.emu.WaitHit(emulator.RouteSecretPut)
			type out struct {
				res *rotation.Result
				err error
			}
			doneA := make(chan out, 1)
			go func() {
				res, err := f.engine(t, 0).Rotate(context.Background(), f.request())
				doneA <- out{res, err}
			}()
			<-putA
			b := f.engine(t, 0)
			tt.setup(b)
			resB, err := b.Rotate(context.Background(), f.request())
			if err != nil {
				t.Fatalf("rotation B: %v", err)
			}
			a := <-doneA
			if a.err != nil {
				t.Fatalf("rotation A: %v", a.err)
			}
			for _, id := range resB.Revoked {
				if id == a.res.New.ID {
					t.Errorf("B revoked A's token %s while A's write was in flight", id)
				}
			}
			f.checkI1(t)
		})
	}
}

// shortExpiry makes Groo's answer to a mint name an earlier expiry (or
// none) than the one asked.
type shortExpiry struct {
	rotation.GrooAPI
	none bool
}

func (s shortExpiry) Create(ctx context.Context, cred groo.Token, req groo.CreateRequest) (groo.TokenInfo, groo.Token, error) {
	info, tok, err := s.GrooAPI.Create(ctx, cred, req)
	if err == nil {
		if s.none {
			info.ExpiresAt = nil
		} else {
			e := req.ExpiresAt.Add(-time.Hour)
			info.ExpiresAt = &e
		}
	}
	return info, tok, err
}

// TestMintShorterThanAsked: a token whose expiry is earlier than asked, or
// missing when asked, is revoked and the rotation fails before any write.
func TestMintShorterThanAsked(t *testing.T) {
	t.Parallel()
	for _, none := range []bool{false, true} {
		t.Run(map[bool]string{false: "earlier", true: "missing"}[none], func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{noConformance: true})
			e := f.engine(t, 0)
			e.Groo = shortExpiry{GrooAPI: e.Groo, none: none}
			_, err := e.Rotate(context.Background(), f.request())
			var rerr *rotation.Error
			if !errors.Is(err, rotation.ErrShortExpiry) || !errors.As(err, &rerr) || rerr.Step != rotation.StepMint || rerr.LeftLive != "" {
				t.Fatalf("want a mint failure naming the short expiry, with nothing left live; got %v", err)
			}
			st := f.checkI1(t)
			if live := st.LiveTokens(f.useCase); len(live) != 1 || live[0].ID != f.seedID {
				t.Errorf("I4: live tokens after the failure: %d", len(live))
			}
			if n := st.Hits[emulator.RouteSecretPut]; n != 0 {
				t.Errorf("%d writes after a short mint", n)
			}
		})
	}
}

// TestKeepCredential: the daemon's own PAT is never revoked, even when it
// bears the use case's name; the Action (KeepCredential false) retires it.
func TestKeepCredential(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	req := f.request()
	req.KeepCredential = true
	res, err := f.engine(t, 0).Rotate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kept) != 1 || res.Kept[0] != f.seedID || len(res.Revoked) != 0 {
		t.Errorf("kept %v revoked %v, want the credential %s kept", res.Kept, res.Revoked, f.seedID)
	}
	st := f.checkI1(t)
	for _, tok := range st.Tokens {
		if tok.ID == f.seedID && !tok.Live(st.Now) {
			t.Error("the credential was revoked")
		}
	}
}

// TestBeforeWriteFence: a rotation whose fence fails (its lease was taken)
// writes nothing and revokes its new token.
func TestBeforeWriteFence(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{noConformance: true})
	req := f.request()
	lost := errors.New("lease lost")
	req.BeforeWrite = func(context.Context) error { return lost }
	_, err := f.engine(t, 0).Rotate(context.Background(), req)
	var rerr *rotation.Error
	if !errors.Is(err, lost) || !errors.As(err, &rerr) || rerr.OutcomeUnknown || rerr.LeftLive != "" {
		t.Fatalf("want a write failure with nothing left live, got %v", err)
	}
	st := f.checkI1(t)
	if n := st.Hits[emulator.RouteSecretPut]; n != 0 {
		t.Errorf("%d PUTs after a failed fence", n)
	}
	if live := st.LiveTokens(f.useCase); len(live) != 1 || live[0].ID != f.seedID {
		t.Errorf("I4: %d live tokens", len(live))
	}
}

// TestGraceCountsFromTheSuccessorsWrite: with revoke-grace 30s and a write
// window of 10m, a stateless next run 40s after the successor's write
// retires the replaced token: its grace counts from that write (the secret's
// updated_at shows it), not from the successor's mint plus the write window
// (10m30s). The long window and grace leave a slow machine room.
func TestGraceCountsFromTheSuccessorsWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	e := f.engine(t, 0)
	e.Config.WriteWindow = 10 * time.Minute
	e.Config.Now = f.now
	const grace = 30 * time.Second
	req := f.request()
	req.Grace = grace
	first, err := e.Rotate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Pending) != 1 || first.Pending[0] != f.seedID {
		t.Fatalf("first run: pending %v, want the seed in its grace", first.Pending)
	}
	f.advance(40 * time.Second)
	req = f.requestFromSecret(t)
	req.Grace = grace
	second, err := e.Rotate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Revoked) != 1 || second.Revoked[0] != f.seedID {
		t.Errorf("second run revoked %v (pending %v, too recent %v), want the seed: its grace ended about 10s ago",
			second.Revoked, second.Pending, second.TooRecent)
	}
	f.checkI1(t)
}

// TestMintRetriedWithinTheAttempt: a mint that may have happened (a 503, an
// answer lost after Groo acted) is tried again within the attempt once every
// token of the attempt is revoked; each try names its number. A refusal
// (400, 403) is not tried again.
func TestMintRetriedWithinTheAttempt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     emulator.Fault
		wantOK    bool
		wantMints int
	}{
		{"503 once", emulator.Fault{Route: emulator.RouteGrooCreate, Status: 503, Count: 1}, true, 2},
		{"answer lost after acting, twice", emulator.Fault{Route: emulator.RouteGrooCreate, Drop: true, Count: 2}, true, 3},
		{"503 on every try", emulator.Fault{Route: emulator.RouteGrooCreate, Status: 503}, false, rotation.DefaultMintTries},
		{"403 is not retried", emulator.Fault{Route: emulator.RouteGrooCreate, Status: 403}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{})
			f.emu.SetFaults([]emulator.Fault{tt.fault})
			res, err := f.engine(t, 0).Rotate(context.Background(), f.request())
			st := f.checkI1(t)
			if n := st.Hits[emulator.RouteGrooCreate]; n != tt.wantMints {
				t.Errorf("%d mints, want %d", n, tt.wantMints)
			}
			if !tt.wantOK {
				var rerr *rotation.Error
				if !errors.As(err, &rerr) || rerr.Step != rotation.StepMint || rerr.LeftLive != "" {
					t.Fatalf("want a mint failure with nothing left live, got %v", err)
				}
				if live := st.LiveTokens(f.useCase); len(live) != 1 || live[0].ID != f.seedID {
					t.Errorf("I4: %d live tokens", len(live))
				}
				return
			}
			if err != nil {
				t.Fatalf("rotation: %v", err)
			}
			f.checkI3(t)
			for _, tok := range st.Tokens {
				if tok.ID == res.New.ID && (tok.Description == nil || !strings.Contains(*tok.Description, fmt.Sprintf(", try %d,", tt.wantMints))) {
					t.Errorf("the new token's description %v does not name try %d", tok.Description, tt.wantMints)
				}
			}
		})
	}
}

// TestLostMintThatActsLate: the first mint's client gives up (its timeout)
// while Groo, busy, still holds the request and creates the token only after
// the clean-up's lists looked for it; the second try is refused. The attempt
// cannot know that nothing of it is live, and must not say so: its error
// says a token of the attempt may be live (MintUnknown), and that token,
// once it appears, names the attempt, so the next run can retire it. Before,
// the error claimed a clean failure while the late token stayed live (I4).
func TestLostMintThatActsLate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{noConformance: true})
	const late = 5 * time.Second // past the timeout, the settle look and try 2
	f.emu.SetFaults([]emulator.Fault{
		{Route: emulator.RouteGrooCreate, Latency: late, Queued: true, Count: 1},
		{Route: emulator.RouteGrooCreate, Status: http.StatusForbidden, Count: 1, Skip: 1},
	})
	_, err := f.engine(t, time.Second).Rotate(context.Background(), f.request())
	var rerr *rotation.Error
	if !errors.As(err, &rerr) || rerr.Step != rotation.StepMint || !rerr.MintUnknown {
		t.Fatalf("want a mint failure that says a token of the attempt may be live, got %v", err)
	}
	if !strings.Contains(err.Error(), "may be live") {
		t.Errorf("the error does not tell the reader: %v", err)
	}
	// The queued mint lands: a live token of this attempt, as the error said.
	var mine emulator.TokenState
	deadline := time.Now().Add(late + 10*time.Second)
	for mine.ID == "" && time.Now().Before(deadline) {
		for _, tok := range f.emu.State().LiveTokens(f.useCase) {
			if tok.ID != f.seedID && tok.Description != nil && strings.Contains(*tok.Description, ", try 1, write window") {
				mine = tok
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if mine.ID == "" {
		t.Fatal("the queued mint never landed")
	}
	f.checkI1(t)
}
