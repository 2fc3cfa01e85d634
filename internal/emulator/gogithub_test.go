package emulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/crypto/nacl/box"
)

// These tests drive the emulator with go-github v60, the client the project
// uses, so that the emulator answers what that client expects (legacy
// environment routes, status codes, rate-limit error types).

func ghClient(t testing.TB, base, token string) *github.Client {
	t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(base+"/api/v3/", base+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sealKey(t testing.TB, k *github.PublicKey, value string) string {
	t.Helper()
	kb, err := base64.StdEncoding.DecodeString(k.GetKey())
	if err != nil || len(kb) != 32 {
		t.Fatalf("key %q: %v", k.GetKey(), err)
	}
	var pk [32]byte
	copy(pk[:], kb)
	ct, err := box.SealAnonymous(nil, []byte(value), &pk, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

func TestGoGitHubInterop(t *testing.T) {
	t.Parallel()
	e, base := newTestServer(t, testSeed())
	ctx := context.Background()
	c := ghClient(t, base, ghFull)

	repo, _, err := c.Repositories.Get(ctx, "octo", "app")
	if err != nil {
		t.Fatal(err)
	}
	env := url.PathEscape("prod/eu")
	key, _, err := c.Actions.GetEnvPublicKey(ctx, int(repo.GetID()), env)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{201, 204} {
		res, err := c.Actions.CreateOrUpdateEnvSecret(ctx, int(repo.GetID()), env, &github.EncryptedSecret{
			Name: "GROO_PAT", KeyID: key.GetKeyID(), EncryptedValue: sealKey(t, key, "env-value"),
		})
		if err != nil || res.StatusCode != want {
			t.Fatalf("env write %d: %v (status %v)", i, err, res)
		}
	}
	meta, _, err := c.Actions.GetEnvSecret(ctx, int(repo.GetID()), env, "GROO_PAT")
	if err != nil || meta.Name != "GROO_PAT" || meta.UpdatedAt.IsZero() {
		t.Fatalf("env secret %+v: %v", meta, err)
	}

	// Organization, selected repositories.
	okey, _, err := c.Actions.GetOrgPublicKey(ctx, "octo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Actions.CreateOrUpdateOrgSecret(ctx, "octo", &github.EncryptedSecret{
		Name: "GROO_PAT", KeyID: okey.GetKeyID(), EncryptedValue: sealKey(t, okey, "org-value"),
		Visibility: "selected", SelectedRepositoryIDs: github.SelectedRepoIDs{repo.GetID()},
	}); err != nil {
		t.Fatal(err)
	}
	sel, _, err := c.Actions.ListSelectedReposForOrgSecret(ctx, "octo", "GROO_PAT", nil)
	if err != nil || sel.GetTotalCount() != 1 || sel.Repositories[0].GetFullName() != "octo/app" {
		t.Fatalf("selected repos %+v: %v", sel, err)
	}

	// Dependabot.
	dkey, _, err := c.Dependabot.GetRepoPublicKey(ctx, "octo", "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Dependabot.CreateOrUpdateRepoSecret(ctx, "octo", "app", &github.DependabotEncryptedSecret{
		Name: "GROO_PAT", KeyID: dkey.GetKeyID(), EncryptedValue: sealKey(t, dkey, "dependabot-value"),
	}); err != nil {
		t.Fatal(err)
	}

	// A stale key: 422 as *github.ErrorResponse.
	_, err = c.Actions.CreateOrUpdateRepoSecret(ctx, "octo", "app", &github.EncryptedSecret{
		Name: "GROO_PAT", KeyID: "42", EncryptedValue: sealKey(t, key, "x"),
	})
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 422 {
		t.Fatalf("stale key: %v", err)
	}

	st := e.State()
	for scope, want := range map[string]string{"env:octo/app:prod/eu": "env-value", "org:octo": "org-value", "dependabot:octo/app": "dependabot-value"} {
		if s, ok := st.Secret(scope, "GROO_PAT"); !ok || s.Value != want {
			t.Fatalf("%s: %+v", scope, s)
		}
	}

	// A read-only token: 403 as *github.ErrorResponse.
	_, err = ghClient(t, base, ghRO).Actions.CreateOrUpdateRepoSecret(ctx, "octo", "app", &github.EncryptedSecret{
		Name: "GROO_PAT", KeyID: key.GetKeyID(), EncryptedValue: sealKey(t, key, "x"),
	})
	if !errors.As(err, &er) || er.Response.StatusCode != 403 || er.Message != "Resource not accessible by integration" {
		t.Fatalf("read-only write: %v", err)
	}
}

func TestGoGitHubRateLimitErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("primary", func(t *testing.T) {
		t.Parallel()
		e, base := newTestServer(t, testSeed())
		e.SetRateLimits(RateLimits{PrimaryLimit: 1})
		c := ghClient(t, base, ghFull)
		if _, _, err := c.Repositories.Get(ctx, "octo", "app"); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.Repositories.Get(ctx, "octo", "app")
		var rl *github.RateLimitError
		if !errors.As(err, &rl) || rl.Rate.Remaining != 0 || rl.Rate.Limit != 1 || !rl.Rate.Reset.After(time.Now()) {
			t.Fatalf("want *github.RateLimitError, got %T %v", err, err)
		}
	})
	t.Run("secondary", func(t *testing.T) {
		t.Parallel()
		e, base := newTestServer(t, testSeed())
		e.SetRateLimits(RateLimits{MinMutatingInterval: time.Hour})
		c := ghClient(t, base, ghFull)
		key, _, err := c.Actions.GetRepoPublicKey(ctx, "octo", "app")
		if err != nil {
			t.Fatal(err)
		}
		put := func() error {
			_, err := c.Actions.CreateOrUpdateRepoSecret(ctx, "octo", "app", &github.EncryptedSecret{
				Name: "GROO_PAT", KeyID: key.GetKeyID(), EncryptedValue: sealKey(t, key, "v"),
			})
			return err
		}
		if err := put(); err != nil {
			t.Fatal(err)
		}
		err = put()
		var ab *github.AbuseRateLimitError
		if !errors.As(err, &ab) || ab.RetryAfter == nil || *ab.RetryAfter != time.Hour {
			t.Fatalf("want *github.AbuseRateLimitError with retry-after 1h, got %T %v", err, err)
		}
	})
	t.Run("secondary points, 403 then 429", func(t *testing.T) {
		t.Parallel()
		e, base := newTestServer(t, testSeed())
		e.SetRateLimits(RateLimits{PointsPerWindow: 1})
		c := ghClient(t, base, ghFull)
		if _, _, err := c.Repositories.Get(ctx, "octo", "app"); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.Repositories.Get(ctx, "octo", "app")
		var ab *github.AbuseRateLimitError
		if !errors.As(err, &ab) || ab.RetryAfter == nil || *ab.RetryAfter <= 0 {
			t.Fatalf("want *github.AbuseRateLimitError, got %T %v", err, err)
		}

		e.SetRateLimits(RateLimits{PointsPerWindow: 1, Use429: true})
		c = ghClient(t, base, ghFull) // the first client now refuses locally until retry-after
		if _, _, err := c.Repositories.Get(ctx, "octo", "app"); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Repositories.Get(ctx, "octo", "app")
		var er *github.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != http.StatusTooManyRequests || er.Response.Header.Get("Retry-After") == "" {
			t.Fatalf("want *github.ErrorResponse 429 with retry-after, got %T %v", err, err)
		}
	})
}
