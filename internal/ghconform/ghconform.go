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

var filterOptions = &openapi3filter.Options{
	AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
	MultiError:                        true,
	RejectWhenRequestBodyNotSpecified: true,
}

// Validate checks one request against the description: nil when GitHub's
// description has an operation for it and its parameters and JSON body
// satisfy that operation. It reads the body; callers that forward the
// request afterwards must give it a fresh one (Checker does).
func Validate(req *http.Request) error {
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

// Checker is an http.RoundTripper that validates every request before
// passing it on. Failures do not stop the request (the server's answer is
// still useful); they fail the test at its end.
type Checker struct {
	next http.RoundTripper
	r    routers.Router

	mu       sync.Mutex
	n        int
	failures []string
}

var _ http.RoundTripper = (*Checker)(nil)

// New returns a Checker in front of next (http.DefaultTransport when nil).
// At t's cleanup it fails t if any request did not conform, or if no request
// went through it (a checker that checks nothing proves nothing).
func New(t testing.TB, next http.RoundTripper) *Checker {
	t.Helper()
	r, err := load()
	if err != nil {
		t.Fatalf("ghconform: %v", err)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	c := &Checker{next: next, r: r}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.n == 0 {
			t.Errorf("ghconform: no request went through the checker; make it the GitHub client's transport")
		}
		for _, f := range c.failures {
			t.Errorf("ghconform: request does not conform to GitHub's OpenAPI description: %s", f)
		}
	})
	return c
}

// RoundTrip validates req, then sends it on unchanged.
func (c *Checker) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("ghconform: read request body: %w", err)
		}
		body = b
	}
	verr := validate(req.Context(), c.r, req, body)
	c.mu.Lock()
	c.n++
	if verr != nil {
		c.failures = append(c.failures, verr.Error())
	}
	c.mu.Unlock()

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

// Requests is how many requests went through c.
func (c *Checker) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Failures lists the requests that did not conform, with the reasons.
func (c *Checker) Failures() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.failures...)
}
