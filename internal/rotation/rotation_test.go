package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
)

func TestRotateEveryScope(t *testing.T) {
	t.Parallel()
	targets := []ghsecret.Target{
		{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"},
		{Scope: ghsecret.ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "prod/eu", Name: "GROO_PAT"},
		{Scope: ghsecret.ScopeOrganization, Org: "octo", Name: "GROO_PAT"},
		{Scope: ghsecret.ScopeDependabot, Owner: "octo", Repo: "app", Name: "GROO_PAT"},
		{Scope: ghsecret.ScopeDependabotOrganization, Org: "octo", Name: "GROO_PAT"},
	}
	for _, tg := range targets {
		t.Run(string(tg.Scope), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{target: tg})
			res, err := f.engine(t, 0).Rotate(context.Background(), f.request())
			if err != nil {
				t.Fatalf("rotate: %v", err)
			}
			if res.New.ID == "" || res.New.ID == f.seedID || res.SecretCreated {
				t.Errorf("result: new %q created=%v", res.New.ID, res.SecretCreated)
			}
			if len(res.Revoked) != 1 || res.Revoked[0] != f.seedID {
				t.Errorf("revoked %v, want [%s]", res.Revoked, f.seedID)
			}
			st := f.checkI1(t)
			sec, _ := st.Secret(tg.Key(), tg.Name)
			if sec.Value != res.NewToken.Reveal() {
				t.Errorf("secret does not hold the new token")
			}
			f.checkI2(t, st, map[string]bool{res.New.ID: true, f.seedID: true})
			f.checkI3(t)
			f.checkI5(t, fmt.Sprintf("%v %+v %s", res, res, res.NewToken))
			f.checkI7(t, audit.OutcomeSucceeded)
			var outcomes []audit.Outcome
			for _, e := range f.rec.all() {
				outcomes = append(outcomes, e.Outcome)
			}
			// started, started again naming the new token, then the outcome.
			if fmt.Sprint(outcomes) != "[started started succeeded]" {
				t.Errorf("audit outcomes %v", outcomes)
			}
			if last := f.rec.all()[2]; last.NewTokenID != res.New.ID || last.NewTokenLast4 != res.NewToken.LastFour() || len(last.Revoked) != 1 {
				t.Errorf("final event %+v does not describe the rotation", last)
			}
		})
	}
}

func TestRotateCreatesMissingSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{noSecret: true})
	res, err := f.engine(t, 0).Rotate(context.Background(), f.request())
	if err != nil {
		t.Fatal(err)
	}
	if !res.SecretCreated {
		t.Error("want the write to report a created secret (201)")
	}
	f.checkI1(t)
}

func TestInvalidRequestChangesNothing(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*rotation.Request){
		"secret name GitHub refuses": func(r *rotation.Request) { r.Target.Name = "GITHUB_PAT" },
		"name with a dash":           func(r *rotation.Request) { r.Target.Name = "GROO-PAT" },
		"no credential":              func(r *rotation.Request) { r.Credential = zeroToken() },
		"zero ttl":                   func(r *rotation.Request) { r.TTL = 0 },
		"environment without name":   func(r *rotation.Request) { r.Target.Scope = ghsecret.ScopeEnvironment },
		"token name too long":        func(r *rotation.Request) { r.UseCase = string(make([]byte, 101)) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{noConformance: true})
			req := f.request()
			mutate(&req)
			_, err := f.engine(t, 0).Rotate(context.Background(), req)
			if !errors.Is(err, rotation.ErrInvalidRequest) {
				t.Fatalf("want ErrInvalidRequest, got %v", err)
			}
			st := f.emu.State()
			for route, n := range st.Hits {
				if n > 0 {
					t.Errorf("route %s was called %d times; bad input must change nothing", route, n)
				}
			}
			if len(f.rec.all()) != 0 {
				t.Errorf("refused request recorded %d events", len(f.rec.all()))
			}
		})
	}
}

func TestRecorderDownChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{noConformance: true})
	f.rec.fail = true
	if _, err := f.engine(t, 0).Rotate(context.Background(), f.request()); err == nil {
		t.Fatal("want an error when the audit cannot be written")
	}
	st := f.emu.State()
	if n := st.Hits["groo.create"]; n != 0 {
		t.Errorf("minted %d tokens without an audit record", n)
	}
	f.checkI3(t)
}

func TestPlanChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	before := f.emu.State()
	plan, err := f.engine(t, 0).Plan(context.Background(), f.request())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Live) != 1 || plan.Live[0].ID != f.seedID {
		t.Errorf("plan live tokens %v, want the seed token", plan.Live)
	}
	var steps []string
	for _, s := range plan.Steps {
		steps = append(steps, s.Step)
	}
	want := []string{"read", "mint", "verify", "write", "retire", "record"}
	if fmt.Sprint(steps) != fmt.Sprint(want) {
		t.Errorf("plan steps %v, want %v", steps, want)
	}
	after := f.emu.State()
	if after.Hits["groo.create"]+after.Hits["gh.secret.put"]+after.Hits["groo.revoke"] != 0 {
		t.Errorf("plan made a change: %v", after.Hits)
	}
	if len(after.Tokens) != len(before.Tokens) {
		t.Errorf("plan minted a token")
	}
}

// TestGraceLeavesPending: with a grace the replaced token stays live and is
// reported pending; I1 holds and the secret holds the new token.
func TestGraceLeavesPending(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	req := f.request()
	req.Grace = time.Hour
	res, err := f.engine(t, 0).Rotate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pending) != 1 || res.Pending[0] != f.seedID || len(res.Revoked) != 0 {
		t.Errorf("pending %v revoked %v, want the seed token pending", res.Pending, res.Revoked)
	}
	st := f.checkI1(t)
	if n := len(st.LiveTokens(f.useCase)); n != 2 {
		t.Errorf("want 2 live tokens during grace, got %d", n)
	}
}

// TestKeyRotationBetweenReadAndWrite: GitHub rotated the key after the read;
// the 422 makes the client fetch it again and the rotation succeeds.
func TestKeyRotationBetweenReadAndWrite(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	e := f.engine(t, 0)
	e.Secrets = rotateKeyBeforePut{SecretWriter: e.Secrets, rotate: func() error { return f.emu.RotateKey(f.target.Key()) }}
	if _, err := e.Rotate(context.Background(), f.request()); err != nil {
		t.Fatal(err)
	}
	f.checkI3(t)
	if n := f.emu.State().Hits["gh.public-key"]; n != 2 {
		t.Errorf("want the key fetched again after the 422, got %d key reads", n)
	}
}

// rotateKeyBeforePut rotates the scope's key after the engine read it and
// before it writes, as GitHub may at any time.
type rotateKeyBeforePut struct {
	rotation.SecretWriter
	rotate func() error
}

func (r rotateKeyBeforePut) Put(ctx context.Context, t ghsecret.Target, key ghsecret.PublicKey, plaintext []byte) (ghsecret.PutResult, error) {
	if err := r.rotate(); err != nil {
		return ghsecret.PutResult{}, err
	}
	return r.SecretWriter.Put(ctx, t, key, plaintext)
}

// TestSecondRunInsideWindowLeavesTooRecent: a rotation never revokes a token
// that another run may still be writing; after the window it does.
func TestSecondRunInsideWindowLeavesTooRecent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	e := f.engine(t, 0)
	// A window no slow machine can overrun between the first two runs; the
	// third run's clock is moved past it instead of the test waiting.
	e.Config.WriteWindow = time.Minute
	first, err := e.Rotate(context.Background(), f.request())
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.Rotate(context.Background(), f.requestFromSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(second.TooRecent) != 1 || second.TooRecent[0] != first.New.ID {
		t.Errorf("too recent %v, want [%s]", second.TooRecent, first.New.ID)
	}
	f.checkI1(t)
	f.advance(2 * time.Minute)
	e.Config.Now = f.now
	third, err := e.Rotate(context.Background(), f.requestFromSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(third.Revoked) != 2 {
		t.Errorf("third run revoked %v, want both earlier tokens", third.Revoked)
	}
	f.checkI3(t)
}

func zeroToken() groo.Token { return groo.Token{} }

func mustToken(t testing.TB, s string) groo.Token {
	t.Helper()
	tok, err := groo.ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestGraceRetiredByLaterRun: a token left pending for its grace is revoked
// by a later run once the grace, counted from its successor's write, is over,
// while the token that run replaces starts its own grace.
func TestGraceRetiredByLaterRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	req := f.request()
	req.Grace = time.Hour
	first, err := f.engine(t, 0).Rotate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	later := f.engine(t, 0)
	f.advance(2 * time.Hour)
	later.Config.Now = f.now
	req = f.requestFromSecret(t)
	req.Grace = time.Hour
	second, err := later.Rotate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(second.Revoked) != fmt.Sprint([]string{f.seedID}) || fmt.Sprint(second.Pending) != fmt.Sprint([]string{first.New.ID}) {
		t.Errorf("revoked %v pending %v, want [%s] revoked and [%s] pending", second.Revoked, second.Pending, f.seedID, first.New.ID)
	}
	f.checkI1(t)
}

// otherUserForNewToken answers /v1/auth/me for any token but the minting
// credential with another user, as if Groo had minted for someone else.
type otherUserForNewToken struct {
	rotation.GrooAPI
	cred groo.Token
}

func (o otherUserForNewToken) Me(ctx context.Context, tok groo.Token) (groo.User, error) {
	u, err := o.GrooAPI.Me(ctx, tok)
	if err == nil && !tok.Equal(o.cred) {
		u.ID = "usr_someone_else"
	}
	return u, err
}

// TestVerifyRefusesAnotherUser: a new token that answers for another user is
// revoked and nothing is written (I4), and the secret keeps its token (I1).
func TestVerifyRefusesAnotherUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{noConformance: true})
	e := f.engine(t, 0)
	e.Groo = otherUserForNewToken{GrooAPI: e.Groo, cred: f.cred}
	_, err := e.Rotate(context.Background(), f.request())
	var rerr *rotation.Error
	if !errors.As(err, &rerr) || rerr.Step != rotation.StepVerify {
		t.Fatalf("want a verify failure, got %v", err)
	}
	st := f.checkI1(t)
	if live := st.LiveTokens(f.useCase); len(live) != 1 || live[0].ID != f.seedID {
		t.Errorf("I4: %d live tokens after a failed verify", len(live))
	}
	if st.Hits["gh.secret.put"] != 0 {
		t.Error("a token that failed verification was written")
	}
	f.checkI7(t, audit.OutcomeFailed)
}

// slowKey makes the public key arrive after the write window has passed.
type slowKey struct {
	rotation.SecretWriter
	delay time.Duration
}

func (s slowKey) PublicKey(ctx context.Context, t ghsecret.Target) (ghsecret.PublicKey, error) {
	time.Sleep(s.delay)
	return s.SecretWriter.PublicKey(ctx, t)
}

// TestWriteWindowPassed: a rotation whose write could only start after the
// window refuses to write, revokes its token and fails; nothing changes.
func TestWriteWindowPassed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	e := f.engine(t, 0)
	e.Secrets = slowKey{SecretWriter: e.Secrets, delay: testWindow + 100*time.Millisecond}
	_, err := e.Rotate(context.Background(), f.request())
	var rerr *rotation.Error
	if !errors.As(err, &rerr) || rerr.Step != rotation.StepWrite || rerr.OutcomeUnknown {
		t.Fatalf("want a definitive write failure, got %v", err)
	}
	st := f.checkI1(t)
	if st.Hits["gh.secret.put"] != 0 {
		t.Error("wrote after the write window")
	}
	if live := st.LiveTokens(f.useCase); len(live) != 1 || live[0].ID != f.seedID {
		t.Errorf("I4: %d live tokens", len(live))
	}
}

// TestOrganizationSecretKeepsItsAudience: a rotation that is not told the
// visibility keeps the secret's "selected" repositories (GitHub would drop
// them all on a write without the ids).
func TestOrganizationSecretKeepsItsAudience(t *testing.T) {
	t.Parallel()
	tg := ghsecret.Target{Scope: ghsecret.ScopeOrganization, Org: "octo", Name: "GROO_PAT"}
	f := newFixture(t, fixtureOpts{target: tg})
	e := f.engine(t, 0)
	// Share the seeded secret with octo/docs only, through the real client.
	ids, err := e.Secrets.(*ghsecret.Client).ResolveRepositoryIDs(context.Background(), "octo", []string{"docs"})
	if err != nil {
		t.Fatal(err)
	}
	sel := tg
	sel.Visibility, sel.SelectedRepositoryIDs = "selected", ids
	key, err := e.Secrets.PublicKey(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Secrets.Put(context.Background(), sel, key, []byte(f.cred.Reveal())); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Rotate(context.Background(), f.request()); err != nil {
		t.Fatal(err)
	}
	sec, _ := f.checkI1(t).Secret(tg.Key(), tg.Name)
	if sec.Visibility != "selected" || fmt.Sprint(sec.SelectedRepositoryIDs) != fmt.Sprint(ids) {
		t.Errorf("after the rotation: visibility %q ids %v, want selected %v", sec.Visibility, sec.SelectedRepositoryIDs, ids)
	}
	f.checkI3(t)
}
