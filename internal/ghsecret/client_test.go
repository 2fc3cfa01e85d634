package ghsecret

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

var repoTarget = Target{Scope: ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"}

const (
	repoSecretPath = "/repos/octo/app/actions/secrets/GROO_PAT"
	repoKeyPath    = "/repos/octo/app/actions/secrets/public-key"
	secondaryDoc   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	testValue      = "groo_pat_TESTVALUE0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
)

func epoch(d time.Duration) string { return strconv.FormatInt(time.Now().Add(d).Unix(), 10) }

func secondaryBody() string {
	return `{"message":"You have exceeded a secondary rate limit.","documentation_url":"` + secondaryDoc + `"}`
}

// TestPutClassification drives Put through every answer class of a PUT.
func TestPutClassification(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		put         []http.HandlerFunc
		wantCreated bool
		wantRefused int // 0: not a RefusedError
		wantErr     string
		wantLimited bool // errors.Is(err, ErrRateLimited)
		wantPuts    int
		wantKeyID   string
		checkSleeps func(t *testing.T, s []time.Duration)
	}{
		{name: "201 created", put: hs(status(201, `{}`)), wantCreated: true, wantPuts: 1, wantKeyID: "k1"},
		{name: "204 updated", put: hs(status(204, "")), wantPuts: 1, wantKeyID: "k1"},
		{name: "401", put: hs(status(401, errBody("Bad credentials"))), wantRefused: 401, wantErr: "GITHUB_TOKEN cannot write secrets", wantPuts: 1},
		{name: "403 not a rate limit", put: hs(status(403, errBody("Resource not accessible by integration"), "X-Ratelimit-Remaining: 4999", "X-Ratelimit-Reset: "+epoch(time.Hour))),
			wantRefused: 403, wantErr: `fine-grained PAT with repository permission "Secrets: write"`, wantPuts: 1},
		{name: "403 with retry-after 0 is still a refusal", put: hs(status(403, errBody("Forbidden"), "Retry-After: 0")), wantRefused: 403, wantPuts: 1,
			wantErr: "GITHUB_TOKEN cannot write secrets"},
		{name: "403 with retry-after, no secondary docs", put: hs(status(403, errBody("Forbidden"), "Retry-After: 5"), status(204, "")), wantPuts: 2, wantKeyID: "k1",
			checkSleeps: wantSleeps(5 * time.Second)},
		{name: "404", put: hs(status(404, errBody("Not Found"))), wantRefused: 404, wantErr: "repository octo/app does not exist or the token cannot see it", wantPuts: 1},
		{name: "400", put: hs(status(400, errBody("Problems parsing JSON"))), wantRefused: 400, wantErr: "Problems parsing JSON", wantPuts: 1},
		{name: "422 then fresh key", put: hs(status(422, errBody("Bad key")), status(201, `{}`)), wantCreated: true, wantPuts: 2, wantKeyID: "k2"},
		{name: "422 twice", put: hs(status(422, errBody("Bad key"))), wantRefused: 422, wantErr: "freshly fetched public key too (key k1, then k2)", wantPuts: 2},
		{name: "5xx then 204", put: hs(status(502, errBody("Bad Gateway")), status(503, errBody("Unavailable")), status(204, "")), wantPuts: 3, wantKeyID: "k1",
			checkSleeps: func(t *testing.T, s []time.Duration) {
				// backoff: 1 s then 2 s, each with ±50 % jitter
				if len(s) != 2 || s[0] < 500*time.Millisecond || s[0] > 1500*time.Millisecond || s[1] < time.Second || s[1] > 3*time.Second {
					t.Errorf("sleeps = %v, want ~1s then ~2s with jitter", s)
				}
			}},
		{name: "5xx until retries run out", put: hs(status(500, errBody("Server Error"))), wantErr: "the write may or may not have landed (an attempt got no definitive answer", wantPuts: 3},
		{name: "429 without headers waits 60s", put: hs(status(429, errBody("Too Many Requests")), status(204, "")), wantPuts: 2, wantKeyID: "k1",
			checkSleeps: wantSleeps(time.Minute)},
		{name: "429 retry-after", put: hs(status(429, errBody("Too Many Requests"), "Retry-After: 7"), status(204, "")), wantPuts: 2, wantKeyID: "k1",
			checkSleeps: wantSleeps(7 * time.Second)},
		{name: "429 primary with reset passed", put: hs(status(429, errBody("API rate limit exceeded"), "X-Ratelimit-Remaining: 0", "X-Ratelimit-Reset: "+epoch(-time.Minute)), status(204, "")),
			wantPuts: 2, wantKeyID: "k1", checkSleeps: wantSleeps(time.Second)},
		{name: "403 secondary retry-after 0", put: hs(status(403, secondaryBody(), "Retry-After: 0"), status(201, `{}`)), wantCreated: true, wantPuts: 2, wantKeyID: "k1",
			checkSleeps: wantSleeps(time.Second)},
		{name: "403 secondary without time: 60s, then 120s is over MaxWait", put: hs(status(403, secondaryBody())), wantLimited: true, wantPuts: 2,
			wantErr: "more than the 2m0s this client waits", checkSleeps: wantSleeps(time.Minute)},
		{name: "403 primary resetting in an hour fails at once", put: hs(status(403, errBody("API rate limit exceeded"), "X-Ratelimit-Remaining: 0", "X-Ratelimit-Reset: "+epoch(time.Hour))),
			wantLimited: true, wantPuts: 1, wantErr: "primary rate limit", checkSleeps: wantSleeps()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k1, k2 := newKeyPair(t, "k1"), newKeyPair(t, "k2")
			keys := map[string]keyPair{"k1": k1, "k2": k2}
			f := newFakeGitHub(t)
			f.handle("PUT "+repoSecretPath, sequence(tc.put...))
			f.handle("GET "+repoKeyPath, status(200, k2.json()))
			ft := newFakeTime(true)
			var logs logBuffer
			c := f.client(ft, WithMutationInterval(0), WithMaxRetries(2), WithLogger(logs.logger()))

			res, err := c.Put(context.Background(), repoTarget, k1.public(), []byte(testValue))

			puts := f.requests("PUT", repoSecretPath)
			if len(puts) != tc.wantPuts {
				t.Errorf("%d PUTs, want %d", len(puts), tc.wantPuts)
			}
			for i, p := range puts {
				kid, _ := p.Body["key_id"].(string)
				val, _ := p.Body["encrypted_value"].(string)
				if got := keys[kid].open(t, val); got != testValue {
					t.Errorf("PUT %d carries %q", i, got)
				}
			}
			var refused *RefusedError
			isRefused := errors.As(err, &refused)
			switch {
			case tc.wantRefused != 0:
				if !isRefused || refused.StatusCode != tc.wantRefused {
					t.Fatalf("err = %v, want RefusedError %d", err, tc.wantRefused)
				}
			case isRefused:
				t.Fatalf("err = %v is a RefusedError; want outcome unknown or success", err)
			}
			if tc.wantErr == "" && !tc.wantLimited && tc.wantRefused == 0 {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if res.Created != tc.wantCreated || res.KeyID != tc.wantKeyID {
					t.Errorf("result = %+v, want Created=%v KeyID=%s", res, tc.wantCreated, tc.wantKeyID)
				}
			} else if err == nil {
				t.Fatalf("Put succeeded, want an error")
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantErr)
			}
			if got := errors.Is(err, ErrRateLimited); got != tc.wantLimited {
				t.Errorf("errors.Is(err, ErrRateLimited) = %v, want %v (err %v)", got, tc.wantLimited, err)
			}
			if tc.checkSleeps != nil {
				tc.checkSleeps(t, ft.Sleeps())
			}
			assertNoSecret(t, testValue, logs.String(), errString(err))
		})
	}
}

func hs(h ...http.HandlerFunc) []http.HandlerFunc { return h }

func wantSleeps(want ...time.Duration) func(t *testing.T, s []time.Duration) {
	return func(t *testing.T, s []time.Duration) {
		t.Helper()
		if len(s) != len(want) {
			t.Fatalf("sleeps = %v, want %v", s, want)
		}
		for i := range s {
			if s[i] != want[i] {
				t.Fatalf("sleeps = %v, want %v", s, want)
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// assertNoSecret fails if the value, or a fragment of it, shows anywhere.
func assertNoSecret(t *testing.T, secret string, texts ...string) {
	t.Helper()
	frag := secret[len(secret)-12:]
	for _, s := range texts {
		if strings.Contains(s, secret) || strings.Contains(s, frag) {
			t.Errorf("the secret value leaked into %q", s)
		}
	}
}

// TestRateLimitWaitsInRealTime checks waits that go-github itself also
// enforces: after a primary limit or a secondary one with retry-after,
// go-github refuses to send again before the time is up, so these sleeps
// are real (about a second each).
func TestRateLimitWaitsInRealTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		limited http.HandlerFunc
		min     time.Duration
	}{
		{"403 primary until reset", status(403, errBody("API rate limit exceeded"), "X-Ratelimit-Remaining: 0", "X-Ratelimit-Reset: "+epoch(time.Second)), time.Second},
		{"429 primary until reset", status(429, errBody("API rate limit exceeded"), "X-Ratelimit-Remaining: 0", "X-Ratelimit-Reset: "+epoch(time.Second)), time.Second},
		{"403 secondary retry-after", status(403, secondaryBody(), "Retry-After: 1"), time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := newKeyPair(t, "k1")
			f := newFakeGitHub(t)
			f.handle("PUT "+repoSecretPath, sequence(tc.limited, status(204, "")))
			var slept []time.Duration
			gh := github.NewClient(f.srv.Client())
			gh.BaseURL = mustURL(t, f.srv.URL+"/")
			c := NewClient(gh, WithMutationInterval(0), WithSleep(func(ctx context.Context, d time.Duration) error {
				slept = append(slept, d)
				return sleepContext(ctx, d)
			}))
			if _, err := c.Put(context.Background(), repoTarget, k.public(), []byte(testValue)); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if n := len(f.requests("PUT", repoSecretPath)); n != 2 {
				t.Errorf("%d PUTs reached the server, want 2 (no request while limited)", n)
			}
			if len(slept) != 1 || slept[0] < tc.min || slept[0] > tc.min+2*time.Second {
				t.Errorf("waits = %v, want one of at least %s", slept, tc.min)
			}
		})
	}
}

func TestTransportErrorsAndTimeouts(t *testing.T) {
	t.Parallel()
	k := newKeyPair(t, "k1")

	t.Run("connection dropped every time: outcome unknown", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t)
		f.handle("PUT "+repoSecretPath, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		ft := newFakeTime(true)
		c := f.client(ft, WithMutationInterval(0), WithMaxRetries(3))
		_, err := c.Put(context.Background(), repoTarget, k.public(), []byte(testValue))
		var refused *RefusedError
		if err == nil || errors.As(err, &refused) {
			t.Fatalf("err = %v, want a plain error (outcome unknown)", err)
		}
		if !strings.Contains(err.Error(), "may or may not have landed") {
			t.Errorf("err = %v, want it to say the outcome is unknown", err)
		}
		if n := len(f.requests("PUT", repoSecretPath)); n != 4 {
			t.Errorf("%d attempts, want 4", n)
		}
		assertNoSecret(t, testValue, err.Error())
	})

	t.Run("timeout then success", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		f.handle("PUT "+repoSecretPath, sequence(
			func(w http.ResponseWriter, r *http.Request) {
				select { // hold the first attempt until the client gives up on it
				case <-r.Context().Done():
				case <-release:
				}
			},
			status(201, `{}`)))
		hc := f.srv.Client()
		hc.Timeout = 200 * time.Millisecond
		gh := github.NewClient(hc)
		gh.BaseURL = mustURL(t, f.srv.URL+"/")
		ft := newFakeTime(true)
		c := NewClient(gh, WithMutationInterval(0), WithSleep(ft.Sleep))
		res, err := c.Put(context.Background(), repoTarget, k.public(), []byte(testValue))
		if err != nil || !res.Created {
			t.Fatalf("Put = %+v, %v; want created after a retry", res, err)
		}
		puts := f.requests("PUT", repoSecretPath)
		if len(puts) != 2 || puts[0].Body["encrypted_value"] != puts[1].Body["encrypted_value"] {
			t.Errorf("want 2 PUTs of the same ciphertext (idempotent retry), got %d", len(puts))
		}
	})

	t.Run("context cancelled while waiting", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t)
		f.handle("PUT "+repoSecretPath, status(503, errBody("Unavailable")))
		ctx, cancel := context.WithCancel(context.Background())
		gh := github.NewClient(f.srv.Client())
		gh.BaseURL = mustURL(t, f.srv.URL+"/")
		c := NewClient(gh, WithMutationInterval(0), WithSleep(func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}))
		_, err := c.Put(ctx, repoTarget, k.public(), []byte(testValue))
		var refused *RefusedError
		if !errors.Is(err, context.Canceled) || errors.As(err, &refused) {
			t.Fatalf("err = %v, want context.Canceled, not a refusal", err)
		}
	})
}

// TestPreWriteFailuresAreRefusals: whatever fails before the PUT is sent,
// nothing was written, so the caller may treat it as definitive.
func TestPreWriteFailuresAreRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		target Target
		value  []byte
		setup  func(f *fakeGitHub)
		want   string
		status int
	}{
		{name: "invalid name", target: Target{Scope: ScopeRepository, Owner: "o", Repo: "r", Name: "GITHUB_X"}, value: []byte("v"), want: "GITHUB_"},
		{name: "missing repo", target: Target{Scope: ScopeRepository, Owner: "o", Name: "X"}, value: []byte("v"), want: "repository is required"},
		{name: "too large", target: repoTarget, value: make([]byte, MaxValueSize+1), want: "at most 49152"},
		{name: "key fetch 5xx", target: repoTarget, value: []byte("v"), want: "gave up after", setup: func(f *fakeGitHub) {
			f.handle("GET "+repoKeyPath, status(500, errBody("boom")))
		}},
		{name: "key fetch 403", target: repoTarget, value: []byte("v"), want: "GITHUB_TOKEN cannot write secrets", status: 403, setup: func(f *fakeGitHub) {
			f.handle("GET "+repoKeyPath, status(403, errBody("Resource not accessible by integration")))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeGitHub(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			c := f.client(newFakeTime(true), WithMaxRetries(1))
			_, err := c.Put(context.Background(), tc.target, PublicKey{}, tc.value)
			var refused *RefusedError
			if !errors.As(err, &refused) || refused.StatusCode != tc.status {
				t.Fatalf("err = %v, want RefusedError with status %d", err, tc.status)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want %q in it", err, tc.want)
			}
			if n := len(f.requests("PUT", "")); n != 0 {
				t.Errorf("%d PUTs sent, want none", n)
			}
		})
	}
	t.Run("invalid name wraps ErrInvalidSecretName", func(t *testing.T) {
		t.Parallel()
		c := NewClient(github.NewClient(nil))
		_, err := c.Put(context.Background(), Target{Scope: ScopeRepository, Owner: "o", Repo: "r", Name: "1X"}, PublicKey{}, []byte("v"))
		if !errors.Is(err, ErrInvalidSecretName) {
			t.Fatalf("err = %v, want ErrInvalidSecretName", err)
		}
	})
}

func TestReadsClassification(t *testing.T) {
	t.Parallel()
	k := newKeyPair(t, "k1")
	f := newFakeGitHub(t)
	f.handle("GET "+repoKeyPath, sequence(status(500, errBody("boom")), status(200, k.json())))
	f.handle("GET "+repoSecretPath, status(200, `{"name":"GROO_PAT","created_at":"2024-01-02T03:04:05Z","updated_at":"2024-02-03T04:05:06Z"}`))
	f.handle("GET /repos/octo/gone/actions/secrets/public-key", status(404, errBody("Not Found")))
	c := f.client(newFakeTime(true))
	ctx := context.Background()

	key, err := c.PublicKey(ctx, repoTarget)
	if err != nil || key != k.public() {
		t.Fatalf("PublicKey = %v, %v; want k1 after one retry", key, err)
	}
	md, err := c.Metadata(ctx, repoTarget)
	if err != nil || !md.Exists || md.UpdatedAt.Format(time.RFC3339) != "2024-02-03T04:05:06Z" {
		t.Fatalf("Metadata = %+v, %v", md, err)
	}
	md, err = c.Metadata(ctx, Target{Scope: ScopeRepository, Owner: "octo", Repo: "app", Name: "OTHER"})
	if err != nil || md.Exists {
		t.Fatalf("Metadata of a missing secret = %+v, %v; want Exists=false", md, err)
	}
	_, err = c.PublicKey(ctx, Target{Scope: ScopeRepository, Owner: "octo", Repo: "gone", Name: "X"})
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.StatusCode != 404 || refused.Op != "get public key" {
		t.Fatalf("err = %v, want RefusedError 404 on get public key", err)
	}
	var er *github.ErrorResponse
	if !errors.As(err, &er) {
		t.Errorf("RefusedError does not unwrap to the go-github error")
	}
}

func TestDeleteAlreadyGone(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.handle("DELETE "+repoSecretPath, sequence(status(204, ""), status(404, errBody("Not Found"))))
	c := f.client(newFakeTime(true))
	for i := range 2 {
		if err := c.Delete(context.Background(), repoTarget); err != nil {
			t.Fatalf("Delete %d: %v", i, err)
		}
	}
	if n := len(f.requests("DELETE", repoSecretPath)); n != 2 {
		t.Errorf("%d DELETEs, want 2", n)
	}
}

// TestPacing: mutating requests of one Client start at least the interval
// apart; reads are not held back.
func TestPacing(t *testing.T) {
	t.Parallel()
	k := newKeyPair(t, "k1")

	t.Run("sequential", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t)
		f.handle("PUT "+repoSecretPath, status(204, ""))
		f.handle("GET "+repoSecretPath, status(200, `{"name":"GROO_PAT"}`))
		f.handle("DELETE "+repoSecretPath, status(204, ""))
		ft := newFakeTime(true)
		c := f.client(ft) // default interval: 1 s
		ctx := context.Background()
		for range 3 {
			if _, err := c.Put(ctx, repoTarget, k.public(), []byte("v")); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Metadata(ctx, repoTarget); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Delete(ctx, repoTarget); err != nil {
			t.Fatal(err)
		}
		wantSleeps(time.Second, time.Second, time.Second)(t, ft.Sleeps())
	})

	t.Run("concurrent", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t)
		f.handle("PUT "+repoSecretPath, status(204, ""))
		ft := newFakeTime(false) // the clock stands still: each caller must take a later slot
		c := f.client(ft, WithMutationInterval(2*time.Second))
		errs := make(chan error, 5)
		for range 5 {
			go func() {
				_, err := c.Put(context.Background(), repoTarget, k.public(), []byte("v"))
				errs <- err
			}()
		}
		for range 5 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		got := map[time.Duration]int{}
		for _, s := range ft.Sleeps() {
			got[s]++
		}
		for _, w := range []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second, 8 * time.Second} {
			if got[w] != 1 {
				t.Fatalf("sleeps = %v, want one each of 2s 4s 6s 8s", ft.Sleeps())
			}
		}
	})

	t.Run("retries are paced too", func(t *testing.T) {
		t.Parallel()
		f := newFakeGitHub(t)
		f.handle("PUT "+repoSecretPath, sequence(status(500, errBody("boom")), status(204, "")))
		ft := newFakeTime(false)
		c := f.client(ft, WithMutationInterval(10*time.Second))
		if _, err := c.Put(context.Background(), repoTarget, k.public(), []byte("v")); err != nil {
			t.Fatal(err)
		}
		s := ft.Sleeps() // backoff (~1 s), then the pacer's 10 s on a clock that did not move
		if len(s) != 2 || s[1] != 10*time.Second {
			t.Fatalf("sleeps = %v, want backoff then 10s of pacing", s)
		}
	})
}

func TestRepositoryIDCached(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.handle("GET /repos/octo/app", status(200, `{"id":4242,"name":"app"}`))
	c := f.client(newFakeTime(true))
	for _, name := range []string{"app", "APP", "app"} {
		id, err := c.RepositoryID(context.Background(), "octo", name)
		if err != nil || id != 4242 {
			t.Fatalf("RepositoryID = %d, %v", id, err)
		}
	}
	if n := len(f.requests("GET", "/repos/octo/app")); n != 1 {
		t.Errorf("%d lookups, want 1 (cached, case-insensitive)", n)
	}
	_, err := c.RepositoryID(context.Background(), "octo", "missing")
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.StatusCode != 404 || !strings.Contains(refused.Hint, "octo/missing does not exist") {
		t.Fatalf("err = %v, want RefusedError 404 naming octo/missing", err)
	}
}

func TestEnvironmentPathEscaped(t *testing.T) {
	t.Parallel()
	k := newKeyPair(t, "k1")
	f := newFakeGitHub(t)
	f.handle("GET /repos/octo/app", status(200, `{"id":77}`))
	f.handle("PUT /repositories/77/environments/prod%2Feu/secrets/GROO_PAT", sequence(status(201, `{}`), status(204, "")))
	c := f.client(newFakeTime(true))
	env := Target{Scope: ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "prod/eu", Name: "GROO_PAT"}
	for i, wantCreated := range []bool{true, false} {
		res, err := c.Put(context.Background(), env, k.public(), []byte(testValue))
		if err != nil || res.Created != wantCreated {
			t.Fatalf("Put %d = %+v, %v; want Created=%v", i, res, err, wantCreated)
		}
	}
	if n := len(f.requests("GET", "/repos/octo/app")); n != 1 {
		t.Errorf("repository id looked up %d times, want 1", n)
	}
	_, err := c.Put(context.Background(), Target{Scope: ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "staging", Name: "GROO_PAT"}, k.public(), []byte("v"))
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.StatusCode != 404 || !strings.Contains(refused.Hint, `environment "staging" does not exist`) {
		t.Fatalf("err = %v, want a 404 naming the environment", err)
	}
}

// TestOrgVisibility: what an organization PUT sends for each case.
func TestOrgVisibility(t *testing.T) {
	t.Parallel()
	type want struct {
		visibility string
		ids        []any // as decoded from JSON; nil: the field must be absent
	}
	cases := []struct {
		name   string
		target Target
		setup  func(f *fakeGitHub, base string)
		want   want
	}{
		{name: "new secret becomes private", target: Target{Scope: ScopeOrganization, Org: "octo", Name: "GROO_PAT"},
			want: want{visibility: "private"}},
		{name: "keeps all", target: Target{Scope: ScopeOrganization, Org: "octo", Name: "GROO_PAT"},
			setup: func(f *fakeGitHub, base string) {
				f.handle("GET "+base, status(200, `{"name":"GROO_PAT","visibility":"all"}`))
			}, want: want{visibility: "all"}},
		{name: "keeps selected and its repositories across pages", target: Target{Scope: ScopeOrganization, Org: "octo", Name: "GROO_PAT"},
			setup: func(f *fakeGitHub, base string) {
				f.handle("GET "+base, status(200, `{"name":"GROO_PAT","visibility":"selected"}`))
				f.handle("GET "+base+"/repositories", func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Query().Get("page") == "2" {
						writeJSON(w, 200, `{"total_count":3,"repositories":[{"id":3}]}`)
						return
					}
					w.Header().Set("Link", `<`+"http://"+r.Host+base+`/repositories?page=2&per_page=100>; rel="next"`)
					writeJSON(w, 200, `{"total_count":3,"repositories":[{"id":1},{"id":2}]}`)
				})
			}, want: want{visibility: "selected", ids: []any{1.0, 2.0, 3.0}}},
		{name: "keeps selected with no repository", target: Target{Scope: ScopeOrganization, Org: "octo", Name: "GROO_PAT"},
			setup: func(f *fakeGitHub, base string) {
				f.handle("GET "+base, status(200, `{"name":"GROO_PAT","visibility":"selected"}`))
				f.handle("GET "+base+"/repositories", status(200, `{"total_count":0,"repositories":[]}`))
			}, want: want{visibility: "selected", ids: []any{}}},
		{name: "explicit selected resolves names", target: Target{Scope: ScopeOrganization, Org: "octo", Name: "GROO_PAT", Visibility: "selected", SelectedRepositories: []string{"app", "octo/lib", "app"}},
			setup: func(f *fakeGitHub, base string) {
				f.handle("GET /repos/octo/app", status(200, `{"id":10}`))
				f.handle("GET /repos/octo/lib", status(200, `{"id":20}`))
			}, want: want{visibility: "selected", ids: []any{10.0, 20.0}}},
		{name: "explicit all on a selected secret", target: Target{Scope: ScopeOrganization, Org: "octo", Name: "GROO_PAT", Visibility: "all"},
			want: want{visibility: "all"}},
		{name: "dependabot keeps selected (ids as strings, go-github's encoding)", target: Target{Scope: ScopeDependabotOrganization, Org: "octo", Name: "GROO_PAT"},
			setup: func(f *fakeGitHub, base string) {
				f.handle("GET "+base, status(200, `{"name":"GROO_PAT","visibility":"selected"}`))
				f.handle("GET "+base+"/repositories", status(200, `{"total_count":1,"repositories":[{"id":5}]}`))
			}, want: want{visibility: "selected", ids: []any{"5"}}},
		{name: "dependabot new becomes private", target: Target{Scope: ScopeDependabotOrganization, Org: "octo", Name: "GROO_PAT"},
			want: want{visibility: "private"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := newKeyPair(t, "k1")
			base := "/orgs/octo/actions/secrets/GROO_PAT"
			if tc.target.Scope == ScopeDependabotOrganization {
				base = "/orgs/octo/dependabot/secrets/GROO_PAT"
			}
			f := newFakeGitHub(t)
			f.handle("PUT "+base, status(204, ""))
			if tc.setup != nil {
				tc.setup(f, base)
			}
			c := f.client(newFakeTime(true))
			if _, err := c.Put(context.Background(), tc.target, k.public(), []byte(testValue)); err != nil {
				t.Fatalf("Put: %v", err)
			}
			puts := f.requests("PUT", base)
			if len(puts) != 1 {
				t.Fatalf("%d PUTs, want 1", len(puts))
			}
			body := puts[0].Body
			if body["visibility"] != tc.want.visibility {
				t.Errorf("visibility = %v, want %s", body["visibility"], tc.want.visibility)
			}
			ids, present := body["selected_repository_ids"]
			switch {
			case tc.want.ids == nil && present:
				t.Errorf("selected_repository_ids = %v sent with visibility %v", ids, body["visibility"])
			case tc.want.ids != nil && !present:
				t.Errorf("visibility selected sent without selected_repository_ids")
			case tc.want.ids != nil && !equalJSON(ids, tc.want.ids):
				t.Errorf("selected_repository_ids = %#v, want %#v", ids, tc.want.ids)
			}
			if got := k.open(t, body["encrypted_value"].(string)); got != testValue {
				t.Errorf("value = %q", got)
			}
		})
	}
}

func equalJSON(a any, b []any) bool {
	l, ok := a.([]any)
	if !ok || len(l) != len(b) {
		return false
	}
	for i := range l {
		if l[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSealOpens(t *testing.T) {
	t.Parallel()
	k := newKeyPair(t, "k1")
	for _, v := range []string{"", "x", testValue, strings.Repeat("é", 1000)} {
		s, err := Seal(k.public(), []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		if got := k.open(t, s); got != v {
			t.Errorf("round trip of %d bytes gave %q", len(v), got)
		}
	}
	a, _ := Seal(k.public(), []byte(testValue))
	b, _ := Seal(k.public(), []byte(testValue))
	if a == b {
		t.Error("two seals of one value are equal: the ephemeral key is not fresh")
	}
	if _, err := Seal(PublicKey{}, []byte("v")); err == nil {
		t.Error("Seal with an empty key succeeded")
	}
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	k := newKeyPair(t, "568250167242549743")
	b64 := base64.StdEncoding.EncodeToString(k.pub[:])
	urlB64 := base64.URLEncoding.EncodeToString(k.pub[:])
	cases := []struct {
		id, key string
		ok      bool
	}{
		{"568250167242549743", b64, true},
		{"", b64, false},
		{"id", "not base64!", false},
		{"id", "AAAA", false},
		{"id", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", false}, // all zeros
	}
	if strings.ContainsAny(urlB64, "-_") {
		cases = append(cases, struct {
			id, key string
			ok      bool
		}{"id", urlB64, false}) // URL alphabet
	}
	for _, tc := range cases {
		pk, err := ParsePublicKey(tc.id, tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePublicKey(%q, %q) err = %v, want ok=%v", tc.id, tc.key, err, tc.ok)
		}
		if tc.ok && pk != k.public() {
			t.Errorf("ParsePublicKey = %+v, want %+v", pk, k.public())
		}
	}
}

func TestWithBackoff(t *testing.T) {
	t.Parallel()
	k := newKeyPair(t, "k1")
	f := newFakeGitHub(t)
	f.handle("PUT "+repoSecretPath, sequence(status(500, errBody("boom")), status(500, errBody("boom")), status(500, errBody("boom")), status(204, "")))
	ft := newFakeTime(true)
	c := f.client(ft, WithMutationInterval(0), WithBackoff(10*time.Millisecond, 15*time.Millisecond))
	if _, err := c.Put(context.Background(), repoTarget, k.public(), []byte("v")); err != nil {
		t.Fatal(err)
	}
	s := ft.Sleeps()
	if len(s) != 3 || s[0] < 5*time.Millisecond || s[0] > 15*time.Millisecond || s[2] > 23*time.Millisecond {
		t.Fatalf("sleeps = %v, want ~10ms then capped near 15ms", s)
	}
}
