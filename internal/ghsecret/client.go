package ghsecret

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/safetext"
)

// Defaults of a Client (see the With* options).
const (
	DefaultMutationInterval = time.Second     // GitHub: at least 1 s between mutating requests
	DefaultMaxRetries       = 4               // retries after the first attempt
	DefaultMaxWait          = 2 * time.Minute // total time one call may wait for rate limits
)

// Option configures a Client.
type Option func(*Client)

// WithMutationInterval sets the least time between the starts of two
// mutating requests (PUT, DELETE) of this Client; 0 turns pacing off.
func WithMutationInterval(d time.Duration) Option {
	return func(c *Client) { c.mutationInterval = max(d, 0) }
}

// WithMaxRetries sets how many times a request that failed transiently (5xx,
// timeout, transport error) is tried again. Rate-limit waits are bounded by
// WithMaxWait instead.
func WithMaxRetries(n int) Option {
	return func(c *Client) { c.maxRetries = max(n, 0) }
}

// WithBackoff sets the first wait before retrying a transient failure and
// the cap of the doubling waits (defaults 1 s and 30 s; ±50 % jitter).
// Tests with short deadlines use milliseconds.
func WithBackoff(initial, maxInterval time.Duration) Option {
	return func(c *Client) {
		if initial > 0 {
			c.backoffInitial = initial
		}
		if maxInterval > 0 {
			c.backoffMax = max(maxInterval, c.backoffInitial)
		}
	}
}

// WithLogger sets where retries and waits are logged (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithSleep replaces the wait between attempts (tests make it instant and
// record the durations). It must return early with ctx's error when ctx ends.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) {
		if sleep != nil {
			c.sleep = sleep
		}
	}
}

// WithMaxWait caps the total time one call waits for rate limits; a limit
// that would hold it longer fails the call at once, saying when to retry.
func WithMaxWait(d time.Duration) Option {
	return func(c *Client) { c.maxWait = max(d, 0) }
}

// Client reads and writes secrets of every scope through one go-github
// client, that is one credential. It is safe for concurrent use; its mutating
// requests are paced together (GitHub's secondary limits count per token).
type Client struct {
	gh               *github.Client
	mutationInterval time.Duration
	maxRetries       int
	maxWait          time.Duration
	backoffInitial   time.Duration
	backoffMax       time.Duration
	log              *slog.Logger
	sleep            func(context.Context, time.Duration) error
	now              func() time.Time // tests replace it together with sleep

	pacer  pacer
	shared SharedPacer

	repoMu  sync.Mutex
	repoIDs map[string]int64 // "owner/repo" lower-cased -> id
}

// SharedPacer reserves the next mutating request's start for the
// credential across every process that shares it, and says how long to wait
// for it (pat-rotator's replicas back it with their store).
type SharedPacer func(ctx context.Context, interval time.Duration) (wait time.Duration, err error)

// WithSharedPacer paces mutating requests through p instead of this
// process's own pacer: GitHub's secondary limits count per credential, not
// per process.
func WithSharedPacer(p SharedPacer) Option { return func(c *Client) { c.shared = p } }

// NewClient wraps gh, which carries the credential and the base URL.
func NewClient(gh *github.Client, opts ...Option) *Client {
	c := &Client{
		gh:               gh,
		mutationInterval: DefaultMutationInterval,
		maxRetries:       DefaultMaxRetries,
		maxWait:          DefaultMaxWait,
		backoffInitial:   time.Second,
		backoffMax:       30 * time.Second,
		log:              slog.New(slog.DiscardHandler),
		sleep:            sleepContext,
		now:              time.Now,
		repoIDs:          make(map[string]int64),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Operation names used in errors and logs.
const (
	opPublicKey    = "get public key"
	opGetSecret    = "get secret"
	opPut          = "put secret"
	opDelete       = "delete secret"
	opListSelected = "list selected repositories"
	opGetRepo      = "get repository"
)

// notSent is the refusal for a request that was never made.
func notSent(op string, t Target, err error) *RefusedError {
	return &RefusedError{Op: op, Target: t.String(), Message: err.Error(), Err: err}
}

// PublicKey fetches the key values of t's scope must be sealed with.
func (c *Client) PublicKey(ctx context.Context, t Target) (PublicKey, error) {
	if err := t.Validate(); err != nil {
		return PublicKey{}, notSent(opPublicKey, t, err)
	}
	api, err := c.scope(ctx, t)
	if err != nil {
		return PublicKey{}, err
	}
	var ghKey *github.PublicKey
	_, err = c.do(ctx, request{op: opPublicKey, t: t}, func(ctx context.Context) (*github.Response, error) {
		k, resp, err := api.publicKey(ctx)
		ghKey = k
		return resp, err
	})
	if err != nil {
		return PublicKey{}, err
	}
	key, err := ParsePublicKey(ghKey.GetKeyID(), ghKey.GetKey())
	if err != nil {
		return PublicKey{}, fmt.Errorf("%s %s: %w", opPublicKey, t, err)
	}
	return key, nil
}

// Metadata tells whether t exists and, for organization scopes, its
// visibility and selected repositories. A missing secret is Exists=false.
func (c *Client) Metadata(ctx context.Context, t Target) (Metadata, error) {
	if err := t.Validate(); err != nil {
		return Metadata{}, notSent(opGetSecret, t, err)
	}
	api, err := c.scope(ctx, t)
	if err != nil {
		return Metadata{}, err
	}
	var s *github.Secret
	_, err = c.do(ctx, request{op: opGetSecret, t: t, notFoundOK: true}, func(ctx context.Context) (*github.Response, error) {
		sec, resp, err := api.get(ctx, t.Name)
		s = sec
		return resp, err
	})
	if errors.Is(err, errNotFound) {
		return Metadata{Exists: false}, nil
	}
	if err != nil {
		return Metadata{}, err
	}
	md := Metadata{Exists: true, CreatedAt: s.CreatedAt.Time, UpdatedAt: s.UpdatedAt.Time, Visibility: s.Visibility}
	if md.Visibility == "selected" && api.listSelected != nil {
		ids, err := c.selectedIDs(ctx, t, api)
		if err != nil {
			return Metadata{}, err
		}
		md.SelectedRepositoryIDs = ids
	}
	return md, nil
}

// selectedIDs lists every repository an organization secret is shared with.
func (c *Client) selectedIDs(ctx context.Context, t Target, api scopeAPI) ([]int64, error) {
	ids := []int64{} // non-nil: "none selected" differs from "not known"
	opts := &github.ListOptions{PerPage: 100}
	for {
		var list *github.SelectedReposList
		resp, err := c.do(ctx, request{op: opListSelected, t: t}, func(ctx context.Context) (*github.Response, error) {
			l, resp, err := api.listSelected(ctx, t.Name, opts)
			list = l
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range list.Repositories {
			ids = append(ids, r.GetID())
		}
		if resp == nil || resp.NextPage == 0 {
			return ids, nil
		}
		opts.Page = resp.NextPage
	}
}

// Put seals plaintext with key and writes it to t. A zero key is fetched
// first. On 422 (the key rotated since it was fetched) it fetches the key
// again and retries once.
//
// A *RefusedError means nothing was written: GitHub refused the write, or
// Put failed before sending it (invalid target, a read it needs failed).
// Any other error means the outcome is unknown: the value may have landed.
//
// PutResult.Created reports GitHub's last answer: when an attempt landed but
// its answer was lost, the retry updates the secret and answers 204.
func (c *Client) Put(ctx context.Context, t Target, key PublicKey, plaintext []byte) (PutResult, error) {
	// The value is a secret this process holds: an answer that echoes it,
	// in any letter case, is redacted in every error and log line.
	safetext.AddSecret(string(plaintext))
	if err := t.Validate(); err != nil {
		return PutResult{}, notSent(opPut, t, err)
	}
	if len(plaintext) > MaxValueSize {
		return PutResult{}, notSent(opPut, t, fmt.Errorf("value is %d bytes; GitHub stores at most %d", len(plaintext), MaxValueSize))
	}
	api, err := c.scope(ctx, t)
	if err != nil {
		return PutResult{}, beforeWrite(t, err)
	}
	vis, ids, err := c.orgAccess(ctx, t)
	if err != nil {
		return PutResult{}, beforeWrite(t, err)
	}
	if key.KeyID == "" {
		if key, err = c.PublicKey(ctx, t); err != nil {
			return PutResult{}, beforeWrite(t, err)
		}
	}
	res, err := c.put(ctx, t, api, key, plaintext, vis, ids)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.StatusCode != http.StatusUnprocessableEntity {
		return res, err
	}
	// 422: most often the scope's key rotated after we fetched it.
	c.log.LogAttrs(ctx, slog.LevelInfo, "GitHub refused the sealed value; fetching the public key again",
		slog.String("target", t.String()), slog.String("key_id", key.KeyID))
	fresh, err := c.PublicKey(ctx, t)
	if err != nil {
		return PutResult{}, beforeWrite(t, err) // the 422 wrote nothing
	}
	res, err = c.put(ctx, t, api, fresh, plaintext, vis, ids)
	if errors.As(err, &refused) && refused.StatusCode == http.StatusUnprocessableEntity {
		refused.Hint = fmt.Sprintf("GitHub refused the value sealed with a freshly fetched public key too (key %s, then %s): "+
			"check the value size (at most 48 KB) and, for organization secrets, the visibility and repository ids", key.KeyID, fresh.KeyID)
	}
	return res, err
}

// beforeWrite marks an error that happened before the PUT was sent, so
// nothing was written whatever the error: callers may treat it as a refusal.
func beforeWrite(t Target, err error) error {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return err
	}
	return &RefusedError{Op: opPut, Target: t.String(), Message: err.Error(), Err: err}
}

// put seals once and PUTs; retries of transient failures resend the same
// ciphertext, which makes them idempotent.
func (c *Client) put(ctx context.Context, t Target, api scopeAPI, key PublicKey, plaintext []byte, vis string, ids []int64) (PutResult, error) {
	sealed, err := Seal(key, plaintext)
	if err != nil {
		return PutResult{}, notSent(opPut, t, err)
	}
	resp, err := c.do(ctx, request{op: opPut, t: t, mutating: true}, func(ctx context.Context) (*github.Response, error) {
		return api.put(ctx, encrypted{name: t.Name, keyID: key.KeyID, value: sealed, visibility: vis, ids: ids})
	})
	if err != nil {
		return PutResult{}, err
	}
	return PutResult{Created: resp.StatusCode == http.StatusCreated, KeyID: key.KeyID}, nil
}

// orgAccess decides the visibility and repository ids an organization PUT
// sends. GitHub replaces both on every write, so an update that leaves them
// out would turn a "selected" secret into one no repository can read.
func (c *Client) orgAccess(ctx context.Context, t Target) (string, []int64, error) {
	if t.Scope != ScopeOrganization && t.Scope != ScopeDependabotOrganization {
		return "", nil, nil
	}
	switch t.Visibility {
	case "selected":
		if t.SelectedRepositories == nil {
			return "selected", t.SelectedRepositoryIDs, nil
		}
		ids, err := c.ResolveRepositoryIDs(ctx, t.Org, t.SelectedRepositories)
		return "selected", ids, err
	case "all", "private":
		return t.Visibility, nil, nil
	}
	md, err := c.Metadata(ctx, t)
	if err != nil {
		return "", nil, err
	}
	switch {
	case !md.Exists:
		if t.SelectedRepositories != nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "new organization secret becomes private; selected-repositories ignored without visibility selected",
				slog.String("target", t.String()))
		}
		return "private", nil, nil
	case md.Visibility == "selected":
		if t.SelectedRepositories != nil {
			ids, err := c.ResolveRepositoryIDs(ctx, t.Org, t.SelectedRepositories)
			return "selected", ids, err
		}
		if md.SelectedRepositoryIDs == nil {
			return "", nil, notSent(opPut, t, errors.New("the secret's selected repositories could not be read; refusing to write without them"))
		}
		return "selected", md.SelectedRepositoryIDs, nil
	case md.Visibility == "all" || md.Visibility == "private":
		return md.Visibility, nil, nil
	default:
		// Guessing could widen or cut the secret's audience.
		return "", nil, notSent(opPut, t, fmt.Errorf("GitHub reported visibility %q for the existing secret; set visibility explicitly", md.Visibility))
	}
}

// Delete removes t; a secret that is already gone is not an error.
func (c *Client) Delete(ctx context.Context, t Target) error {
	if err := t.Validate(); err != nil {
		return notSent(opDelete, t, err)
	}
	api, err := c.scope(ctx, t)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{op: opDelete, t: t, mutating: true, notFoundOK: true}, func(ctx context.Context) (*github.Response, error) {
		return api.del(ctx, t.Name)
	})
	if errors.Is(err, errNotFound) {
		return nil
	}
	return err
}

// RepositoryID returns the numeric id of owner/repo (GET /repos/{o}/{r}),
// cached for the Client's life: ids never change, even across renames.
func (c *Client) RepositoryID(ctx context.Context, owner, repo string) (int64, error) {
	key := strings.ToLower(owner + "/" + repo)
	c.repoMu.Lock()
	id, ok := c.repoIDs[key]
	c.repoMu.Unlock()
	if ok {
		return id, nil
	}
	t := Target{Scope: ScopeRepository, Owner: owner, Repo: repo}
	if strings.TrimSpace(owner) == "" || strings.TrimSpace(repo) == "" {
		return 0, notSent(opGetRepo, t, errors.New("owner and repository are required"))
	}
	var r *github.Repository
	_, err := c.do(ctx, request{op: opGetRepo, t: t}, func(ctx context.Context) (*github.Response, error) {
		rr, resp, err := c.gh.Repositories.Get(ctx, url.PathEscape(owner), url.PathEscape(repo))
		r = rr
		return resp, err
	})
	if err != nil {
		return 0, err
	}
	if r.GetID() == 0 {
		return 0, fmt.Errorf("%s %s/%s: GitHub's answer has no id", opGetRepo, owner, repo)
	}
	c.repoMu.Lock()
	c.repoIDs[key] = r.GetID()
	c.repoMu.Unlock()
	return r.GetID(), nil
}

// ResolveRepositoryIDs turns repository names of org ("app" or "org/app")
// into ids, in order and without duplicates, for selected_repository_ids.
func (c *Client) ResolveRepositoryIDs(ctx context.Context, org string, names []string) ([]int64, error) {
	ids := make([]int64, 0, len(names))
	seen := make(map[int64]bool, len(names))
	for _, n := range names {
		name := strings.TrimSpace(n)
		if owner, repo, ok := strings.Cut(name, "/"); ok {
			if !strings.EqualFold(owner, org) {
				return nil, fmt.Errorf("selected repository %q is not in organization %s", n, org)
			}
			name = repo
		}
		if name == "" {
			return nil, fmt.Errorf("selected repository %q: empty name", n)
		}
		id, err := c.RepositoryID(ctx, org, name)
		if err != nil {
			return nil, fmt.Errorf("resolve selected repository %s/%s: %w", org, name, err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}
