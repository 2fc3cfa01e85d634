package statuspage_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/reportschema"
	"github.com/groo/pat-action/internal/statuspage"
	"github.com/groo/pat-action/internal/testkit"
)

var now = testkit.Time("2026-03-10T12:00:00Z")

// The payloads a hostile server answer could carry into the page.
const (
	scriptPayload = `<script>alert(1)</script>`
	imgPayload    = `<img src=x onerror="document.title='pwned'">`
)

// leakedPAT is a token value that reached the Source's error texts by
// mistake: nothing served may show it.
var leakedPAT = testkit.PATFor("statuspage leak")

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

// fakeSource is the daemon's side, seeded with one target of each kind.
type fakeSource struct {
	mu      sync.Mutex
	status  statuspage.Status
	events  []audit.Event
	queries []string // "use_case since" of each History call
}

func (f *fakeSource) Status(context.Context) (statuspage.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, nil
}

func (f *fakeSource) History(_ context.Context, useCase string, since time.Time) ([]audit.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, useCase+" "+since.UTC().Format(time.RFC3339))
	known := false
	for _, t := range f.status.Targets {
		known = known || t.UseCase == useCase
	}
	if useCase != "" && !known {
		return nil, fmt.Errorf("%w %q", statuspage.ErrUnknownUseCase, useCase)
	}
	var out []audit.Event
	for _, e := range f.events {
		if (useCase == "" || e.UseCase == useCase) && !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

const (
	ucOK      = "GitHub Actions - octo/ok GROO_PAT"
	ucSoon    = "GitHub Actions - octo/soon GROO_PAT"
	ucRevoke  = "GitHub Actions - octo/app:prod GROO_PAT"
	ucFailing = "GitHub Actions - octo/fail GROO_PAT"
	failError = "groo mint token: HTTP 500: " + scriptPayload + "\nsecond line of the body"
)

func newFake() *fakeSource {
	return &fakeSource{
		status: statuspage.Status{
			Credential: statuspage.Credential{User: "usr_bot", TokenID: "tok_bot", LastFour: "b0b0", ExpiresAt: at(30 * 24 * time.Hour)},
			Targets: []statuspage.Target{ // configuration order: the page sorts them
				{
					Name: "repo:octo/ok GROO_PAT", UseCase: ucOK,
					Secret:       statuspage.Secret{TokenID: "tok_ok_2", LastFour: "aa11", ExpiresAt: at(60 * time.Hour)},
					LastRotation: &statuspage.Rotation{Time: now.Add(-9 * time.Hour), Outcome: audit.OutcomeSucceeded},
					NextRun:      at(15 * time.Hour),
				},
				{
					Name: "repo:octo/soon GROO_PAT", UseCase: ucSoon,
					Secret:       statuspage.Secret{TokenID: "tok_soon_1", LastFour: "bb22", ExpiresAt: at(5*time.Hour + 10*time.Minute)},
					LastRotation: &statuspage.Rotation{Time: now.Add(-67 * time.Hour), Outcome: audit.OutcomeSucceeded},
					NextRun:      at(3 * time.Hour),
				},
				{
					Name: "env:octo/app:prod GROO_PAT", UseCase: ucRevoke,
					Secret:       statuspage.Secret{TokenID: "tok_prod_3", LastFour: "cc33", ExpiresAt: at(50 * time.Hour)},
					LastRotation: &statuspage.Rotation{Time: now.Add(-22 * time.Hour), Outcome: audit.OutcomeSucceeded},
					NextRun:      at(2 * time.Hour),
					Pending: []statuspage.PendingRevoke{{
						TokenID: "tok_prod_2", RevokeAfter: now.Add(-21 * time.Hour), Attempts: 4,
						LastError: "groo revoke token tok_prod_2: HTTP 403 forbidden", NextTry: at(20 * time.Minute),
					}},
					Findings: []audit.Finding{{Severity: audit.SeverityError, Code: audit.CodeRevokeFailing, UseCase: ucRevoke,
						TokenID: "tok_prod_2", Message: "revoking replaced token tok_prod_2 failed 4 time(s)", Fix: "check the scope"}},
				},
				{
					Name: "repo:octo/fail GROO_PAT", UseCase: ucFailing,
					Secret:       statuspage.Secret{TokenID: "tok_fail_1", LastFour: "dd44", ExpiresAt: at(40 * time.Hour)},
					LastRotation: &statuspage.Rotation{Time: now.Add(-5 * time.Minute), Outcome: audit.OutcomeFailed, Error: failError + " " + leakedPAT},
					NextRun:      at(20 * time.Hour),
					RetryAt:      at(10 * time.Minute),
					Findings: []audit.Finding{{Severity: audit.SeverityWarning, Code: audit.CodeSecretWrittenOutside, UseCase: ucFailing,
						Message: "written by " + imgPayload, Fix: "find what else writes the secret"}},
				},
			},
			Replicas: []statuspage.Replica{
				{Holder: "rotator-0/1/ab12", Self: true, Leases: []statuspage.Lease{{UseCase: ucFailing, ExpiresAt: now.Add(2 * time.Minute), Term: 7}}},
				{Holder: "rotator-1/1/cd34", Leases: []statuspage.Lease{}},
			},
		},
		events: []audit.Event{
			{ID: "att_ok_old", Time: now.Add(-10 * 24 * time.Hour), Outcome: audit.OutcomeSucceeded, UseCase: ucOK, Target: "repo:octo/ok GROO_PAT",
				Actor: "rotator-0", Tool: "pat-rotator", NewTokenID: "tok_ok_1", NewTokenLast4: "aa00", Duration: 2 * time.Second},
			{ID: "att_ok", Time: now.Add(-9 * time.Hour), Outcome: audit.OutcomeSucceeded, UseCase: ucOK, Target: "repo:octo/ok GROO_PAT",
				Actor: "rotator-0", Tool: "pat-rotator", NewTokenID: "tok_ok_2", NewTokenPrefix: "groo_pat_ab", NewTokenLast4: "aa11",
				NewExpiresAt: at(60 * time.Hour), Replaced: []string{"tok_ok_1"}, Revoked: []string{"tok_ok_1"}, Duration: 1500 * time.Millisecond},
			{ID: "att_fail_1", Time: now.Add(-26 * time.Hour), Outcome: audit.OutcomeFailed, UseCase: ucFailing, Target: "repo:octo/fail GROO_PAT",
				Actor: "rotator-0", Tool: "pat-rotator", Step: "mint", Error: "=HYPERLINK(\"http://evil\")", Duration: time.Second},
			{ID: "att_fail_2", Time: now.Add(-5 * time.Minute), Outcome: audit.OutcomeFailed, UseCase: ucFailing, Target: "repo:octo/fail GROO_PAT",
				Actor: "rotator-0", Tool: "pat-rotator", Step: "mint", Error: failError + " " + leakedPAT, Duration: 800 * time.Millisecond},
		},
	}
}

func newServer(t *testing.T, src statuspage.Source, opts statuspage.Options) *httptest.Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	srv := httptest.NewServer(statuspage.Handler(src, opts))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	Code   int
	Header http.Header
	Body   string
}

func get(t *testing.T, method, url string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func loadSchema(t *testing.T) *reportschema.Schema {
	t.Helper()
	s, err := reportschema.Load(filepath.Join("..", "..", "docs", "status.schema.json"), true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStatusJSONMatchesSchema(t *testing.T) {
	t.Parallel()
	schema := loadSchema(t)
	src := newFake()
	srv := newServer(t, src, statuspage.Options{})

	a := get(t, "GET", srv.URL+"/api/v1/status")
	if a.Code != 200 || !strings.HasPrefix(a.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status: %d %s\n%s", a.Code, a.Header.Get("Content-Type"), a.Body)
	}
	if err := schema.Validate([]byte(a.Body)); err != nil {
		t.Fatalf("the status does not match docs/status.schema.json: %v\n%s", err, a.Body)
	}
	var st statuspage.Status
	dec := json.NewDecoder(strings.NewReader(a.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Version != 1 || !st.GeneratedAt.Equal(now) || len(st.Targets) != 4 || len(st.Replicas) != 2 {
		t.Errorf("version %d, generated_at %s, %d targets, %d replicas", st.Version, st.GeneratedAt, len(st.Targets), len(st.Replicas))
	}
	// Configuration order in the JSON; the page sorts.
	if st.Targets[0].UseCase != ucOK || st.Targets[3].UseCase != ucFailing {
		t.Errorf("targets not in the Source's order: %s ... %s", st.Targets[0].UseCase, st.Targets[3].UseCase)
	}
	// The error text is kept as data (JSON escapes it), minus the token.
	if got := st.Targets[3].LastRotation.Error; !strings.Contains(got, scriptPayload+"\nsecond line") || strings.Contains(got, leakedPAT) {
		t.Errorf("last_rotation.error = %q", got)
	}
	if strings.Contains(a.Body, "<script>") {
		t.Error("the JSON holds a raw <script> (encoding/json escapes < as \\u003c)")
	}

	// Without a shared store the replicas section is absent, and the
	// document (no target at all, too) still matches.
	empty := &fakeSource{status: statuspage.Status{}}
	a = get(t, "GET", newServer(t, empty, statuspage.Options{}).URL+"/api/v1/status")
	if err := schema.Validate([]byte(a.Body)); err != nil {
		t.Errorf("empty status: %v\n%s", err, a.Body)
	}
	if strings.Contains(a.Body, `"replicas"`) || !strings.Contains(a.Body, `"targets": []`) {
		t.Errorf("empty status:\n%s", a.Body)
	}
}

func TestSchemaRejects(t *testing.T) {
	t.Parallel()
	schema := loadSchema(t)
	a := get(t, "GET", newServer(t, newFake(), statuspage.Options{}).URL+"/api/v1/status")
	target0 := func(d map[string]any) map[string]any { return d["targets"].([]any)[0].(map[string]any) }
	breaks := map[string]func(map[string]any){
		"version 2":          func(d map[string]any) { d["version"] = 2 },
		"no credential":      func(d map[string]any) { delete(d, "credential") },
		"undeclared field":   func(d map[string]any) { target0(d)["token_value"] = "x" },
		"unknown outcome":    func(d map[string]any) { target0(d)["last_rotation"].(map[string]any)["outcome"] = "fine" },
		"last four too long": func(d map[string]any) { target0(d)["secret"].(map[string]any)["last_four"] = "abcdef" },
		"time not a string":  func(d map[string]any) { target0(d)["next_run"] = 12 },
		"no retry_at":        func(d map[string]any) { delete(target0(d), "retry_at") },
	}
	for name, breakIt := range breaks {
		var d map[string]any
		if err := json.Unmarshal([]byte(a.Body), &d); err != nil {
			t.Fatal(err)
		}
		breakIt(d)
		b, _ := json.Marshal(d)
		if err := schema.Validate(b); err == nil {
			t.Errorf("%s: the schema accepted a broken status", name)
		}
	}
}

// The schema's finding codes are the audit's.
func TestSchemaFindingCodes(t *testing.T) {
	t.Parallel()
	var s struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Enum []string `json:"enum"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	b := readFile(t, filepath.Join("..", "..", "docs", "status.schema.json"))
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, k := range audit.FindingKinds {
		codes = append(codes, k.Code)
	}
	got := s.Defs["finding"].Properties["code"].Enum
	slices.Sort(got)
	slices.Sort(codes)
	if !slices.Equal(got, codes) {
		t.Errorf("schema codes %v, audit.FindingKinds %v", got, codes)
	}
}

func TestHistoryCSV(t *testing.T) {
	t.Parallel()
	src := newFake()
	srv := newServer(t, src, statuspage.Options{})

	a := get(t, "GET", srv.URL+"/api/v1/history?use_case="+urlq(ucFailing)+"&since=7d&format=csv")
	if a.Code != 200 || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%d %s\n%s", a.Code, a.Header.Get("Content-Type"), a.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(a.Body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, a.Body)
	}
	if !slices.Equal(rows[0], statuspage.CSVHeader) {
		t.Fatalf("header %v", rows[0])
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want the header and 2 events:\n%s", len(rows), a.Body)
	}
	col := func(row []string, name string) string { return row[slices.Index(statuspage.CSVHeader, name)] }
	if col(rows[1], "attempt_id") != "att_fail_1" || col(rows[2], "attempt_id") != "att_fail_2" {
		t.Errorf("not oldest first: %v", rows[1:])
	}
	if got := col(rows[1], "error"); got != `'=HYPERLINK("http://evil")` {
		t.Errorf("a formula is not neutralised: %q", got)
	}
	got := col(rows[2], "error")
	if !strings.Contains(got, scriptPayload+`\nsecond line`) || strings.Contains(got, "\n") || strings.Contains(got, leakedPAT) {
		t.Errorf("error cell %q: want one line, the break escaped, no token", got)
	}
	if col(rows[2], "time") != "2026-03-10T11:55:00Z" || col(rows[2], "duration_seconds") != "0.800" || col(rows[2], "outcome") != "failed" {
		t.Errorf("row %v", rows[2])
	}
	if strings.Count(a.Body, "\n") != 3 {
		t.Errorf("want 3 lines (one a record):\n%s", a.Body)
	}
}

func TestHistoryJSON(t *testing.T) {
	t.Parallel()
	src := newFake()
	srv := newServer(t, src, statuspage.Options{})

	a := get(t, "GET", srv.URL+"/api/v1/history?since=1d12h")
	if a.Code != 200 {
		t.Fatalf("%d\n%s", a.Code, a.Body)
	}
	var h statuspage.History
	dec := json.NewDecoder(strings.NewReader(a.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		t.Fatal(err)
	}
	if h.Version != 1 || h.UseCase != "" || !h.Since.Equal(now.Add(-36*time.Hour)) || len(h.Events) != 3 {
		t.Errorf("version %d, use case %q, since %s, %d events", h.Version, h.UseCase, h.Since, len(h.Events))
	}
	if strings.Contains(a.Body, leakedPAT) {
		t.Error("the history shows a token value")
	}
	// Default window: 7 days.
	get(t, "GET", srv.URL+"/api/v1/history?use_case="+urlq(ucOK))
	src.mu.Lock()
	q := src.queries[len(src.queries)-1]
	src.mu.Unlock()
	if q != ucOK+" 2026-03-03T12:00:00Z" {
		t.Errorf("default query %q", q)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	srv := newServer(t, newFake(), statuspage.Options{})
	cases := []struct {
		query        string
		code         int
		problem, fix string
	}{
		{"since=7x", 400, `since: invalid duration "7x"`, "7d"},
		{"since=-1d", 400, "no sign", "7d"},
		{"since=0", 400, "zero", "7d"},
		{"since=", 200, "", ""},
		{"format=xml", 400, `format "xml"`, "format=csv"},
		{"usecase=x", 400, `unknown parameter "usecase"`, "use_case"},
		{"since=1d&since=2d", 400, "2 times", "once"},
		{"use_case=a%0Ab", 400, "line break", "one line"},
		{"use_case=nope", 404, `unknown use case "nope"`, "status page"},
	}
	for _, c := range cases {
		a := get(t, "GET", srv.URL+"/api/v1/history?"+c.query)
		if a.Code != c.code {
			t.Errorf("%s: %d, want %d\n%s", c.query, a.Code, c.code, a.Body)
			continue
		}
		if c.code == 200 {
			continue
		}
		var e struct{ Error, Fix string }
		if err := json.Unmarshal([]byte(a.Body), &e); err != nil || !strings.HasPrefix(a.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: not a JSON error (%v): %s", c.query, err, a.Body)
			continue
		}
		if !strings.Contains(e.Error, c.problem) || !strings.Contains(e.Fix, c.fix) {
			t.Errorf("%s: error %q fix %q; want %q and %q", c.query, e.Error, e.Fix, c.problem, c.fix)
		}
	}
	// The HTML history view answers a person with a page, escaped.
	a := get(t, "GET", srv.URL+"/history?since=%3Cb%3E")
	if a.Code != 400 || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/html") || strings.Contains(a.Body, "<b>") ||
		!strings.Contains(a.Body, "&lt;b&gt;") {
		t.Errorf("HTML bad input: %d %s\n%s", a.Code, a.Header.Get("Content-Type"), a.Body)
	}
	if a := get(t, "GET", srv.URL+"/api/v1/status?x=1"); a.Code != 400 {
		t.Errorf("status with a parameter: %d", a.Code)
	}
	if a := get(t, "GET", srv.URL+"/nope"); a.Code != 404 {
		t.Errorf("/nope: %d", a.Code)
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	srv := newServer(t, newFake(), statuspage.Options{})
	for _, path := range []string{"/", "/history", "/api/v1/status", "/api/v1/history"} {
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			a := get(t, m, srv.URL+path)
			if a.Code != 405 || a.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q", m, path, a.Code, a.Header.Get("Allow"))
			}
		}
		a := get(t, "HEAD", srv.URL+path)
		if a.Code != 200 || a.Body != "" {
			t.Errorf("HEAD %s: %d, body %d bytes", path, a.Code, len(a.Body))
		}
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tok := "status-" + testkit.PAT(t)[9:]
	srv := newServer(t, newFake(), statuspage.Options{BearerToken: tok})
	for _, path := range []string{"/", "/history", "/api/v1/status", "/api/v1/history?format=csv"} {
		a := get(t, "GET", srv.URL+path)
		if a.Code != 401 || a.Header.Get("WWW-Authenticate") != `Bearer realm="pat-rotator"` {
			t.Errorf("%s without a token: %d, WWW-Authenticate %q", path, a.Code, a.Header.Get("WWW-Authenticate"))
		}
		for _, wrong := range []string{"Bearer " + tok + "x", "Bearer " + tok[:len(tok)-1], "Basic " + tok, tok} {
			a = get(t, "GET", srv.URL+path, "Authorization", wrong)
			if a.Code != 401 || !strings.Contains(a.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s with %q: %d, WWW-Authenticate %q", path, wrong[:6], a.Code, a.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(a.Body, tok[7:]) {
				t.Errorf("%s: the answer shows the token", path)
			}
		}
		a = get(t, "GET", srv.URL+path, "Authorization", "Bearer "+tok)
		if a.Code != 200 {
			t.Errorf("%s with the token: %d\n%s", path, a.Code, a.Body)
		}
		a = get(t, "GET", srv.URL+path, "Authorization", "bearer "+tok)
		if a.Code != 200 {
			t.Errorf("%s with the scheme in lower case: %d", path, a.Code)
		}
	}
	// Read-only comes first: a POST with the token is still refused.
	if a := get(t, "POST", srv.URL+"/api/v1/status", "Authorization", "Bearer "+tok); a.Code != 405 {
		t.Errorf("POST with the token: %d", a.Code)
	}
}

// The page as served, before any browser: escaped, with a CSP that allows
// no script, the failing target first.
func TestPageHTML(t *testing.T) {
	t.Parallel()
	srv := newServer(t, newFake(), statuspage.Options{})
	a := get(t, "GET", srv.URL+"/")
	if a.Code != 200 || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", a.Code, a.Header.Get("Content-Type"))
	}
	csp := a.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	for _, bad := range []string{"<script", "<img", leakedPAT, "\nsecond line"} {
		if strings.Contains(a.Body, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;\\nsecond line",
		`href="history?use_case=GitHub%20Actions%20-%20octo%2Ffail%20GROO_PAT"`,
		`href="api/v1/history?format=csv&amp;use_case=GitHub%20Actions%20-%20octo%2Ffail%20GROO_PAT"`,
		"expires in 5 h", "5 min ago", "in 10 min", "2026-03-10 11:55 UTC",
		"3 of 4 target(s) need attention", "rotator-0/1/ab12",
	} {
		if !strings.Contains(a.Body, want) {
			t.Errorf("the page lacks %q\n%s", want, a.Body)
		}
	}
	order := targetOrder(a.Body)
	want := []string{"repo:octo/fail GROO_PAT", "env:octo/app:prod GROO_PAT", "repo:octo/soon GROO_PAT", "repo:octo/ok GROO_PAT"}
	if !slices.Equal(order, want) {
		t.Errorf("targets in the order %q, want %q", order, want)
	}

	h := get(t, "GET", srv.URL+"/history?use_case="+urlq(ucFailing))
	if h.Code != 200 || strings.Contains(h.Body, "<script") || !strings.Contains(h.Body, "&lt;script&gt;") {
		t.Errorf("history page: %d\n%s", h.Code, h.Body)
	}
	if strings.Count(h.Body, `class="event"`) != 2 || strings.Index(h.Body, "11:55 UTC") > strings.Index(h.Body, "2026-03-09 10:00 UTC") {
		t.Errorf("history page: want 2 events, newest first\n%s", h.Body)
	}
}

// targetOrder lists the data-target attributes of a page, in order.
func targetOrder(page string) []string {
	var out []string
	for _, part := range strings.Split(page, `data-target="`)[1:] {
		name, _, _ := strings.Cut(part, `"`)
		out = append(out, name)
	}
	return out
}

func urlq(s string) string {
	r := strings.NewReplacer(" ", "+", "/", "%2F", ":", "%3A")
	return r.Replace(s)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type failingSource struct{ err error }

func (f failingSource) Status(context.Context) (statuspage.Status, error) {
	return statuspage.Status{}, f.err
}
func (f failingSource) History(context.Context, string, time.Time) ([]audit.Event, error) {
	return nil, f.err
}

// A Source that fails is answered 503, its error redacted.
func TestSourceFails(t *testing.T) {
	t.Parallel()
	srv := newServer(t, failingSource{fmt.Errorf("store: database is locked near %s", leakedPAT)}, statuspage.Options{})
	for _, path := range []string{"/", "/history", "/api/v1/status", "/api/v1/history?format=csv"} {
		a := get(t, "GET", srv.URL+path)
		if a.Code != 503 || !strings.Contains(a.Body, "database is locked") || strings.Contains(a.Body, leakedPAT) {
			t.Errorf("%s: %d\n%s", path, a.Code, a.Body)
		}
	}
}
