package groo

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/groo/pat-action/internal/safetext"
)

// maxBody bounds what the client reads of an answer; maxListBody of a list
// of the account's tokens, which grows with its history (revoked tokens
// stay listed): about 300 bytes a token, so some 200,000 tokens.
const (
	maxBody     = 1 << 20
	maxListBody = 64 << 20
)

// call is one API call: the retry loop runs its attempts.
type call struct {
	op     string // "list tokens", "revoke token tok_1": prefixes every error
	method string
	route  string // template logged instead of the path
	path   string
	body   []byte
	mint   bool // not idempotent: retried only when the server provably did not act
	limit  int  // the most bytes of an answer read (0: maxBody)
}

// attemptResult is what one HTTP exchange gave.
type attemptResult struct {
	status   int // 0: no response
	header   http.Header
	body     []byte
	err      error // no usable response: transport error, timeout, unreadable 2xx body
	timedOut bool  // err is this attempt's own timeout, not the caller's context
}

// do runs k with retries and returns the body of a 2xx answer, or an error
// that is typed by status (see typedError), an *OutcomeUnknownError for a
// mint that may have happened, or a wrapped transport/context error.
func (c *Client) do(ctx context.Context, cred Token, k call) ([]byte, error) {
	if err := checkCredential(cred); err != nil {
		return nil, fmt.Errorf("groo %s: %w", k.op, err)
	}
	// backoff/v5 computes the capped, jittered exponential delays; the loop
	// is ours because a mint's retry rules depend on why an attempt failed,
	// and so that the wait can be observed in tests (WithSleep).
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     c.initial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         c.max,
	}
	bo.Reset()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("groo %s: %w", k.op, context.Cause(ctx))
		}
		r := c.attempt(ctx, cred, k, attempt)
		if r.err == nil && r.status >= 200 && r.status <= 299 {
			return r.body, nil
		}
		retry, wait, err := c.judge(ctx, cred, k, r)
		if !retry || attempt >= c.attempts {
			if retry && attempt > 1 {
				err = fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
			}
			return nil, err
		}
		if wait < 0 {
			wait = min(bo.NextBackOff(), c.max)
		} else if wait > c.maxRetryAfter {
			return nil, fmt.Errorf("%w (Retry-After %s is longer than the %s this client waits)", err, wait, c.maxRetryAfter)
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "groo retry",
			slog.String("op", k.op), slog.String("method", k.method), slog.String("route", k.route),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%w (stopped waiting to retry: %w)", err, serr)
		}
	}
}

// attempt makes one HTTP exchange bounded by the request timeout.
func (c *Client) attempt(ctx context.Context, cred Token, k call, n int) attemptResult {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	r := c.exchange(actx, cred, k)
	if r.err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		r.timedOut = true
	}
	attrs := []slog.Attr{
		slog.String("op", k.op), slog.String("method", k.method), slog.String("route", k.route),
		slog.Int("status", r.status), slog.Int("attempt", n), slog.Duration("duration", time.Since(start)),
	}
	if r.err != nil {
		attrs = append(attrs, slog.String("error", r.err.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "groo request", attrs...)
	return r
}

func (c *Client) exchange(ctx context.Context, cred Token, k call) attemptResult {
	var body io.Reader
	if k.body != nil {
		body = bytes.NewReader(k.body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, c.base+k.path, body)
	if err != nil {
		return attemptResult{err: fmt.Errorf("build request: %w", err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if k.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	setCredential(req.Header, cred)
	resp, err := c.hc.Do(req)
	if err != nil {
		return attemptResult{err: err}
	}
	defer resp.Body.Close()
	limit := k.limit
	if limit <= 0 {
		limit = maxBody
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	r := attemptResult{status: resp.StatusCode, header: resp.Header, body: b}
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	switch {
	case err != nil && ok:
		r.err = fmt.Errorf("%s %s: HTTP %d: read answer: %w", k.method, k.route, resp.StatusCode, err)
	case len(b) > limit && ok:
		r.err = fmt.Errorf("%s %s: HTTP %d: answer larger than %d bytes", k.method, k.route, resp.StatusCode, limit)
	}
	return r
}

// judge turns a failed attempt into the error to return if it is the last,
// whether it may be retried, and the wait the server asked for (-1: none).
func (c *Client) judge(ctx context.Context, cred Token, k call, r attemptResult) (retry bool, wait time.Duration, err error) {
	if r.err != nil {
		terr := fmt.Errorf("groo %s: %w", k.op, r.err)
		if r.timedOut {
			terr = fmt.Errorf("groo %s: no answer within %s: %w", k.op, c.timeout, r.err)
		}
		switch {
		case unresolvable(r.err):
			// A name that does not resolve will not resolve in a second.
			return false, -1, fmt.Errorf("groo %s: the host name of %s does not resolve (check groo-api-url or %s): %w", k.op, c.base, EnvBaseURL, r.err)
		case notSent(r.err):
			// No connection was made: the server cannot have acted, so even a
			// mint may be retried. A refused certificate will not change.
			return !certRefused(r.err), -1, terr
		case k.mint:
			return false, -1, &OutcomeUnknownError{Op: k.op, Err: terr}
		case ctx.Err() != nil:
			return false, -1, terr
		}
		return true, -1, terr
	}

	msg, code := decodeWireError(r.body)
	if msg == "" {
		msg = http.StatusText(r.status)
	}
	// A server may echo what it was sent, or any token it knows (the one
	// being revoked): the credential is registered with the redactor (as
	// every parsed token is), and scrub redacts before it cuts.
	safetext.AddSecret(cred.Reveal())
	e := &APIError{
		Op:         k.op,
		StatusCode: r.status,
		Code:       scrub(code, 64),
		Message:    scrub(msg, 300),
	}
	switch {
	case r.status == http.StatusTooManyRequests:
		// The server refused without acting: safe to retry, a mint included.
		wait := retryAfter(r.header.Get("Retry-After"), c.now())
		e.RetryAfter = max(wait, 0)
		return true, wait, typedError(e)
	case r.status >= 500 && k.mint:
		return false, -1, &OutcomeUnknownError{Op: k.op, Err: e, Answered: true}
	case r.status >= 500:
		return true, -1, e
	}
	return false, -1, typedError(e)
}

// retryAfter parses Retry-After as seconds or an HTTP date; -1 when absent
// or unparseable. A date in the past means now.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return -1
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second) // no overflow, still "too long"
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// notSent reports whether err happened before a connection existed, so the
// request cannot have reached the server.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
		return true
	}
	return certRefused(err)
}

// unresolvable reports a host name that does not exist (NXDOMAIN): not a
// transient failure, and nothing was sent.
func unresolvable(err error) bool {
	var dns *net.DNSError
	return errors.As(err, &dns) && dns.IsNotFound
}

func certRefused(err error) bool {
	var cv *tls.CertificateVerificationError
	return errors.As(err, &cv)
}

// scrub makes text from the server safe to put in an error: every token
// value the process holds and anything shaped like a token, in any letter
// case, is redacted (safetext.Redact) before the text is cut, so no piece of
// one survives a cut; then control characters, bidi controls and workflow
// command starts are escaped (safetext.Line), and the text is cut to limit
// characters.
func scrub(s string, limit int) string {
	return safetext.Cut(safetext.Redact(s), limit)
}
