package ghsecret

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// ErrInsecureURL is wrapped by the error for a GitHub request that would
// carry a credential over plain http to a host that is not a loopback
// address. Nothing is sent.
var ErrInsecureURL = errors.New("credential over plain http refused")

// ErrCrossOriginRedirect is wrapped by the error for an answer that
// redirects to another origin (scheme, host or port): the redirect is not
// followed, so the credential is never sent there.
var ErrCrossOriginRedirect = errors.New("redirect to another origin refused")

// RedirectError is a refused cross-origin redirect.
type RedirectError struct {
	StatusCode int    // the redirect's status (301, 302, 307, ...)
	From, To   string // origins: https://api.github.com
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s: %s answered %d, a redirect to %s, which is not followed so that the credential stays with %s; "+
		"set the API URL to the address that answers itself (GitHub Enterprise Server: https://HOST/api/v3)",
		ErrCrossOriginRedirect, e.From, e.StatusCode, e.To, e.From)
}

// Is makes errors.Is(err, ErrCrossOriginRedirect) hold.
func (e *RedirectError) Is(target error) bool { return target == ErrCrossOriginRedirect }

// IsLoopback reports whether host (no port) is localhost or a loopback
// address (127.0.0.0/8, ::1): where an emulator may listen on plain http.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckAPIURL checks a GitHub API base URL before any request: https, or
// plain http to a loopback address (the emulator) only, with a host and no
// user info, query or fragment. It returns the URL with the trailing slash
// go-github needs.
func CheckAPIURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/") + "/")
	switch {
	case err != nil:
		return nil, fmt.Errorf("GitHub API URL %q does not parse; use e.g. https://api.github.com", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("GitHub API URL %q is not http(s); use e.g. https://api.github.com", raw)
	case u.Hostname() == "":
		return nil, fmt.Errorf("GitHub API URL %q has no host; use e.g. https://api.github.com", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("GitHub API URL %q carries user info, a query or a fragment; use e.g. https://api.github.com", u.Redacted())
	case u.Scheme == "http" && !IsLoopback(u.Hostname()):
		return nil, insecureURL(u)
	}
	return u, nil
}

func insecureURL(u *url.URL) error {
	https := *u
	https.Scheme = "https"
	if https.Port() == "80" {
		https.Host = https.Hostname()
	}
	return fmt.Errorf("%w: %s is plain http to %s, which is not a loopback address, so the GitHub credential would travel unencrypted; "+
		"use %s (plain http is only for an emulator on 127.0.0.1, ::1 or localhost)",
		ErrInsecureURL, strings.TrimRight((&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String(), "/"),
		u.Hostname(), strings.TrimRight((&url.URL{Scheme: "https", Host: https.Host, Path: u.Path}).String(), "/"))
}

// GuardTransport wraps base (http.DefaultTransport when nil) so that no
// request leaves over plain http to a host that is not a loopback address.
// It belongs below the layer that adds the credential (a token, an App's
// JWT, an installation token), so that it sees every request that carries
// one, the App's own and redirected ones included.
func GuardTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return guard{base}
}

type guard struct{ base http.RoundTripper }

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !(req.URL.Scheme == "http" && IsLoopback(req.URL.Hostname())) {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, even on error
		}
		if req.URL.Scheme != "http" {
			return nil, fmt.Errorf("%w: scheme %q", ErrInsecureURL, req.URL.Scheme)
		}
		return nil, insecureURL(req.URL)
	}
	return g.base.RoundTrip(req)
}

// Auth adds a credential to the requests of a guarded transport.
type Auth func(guarded http.RoundTripper) http.RoundTripper

// TokenAuth sends token as a bearer token (a PAT or an installation token).
func TokenAuth(token string) Auth {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			req = req.Clone(req.Context())
			req.Header.Set("Authorization", "Bearer "+token)
			return rt.RoundTrip(req)
		})
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// RequestTimeout is how long a long-running caller (the daemon) waits for
// one GitHub request before it gives up on it: a read GitHub holds forever
// must not hold a use case's lease forever. (A write is bounded sooner by
// its write window.)
const RequestTimeout = 30 * time.Second

// NewHTTPClient is an http.Client for GitHub over rt: redirects followed
// only within one origin (at most 10), no cookie jar, the given timeout
// (0: none).
func NewHTTPClient(rt http.RoundTripper, timeout time.Duration) *http.Client {
	return &http.Client{Transport: rt, Timeout: timeout, CheckRedirect: sameOrigin}
}

func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	from := via[0].URL
	if !strings.EqualFold(req.URL.Scheme, from.Scheme) || !strings.EqualFold(hostPort(req.URL), hostPort(from)) {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		return &RedirectError{StatusCode: status, From: origin(from), To: origin(req.URL)}
	}
	return nil
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// NewGitHubClient is the go-github client of both programs: apiURL checked
// by CheckAPIURL before anything else, every request through
// GuardTransport(base) and the credential auth adds, followed redirects
// limited to the same origin. base is the caller's transport
// (http.DefaultTransport when nil: tests pass their checkers, the daemon
// its metrics).
func NewGitHubClient(apiURL string, base http.RoundTripper, timeout time.Duration, auth Auth) (*github.Client, error) {
	u, err := CheckAPIURL(apiURL)
	if err != nil {
		return nil, err
	}
	rt := GuardTransport(base)
	if auth != nil {
		rt = auth(rt)
	}
	c := github.NewClient(NewHTTPClient(rt, timeout))
	c.BaseURL = u
	return c, nil
}

// insecureMessage is the ErrInsecureURL part of err, without the request
// line go-github and net/http put around it.
func insecureMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ErrInsecureURL.Error()); i >= 0 {
		return msg[i:]
	}
	return msg
}
