package statuspage

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/safetext"
)

// Options tune Handler.
type Options struct {
	// BearerToken, when not empty, is required on every route of the
	// handler as "Authorization: Bearer TOKEN". It is registered with
	// safetext.AddSecret.
	BearerToken string
	// Now is the clock of generated_at, of since and of the relative times
	// (time.Now when nil).
	Now func() time.Time
}

// maxUseCase bounds the use_case parameter.
const maxUseCase = 512

// Handler serves the status page, the history view and their JSON and CSV
// forms from src; see the package comment for the routes.
func Handler(src Source, opts Options) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &handler{src: src, opts: opts}
	if opts.BearerToken != "" {
		safetext.AddSecret(opts.BearerToken)
		sum := sha256.Sum256([]byte(opts.BearerToken))
		h.tokenSum = sum[:]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", h.page)
	mux.HandleFunc("/history", h.historyPage)
	mux.HandleFunc("/api/v1/status", h.statusJSON)
	mux.HandleFunc("/api/v1/history", h.historyAPI)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "no such page: "+r.URL.Path,
			"the routes are /, /history, /api/v1/status and /api/v1/history")
	})
	h.mux = mux
	return h
}

type handler struct {
	src      Source
	opts     Options
	tokenSum []byte
	mux      *http.ServeMux
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		writeError(w, r, http.StatusMethodNotAllowed, "method "+safetext.Line(r.Method)+" not allowed: the status page is read-only",
			"use GET or HEAD")
		return
	}
	if h.tokenSum != nil && !h.authorized(r) {
		challenge := `Bearer realm="pat-rotator"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token"`
		}
		hd.Set("WWW-Authenticate", challenge)
		writeError(w, r, http.StatusUnauthorized, "a bearer token is required",
			`send the status page's token as "Authorization: Bearer TOKEN"`)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized compares the request's bearer token with the configured one in
// constant time (over their SHA-256 sums, so the length leaks nothing).
func (h *handler) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum) == 1
}

// apiError is the body of every error answer of the API routes.
type apiError struct {
	Error string `json:"error"`
	Fix   string `json:"fix"`
}

// writeError answers status with {"error", "fix"} as JSON, or as an HTML
// page for a browser route (/, /history) or a client that asks for HTML.
func writeError(w http.ResponseWriter, r *http.Request, status int, problem, fix string) {
	problem, fix = safetext.Redact(problem), safetext.Redact(fix)
	if !strings.HasPrefix(r.URL.Path, "/api/") && strings.Contains(r.Header.Get("Accept"), "text/html") ||
		r.URL.Path == "/" || r.URL.Path == "/history" {
		var b bytes.Buffer
		if err := execute(&b, time.Now(), "error", errorView{Status: status, Text: http.StatusText(status),
			Problem: safetext.Line(problem), Fix: safetext.Line(fix)}); err == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			_, _ = w.Write(b.Bytes())
			return
		}
	}
	writeJSON(w, status, apiError{Error: problem, Fix: fix})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, `{"error":"encode","fix":""}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// status reads the Source and normalises its answer: the version and time
// set, times in UTC, strings redacted, no nil list.
func (h *handler) status(r *http.Request) (Status, time.Time, error) {
	now := h.opts.Now().UTC()
	st, err := h.src.Status(r.Context())
	if err != nil {
		return Status{}, now, err
	}
	st.Version = Version
	if st.GeneratedAt.IsZero() {
		st.GeneratedAt = now
	}
	normalizeStatus(&st)
	return st, now, nil
}

func utcP(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func normalizeStatus(st *Status) {
	st.GeneratedAt = st.GeneratedAt.UTC()
	c := &st.Credential
	c.User, c.TokenID, c.LastFour = safetext.Redact(c.User), safetext.Redact(c.TokenID), safetext.Redact(c.LastFour)
	c.ExpiresAt = utcP(c.ExpiresAt)
	if st.Targets == nil {
		st.Targets = []Target{}
	}
	for i := range st.Targets {
		t := &st.Targets[i]
		t.Name, t.UseCase = safetext.Redact(t.Name), safetext.Redact(t.UseCase)
		t.Secret.TokenID, t.Secret.LastFour = safetext.Redact(t.Secret.TokenID), safetext.Redact(t.Secret.LastFour)
		t.Secret.ExpiresAt = utcP(t.Secret.ExpiresAt)
		if t.LastRotation != nil {
			lr := *t.LastRotation
			lr.Time = lr.Time.UTC()
			lr.Error = safetext.Redact(lr.Error)
			t.LastRotation = &lr
		}
		t.NextRun, t.RetryAt = utcP(t.NextRun), utcP(t.RetryAt)
		pend := make([]PendingRevoke, len(t.Pending))
		for j, p := range t.Pending {
			p.TokenID, p.LastError = safetext.Redact(p.TokenID), safetext.Redact(p.LastError)
			p.RevokeAfter = p.RevokeAfter.UTC()
			p.NextTry = utcP(p.NextTry)
			pend[j] = p
		}
		t.Pending = pend
		fs := make([]audit.Finding, len(t.Findings))
		for j, f := range t.Findings {
			f.UseCase, f.TokenID = safetext.Redact(f.UseCase), safetext.Redact(f.TokenID)
			f.Message, f.Fix = safetext.Redact(f.Message), safetext.Redact(f.Fix)
			fs[j] = f
		}
		t.Findings = fs
	}
	if st.Replicas != nil {
		reps := make([]Replica, len(st.Replicas))
		for i, rep := range st.Replicas {
			rep.Holder = safetext.Redact(rep.Holder)
			ls := make([]Lease, len(rep.Leases))
			for j, l := range rep.Leases {
				l.UseCase = safetext.Redact(l.UseCase)
				l.ExpiresAt = l.ExpiresAt.UTC()
				ls[j] = l
			}
			rep.Leases = ls
			reps[i] = rep
		}
		st.Replicas = reps
	}
}

func (h *handler) statusJSON(w http.ResponseWriter, r *http.Request) {
	if !h.noParams(w, r) {
		return
	}
	st, _, err := h.status(r)
	if err != nil {
		writeError(w, r, http.StatusServiceUnavailable, "status unavailable: "+err.Error(), "retry; if it persists, read the daemon's log")
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// noParams refuses any query parameter on a route that takes none.
func (h *handler) noParams(w http.ResponseWriter, r *http.Request) bool {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "malformed query string", "this route takes no parameters")
		return false
	}
	for k := range q {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q", k), "this route takes no parameters")
		return false
	}
	return true
}

// historyQuery is the parsed query of the history routes.
type historyQuery struct {
	UseCase string
	SinceIn string // as written ("7d")
	Since   time.Time
	Format  string // json, csv (the API route only)
}

// parseHistory reads use_case, since and (with api) format; on a bad one it
// answers 400 and returns false.
func (h *handler) parseHistory(w http.ResponseWriter, r *http.Request, api bool, now time.Time) (historyQuery, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "malformed query string: "+err.Error(),
			"write the parameters as use_case=NAME&since=7d&format=json, percent-encoded")
		return historyQuery{}, false
	}
	known := []string{"use_case", "since"}
	if api {
		known = append(known, "format")
	}
	for k, vs := range q {
		if !slices.Contains(known, k) {
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q", k),
				"the parameters are "+strings.Join(known, ", "))
			return historyQuery{}, false
		}
		if len(vs) > 1 {
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf("parameter %q given %d times", k, len(vs)), "give it once")
			return historyQuery{}, false
		}
	}
	hq := historyQuery{UseCase: q.Get("use_case"), SinceIn: q.Get("since"), Format: q.Get("format")}
	if len(hq.UseCase) > maxUseCase {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("use_case is %d bytes long", len(hq.UseCase)),
			fmt.Sprintf("use cases are at most %d bytes; copy the name from the status page", maxUseCase))
		return historyQuery{}, false
	}
	if err := safetext.CheckLine(hq.UseCase); err != nil {
		writeError(w, r, http.StatusBadRequest, "use_case holds "+err.Error(),
			"a use case is one line of text; copy the name from the status page")
		return historyQuery{}, false
	}
	d := DefaultSince
	if hq.SinceIn == "" {
		hq.SinceIn = duration.Format(DefaultSince)
	} else {
		d, err = duration.Parse(hq.SinceIn)
		if err == nil && d <= 0 {
			err = fmt.Errorf("since %q is zero", hq.SinceIn)
		}
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "since: "+err.Error(),
				"write since as how far back to look, a duration such as "+duration.Examples+" (default "+duration.Format(DefaultSince)+")")
			return historyQuery{}, false
		}
	}
	hq.Since = now.Add(-d)
	switch hq.Format {
	case "":
		hq.Format = "json"
	case "json", "csv":
	default:
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf("format %q is not known", safetext.Line(hq.Format)),
			"write format=json (the default) or format=csv")
		return historyQuery{}, false
	}
	return hq, true
}

// history reads the Source's events, redacted and in UTC, oldest first.
func (h *handler) history(w http.ResponseWriter, r *http.Request, hq historyQuery) ([]audit.Event, bool) {
	evs, err := h.src.History(r.Context(), hq.UseCase, hq.Since)
	if errors.Is(err, ErrUnknownUseCase) {
		writeError(w, r, http.StatusNotFound, err.Error(),
			"use one of the use cases the status page lists, or leave use_case out for all of them")
		return nil, false
	}
	if err != nil {
		writeError(w, r, http.StatusServiceUnavailable, "history unavailable: "+err.Error(), "retry; if it persists, read the daemon's log")
		return nil, false
	}
	out := make([]audit.Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, normalizeEvent(e))
	}
	slices.SortStableFunc(out, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
	return out, true
}

func normalizeEvent(e audit.Event) audit.Event {
	e.Time = e.Time.UTC()
	e.NewExpiresAt, e.WrittenAt = utcP(e.NewExpiresAt), utcP(e.WrittenAt)
	for _, s := range []*string{&e.ID, &e.UseCase, &e.Target, &e.Actor, &e.Tool, &e.NewTokenID,
		&e.NewTokenPrefix, &e.NewTokenLast4, &e.Error, &e.Step} {
		*s = safetext.Redact(*s)
	}
	for _, l := range []*[]string{&e.Replaced, &e.Revoked, &e.Pending, &e.TooRecent} {
		*l = slices.Clone(*l)
		for i := range *l {
			(*l)[i] = safetext.Redact((*l)[i])
		}
	}
	return e
}

func (h *handler) historyAPI(w http.ResponseWriter, r *http.Request) {
	now := h.opts.Now().UTC()
	hq, ok := h.parseHistory(w, r, true, now)
	if !ok {
		return
	}
	evs, ok := h.history(w, r, hq)
	if !ok {
		return
	}
	if hq.Format == "csv" {
		writeCSV(w, evs)
		return
	}
	writeJSON(w, http.StatusOK, History{Version: Version, GeneratedAt: now, UseCase: hq.UseCase, Since: hq.Since.UTC(), Events: evs})
}

// CSVHeader is the first line of the history's CSV form.
var CSVHeader = audit.HistoryCSVHeader

func writeCSV(w http.ResponseWriter, evs []audit.Event) {
	var b bytes.Buffer
	_ = audit.WriteHistoryCSV(&b, evs) // a bytes.Buffer does not fail
	w.Header().Set("Content-Type", "text/csv; charset=utf-8; header=present")
	w.Header().Set("Content-Disposition", `attachment; filename="pat-rotator-history.csv"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// cspHash is the CSP source of the page's one style sheet.
func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// csp allows the page's inline style sheet and nothing else: no script, no
// image, no form, no frame.
var csp = "default-src 'none'; style-src " + cspHash(styleSheet) + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
