package ghsecret

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/safetext"
)

// ErrRateLimited is wrapped by the error of a call that gave up on a GitHub
// rate limit: waiting would have taken longer than WithMaxWait (or the
// context's deadline) allows. Retry after the time the error names.
var ErrRateLimited = errors.New("GitHub rate limit")

// errNotFound is do's answer to a 404 on a request that expects one
// (reading a secret that may not exist, deleting one already gone).
var errNotFound = errors.New("not found")

// WriteHint is the hint of a 401/403 on a secrets endpoint. Reading a
// secret's key or metadata needs the same permission as writing it, so the
// first 403 a GITHUB_TOKEN meets is often on the public key.
const WriteHint = `GITHUB_TOKEN cannot write secrets: use a fine-grained PAT with repository permission "Secrets: write" ` +
	`(plus "Environments" for environment secrets, organization "Secrets" for org secrets), or a GitHub App with the ` +
	`secrets / organization_secrets / dependabot_secrets permission (inputs app-id and app-private-key)`

const (
	// resetMargin is added to a primary limit's reset: the header has
	// second resolution and clocks differ.
	resetMargin = time.Second
	// secondaryDefault is the first wait for a secondary limit that names
	// no time (GitHub: at least a minute), doubled on each repeat.
	secondaryDefault = time.Minute
	// minLimitWait keeps a retry-after of 0 from becoming a busy loop.
	minLimitWait = time.Second
	// maxLimitRetries bounds the rate-limit waits of one call, besides WithMaxWait.
	maxLimitRetries = 8
)

// request describes one logical call for do.
type request struct {
	op         string
	t          Target
	mutating   bool // PUT/DELETE: paced, and its outcome is unknown if it fails transiently
	notFoundOK bool // 404 becomes errNotFound instead of a refusal
}

// verdict is what an error from go-github calls for.
type verdict int

const (
	refuse    verdict = iota // definitive: a RefusedError
	transient                // 5xx, timeout, transport: back off and retry
	primary                  // primary rate limit: wait for the reset
	secondary                // secondary rate limit: wait as told, else 60 s doubling
)

func (v verdict) String() string {
	return [...]string{"refused", "transient", "primary rate limit", "secondary rate limit"}[v]
}

// do runs fn until it succeeds, is refused, or retries and waits run out.
// Its errors hold GitHub's answers (go-github puts the body's message in
// its errors): their text is redacted and made one inert line
// (safetext.Clean), while errors.As and errors.Is still see every type.
func (c *Client) do(ctx context.Context, r request, fn func(ctx context.Context) (*github.Response, error)) (*github.Response, error) {
	resp, err := c.try(ctx, r, fn)
	if err != nil && err != errNotFound {
		err = &cleanError{err: err}
	}
	return resp, err
}

// cleanError is an error whose text went through safetext.Clean.
type cleanError struct{ err error }

func (e *cleanError) Error() string { return safetext.Clean(e.err.Error()) }
func (e *cleanError) Unwrap() error { return e.err }

func (c *Client) try(ctx context.Context, r request, fn func(ctx context.Context) (*github.Response, error)) (*github.Response, error) {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = c.backoffInitial
	bo.Multiplier = 2
	bo.RandomizationFactor = 0.5 // jitter: concurrent clients do not retry in step
	bo.MaxInterval = c.backoffMax
	bo.Reset()

	var (
		retries, limitRetries, noInfoSecondaries int
		limitWaited                              time.Duration
		// landed is the first failure of a mutating attempt that may have
		// acted (sent, no definitive answer). Once set, the call's outcome
		// stays unknown whatever later attempts answer: a 403 on the retry
		// of a PUT that landed does not unwrite it.
		landed error
	)
	unknown := func(attempt int, last error) error {
		return &OutcomeUnknownError{Op: r.op, Target: r.t.String(), Attempts: attempt, Landed: landed, Last: last}
	}
	for attempt := 1; ; attempt++ {
		if r.mutating {
			if err := c.pace(ctx); err != nil {
				err = fmt.Errorf("%s %s: %w", r.op, r.t, err)
				if landed != nil {
					return nil, unknown(attempt, err)
				}
				// This attempt was never sent.
				return nil, &RefusedError{Op: r.op, Target: r.t.String(), Message: err.Error(), Err: err}
			}
		}
		resp, err := fn(ctx)
		if err == nil {
			return resp, nil
		}
		v, status, wait, known := classify(err, c.now())
		if r.mutating && landed == nil && v == transient {
			landed = err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (last error: %w)", ctxErr, err)
			if r.mutating && landed == nil && v != refuse {
				landed = err
			}
			if landed != nil {
				return nil, unknown(attempt, err)
			}
			return nil, c.giveUp(r, attempt, err)
		}
		switch v {
		case refuse:
			if landed != nil {
				return nil, unknown(attempt, refusal(r, status, err))
			}
			if status == http.StatusNotFound && r.notFoundOK {
				return nil, errNotFound
			}
			return nil, refusal(r, status, err)
		case transient:
			if retries >= c.maxRetries {
				if landed != nil {
					return nil, unknown(attempt, err)
				}
				return nil, c.giveUp(r, attempt, err)
			}
			retries++
			wait = bo.NextBackOff()
		case primary, secondary:
			if !known {
				noInfoSecondaries++
				wait = secondaryDefault << (noInfoSecondaries - 1)
			}
			wait = max(wait, minLimitWait)
			if limitRetries >= maxLimitRetries || limitWaited+wait > c.maxWait {
				if landed != nil {
					return nil, unknown(attempt, err)
				}
				return nil, fmt.Errorf("%s %s: %w (%s): GitHub asks to wait %s, until %s, more than the %s this client waits (WithMaxWait); retry after then: %w",
					r.op, r.t, ErrRateLimited, v, wait.Round(time.Second), c.now().Add(wait).Format(time.RFC3339), c.maxWait, err)
			}
			limitRetries++
			limitWaited += wait
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			err = fmt.Errorf("waiting %s before the next attempt would pass the deadline: %w", wait.Round(time.Millisecond), err)
			if landed != nil {
				return nil, unknown(attempt, err)
			}
			if v == primary || v == secondary {
				return nil, fmt.Errorf("%s %s: %w: %w", r.op, r.t, ErrRateLimited, err)
			}
			return nil, c.giveUp(r, attempt, err)
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "GitHub request failed; retrying",
			slog.String("op", r.op), slog.String("target", r.t.String()), slog.String("reason", v.String()),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Int("status", status), slog.String("error", safetext.Clean(err.Error())))
		if serr := c.sleep(ctx, wait); serr != nil {
			err = fmt.Errorf("%w (while waiting after: %w)", serr, err)
			if landed != nil {
				return nil, unknown(attempt, err)
			}
			return nil, c.giveUp(r, attempt, err)
		}
	}
}

// giveUp is the error of a call whose retries ran out. It is deliberately
// not a RefusedError: for a write it means the outcome is unknown.
func (c *Client) giveUp(r request, attempts int, err error) error {
	if r.mutating {
		return fmt.Errorf("%s %s: gave up after %d attempt(s), the write may or may not have landed: %w", r.op, r.t, attempts, err)
	}
	return fmt.Errorf("%s %s: gave up after %d attempt(s): %w", r.op, r.t, attempts, err)
}

// classify tells what err calls for, with errors.As on go-github's types
// and, for a 403/429 go-github leaves plain, GitHub's rate-limit headers.
// For a rate limit, known says whether GitHub named a time to wait.
func classify(err error, now time.Time) (v verdict, status int, wait time.Duration, known bool) {
	var (
		rle *github.RateLimitError
		are *github.AbuseRateLimitError
		tfa *github.TwoFactorAuthError
		acc *github.AcceptedError
		er  *github.ErrorResponse
	)
	var rde *RedirectError
	switch {
	case errors.As(err, &rde):
		return refuse, rde.StatusCode, 0, false // following it would hand the credential to another origin
	case errors.Is(err, ErrInsecureURL):
		return refuse, 0, 0, false // nothing was sent, and nothing would be
	case errors.As(err, &rle):
		if rle.Rate.Reset.Time.IsZero() {
			return primary, statusOf(rle.Response), 0, false
		}
		return primary, statusOf(rle.Response), max(rle.Rate.Reset.Time.Sub(now)+resetMargin, 0), true
	case errors.As(err, &are):
		// go-github fills RetryAfter from retry-after, else from x-ratelimit-reset.
		if are.RetryAfter != nil {
			return secondary, statusOf(are.Response), max(*are.RetryAfter, 0), true
		}
		return secondary, statusOf(are.Response), 0, false
	case errors.As(err, &tfa):
		return refuse, http.StatusUnauthorized, 0, false
	case errors.As(err, &acc):
		return transient, http.StatusAccepted, 0, false
	case errors.As(err, &er):
		status = statusOf(er.Response)
		switch {
		case status == http.StatusTooManyRequests || status == http.StatusForbidden:
			v, wait, known = limitHeaders(er.Response.Header, now)
			if v == refuse && status == http.StatusTooManyRequests {
				v = secondary // a 429 is a limit even when it names no time
			}
			if v == secondary && status == http.StatusForbidden && wait == 0 {
				// "retry-after: 0" on a 403 GitHub does not call a secondary
				// limit asks for nothing: a permission refusal.
				v = refuse
			}
			return v, status, wait, known
		case status >= 500 || status == 0:
			return transient, status, 0, false
		default:
			return refuse, status, 0, false
		}
	}
	// A host name that does not exist will not resolve on a retry, and
	// nothing was sent.
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return refuse, 0, 0, false
	}
	// Transport errors, timeouts, a body cut short: the request may or may
	// not have reached GitHub.
	return transient, 0, 0, false
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

// limitHeaders reads GitHub's rate-limit headers on a 403/429 go-github did
// not classify: retry-after means a secondary limit; x-ratelimit-remaining 0
// a primary one, over at x-ratelimit-reset. Neither: not a rate limit.
func limitHeaders(h http.Header, now time.Time) (v verdict, wait time.Duration, known bool) {
	if ra := h.Get("Retry-After"); ra != "" {
		if secs, err := strconv.ParseInt(ra, 10, 64); err == nil && secs >= 0 {
			return secondary, time.Duration(secs) * time.Second, true
		}
		if at, err := http.ParseTime(ra); err == nil {
			return secondary, max(at.Sub(now), 0), true
		}
	}
	if h.Get("X-Ratelimit-Remaining") == "0" {
		if secs, err := strconv.ParseInt(h.Get("X-Ratelimit-Reset"), 10, 64); err == nil && secs > 0 {
			return primary, max(time.Unix(secs, 0).Sub(now)+resetMargin, 0), true
		}
		return primary, 0, false
	}
	return refuse, 0, false
}

// refusal builds the RefusedError of a definitive answer, with a hint that
// says what to do.
func refusal(r request, status int, err error) *RefusedError {
	re := &RefusedError{Op: r.op, Target: r.t.String(), StatusCode: status, Err: err}
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		re.Message = er.Message
	} else if status == 0 {
		re.Message = err.Error()
	}
	re.Hint = hint(r, status)
	var rde *RedirectError
	switch {
	case errors.As(err, &rde):
		re.Message, re.Hint = rde.Error(), "" // it names the fix
	case errors.Is(err, ErrInsecureURL):
		re.Message, re.Hint = insecureMessage(err), ""
	}
	return re
}

func hint(r request, status int) string {
	t := r.t
	if status == 0 {
		return "the GitHub API's host name does not resolve: check github-api-url (or the GitHub Enterprise URL)"
	}
	if r.op == opGetRepo {
		switch status {
		case http.StatusUnauthorized:
			return "GitHub rejected the credential (invalid, expired or revoked token)"
		case http.StatusForbidden, http.StatusNotFound:
			return fmt.Sprintf("repository %s/%s does not exist or the token cannot see it (a fine-grained PAT or an App installation must include it)", t.Owner, t.Repo)
		}
		return "GitHub refused the request; sending it again cannot succeed"
	}
	switch status {
	case http.StatusUnauthorized:
		return "GitHub rejected the credential (invalid, expired or revoked token); " + WriteHint
	case http.StatusForbidden:
		return WriteHint
	case http.StatusNotFound:
		switch t.Scope {
		case ScopeEnvironment:
			return fmt.Sprintf("repository %s/%s or its environment %q does not exist (writing a secret does not create the environment), or the token cannot see it", t.Owner, t.Repo, t.Environment)
		case ScopeOrganization, ScopeDependabotOrganization:
			return fmt.Sprintf("organization %s does not exist or the token cannot see it (organization secrets need the organization permission \"Secrets\"; a classic token needs admin:org)", t.Org)
		default:
			return fmt.Sprintf("repository %s/%s does not exist or the token cannot see it", t.Owner, t.Repo)
		}
	case http.StatusUnprocessableEntity:
		return "GitHub refused the value (stale public key, value over 48 KB, or invalid organization visibility/repository ids)"
	}
	return "GitHub refused the request; sending it again cannot succeed"
}

// pacer spaces the starts of mutating requests by the mutation interval.
// Hand-written rather than golang.org/x/time/rate: that module is not in
// go.mod, and its Wait sleeps on real timers, while this one uses the
// Client's clock and sleep, so tests check the spacing without waiting.
type pacer struct {
	mu   sync.Mutex
	next time.Time // earliest start of the next mutating request
}

// pace reserves the next slot and sleeps until it. Reserving under the lock
// and sleeping outside it keeps concurrent callers in order without holding
// the lock while asleep.
func (c *Client) pace(ctx context.Context) error {
	if c.mutationInterval <= 0 {
		return nil
	}
	if c.shared != nil {
		wait, err := c.shared(ctx, c.mutationInterval)
		if err != nil {
			return fmt.Errorf("reserve a slot in the shared mutation pacing: %w", err)
		}
		if wait > 0 {
			return c.sleep(ctx, wait)
		}
		return nil
	}
	c.pacer.mu.Lock()
	now := c.now()
	start := now
	if c.pacer.next.After(now) {
		start = c.pacer.next
	}
	c.pacer.next = start.Add(c.mutationInterval)
	c.pacer.mu.Unlock()
	if d := start.Sub(now); d > 0 {
		return c.sleep(ctx, d)
	}
	return nil
}
