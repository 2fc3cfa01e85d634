package groo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/groo/pat-action/internal/safetext"
)

// DefaultBaseURL is Groo's Accounts API.
const DefaultBaseURL = "https://accounts.groo.dev"

// EnvBaseURL overrides DefaultBaseURL when WithBaseURL is not given, as it
// does for Groo's own CLI.
const EnvBaseURL = "GROO_ACCOUNTS_URL"

// MaxNameLen is the longest token name Groo accepts, in characters.
const MaxNameLen = 100

// Defaults of New.
const (
	DefaultMaxAttempts    = 4
	DefaultInitialBackoff = 200 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	DefaultRequestTimeout = 15 * time.Second
	DefaultMaxRetryAfter  = 30 * time.Second
	DefaultUserAgent      = "groo-pat-action (+https://github.com/groo/pat-action)"
)

// Client calls the Groo Accounts API. It is safe for concurrent use and holds
// no credential: every call takes the token it authenticates with, because a
// rotation switches credential half-way (docs/design.md, verify).
type Client struct {
	settings        // resolved: baseURL checked, hc a private copy, log set
	base     string // baseURL without its trailing slash
}

type settings struct {
	baseURL       string
	hc            *http.Client
	userAgent     string
	attempts      int
	initial       time.Duration
	max           time.Duration
	maxRetryAfter time.Duration
	timeout       time.Duration
	log           *slog.Logger
	sleep         func(context.Context, time.Duration) error
	now           func() time.Time
}

// Option configures New.
type Option func(*settings)

// WithBaseURL sets the API's base URL (scheme, host, optional path prefix).
// An empty string means "not set", so a configuration value can be passed
// through as is: GROO_ACCOUNTS_URL, then DefaultBaseURL, apply.
func WithBaseURL(u string) Option { return func(s *settings) { s.baseURL = u } }

// WithHTTPClient sets the HTTP client. The Client uses a copy of it that
// follows no redirect (an API does not redirect, and a redirect would carry
// the session cookie elsewhere or turn a mint into a GET) and has no cookie
// jar (a Set-Cookie must not add a second session to later requests). Its
// Timeout, if any, adds to WithRequestTimeout.
func WithHTTPClient(hc *http.Client) Option { return func(s *settings) { s.hc = hc } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(s *settings) { s.userAgent = ua } }

// WithRetry sets the number of attempts per call (1: no retry) and the
// exponential backoff between them: it starts at initial, doubles, is
// jittered by ±50% and never exceeds max.
func WithRetry(maxAttempts int, initial, max time.Duration) Option {
	return func(s *settings) { s.attempts, s.initial, s.max = maxAttempts, initial, max }
}

// WithRequestTimeout bounds each attempt, reading the answer included.
func WithRequestTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithMaxRetryAfter bounds how long the client waits when a 429 carries
// Retry-After. A longer Retry-After ends the call at once with a
// *RateLimitedError carrying it, rather than hammering a server that asked
// for a pause or blocking a rotation for long.
func WithMaxRetryAfter(d time.Duration) Option { return func(s *settings) { s.maxRetryAfter = d } }

// WithLogger sets the logger. The client logs at debug: method, route
// template, status, attempt, duration, never a credential. Default: none.
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.log = l } }

// WithSleep replaces the wait between attempts (default: a timer that
// returns early with the context's cause). Tests use it to observe delays
// without waiting.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(s *settings) { s.sleep = sleep }
}

// WithClock sets the clock used to judge expiresAt and Retry-After dates.
func WithClock(now func() time.Time) Option { return func(s *settings) { s.now = now } }

// New returns a Client. It fails on an invalid option or base URL, naming
// the fix.
func New(opts ...Option) (*Client, error) {
	s := settings{
		attempts:      DefaultMaxAttempts,
		initial:       DefaultInitialBackoff,
		max:           DefaultMaxBackoff,
		maxRetryAfter: DefaultMaxRetryAfter,
		timeout:       DefaultRequestTimeout,
		userAgent:     DefaultUserAgent,
		sleep:         sleepCtx,
		now:           time.Now,
	}
	for _, o := range opts {
		o(&s)
	}
	var errs []error
	base, err := resolveBaseURL(s.baseURL)
	if err != nil {
		errs = append(errs, err)
	}
	if s.attempts < 1 {
		errs = append(errs, fmt.Errorf("groo client: WithRetry: maxAttempts is %d, want 1 or more", s.attempts))
	}
	if s.initial <= 0 || s.max < s.initial {
		errs = append(errs, fmt.Errorf("groo client: WithRetry: want 0 < initial (%s) <= max (%s)", s.initial, s.max))
	}
	if s.timeout <= 0 {
		errs = append(errs, fmt.Errorf("groo client: WithRequestTimeout: %s, want more than 0", s.timeout))
	}
	if s.maxRetryAfter < 0 {
		errs = append(errs, fmt.Errorf("groo client: WithMaxRetryAfter: %s, want 0 or more", s.maxRetryAfter))
	}
	if s.sleep == nil || s.now == nil {
		errs = append(errs, errors.New("groo client: WithSleep and WithClock need a non-nil function"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var hc http.Client
	if s.hc != nil {
		hc = *s.hc
	}
	hc.Jar = nil
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.hc = &hc
	return &Client{settings: s, base: base}, nil
}

// Where ResolveBaseURL found the URL.
const (
	FromExplicit = "explicit" // the caller's value: groo-api-url, groo.api-url, WithBaseURL
	FromEnv      = EnvBaseURL // the environment variable GROO_ACCOUNTS_URL
	FromDefault  = "default"  // DefaultBaseURL
)

// ResolveBaseURL is the one precedence of Groo's base URL, for the Action and
// pat-rotator alike: an explicit value (the Action's groo-api-url input,
// the configuration's groo.api-url) beats GROO_ACCOUNTS_URL (read with
// getenv; os.Getenv when nil), which beats DefaultBaseURL. Surrounding
// space is dropped, and an empty value counts as not given. source is
// FromExplicit, FromEnv or FromDefault. The URL is not checked here; New
// checks it.
func ResolveBaseURL(explicit string, getenv func(string) string) (u, source string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := strings.TrimSpace(explicit); v != "" {
		return v, FromExplicit
	}
	if v := strings.TrimSpace(getenv(EnvBaseURL)); v != "" {
		return v, FromEnv
	}
	return DefaultBaseURL, FromDefault
}

// resolveBaseURL applies ResolveBaseURL's precedence and checks the result
// is http(s) with a host. The trailing slash is dropped.
func resolveBaseURL(opt string) (string, error) {
	raw, from := ResolveBaseURL(opt, os.Getenv)
	source, fix := "WithBaseURL", "pass"
	if from == FromEnv {
		source, fix = EnvBaseURL, "set "+EnvBaseURL+" to"
	}
	u, err := url.Parse(raw)
	shown := safetext.RedactURL(raw) // no user info, no token in the error
	bad := func(why string) error {
		return fmt.Errorf("groo base URL %q (from %s) %s: %s a URL like %s",
			scrub(shown, 200), source, why, fix, DefaultBaseURL)
	}
	switch {
	case err != nil:
		return "", bad("does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("is not http(s)")
	case u.Hostname() == "":
		return "", bad("has no host")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		// The PAT travels in every request: never in clear over a network.
		return "", bad("is plain http to a host that is not this machine (a PAT must travel over https; http is only for a loopback emulator)")
	case u.User != nil:
		return "", bad("holds credentials")
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", bad("has a query or fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// isLoopback reports whether host is this machine: localhost or a loopback
// address (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// BaseURL is the base URL in use, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// Me answers who cred belongs to (GET /v1/auth/me); 401 when it is not live.
func (c *Client) Me(ctx context.Context, cred Token) (User, error) {
	const op = "get current user"
	body, err := c.do(ctx, cred, call{op: op, method: http.MethodGet, route: pathMe, path: pathMe})
	if err != nil {
		return User{}, err
	}
	u, err := decodeMe(body)
	if err != nil {
		return User{}, fmt.Errorf("groo %s: malformed answer: %w", op, err)
	}
	return u, nil
}

// List returns the caller's tokens, revoked ones included.
func (c *Client) List(ctx context.Context, cred Token) ([]TokenInfo, error) {
	const op = "list tokens"
	body, err := c.do(ctx, cred, call{op: op, method: http.MethodGet, route: pathTokens, path: pathTokens, limit: maxListBody})
	if err != nil {
		return nil, err
	}
	ts, err := decodeList(body)
	if err != nil {
		return nil, fmt.Errorf("groo %s: malformed answer: %w", op, err)
	}
	return ts, nil
}

// Create mints a token. The request is checked first (name non-empty and at
// most MaxNameLen characters, expiry in the future) and refused with
// ErrInvalidRequest before any request is made.
//
// A mint is not idempotent: it is retried only on 429 and when no connection
// could be made. Any other failure after the request may have reached Groo
// is an *OutcomeUnknownError; when Groo answered 2xx but the answer cannot be
// used (e.g. a malformed secret) the returned TokenInfo carries what could be
// read, so the caller can revoke it by id.
func (c *Client) Create(ctx context.Context, cred Token, req CreateRequest) (TokenInfo, Token, error) {
	const op = "create token"
	if err := checkCredential(cred); err != nil {
		return TokenInfo{}, Token{}, fmt.Errorf("groo %s: %w", op, err)
	}
	if err := c.checkCreate(req); err != nil {
		return TokenInfo{}, Token{}, fmt.Errorf("groo %s: %w", op, err)
	}
	payload, err := encodeCreate(req)
	if err != nil {
		return TokenInfo{}, Token{}, fmt.Errorf("groo %s: encode request: %w", op, err)
	}
	body, err := c.do(ctx, cred, call{op: op, method: http.MethodPost, route: pathTokens, path: pathTokens, body: payload, mint: true})
	if err != nil {
		return TokenInfo{}, Token{}, err
	}
	info, tok, err := decodeCreated(body)
	if err != nil {
		return info, Token{}, &OutcomeUnknownError{Op: op, Err: fmt.Errorf("groo %s: unusable answer: %w", op, err), Answered: true}
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "groo token created",
		slog.String("id", info.ID), slog.Any("token", tok))
	return info, tok, nil
}

func (c *Client) checkCreate(req CreateRequest) error {
	if strings.TrimSpace(req.Name) == "" {
		return fmt.Errorf("%w: name is empty", ErrInvalidRequest)
	}
	if n := utf8.RuneCountInString(req.Name); n > MaxNameLen {
		return fmt.Errorf("%w: name has %d characters, Groo accepts at most %d", ErrInvalidRequest, n, MaxNameLen)
	}
	if !req.ExpiresAt.IsZero() {
		if now := c.now(); !req.ExpiresAt.After(now) {
			return fmt.Errorf("%w: expiresAt %s is not in the future (now %s)", ErrInvalidRequest,
				req.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// Revoke revokes a token by id. Revoking is immediate; a token already
// revoked or unknown (404) counts as done and returns nil.
func (c *Client) Revoke(ctx context.Context, cred Token, id string) error {
	op := "revoke token " + id
	if strings.ContainsFunc(id, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) {
		op = "revoke token " + strconv.Quote(id)
	}
	switch {
	case strings.HasPrefix(id, Prefix):
		// A token value passed as an id would land in the URL, the logs and
		// the error: refuse it without echoing it.
		return fmt.Errorf("groo revoke token: %w: the id is a token value, not a token id", ErrInvalidRequest)
	case id == "" || id == "." || id == "..":
		return fmt.Errorf("groo revoke token: %w: token id %q", ErrInvalidRequest, id)
	}
	_, err := c.do(ctx, cred, call{op: op, method: http.MethodDelete, route: routeToken, path: pathToken(id)})
	if nf := (*NotFoundError)(nil); errors.As(err, &nf) {
		c.log.LogAttrs(ctx, slog.LevelDebug, "groo token already gone", slog.String("id", id))
		return nil
	}
	return err
}

// checkCredential refuses a zero or malformed token. A Token is valid by
// construction; checking again costs nothing next to a round trip.
func checkCredential(cred Token) error {
	if cred.IsZero() {
		return fmt.Errorf("%w: no credential", ErrMalformedToken)
	}
	if _, err := ParseToken(cred.Reveal()); err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
