// Package ghconform checks, in tests, that every request the project sends
// to GitHub is one GitHub's own OpenAPI description allows: method, path,
// parameters and JSON body. An emulator that accepts what GitHub would
// refuse cannot hide a bad request this way.
//
// The description is the npm package @octokit/openapi
// (generated/api.github.com.json), installed by
// `npm ci --prefix internal/ghconform/testdata` (make test-deps). It is
// loaded once per process; loading and indexing its ~13 MB takes a few
// seconds (LoadDuration reports it).
//
// # Which requests are GitHub's
//
// The project's tests point one HTTP client, or one emulator, at Groo and
// GitHub alike, so the checker tells them apart by path. A request is not
// GitHub's, and passes unchecked, when its path is
//
//   - /v1 or under /v1/: the Groo Accounts API (the emulator serves Groo
//     there, and GitHub's description has no path under /v1);
//   - under /_emulator/ or /api/v3/_emulator/: the emulator's admin API.
//
// Every other path is GitHub's, with or without GitHub Enterprise Server's
// /api/v3 prefix, and must match an operation of the description.
// TestNonGitHubPathsAreNotInTheDescription holds the description to this.
//
// # Where requests are checked
//
// A Checker checks requests on the client side as an http.RoundTripper
// (New, then Checker.Client or the Checker itself as a transport), or on
// the server side through Checker.Check, for a server that sees requests
// the test cannot reach the client of (a built binary run as a
// subprocess): emulator.WithRequestHook(chk.Check).
package ghconform

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specRel is where npm puts the description, relative to the module root.
const specRel = "internal/ghconform/testdata/node_modules/@octokit/openapi/generated/api.github.com.json"

// SpecEnv overrides the description's path.
const SpecEnv = "GHCONFORM_SPEC"

var (
	loadOnce     sync.Once
	loadedRouter routers.Router
	loadErr      error
	loadDuration time.Duration
)

// SpecPath finds the description: $GHCONFORM_SPEC, else specRel under the
// first directory upwards from the working directory (tests run in their
// package's directory) or from this source file that has it.
func SpecPath() (string, error) {
	if p := os.Getenv(SpecEnv); p != "" {
		return p, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			p := filepath.Join(d, filepath.FromSlash(specRel))
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", fmt.Errorf("GitHub's OpenAPI description (%s) not found: run `make test-deps` (npm ci --prefix internal/ghconform/testdata) or set %s", specRel, SpecEnv)
}

// load reads and indexes the description once per process.
func load() (routers.Router, error) {
	loadOnce.Do(func() {
		start := time.Now()
		defer func() { loadDuration = time.Since(start) }()
		path, err := SpecPath()
		if err != nil {
			loadErr = err
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			loadErr = fmt.Errorf("read GitHub's OpenAPI description: %w: run `make test-deps`", err)
			return
		}
		if data, err = prune(data); err != nil {
			loadErr = fmt.Errorf("prune %s: %w", path, err)
			return
		}
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = false // one self-contained file
		doc, err := loader.LoadFromData(data)
		if err != nil {
			loadErr = fmt.Errorf("load %s: %w", path, err)
			return
		}
		// doc.Validate is skipped on purpose: it checks the description
		// itself, not requests, and GitHub's uses constructs it may reject.
		// Requests are validated against the operations all the same.
		doc.Servers = openapi3.Servers{{URL: "https://api.github.com"}}
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			loadErr = fmt.Errorf("index %s: %w", path, err)
			return
		}
		loadedRouter = r
	})
	return loadedRouter, loadErr
}

// LoadDuration is how long loading the description took (0 before).
func LoadDuration() time.Duration {
	if _, err := load(); err != nil {
		return 0
	}
	return loadDuration
}

// legacyEnv is go-github v60's environment route, which the description
// lacks: /repositories/{repository_id}/environments/{environment_name}/...
var legacyEnv = regexp.MustCompile(`^/repositories/([^/]+)/environments/([^/]+)(/.*)?$`)

// specPath maps an escaped request path onto the description's form.
func specPath(escaped string) (string, error) {
	p := escaped
	if rest, ok := strings.CutPrefix(p, "/api/v3"); ok && (rest == "" || rest[0] == '/') {
		p = rest // GitHub Enterprise Server's prefix
	}
	if m := legacyEnv.FindStringSubmatch(p); m != nil {
		if _, err := strconv.ParseInt(m[1], 10, 64); err != nil {
			return "", fmt.Errorf("repository_id %q in %s is not an integer", m[1], escaped)
		}
		// Same operation as /repos/{owner}/{repo}/environments/...; owner and
		// repo are plain strings there, so stand-ins validate the same way.
		p = "/repos/repository-id/" + m[1] + "/environments/" + m[2] + m[3]
	}
	return p, nil
}

// IsGitHub reports whether a request with this escaped path is one of
// GitHub's, which the checker validates, rather than Groo's (/v1, /v1/...)
// or the emulator's admin API (/_emulator/..., also after /api/v3). See the
// package documentation.
func IsGitHub(escapedPath string) bool {
	if escapedPath == "/v1" || strings.HasPrefix(escapedPath, "/v1/") {
		return false
	}
	p := escapedPath
	if rest, ok := strings.CutPrefix(p, "/api/v3"); ok && (rest == "" || rest[0] == '/') {
		p = rest
	}
	return !strings.HasPrefix(p, "/_emulator/")
}

var filterOptions = &openapi3filter.Options{
	AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
	MultiError:                        true,
	RejectWhenRequestBodyNotSpecified: true,
}

// Validate checks one request against the description: nil when GitHub's
// description has an operation for it and its parameters and JSON body
// satisfy that operation, and nil for a request that is not GitHub's
// (IsGitHub), which it does not check. It reads the body; callers that
// forward the request afterwards must give it a fresh one (Checker does).
func Validate(req *http.Request) error {
	if !IsGitHub(req.URL.EscapedPath()) {
		return nil
	}
	r, err := load()
	if err != nil {
		return err
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		if body, err = io.ReadAll(req.Body); err != nil {
			return fmt.Errorf("read body: %w", err)
		}
	}
	return validate(req.Context(), r, req, body)
}

func validate(ctx context.Context, r routers.Router, req *http.Request, body []byte) error {
	name := req.Method + " " + req.URL.EscapedPath()
	p, err := specPath(req.URL.EscapedPath())
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	u, err := url.Parse("https://api.github.com" + p)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	u.RawQuery = req.URL.RawQuery
	vreq, err := http.NewRequestWithContext(ctx, req.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	vreq.Header = req.Header.Clone()
	if len(body) == 0 {
		vreq.Body = http.NoBody
	}
	route, params, err := r.FindRoute(vreq)
	if err != nil {
		return fmt.Errorf("%s: no operation in GitHub's OpenAPI description for %s %s: %w", name, req.Method, p, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: filterOptions}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return fmt.Errorf("%s (operation %s): %w", name, route.Operation.OperationID, err)
	}
	return nil
}

// Checker is an http.RoundTripper that validates every GitHub request
// before passing it on, and passes any other request (IsGitHub) on
// unchecked. Failures do not stop the request (the server's answer is still
// useful); they fail the test at its end. Check does the same for requests
// a server received.
type Checker struct {
	next      http.RoundTripper
	r         routers.Router
	allowNone bool

	mu       sync.Mutex
	n        int // GitHub requests validated
	other    int // requests that were not GitHub's
	failures []string
}

var _ http.RoundTripper = (*Checker)(nil)

// Option configures New.
type Option func(*Checker)

// AllowNone lets a test pass through which no GitHub request went, for a
// test that makes none on purpose (an input refused before any request, an
// audit without a GitHub credential). Without it, a checker that checked
// nothing fails the test: it proves nothing, and usually means it is not
// the GitHub client's transport. Requests that do go through are checked
// all the same.
func AllowNone() Option { return func(c *Checker) { c.allowNone = true } }

// New returns a Checker in front of next (http.DefaultTransport when nil).
// At t's cleanup it fails t if any GitHub request did not conform, or if no
// GitHub request went through it (unless AllowNone). It logs how many
// requests it validated.
func New(t testing.TB, next http.RoundTripper, opts ...Option) *Checker {
	t.Helper()
	r, err := load()
	if err != nil {
		t.Fatalf("ghconform: %v", err)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	c := &Checker{next: next, r: r}
	for _, o := range opts {
		o(c)
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Logf("ghconform: %d GitHub request(s) validated against GitHub's OpenAPI description, %d failed; %d other request(s) passed unchecked",
			c.n, len(c.failures), c.other)
		if c.n == 0 && !c.allowNone {
			t.Errorf("ghconform: no GitHub request went through the checker; make it the GitHub client's transport (or the emulator's request hook), or pass ghconform.AllowNone() if the test makes none")
		}
		for _, f := range c.failures {
			t.Errorf("ghconform: request does not conform to GitHub's OpenAPI description: %s", f)
		}
	})
	return c
}

// Check validates a request as a server received it, body being its body
// (nil when none), and records the outcome as RoundTrip does: the signature
// of emulator.WithRequestHook. It neither reads nor changes r.Body. It is
// safe for concurrent use.
func (c *Checker) Check(r *http.Request, body []byte) {
	c.record(r, body)
}

func (c *Checker) record(req *http.Request, body []byte) {
	if !IsGitHub(req.URL.EscapedPath()) {
		c.mu.Lock()
		c.other++
		c.mu.Unlock()
		return
	}
	verr := validate(req.Context(), c.r, req, body)
	c.mu.Lock()
	c.n++
	if verr != nil {
		c.failures = append(c.failures, verr.Error())
	}
	c.mu.Unlock()
}

// RoundTrip validates req if it is GitHub's, then sends it on unchanged.
func (c *Checker) RoundTrip(req *http.Request) (*http.Response, error) {
	if !IsGitHub(req.URL.EscapedPath()) {
		c.record(req, nil)
		return c.next.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("ghconform: read request body: %w", err)
		}
		body = b
	}
	c.record(req, body)

	out := req.Clone(req.Context())
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.ContentLength = int64(len(body))
	}
	return c.next.RoundTrip(out)
}

// Client is an *http.Client whose transport is c.
func (c *Checker) Client() *http.Client { return &http.Client{Transport: c} }

// Requests is how many GitHub requests c validated.
func (c *Checker) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Others is how many requests that were not GitHub's passed c unchecked.
func (c *Checker) Others() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.other
}

// Failures lists the requests that did not conform, with the reasons.
func (c *Checker) Failures() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.failures...)
}
