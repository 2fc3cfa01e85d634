package ghsecret_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/ghsecret"
)

const (
	fullToken     = "ghp_emulatorFullAccessToken000000000000"
	readOnlyToken = "ghs_emulatorReadOnlyLikeGITHUB_TOKEN0000"
	value         = "groo_pat_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func seed() emulator.Seed {
	return emulator.Seed{GitHub: emulator.GitHubSeed{
		Tokens:         []string{fullToken},
		ReadOnlyTokens: []string{readOnlyToken},
		Repositories:   []string{"octo/app", "octo/lib", "octo/web"},
		Environments:   []string{"octo/app:prod/eu", "octo/app:staging"},
	}}
}

// bases are the two ways go-github reaches a server: github.com style and
// GitHub Enterprise Server style.
var bases = []string{"/", "/api/v3/"}

func baseName(base string) string {
	if base == "/" {
		return "root"
	}
	return "api-v3"
}

// newClient is a ghsecret.Client on the emulator whose every request is
// checked against GitHub's OpenAPI description.
func newClient(t *testing.T, base, token string, opts ...ghsecret.Option) *ghsecret.Client {
	t.Helper()
	chk := ghconform.New(t, nil)
	gh := github.NewClient(chk.Client()).WithAuthToken(token)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	gh.BaseURL = u
	return ghsecret.NewClient(gh, append([]ghsecret.Option{ghsecret.WithMutationInterval(0), ghsecret.WithSleep(instant)}, opts...)...)
}

func instant(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func stored(t *testing.T, e *emulator.Emulator, tg ghsecret.Target) emulator.SecretState {
	t.Helper()
	s, ok := e.State().Secret(tg.Key(), tg.Name)
	if !ok {
		t.Fatalf("emulator has no secret %s", tg)
	}
	return s
}

var allScopes = []ghsecret.Target{
	{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"},
	{Scope: ghsecret.ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "prod/eu", Name: "GROO_PAT"},
	{Scope: ghsecret.ScopeOrganization, Org: "octo", Name: "GROO_PAT"},
	{Scope: ghsecret.ScopeDependabot, Owner: "octo", Repo: "app", Name: "GROO_PAT"},
	{Scope: ghsecret.ScopeDependabotOrganization, Org: "octo", Name: "GROO_PAT"},
}

// TestEmulatorAllScopes: create, update, read and delete a secret in each
// scope, through both base URLs; the emulator decrypts what was written.
func TestEmulatorAllScopes(t *testing.T) {
	t.Parallel()
	for _, base := range bases {
		for _, tg := range allScopes {
			t.Run(baseName(base)+"/"+string(tg.Scope), func(t *testing.T) {
				t.Parallel()
				e, srv := emulatortest.NewServer(t, seed())
				c := newClient(t, srv+base, fullToken)
				ctx := context.Background()

				md, err := c.Metadata(ctx, tg)
				if err != nil || md.Exists {
					t.Fatalf("Metadata before = %+v, %v; want not existing", md, err)
				}
				key, err := c.PublicKey(ctx, tg)
				if err != nil {
					t.Fatalf("PublicKey: %v", err)
				}
				if id, _ := e.PublicKey(tg.Key()); id != key.KeyID {
					t.Fatalf("key id %s, emulator has %s", key.KeyID, id)
				}
				res, err := c.Put(ctx, tg, key, []byte(value))
				if err != nil || !res.Created || res.KeyID != key.KeyID {
					t.Fatalf("Put = %+v, %v; want created with %s", res, err, key.KeyID)
				}
				s := stored(t, e, tg)
				if s.Value != value {
					t.Fatalf("emulator holds %q", s.Value)
				}
				if tg.Scope == ghsecret.ScopeOrganization || tg.Scope == ghsecret.ScopeDependabotOrganization {
					if s.Visibility != "private" {
						t.Errorf("new organization secret has visibility %q, want private", s.Visibility)
					}
				}
				res, err = c.Put(ctx, tg, key, []byte(value+"2"))
				if err != nil || res.Created {
					t.Fatalf("second Put = %+v, %v; want updated", res, err)
				}
				if s := stored(t, e, tg); s.Value != value+"2" || s.Writes != 2 {
					t.Fatalf("after update: value %q, %d writes", s.Value, s.Writes)
				}
				md, err = c.Metadata(ctx, tg)
				if err != nil || !md.Exists || md.UpdatedAt.IsZero() {
					t.Fatalf("Metadata = %+v, %v", md, err)
				}
				if err := c.Delete(ctx, tg); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				if _, ok := e.State().Secret(tg.Key(), tg.Name); ok {
					t.Fatalf("secret still there after Delete")
				}
				if v := e.Violations(); len(v) > 0 {
					t.Fatalf("emulator violations: %v", v)
				}
			})
		}
	}
}

func TestEmulatorEnvironmentWithSlash(t *testing.T) {
	t.Parallel()
	for _, base := range bases {
		t.Run(baseName(base), func(t *testing.T) {
			t.Parallel()
			e, srv := emulatortest.NewServer(t, seed())
			c := newClient(t, srv+base, fullToken)
			ctx := context.Background()
			eu := ghsecret.Target{Scope: ghsecret.ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "prod/eu", Name: "GROO_PAT"}
			staging := eu
			staging.Environment = "staging"
			for i, tg := range []ghsecret.Target{eu, staging} {
				if _, err := c.Put(ctx, tg, ghsecret.PublicKey{}, []byte(value[:len(value)-1]+string(rune('0'+i)))); err != nil {
					t.Fatalf("Put %s: %v", tg, err)
				}
			}
			st := e.State()
			a, okA := st.Secret("env:octo/app:prod/eu", "GROO_PAT")
			b, okB := st.Secret("env:octo/app:staging", "GROO_PAT")
			if !okA || !okB || a.Value == b.Value {
				t.Fatalf("want two distinct secrets, got %+v %+v", a, b)
			}
			if _, ok := st.Secret("env:octo/app:prod", "GROO_PAT"); ok {
				t.Fatalf("the slash split the environment name")
			}
			if n := e.Hits(emulator.RouteRepo); n != 1 {
				t.Errorf("repository id looked up %d times, want 1 (cached)", n)
			}
		})
	}
}

func TestEmulatorKeyRotation(t *testing.T) {
	t.Parallel()
	for _, tg := range allScopes {
		t.Run(string(tg.Scope), func(t *testing.T) {
			t.Parallel()
			e, srv := emulatortest.NewServer(t, seed())
			c := newClient(t, srv+"/", fullToken)
			ctx := context.Background()
			stale, err := c.PublicKey(ctx, tg)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.RotateKey(tg.Key()); err != nil {
				t.Fatal(err)
			}
			res, err := c.Put(ctx, tg, stale, []byte(value))
			if err != nil {
				t.Fatalf("Put with a stale key: %v", err)
			}
			fresh, _ := e.PublicKey(tg.Key())
			if res.KeyID != fresh || res.KeyID == stale.KeyID {
				t.Fatalf("result key %s, want the fresh key %s", res.KeyID, fresh)
			}
			if s := stored(t, e, tg); s.Value != value || s.KeyID != fresh {
				t.Fatalf("stored %+v", s)
			}
		})
	}
}

// TestEmulatorOrgVisibility: an update without a visibility keeps the
// secret's visibility and repositories (GitHub's trap: "selected" without
// ids empties the selection, which the emulator reproduces).
func TestEmulatorOrgVisibility(t *testing.T) {
	t.Parallel()
	for _, scope := range []ghsecret.Scope{ghsecret.ScopeOrganization, ghsecret.ScopeDependabotOrganization} {
		t.Run(string(scope), func(t *testing.T) {
			t.Parallel()
			e, srv := emulatortest.NewServer(t, seed())
			c := newClient(t, srv+"/", fullToken)
			ctx := context.Background()
			app, err1 := c.RepositoryID(ctx, "octo", "app")
			lib, err2 := c.RepositoryID(ctx, "octo", "lib")
			web, err3 := c.RepositoryID(ctx, "octo", "web")
			if err := errors.Join(err1, err2, err3); err != nil {
				t.Fatal(err)
			}
			tg := ghsecret.Target{Scope: scope, Org: "octo", Name: "GROO_PAT"}
			wantIDs := []int64{app, lib}
			slices.Sort(wantIDs)
			if err := e.Seed(emulator.Seed{GitHub: emulator.GitHubSeed{Secrets: []emulator.SeedSecret{
				{Scope: tg.Key(), Name: "GROO_PAT", Value: "old", Visibility: "selected", SelectedRepositoryIDs: wantIDs},
				{Scope: tg.Key(), Name: "SHARED", Value: "old", Visibility: "all"},
				{Scope: tg.Key(), Name: "NOBODY", Value: "old", Visibility: "selected", SelectedRepositoryIDs: []int64{}},
			}}}); err != nil {
				t.Fatal(err)
			}

			md, err := c.Metadata(ctx, tg)
			if err != nil || md.Visibility != "selected" || !slices.Equal(sorted(md.SelectedRepositoryIDs), wantIDs) {
				t.Fatalf("Metadata = %+v, %v; want selected %v", md, err, wantIDs)
			}

			// Keep: no visibility given.
			if _, err := c.Put(ctx, tg, ghsecret.PublicKey{}, []byte(value)); err != nil {
				t.Fatal(err)
			}
			s := stored(t, e, tg)
			if s.Value != value || s.Visibility != "selected" || !slices.Equal(sorted(s.SelectedRepositoryIDs), wantIDs) {
				t.Fatalf("after a keep-update: %+v, want selected %v", s, wantIDs)
			}
			shared := tg
			shared.Name = "SHARED"
			if _, err := c.Put(ctx, shared, ghsecret.PublicKey{}, []byte(value)); err != nil {
				t.Fatal(err)
			}
			if s := stored(t, e, shared); s.Visibility != "all" {
				t.Fatalf("visibility all became %q", s.Visibility)
			}

			// Selected with no repository stays so, sent with an explicit [].
			nobody := tg
			nobody.Name = "NOBODY"
			if _, err := c.Put(ctx, nobody, ghsecret.PublicKey{}, []byte(value)); err != nil {
				t.Fatal(err)
			}
			if s := stored(t, e, nobody); s.Visibility != "selected" || len(s.SelectedRepositoryIDs) != 0 || s.Value != value {
				t.Fatalf("selected-with-none became %+v", s)
			}

			// Explicit selection by name replaces the repositories.
			sel := tg
			sel.Visibility, sel.SelectedRepositories = "selected", []string{"web", "octo/app"}
			if _, err := c.Put(ctx, sel, ghsecret.PublicKey{}, []byte(value)); err != nil {
				t.Fatal(err)
			}
			want := sorted([]int64{web, app})
			if s := stored(t, e, tg); s.Visibility != "selected" || !slices.Equal(sorted(s.SelectedRepositoryIDs), want) {
				t.Fatalf("after explicit selection: %+v, want %v", s, want)
			}

			// The trap the client avoids, sprung by hand: selected without ids.
			key, _ := c.PublicKey(ctx, tg)
			sealed, _ := ghsecret.Seal(key, []byte(value))
			area := "actions"
			if scope == ghsecret.ScopeDependabotOrganization {
				area = "dependabot"
			}
			putRaw(t, srv+"/orgs/octo/"+area+"/secrets/GROO_PAT", `{"key_id":"`+key.KeyID+`","encrypted_value":"`+sealed+`","visibility":"selected"}`, http.StatusNoContent)
			if s := stored(t, e, tg); len(s.SelectedRepositoryIDs) != 0 {
				t.Fatalf("the emulator does not model the trap: %+v", s)
			}
		})
	}
}

func sorted(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func putRaw(t *testing.T, u, body string, want int) {
	t.Helper()
	req, _ := http.NewRequest("PUT", u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fullToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("PUT %s: %d, want %d", u, resp.StatusCode, want)
	}
}

// TestEmulatorReadOnlyToken: a token like GITHUB_TOKEN is refused with a
// message that says so and names the alternatives.
func TestEmulatorReadOnlyToken(t *testing.T) {
	t.Parallel()
	for _, tg := range allScopes {
		t.Run(string(tg.Scope), func(t *testing.T) {
			t.Parallel()
			e, srv := emulatortest.NewServer(t, seed())
			c := newClient(t, srv+"/", readOnlyToken)
			_, err := c.Put(context.Background(), tg, ghsecret.PublicKey{}, []byte(value))
			var refused *ghsecret.RefusedError
			if !errors.As(err, &refused) || refused.StatusCode != http.StatusForbidden {
				t.Fatalf("err = %v, want RefusedError 403", err)
			}
			for _, want := range []string{"GITHUB_TOKEN cannot write secrets", "fine-grained PAT", "app-id and app-private-key"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), value) {
				t.Errorf("error holds the value")
			}
			if _, ok := e.State().Secret(tg.Key(), tg.Name); ok {
				t.Errorf("a secret was written")
			}
		})
	}
}

func TestEmulatorMissingScopes(t *testing.T) {
	t.Parallel()
	_, srv := emulatortest.NewServer(t, seed())
	c := newClient(t, srv+"/", fullToken)
	for _, tg := range []ghsecret.Target{
		{Scope: ghsecret.ScopeRepository, Owner: "octo", Repo: "nope", Name: "GROO_PAT"},
		{Scope: ghsecret.ScopeOrganization, Org: "nope", Name: "GROO_PAT"},
		{Scope: ghsecret.ScopeEnvironment, Owner: "octo", Repo: "nope", Environment: "prod", Name: "GROO_PAT"},
	} {
		_, err := c.Put(context.Background(), tg, ghsecret.PublicKey{}, []byte(value))
		var refused *ghsecret.RefusedError
		if !errors.As(err, &refused) || refused.StatusCode != http.StatusNotFound || !strings.Contains(refused.Hint, "does not exist") {
			t.Errorf("%s: err = %v, want a 404 refusal saying what does not exist", tg, err)
		}
	}
}

// TestEmulatorFaults: 5xx and a dropped answer are retried with the same
// ciphertext until the write lands.
func TestEmulatorFaults(t *testing.T) {
	t.Parallel()
	tg := allScopes[0]
	cases := []struct {
		name       string
		faults     []emulator.Fault
		wantWrites int
	}{
		{"5xx twice", []emulator.Fault{{Route: emulator.RouteSecretPut, Status: 502, Count: 2}}, 1},
		{"answer dropped after the write", []emulator.Fault{{Route: emulator.RouteSecretPut, Drop: true, Count: 1}}, 2},
		{"429 with retry-after", []emulator.Fault{{Route: emulator.RouteSecretPut, Status: 429, RetryAfter: 2, Count: 1}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, srv := emulatortest.NewServer(t, seed())
			var mu sync.Mutex
			var waits []time.Duration
			c := newClient(t, srv+"/", fullToken, ghsecret.WithSleep(func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				waits = append(waits, d)
				return ctx.Err()
			}))
			e.SetFaults(tc.faults)
			if _, err := c.Put(context.Background(), tg, ghsecret.PublicKey{}, []byte(value)); err != nil {
				t.Fatalf("Put: %v", err)
			}
			s := stored(t, e, tg)
			if s.Value != value || s.Writes != tc.wantWrites {
				t.Fatalf("stored %q after %d writes, want %d", s.Value, s.Writes, tc.wantWrites)
			}
			if len(waits) == 0 {
				t.Errorf("no wait before retrying")
			}
		})
	}
}

// TestEmulatorRateLimits: the pacer keeps a client under a minimum interval
// between mutations; without it the client recovers from the secondary
// limit by honouring retry-after; a primary limit far from its reset fails
// at once, as a rate limit and not as a refusal.
func TestEmulatorRateLimits(t *testing.T) {
	t.Parallel()
	tg := allScopes[0]

	t.Run("paced: no breach", func(t *testing.T) {
		t.Parallel()
		e, srv := emulatortest.NewServer(t, seed())
		e.SetRateLimits(emulator.RateLimits{MinMutatingInterval: 300 * time.Millisecond})
		c := newClient(t, srv+"/", fullToken, ghsecret.WithMutationInterval(600*time.Millisecond), // twice the limit: a loaded machine delays requests unevenly
			ghsecret.WithSleep(func(ctx context.Context, d time.Duration) error { // real waits
				tm := time.NewTimer(d)
				defer tm.Stop()
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-tm.C:
					return nil
				}
			}))
		for range 3 {
			if _, err := c.Put(context.Background(), tg, ghsecret.PublicKey{}, []byte(value)); err != nil {
				t.Fatal(err)
			}
		}
		if st := e.State(); st.RateLimitBreaches != 0 || stored(t, e, tg).Writes != 3 {
			t.Fatalf("%d breaches, %d writes; want 0 and 3", st.RateLimitBreaches, stored(t, e, tg).Writes)
		}
	})

	t.Run("unpaced: breach, then retry-after honoured", func(t *testing.T) {
		t.Parallel()
		e, srv := emulatortest.NewServer(t, seed())
		e.SetRateLimits(emulator.RateLimits{MinMutatingInterval: 500 * time.Millisecond})
		var waits []time.Duration
		c := newClient(t, srv+"/", fullToken, ghsecret.WithSleep(func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			tm := time.NewTimer(d) // real: go-github also holds requests until retry-after
			defer tm.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tm.C:
				return nil
			}
		}))
		for range 2 {
			if _, err := c.Put(context.Background(), tg, ghsecret.PublicKey{}, []byte(value)); err != nil {
				t.Fatal(err)
			}
		}
		if st := e.State(); st.RateLimitBreaches != 1 || stored(t, e, tg).Writes != 2 {
			t.Fatalf("%d breaches, %d writes; want 1 and 2", st.RateLimitBreaches, stored(t, e, tg).Writes)
		}
		if len(waits) != 1 || waits[0] != time.Second {
			t.Fatalf("waits = %v, want the 1 s retry-after", waits)
		}
	})

	t.Run("primary limit resetting in an hour", func(t *testing.T) {
		t.Parallel()
		e, srv := emulatortest.NewServer(t, seed())
		e.SetRateLimits(emulator.RateLimits{PrimaryLimit: 2})
		c := newClient(t, srv+"/", fullToken)
		key, err := c.PublicKey(context.Background(), tg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err = c.Put(context.Background(), tg, key, []byte(value)); err != nil {
			t.Fatal(err)
		}
		_, err = c.Put(context.Background(), tg, key, []byte(value))
		var refused *ghsecret.RefusedError
		if !errors.Is(err, ghsecret.ErrRateLimited) || errors.As(err, &refused) {
			t.Fatalf("err = %v, want ErrRateLimited and not a refusal", err)
		}
		if !strings.Contains(err.Error(), "WithMaxWait") {
			t.Errorf("err = %v, want it to say how long it would wait and why it did not", err)
		}
	})
}
