package statuspage

import (
	"bytes"
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/safetext"
)

// Levels of attention, worst first.
const (
	levelError   = 3
	levelWarning = 2
	levelInfo    = 1
	levelOK      = 0
)

var levelNames = map[int]string{levelError: "error", levelWarning: "warning", levelInfo: "info", levelOK: "ok"}

// reason is one thing about a target that needs attention.
type reason struct {
	Level int
	Text  string
}

// targetView is a target as the page shows it.
type targetView struct {
	Target
	Level      int
	Failing    bool // the last rotation failed, or the secret's token expired
	Reasons    []reason
	soonest    time.Time // the earliest deadline, for the order
	HistoryURL string
	CSVURL     string
}

func (v targetView) LevelName() string { return levelNames[v.Level] }

// assess finds what needs attention in t at now, worst first.
func assess(t Target, now time.Time) targetView {
	v := targetView{Target: t}
	add := func(level int, deadline time.Time, format string, args ...any) {
		v.Reasons = append(v.Reasons, reason{level, fmt.Sprintf(format, args...)})
		v.Level = max(v.Level, level)
		if !deadline.IsZero() && (v.soonest.IsZero() || deadline.Before(v.soonest)) {
			v.soonest = deadline
		}
	}
	if lr := t.LastRotation; lr != nil {
		switch lr.Outcome {
		case audit.OutcomeFailed:
			add(levelError, lr.Time, "Last rotation failed %s: %s", rel(now, lr.Time), safetext.Line(lr.Error))
			v.Failing = true
		case audit.OutcomeAbandoned:
			v.Failing = true
			add(levelError, lr.Time, "Last rotation was abandoned %s (the process died)", rel(now, lr.Time))
		}
	}
	if exp := t.Secret.ExpiresAt; exp != nil {
		switch {
		case !now.Before(*exp):
			add(levelError, *exp, "The token in the secret expired %s", rel(now, *exp))
			v.Failing = true
		case t.NextRun != nil && exp.Before(*t.NextRun):
			add(levelError, *exp, "The token in the secret expires %s, before the next run (%s)", rel(now, *exp), rel(now, *t.NextRun))
		case exp.Sub(now) <= ExpiringSoon:
			add(levelWarning, *exp, "The token in the secret expires %s", rel(now, *exp))
		}
	}
	for _, p := range t.Pending {
		late := now.Sub(p.RevokeAfter)
		switch {
		case p.Attempts >= audit.RevokeFailingAttempts || late > audit.RevokeFailingLate:
			msg := fmt.Sprintf("Revoke of %s is stuck: due %s, %d failed attempt(s)", safetext.Line(p.TokenID), rel(now, p.RevokeAfter), p.Attempts)
			if p.LastError != "" {
				msg += "; last error: " + safetext.Line(p.LastError)
			}
			add(levelError, p.RevokeAfter, "%s", msg)
		case late >= 0:
			add(levelWarning, p.RevokeAfter, "Revoke of %s is due since %s", safetext.Line(p.TokenID), rel(now, p.RevokeAfter))
		default:
			add(levelInfo, time.Time{}, "Revoke of %s scheduled %s (grace)", safetext.Line(p.TokenID), rel(now, p.RevokeAfter))
		}
	}
	if t.RetryAt != nil {
		add(levelWarning, *t.RetryAt, "Retry scheduled %s", rel(now, *t.RetryAt))
	}
	for _, f := range t.Findings {
		l := levelInfo
		switch f.Severity {
		case audit.SeverityError:
			l = levelError
		case audit.SeverityWarning:
			l = levelWarning
		}
		add(l, time.Time{}, "%s: %s", safetext.Line(f.Code), safetext.Line(f.Message))
	}
	slices.SortStableFunc(v.Reasons, func(a, b reason) int { return cmp.Compare(b.Level, a.Level) })
	q := url.Values{"use_case": {t.UseCase}}
	v.HistoryURL = "history?" + encode(q)
	q.Set("format", "csv")
	v.CSVURL = "api/v1/history?" + encode(q)
	return v
}

// encode is q's query string with spaces as %20 (html/template would
// write a "+" as &#43;).
func encode(q url.Values) string { return strings.ReplaceAll(q.Encode(), "+", "%20") }

// sortTargets orders the views worst first (at one level a failing target
// before the others), then by the earliest deadline, then by name.
func sortTargets(vs []targetView) {
	slices.SortStableFunc(vs, func(a, b targetView) int {
		if c := cmp.Compare(b.Level, a.Level); c != 0 {
			return c
		}
		if a.Failing != b.Failing {
			if a.Failing {
				return -1
			}
			return 1
		}
		switch {
		case !a.soonest.IsZero() && b.soonest.IsZero():
			return -1
		case a.soonest.IsZero() && !b.soonest.IsZero():
			return 1
		}
		return cmp.Or(a.soonest.Compare(b.soonest), cmp.Compare(a.Name, b.Name))
	})
}

// rel is t relative to now, for a person: "in 3 h", "5 min ago", "now".
func rel(now, t time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if d < 0 {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%d d", int(d/duration.Day))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// timeView is a time as the page shows it: UTC and relative.
type timeView struct {
	ISO, UTC, Rel string
}

func timeFunc(now time.Time) func(any) *timeView {
	return func(v any) *timeView {
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case *time.Time:
			if x == nil {
				return nil
			}
			t = *x
		default:
			return nil
		}
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &timeView{ISO: t.Format(time.RFC3339), UTC: t.Format("2006-01-02 15:04 UTC"), Rel: rel(now, t)}
	}
}

type pageView struct {
	Now        timeView
	Credential Credential
	CredReason *reason
	Targets    []targetView
	Attention  int // targets at warning or worse
	Replicas   []Replica
	HasReplica bool
}

type historyView struct {
	Now     timeView
	UseCase string
	Since   string
	Events  []audit.Event // newest first
	JSONURL string
	CSVURL  string
}

type errorView struct {
	Status       int
	Text         string
	Problem, Fix string
}

// execute renders one of pages' templates at now. pages itself is never
// executed (html/template clones only an unexecuted template): each request
// renders a clone whose "t" formats times relative to its now.
func execute(b *bytes.Buffer, now time.Time, name string, data any) error {
	t, err := pages.Clone()
	if err != nil {
		return err
	}
	return t.Funcs(template.FuncMap{"t": timeFunc(now)}).ExecuteTemplate(b, name, data)
}

func (h *handler) render(w http.ResponseWriter, r *http.Request, now time.Time, name string, data any) {
	var b bytes.Buffer
	if err := execute(&b, now, name, data); err != nil {
		writeError(w, r, http.StatusInternalServerError, "render "+name+": "+err.Error(), "report this as a bug")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	if !h.noParams(w, r) {
		return
	}
	st, now, err := h.status(r)
	if err != nil {
		writeError(w, r, http.StatusServiceUnavailable, "status unavailable: "+err.Error(), "retry; if it persists, read the daemon's log")
		return
	}
	pv := pageView{Now: *timeFunc(now)(now), Credential: st.Credential, Replicas: st.Replicas, HasReplica: st.Replicas != nil}
	if exp := st.Credential.ExpiresAt; exp != nil {
		switch {
		case !now.Before(*exp):
			pv.CredReason = &reason{levelError, "The daemon's credential expired " + rel(now, *exp) + ": every rotation fails until it is replaced"}
		case exp.Sub(now) <= 7*duration.Day:
			pv.CredReason = &reason{levelWarning, "The daemon's credential expires " + rel(now, *exp) + ": replace it before then"}
		}
	}
	for _, t := range st.Targets {
		v := assess(t, now)
		if v.Level >= levelWarning {
			pv.Attention++
		}
		pv.Targets = append(pv.Targets, v)
	}
	sortTargets(pv.Targets)
	h.render(w, r, now, "page", pv)
}

func (h *handler) historyPage(w http.ResponseWriter, r *http.Request) {
	now := h.opts.Now().UTC()
	hq, ok := h.parseHistory(w, r, false, now)
	if !ok {
		return
	}
	evs, ok := h.history(w, r, hq)
	if !ok {
		return
	}
	slices.Reverse(evs)
	q := url.Values{"since": {hq.SinceIn}}
	if hq.UseCase != "" {
		q.Set("use_case", hq.UseCase)
	}
	hv := historyView{Now: *timeFunc(now)(now), UseCase: hq.UseCase, Since: hq.SinceIn, Events: evs}
	hv.JSONURL = "api/v1/history?" + encode(q)
	q.Set("format", "csv")
	hv.CSVURL = "api/v1/history?" + encode(q)
	h.render(w, r, now, "history", hv)
}

// styleSheet is the page's one style sheet, allowed by its hash in the CSP.
const styleSheet = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem 1.5rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
header p,.muted{color:#59636e}
a{color:#0969da}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.4rem .5rem;border-bottom:1px solid #d1d9e0}
th{background:#f6f8fa;font-weight:600}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:1rem;font-size:.8em;font-weight:600;color:#fff}
.b-error{background:#cf222e}.b-warning{background:#9a6700}.b-info{background:#0969da}.b-ok{background:#1a7f37}
tr.l-error td:first-child{border-left:4px solid #cf222e}tr.l-warning td:first-child{border-left:4px solid #d4a72c}
tr.l-info td:first-child,tr.l-ok td:first-child{border-left:4px solid #d1d9e0}
ul.reasons{margin:0;padding-left:1.1rem}ul.reasons li.r-error{color:#a40e26}
.summary{padding:.6rem .8rem;border-radius:.4rem;margin:.8rem 0}
.s-bad{background:#ffebe9;border:1px solid #ff8182}.s-good{background:#dafbe1;border:1px solid #4ac26b}
.err{white-space:pre-wrap;word-break:break-word}
`

var pages = template.Must(template.New("pages").Funcs(template.FuncMap{
	"t":     func(any) *timeView { return nil }, // replaced per request
	"css":   func() template.CSS { return template.CSS(styleSheet) },
	"level": func(l int) string { return levelNames[l] },
	"line":  safetext.Line,
	"join":  func(l []string) string { return safetext.Line(strings.Join(l, ", ")) },
	"secs":  func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) },
}).Parse(`
{{define "time"}}{{with .}}<time datetime="{{.ISO}}">{{.UTC}}</time> <span class="rel">({{.Rel}})</span>{{else}}<span class="muted">—</span>{{end}}{{end}}

{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="60">
<title>{{.}}</title>
<style>{{css}}</style>
</head>{{end}}

{{define "page"}}{{template "head" "pat-rotator status"}}
<body>
<header>
<h1>pat-rotator status</h1>
<p>Generated {{template "time" .Now}}, refreshed every minute ·
<a href="api/v1/status">JSON</a> · <a href="history">history (7 days)</a></p>
</header>
<main>
{{if .Attention}}<div class="summary s-bad" id="summary">{{.Attention}} of {{len .Targets}} target(s) need attention; the worst come first.</div>
{{else}}<div class="summary s-good" id="summary">All {{len .Targets}} target(s) are fine.</div>{{end}}
{{with .CredReason}}<div class="summary s-bad" id="credential-attention"><span class="badge b-{{level .Level}}">{{level .Level}}</span> {{.Text}}</div>{{end}}

<h2>Targets</h2>
<table id="targets">
<thead><tr><th>Attention</th><th>Target</th><th>Token in the secret</th><th>Last rotation</th><th>Next run</th><th>History</th></tr></thead>
<tbody>
{{range $i, $v := .Targets}}<tr class="target l-{{.LevelName}}" id="target-{{$i}}" data-target="{{line .Name}}" data-level="{{.LevelName}}">
<td><span class="badge b-{{.LevelName}}">{{.LevelName}}</span>
{{if .Reasons}}<ul class="reasons">{{range .Reasons}}<li class="r-{{level .Level}} err">{{.Text}}</li>{{end}}</ul>{{end}}</td>
<td><strong>{{line .Name}}</strong><br><span class="muted">{{line .UseCase}}</span></td>
<td>{{if .Secret.TokenID}}<code>{{line .Secret.TokenID}}</code> …<code>{{line .Secret.LastFour}}</code><br>
{{with t .Secret.ExpiresAt}}<span class="expiry">expires {{.Rel}}</span> <span class="muted"><time datetime="{{.ISO}}">{{.UTC}}</time></span>{{else}}<span class="muted">no expiry known</span>{{end}}
{{else}}<span class="muted">unknown</span>{{end}}</td>
<td>{{with .LastRotation}}<span class="outcome">{{line (print .Outcome)}}</span> {{template "time" (t .Time)}}{{else}}<span class="muted">never</span>{{end}}
{{with t .RetryAt}}<br>retry {{.Rel}}{{end}}</td>
<td>{{template "time" (t .NextRun)}}</td>
<td><a class="history" href="{{.HistoryURL}}">history</a> · <a href="{{.CSVURL}}">CSV</a></td>
</tr>
{{end}}</tbody></table>

{{$pending := 0}}{{range .Targets}}{{range .Pending}}{{$pending = 1}}{{end}}{{end}}
{{if $pending}}<h2>Pending revokes</h2>
<table id="pending">
<thead><tr><th>Token</th><th>Target</th><th>Revoke after</th><th>Attempts</th><th>Next try</th><th>Last error</th></tr></thead>
<tbody>{{range .Targets}}{{$name := .Name}}{{range .Pending}}
<tr><td><code>{{line .TokenID}}</code></td><td>{{line $name}}</td><td>{{template "time" (t .RevokeAfter)}}</td>
<td>{{.Attempts}}</td><td>{{template "time" (t .NextTry)}}</td><td class="err">{{line .LastError}}</td></tr>{{end}}{{end}}
</tbody></table>{{end}}

<h2>Credential</h2>
<p id="credential">Groo user <code>{{or (line .Credential.User) "unknown"}}</code>, token <code>{{or (line .Credential.TokenID) "unknown"}}</code>
{{with .Credential.LastFour}}…<code>{{line .}}</code>{{end}};
{{with t .Credential.ExpiresAt}}expires {{.Rel}} (<time datetime="{{.ISO}}">{{.UTC}}</time>){{else}}no expiry known{{end}}</p>

{{if .HasReplica}}<h2>Replicas</h2>
<table id="replicas"><thead><tr><th>Replica</th><th>Leases held</th></tr></thead><tbody>
{{range .Replicas}}<tr><td><code>{{line .Holder}}</code>{{if .Self}} <span class="muted">(this one)</span>{{end}}</td>
<td>{{range .Leases}}{{line .UseCase}} (term {{.Term}}, until {{template "time" (t .ExpiresAt)}})<br>{{else}}<span class="muted">none</span>{{end}}</td></tr>
{{end}}</tbody></table>{{end}}
</main>
</body></html>
{{end}}

{{define "history"}}{{template "head" "pat-rotator history"}}
<body>
<header>
<h1>Rotation history{{with .UseCase}}: {{line .}}{{end}}</h1>
<p>The last {{.Since}}, newest first; generated {{template "time" .Now}} ·
<a href="./">status</a> · <a href="{{.JSONURL}}">JSON</a> · <a href="{{.CSVURL}}">CSV</a></p>
</header>
<main>
<table id="events">
<thead><tr><th>Time</th><th>Outcome</th><th>Target</th><th>New token</th><th>Revoked</th><th>Pending</th><th>Error</th><th>Actor</th><th>Duration</th></tr></thead>
<tbody>{{range .Events}}
<tr class="event"><td>{{template "time" (t .Time)}}</td><td>{{line (print .Outcome)}}</td><td>{{line .Target}}</td>
<td>{{with .NewTokenID}}<code>{{line .}}</code>{{end}}{{with .NewTokenLast4}} …<code>{{line .}}</code>{{end}}</td>
<td>{{join .Revoked}}</td><td>{{join .Pending}}</td>
<td class="err">{{with .Step}}{{line .}}: {{end}}{{line .Error}}</td><td>{{line .Actor}}</td><td>{{secs .Duration}}</td></tr>
{{else}}<tr><td colspan="9" class="muted">No events in this window.</td></tr>{{end}}
</tbody></table>
</main>
</body></html>
{{end}}

{{define "error"}}{{template "head" "pat-rotator: error"}}
<body><h1>{{.Status}} {{.Text}}</h1>
<p id="problem" class="err">{{.Problem}}</p>
<p id="fix">Fix: {{.Fix}}</p>
<p><a href="./">status</a></p>
</body></html>
{{end}}
`))
