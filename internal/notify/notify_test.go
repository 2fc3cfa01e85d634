package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/safetext"
	"github.com/groo/pat-action/internal/testkit"
)

var t0 = testkit.Time("2026-12-01T12:00:00Z")

// receiver is a webhook on 127.0.0.1 that answers with statuses in turn
// (the last one from then on; 200 when none) and records every request.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	statuses []int
	reqs     []recorded
	block    chan struct{} // when set, every request waits for it to close
	echo     bool          // answer with the request's URL in the body
}

type recorded struct {
	path, contentType string
	status            int
	body              []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	block := r.block
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status = r.statuses[0]
		if len(r.statuses) > 1 {
			r.statuses = r.statuses[1:]
		}
	}
	r.reqs = append(r.reqs, recorded{path: req.URL.RequestURI(), contentType: req.Header.Get("Content-Type"), status: status, body: b})
	echo := r.echo
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-req.Context().Done():
		}
	}
	w.WriteHeader(status)
	if echo {
		fmt.Fprintf(w, "no hook at %s", req.URL.RequestURI())
	}
}

func (r *receiver) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// delivered are the bodies answered with 2xx.
func (r *receiver) delivered() [][]byte {
	var out [][]byte
	for _, q := range r.requests() {
		if q.status/100 == 2 {
			out = append(out, q.body)
		}
	}
	return out
}

type harness struct {
	n     *Notifier
	clock *testkit.Clock
	logs  *testkit.Buffer
	mu    sync.Mutex
	slept []time.Duration
}

func newNotifier(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{clock: testkit.NewClock(t0), logs: &testkit.Buffer{}}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	o.Now = h.clock.Now
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			h.mu.Lock()
			h.slept = append(h.slept, d)
			h.mu.Unlock()
			return ctx.Err()
		}
	}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.n = n
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return h
}

func (h *harness) observe(cs ...Condition) { h.n.Observe(context.Background(), h.clock.Now(), cs) }

// idle waits until the sender has nothing queued or in progress.
func (h *harness) idle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.n.mu.Lock()
		busy := len(h.n.queue) > 0
		for _, x := range h.n.active {
			busy = busy || x.queued
		}
		for _, x := range h.n.recover {
			busy = busy || x.queued
		}
		h.n.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("the sender did not become idle")
}

func hook(r *receiver, f Format) Webhook {
	return Webhook{URL: r.srv.URL + "/hook", Format: f, Source: "env PAT_ROTATOR_WEBHOOK"}
}

func failing(target string) Condition {
	return Condition{Kind: RotationFailing, Target: target, UseCase: "GitHub Actions - " + target,
		Message: "3 consecutive rotation attempts failed", Since: t0.Add(-time.Hour)}
}

func decode(t *testing.T, b []byte) Payload {
	t.Helper()
	var p Payload
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return p
}

func TestJSONBody(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, "")}}})
	h.observe(failing("octo/app GROO_PAT"))
	h.idle(t)
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	if reqs[0].contentType != "application/json" || reqs[0].path != "/hook" {
		t.Errorf("request %+v", reqs[0])
	}
	p := decode(t, reqs[0].body)
	want := Payload{Event: RotationFailing, Target: "octo/app GROO_PAT", UseCase: "GitHub Actions - octo/app GROO_PAT",
		Message: "3 consecutive rotation attempts failed", Time: "2026-12-01T12:00:00Z", Since: "2026-12-01T11:00:00Z",
		Condition: RotationFailing, Source: "pat-rotator"}
	if p != want {
		t.Errorf("payload\n got %+v\nwant %+v", p, want)
	}
}

func TestSlackBody(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatSlack)}}})
	c := failing("octo/app GROO_PAT")
	c.Message = "write refused: <403> & more"
	h.observe(c)
	h.idle(t)
	h.observe()
	h.idle(t)
	bodies := r.delivered()
	if len(bodies) != 2 {
		t.Fatalf("%d deliveries, want 2", len(bodies))
	}
	for i, b := range bodies {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		text, ok := m["text"].(string)
		if !ok || len(m) != 1 {
			t.Fatalf("slack body %s: want exactly a string text", b)
		}
		event := "rotation-failing"
		if i == 1 {
			event = "recovered (rotation-failing)"
		}
		for _, s := range []string{"[pat-rotator] " + event, "target octo/app GROO_PAT", "use case GitHub Actions - octo/app GROO_PAT",
			"&lt;403&gt; &amp; more", "time 2026-12-01T12:00:00Z", "since 2026-12-01T11:00:00Z"} {
			if !strings.Contains(text, s) {
				t.Errorf("slack text %q lacks %q", text, s)
			}
		}
	}
}

func TestDedupAndRecovered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		observe  [][]Condition
		want     []Kind // events delivered, in order
		wantCond []Kind
	}{
		{"same condition 5 times", [][]Condition{{failing("a")}, {failing("a")}, {failing("a")}, {failing("a")}, {failing("a")}},
			[]Kind{RotationFailing}, []Kind{RotationFailing}},
		{"changed message is the same condition", [][]Condition{{failing("a")}, {{Kind: RotationFailing, Target: "a", UseCase: "GitHub Actions - a", Message: "4 failed"}}},
			[]Kind{RotationFailing}, []Kind{RotationFailing}},
		{"recovered once", [][]Condition{{failing("a")}, {}, {}, {}},
			[]Kind{RotationFailing, Recovered}, []Kind{RotationFailing, RotationFailing}},
		{"two conditions, one clears", [][]Condition{{failing("a"), failing("b")}, {failing("b")}, {failing("b")}},
			[]Kind{RotationFailing, RotationFailing, Recovered}, []Kind{RotationFailing, RotationFailing, RotationFailing}},
		{"clears and returns", [][]Condition{{failing("a")}, {}, {failing("a")}, {failing("a")}},
			[]Kind{RotationFailing, Recovered, RotationFailing}, []Kind{RotationFailing, RotationFailing, RotationFailing}},
		{"flaps twice", [][]Condition{{failing("a")}, {}, {failing("a")}, {}, {failing("a")}, {}},
			[]Kind{RotationFailing, Recovered, RotationFailing, Recovered, RotationFailing, Recovered},
			[]Kind{RotationFailing, RotationFailing, RotationFailing, RotationFailing, RotationFailing, RotationFailing}},
		{"nothing", [][]Condition{{}, {}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t)
			h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON)}}})
			for _, cs := range tt.observe {
				h.observe(cs...)
				h.idle(t)
				h.clock.Add(time.Minute)
			}
			var got, gotCond []Kind
			for _, b := range r.delivered() {
				p := decode(t, b)
				got = append(got, p.Event)
				gotCond = append(gotCond, p.Condition)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || fmt.Sprint(gotCond) != fmt.Sprint(tt.wantCond) {
				t.Errorf("delivered %v (conditions %v), want %v (%v)", got, gotCond, tt.want, tt.wantCond)
			}
			if n := len(r.requests()); n != len(tt.want) {
				t.Errorf("%d requests, want %d", n, len(tt.want))
			}
		})
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		statuses     []int
		wantRequests int
		wantDone     bool
		wantLog      string
	}{
		{"500 then success", []int{500, 500, 200}, 3, true, "notification sent"},
		{"503 then success", []int{503, 200}, 2, true, "notification sent"},
		{"429 then success", []int{429, 200}, 2, true, "notification sent"},
		{"400 not retried", []int{400}, 1, false, "webhook refused the notification"},
		{"404 not retried", []int{404}, 1, false, "webhook refused the notification"},
		{"redirect not followed", []int{302}, 1, false, "webhook refused the notification"},
		{"500 until the attempts run out", []int{500}, 5, false, "tried again later"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t, tt.statuses...)
			h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON)}}})
			h.observe(failing("a"))
			h.idle(t)
			reqs := r.requests()
			if len(reqs) != tt.wantRequests {
				t.Fatalf("%d requests, want %d", len(reqs), tt.wantRequests)
			}
			if d := len(r.delivered()); (d == 1) != tt.wantDone || d > 1 {
				t.Errorf("%d deliveries, want done=%v", d, tt.wantDone)
			}
			if !strings.Contains(h.logs.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, h.logs)
			}
			h.mu.Lock()
			slept := append([]time.Duration(nil), h.slept...)
			h.mu.Unlock()
			if len(slept) != tt.wantRequests-1 {
				t.Errorf("slept %v, want %d backoffs", slept, tt.wantRequests-1)
			}
			for i, d := range slept {
				hi := time.Second << i
				if d < hi/2 || d > hi {
					t.Errorf("backoff %d is %s, want within [%s, %s]", i+1, d, hi/2, hi)
				}
			}
			// Observed again, later: a final refusal is not sent again and
			// logged once; a delivered one is not sent again either.
			for range 3 {
				h.clock.Add(2 * time.Hour)
				h.observe(failing("a"))
				h.idle(t)
			}
			after := len(r.requests())
			refusals := strings.Count(h.logs.String(), "webhook refused")
			switch {
			case tt.wantDone:
				if after != tt.wantRequests {
					t.Errorf("%d requests after more observations, want %d", after, tt.wantRequests)
				}
			case tt.wantRequests == 1:
				if after != 1 || refusals != 1 {
					t.Errorf("%d requests, refusal logged %d times; want 1 and 1", after, refusals)
				}
			default:
				// Still failing: each later round retries it.
				if after != tt.wantRequests*4 {
					t.Errorf("%d requests after 3 more rounds, want %d", after, tt.wantRequests*4)
				}
			}
		})
	}
}

func TestBackoffCapped(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 500)
	h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON)}},
		Attempts: 8, BaseBackoff: time.Second, MaxBackoff: 4 * time.Second})
	h.observe(failing("a"))
	h.idle(t)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.slept) != 7 {
		t.Fatalf("slept %v, want 7 backoffs", h.slept)
	}
	for i, d := range h.slept {
		if d > 4*time.Second || (i >= 2 && d < 2*time.Second) {
			t.Errorf("backoff %d is %s, want at most 4s (and at least 2s once capped)", i+1, d)
		}
	}
}

// A round that fails keeps the notification: the next Observe after
// RetryLater sends it again, until delivered, then never again.
func TestFailedRoundRetriedLater(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 500, 500, 200)
	h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON)}}, Attempts: 2, RetryLater: time.Minute})
	h.observe(failing("a"))
	h.idle(t)
	if n := len(r.requests()); n != 2 {
		t.Fatalf("%d requests after the first round, want 2", n)
	}
	h.clock.Add(30 * time.Second)
	h.observe(failing("a"))
	h.idle(t)
	if n := len(r.requests()); n != 2 {
		t.Fatalf("%d requests before RetryLater, want 2", n)
	}
	h.clock.Add(31 * time.Second)
	h.observe(failing("a"))
	h.idle(t)
	if n, d := len(r.requests()), len(r.delivered()); n != 3 || d != 1 {
		t.Fatalf("%d requests, %d deliveries after RetryLater; want 3 and 1", n, d)
	}
	h.clock.Add(time.Hour)
	h.observe(failing("a"))
	h.idle(t)
	if n := len(r.requests()); n != 3 {
		t.Errorf("%d requests once delivered, want 3", n)
	}
	// The condition clears: one recovered.
	h.observe()
	h.idle(t)
	if d := r.delivered(); len(d) != 2 || decode(t, d[1]).Event != Recovered {
		t.Errorf("want the recovery delivered, got %d deliveries", len(d))
	}
}

// An alarm never delivered has no recovery.
func TestNoRecoveryWithoutAlarm(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 400, 200)
	h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON)}}})
	h.observe(failing("a"))
	h.idle(t)
	h.observe()
	h.idle(t)
	if n := len(r.requests()); n != 1 {
		t.Errorf("%d requests, want 1 (the refused alarm, no recovery)", n)
	}
}

func TestDeadReceiverDoesNotBlock(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	r.block = make(chan struct{})
	defer close(r.block)
	h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON)}}, Timeout: time.Hour, QueueSize: 2})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			cs := make([]Condition, 0, i+1)
			for j := range i + 1 {
				cs = append(cs, failing(fmt.Sprintf("t%d", j)))
			}
			h.observe(cs...)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Observe blocked on a receiver that never answers")
	}
	if n := strings.Count(h.logs.String(), "notification queue full"); n != 1 {
		t.Errorf("the full queue was logged %d times over 50 observations, want once:\n%s", n, h.logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.n.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want the deadline", err)
	}
	h.observe(failing("after close")) // a no-op, not a panic
}

func TestCloseDrains(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON)}}})
	h.observe(failing("a"), failing("b"), failing("c"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d := len(r.delivered()); d != 3 {
		t.Errorf("%d deliveries after Close, want 3", d)
	}
}

func TestNoTokenValue(t *testing.T) {
	t.Parallel()
	registered := testkit.PAT(t)
	safetext.AddSecret(registered)
	shaped := testkit.PAT(t) // never registered: redacted by its shape
	r := newReceiver(t, 500, 200, 200, 200)
	h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON), {URL: r.srv.URL + "/slack", Format: FormatSlack}}}})
	c := Condition{Kind: RotationFailing, Target: "octo/app " + strings.ToUpper(registered), UseCase: "uc " + registered[len("groo_pat_"):],
		Message: "verify with " + registered + " failed\n\x1b[31m::add-mask::" + shaped, Since: t0}
	h.observe(c)
	h.idle(t)
	h.observe()
	h.idle(t)
	if d := len(r.delivered()); d != 4 {
		t.Fatalf("%d deliveries, want 4", d)
	}
	var all strings.Builder
	for _, q := range r.requests() {
		all.Write(q.body)
		if strings.ContainsAny(string(q.body), "\x1b\n") {
			t.Errorf("body holds a raw control character: %q", q.body)
		}
		var m map[string]any
		if err := json.Unmarshal(q.body, &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m {
			if s, ok := v.(string); ok && k != "text" && strings.ContainsAny(s, "\x1b\n") {
				t.Errorf("field %s holds a control character: %q", k, s)
			}
			if s, ok := v.(string); ok && strings.Contains(s, "\x1b") {
				t.Errorf("field %s holds ESC: %q", k, s)
			}
		}
	}
	all.WriteString(h.logs.String())
	low := strings.ToLower(all.String())
	for _, secret := range []string{registered, registered[len("groo_pat_"):], shaped, shaped[len("groo_pat_"):]} {
		if strings.Contains(low, strings.ToLower(secret)) {
			t.Errorf("a token value reached a body or a log:\n%s", all.String())
		}
	}
	if !strings.Contains(all.String(), `\x1b[31m`) {
		t.Errorf("the control character is not escaped visibly:\n%s", all.String())
	}
}

func TestWebhookURLNeverPrinted(t *testing.T) {
	t.Parallel()
	const secretPath, secretQuery = "T0ABC/B0DEF/SeCrEtPaThPart", "sig=QuErYsEcReT"
	r := newReceiver(t, 500, 500, 404)
	r.echo = true
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/" + secretPath + "?" + secretQuery
	dead.Close()
	hooks := []Webhook{
		{URL: r.srv.URL + "/" + secretPath + "?" + secretQuery, Format: FormatJSON},
		{URL: deadURL, Format: FormatSlack},
	}
	h := newNotifier(t, Options{Settings: Settings{Webhooks: hooks}, Attempts: 3})
	h.observe(failing("a"))
	h.idle(t)
	h.n.log.Info("webhooks", "hooks", hooks, "first", hooks[0])

	var out strings.Builder
	out.WriteString(h.logs.String())
	fmt.Fprintf(&out, "%v %+v %#v %s %+v\n", hooks[0], hooks[1], hooks[0], hooks, Settings{Webhooks: hooks})
	js, err := json.Marshal(Settings{Webhooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(js)
	jsonLog := slog.New(slog.NewJSONHandler(&out, nil))
	jsonLog.Info("settings", "settings", Settings{Webhooks: hooks}, "hook", hooks[0])
	for _, bad := range []Settings{
		{Webhooks: []Webhook{hooks[0], hooks[0]}},
		{Webhooks: []Webhook{{URL: "ftp://example.com/" + secretPath + "?" + secretQuery}}},
		{Webhooks: []Webhook{{URL: "https://user:" + secretQuery + "@example.com/" + secretPath}}},
		{Webhooks: []Webhook{{URL: "https://example.com/" + secretPath + "\n"}}},
		{Webhooks: []Webhook{{URL: "https://exa mple.com/%zz" + secretPath}}},
	} {
		err := bad.Validate()
		if err == nil {
			t.Errorf("Validate accepted %v", bad.Webhooks)
			continue
		}
		out.WriteString(err.Error() + "\n")
	}
	if err := post(context.Background(), http.DefaultClient, hooks[1], []byte("{}")); err != nil {
		out.WriteString(err.Error() + "\n")
	} else {
		t.Error("a POST to a closed server succeeded")
	}
	text := strings.ToLower(out.String())
	for _, s := range []string{secretPath, "secretpathpart", "querysecret", "b0def"} {
		if strings.Contains(text, strings.ToLower(s)) {
			t.Errorf("%q reached a log or an error:\n%s", s, out.String())
		}
	}
	for _, s := range []string{RedactURL(r.srv.URL), "500 Internal Server Error", "404 Not Found", "refused"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("logs and errors lack %q:\n%s", s, out.String())
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com"},
		{"http://127.0.0.1:8080/x?token=abc", "http://127.0.0.1:8080"},
		{"https://user:pw@example.com/p", "https://example.com"},
		{"not a url", "[invalid URL]"},
		{"", "[invalid URL]"},
		{"https://exa mple.com/", "[invalid URL]"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Two replicas sharing one claimer send one alarm and one recovery.
func TestClaimerTwoReplicas(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	claimer := NewMemoryClaimer()
	s := Settings{Webhooks: []Webhook{hook(r, FormatJSON)}}
	a := newNotifier(t, Options{Settings: s, Claimer: claimer})
	b := newNotifier(t, Options{Settings: s, Claimer: claimer})
	for range 3 {
		a.observe(failing("x"))
		b.observe(failing("x"))
	}
	a.idle(t)
	b.idle(t)
	b.observe()
	a.observe()
	a.idle(t)
	b.idle(t)
	var got []Kind
	for _, body := range r.delivered() {
		got = append(got, decode(t, body).Event)
	}
	if fmt.Sprint(got) != fmt.Sprint([]Kind{RotationFailing, Recovered}) {
		t.Errorf("two replicas delivered %v, want one alarm and one recovery", got)
	}
	// The condition returns (a new Since): a new occurrence, sent once.
	c := failing("x")
	c.Since = t0.Add(time.Hour)
	a.observe(c)
	b.observe(c)
	a.idle(t)
	b.idle(t)
	if d := len(r.delivered()); d != 3 {
		t.Errorf("%d deliveries after the condition returned, want 3", d)
	}
}

// Replicas that both see a condition flap (clear, then return with the same
// Since) send each step once between them.
func TestClaimerReplicasFlap(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	claimer := NewMemoryClaimer()
	s := Settings{Webhooks: []Webhook{hook(r, FormatJSON)}}
	a := newNotifier(t, Options{Settings: s, Claimer: claimer})
	b := newNotifier(t, Options{Settings: s, Claimer: claimer})
	for _, cs := range [][]Condition{{failing("x")}, {}, {failing("x")}, {}} {
		a.observe(cs...)
		a.idle(t)
		b.observe(cs...)
		b.idle(t)
	}
	var got []Kind
	for _, body := range r.delivered() {
		got = append(got, decode(t, body).Event)
	}
	if fmt.Sprint(got) != fmt.Sprint([]Kind{RotationFailing, Recovered, RotationFailing, Recovered}) {
		t.Errorf("two replicas delivered %v, want each step once", got)
	}
}

type flakyClaimer struct {
	mu    sync.Mutex
	fails int
	calls int
	inner *MemoryClaimer
}

func (f *flakyClaimer) Claim(ctx context.Context, key string) (bool, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls <= f.fails
	f.mu.Unlock()
	if fail {
		return false, errors.New("store unavailable")
	}
	return f.inner.Claim(ctx, key)
}

func (f *flakyClaimer) Done(ctx context.Context, key string) error { return f.inner.Done(ctx, key) }

func TestClaimErrorRetriedLater(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON)}},
		Claimer: &flakyClaimer{fails: 1, inner: NewMemoryClaimer()}, RetryLater: time.Minute})
	h.observe(failing("a"))
	h.idle(t)
	if n := len(r.requests()); n != 0 {
		t.Fatalf("%d requests without a claim, want 0", n)
	}
	if !strings.Contains(h.logs.String(), "cannot claim") {
		t.Errorf("log lacks the claim error:\n%s", h.logs)
	}
	h.clock.Add(2 * time.Minute)
	h.observe(failing("a"))
	h.idle(t)
	if d := len(r.delivered()); d != 1 {
		t.Errorf("%d deliveries once the claim works, want 1", d)
	}
}

func TestNoWebhooks(t *testing.T) {
	t.Parallel()
	h := newNotifier(t, Options{Settings: Settings{}})
	h.observe(failing("a"))
	h.observe()
}

// doneClaimer records which claimed keys were marked done.
type doneClaimer struct {
	*MemoryClaimer
	mu   sync.Mutex
	done []string
}

func (d *doneClaimer) Done(_ context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = append(d.done, key)
	return nil
}

func (d *doneClaimer) doneKeys() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.done...)
}

// TestClaimDoneOnlyWhenFinal: the claimer hears Done for a notification
// once it is final (delivered, or refused for good), never while its
// delivery is still to be retried: until then a claim whose sender dies
// stays open to the next claimer, so the notification is not lost.
func TestClaimDoneOnlyWhenFinal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []int
		done     bool
	}{
		{"delivered", []int{200}, true},
		{"refused", []int{400}, true},
		{"still failing", []int{500}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t, tt.statuses...)
			c := &doneClaimer{MemoryClaimer: NewMemoryClaimer()}
			h := newNotifier(t, Options{Settings: Settings{Webhooks: []Webhook{hook(r, FormatJSON)}}, Claimer: c})
			h.observe(failing("a"))
			h.idle(t)
			if got := c.doneKeys(); (len(got) == 1) != tt.done || len(got) > 1 {
				t.Errorf("done keys %q after %d requests, want done=%v", got, len(r.requests()), tt.done)
			}
		})
	}
}
