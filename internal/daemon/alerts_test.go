package daemon

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/sqlitestore"
	"github.com/groo/pat-action/internal/emulator"
)

// alertsFile is the shipped rule file (deploy/prometheus/alerts.yaml).
var alertsFile = filepath.Join("..", "..", "deploy", "prometheus", "alerts.yaml")

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var rules []rule
	for _, g := range f.Groups {
		if g.Name == "" {
			t.Errorf("%s: a group without a name", alertsFile)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || r.Record != "" {
				t.Errorf("%s: only alerting rules belong here: %+v", alertsFile, r)
			}
			if r.For != "" {
				if _, err := promDuration(r.For); err != nil {
					t.Errorf("%s: %s: for: %v", alertsFile, r.Alert, err)
				}
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: %s needs labels.severity and annotations.summary", alertsFile, r.Alert)
			}
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no rules", alertsFile)
	}
	return rules
}

// TestAlertRulesFireOnTheDaemonsMetrics runs the daemon against the
// emulator with a store that already knows a use case (as after a restart)
// and evaluates every rule of deploy/prometheus/alerts.yaml against its
// scraped /metrics:
//
//   - r0's secret holds, per the store, a token written three days ago that
//     expires in 12 hours, while Groo also has a newer live token expiring in
//     30 days: r0 is not rotated at start, and right after the start both
//     "expiring soon" and "no recent success" fire for r0 (from the store,
//     not from the newest live token);
//   - r1 has no token: rotated at start, healthy, no alert;
//   - r2's secret holds, per the store, a token that never expires, written
//     an hour ago: its expiry is +Inf and no alert names it;
//   - r3's token expires in 30 minutes: rotated at start with a grace of 2h,
//     so its old token stays pending and "revokes pending" fires;
//   - r9's repository does not exist: its rotation fails, "rotations
//     failing" fires for r9 only;
//   - the daemon's own PAT expires in 3 days: "credential expiring" fires.
//
// Each rule must fire for exactly the label sets listed; a rule the test
// does not know, an expression outside the evaluator's subset, or one that
// names a metric absent from /metrics fails it.
func TestAlertRulesFireOnTheDaemonsMetrics(t *testing.T) {
	t.Parallel()
	rules := loadRules(t)
	const (
		ucR0 = "GitHub Actions - octo/r0 GROO_PAT"
		ucR1 = "GitHub Actions - octo/r1 GROO_PAT"
		ucR2 = "GitHub Actions - octo/r2 GROO_PAT"
		ucR3 = "GitHub Actions - octo/r3 GROO_PAT"
		ucR9 = "GitHub Actions - octo/r9 GROO_PAT"
	)
	f := newFleet(t, 4, nil)
	now := time.Now()
	threeDaysAgo, hourAgo := now.Add(-72*time.Hour), now.Add(-time.Hour)
	in30m, in12h, in3d, in30d := now.Add(30*time.Minute), now.Add(12*time.Hour), now.Add(72*time.Hour), now.Add(30*24*time.Hour)
	bot := randomPAT()
	f.env["TEST_GROO_PAT"] = bot
	f.secrets = append(f.secrets, bot)
	seed := []emulator.SeedToken{
		{Name: "pat-rotator bot (expiring)", Secret: bot, CreatedAt: &hourAgo, ExpiresAt: &in3d},
		{ID: "tok_r0held", Name: ucR0, Secret: randomPAT(), CreatedAt: &threeDaysAgo, ExpiresAt: &in12h},
		{ID: "tok_r0newer", Name: ucR0, Secret: randomPAT(), CreatedAt: &hourAgo, ExpiresAt: &in30d},
		{ID: "tok_r2held", Name: ucR2, Secret: randomPAT(), CreatedAt: &hourAgo},
		{ID: "tok_r3old", Name: ucR3, Secret: randomPAT(), CreatedAt: &hourAgo, ExpiresAt: &in30m},
	}
	for _, s := range seed {
		f.secrets = append(f.secrets, s.Secret)
	}
	if err := f.emu.Seed(emulator.Seed{Groo: emulator.GrooSeed{Tokens: seed}}); err != nil {
		t.Fatal(err)
	}
	// The store of an earlier run: r0's secret holds tok_r0held, r2's tok_r2held.
	st, err := sqlitestore.Open(context.Background(), filepath.Join(f.dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []audit.Event{
		{ID: "att_earlier0", Time: threeDaysAgo, Outcome: audit.OutcomeSucceeded, UseCase: ucR0, Target: "repo:octo/r0",
			Actor: "pat-rotator@earlier", Tool: Tool, NewTokenID: "tok_r0held", NewTokenPrefix: "groo_pat_ab", NewTokenLast4: "0000",
			NewExpiresAt: &in12h, WrittenAt: &threeDaysAgo},
		{ID: "att_earlier2", Time: hourAgo, Outcome: audit.OutcomeSucceeded, UseCase: ucR2, Target: "repo:octo/r2",
			Actor: "pat-rotator@earlier", Tool: Tool, NewTokenID: "tok_r2held", NewTokenPrefix: "groo_pat_cd", NewTokenLast4: "2222",
			WrittenAt: &hourAgo},
	} {
		if err := st.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t, `defaults: {schedule: "@every 1h", ttl: 7d, revoke-grace: 0s, jitter: 0s}
daemon: {retry-min: 2h, retry-max: 2h}
targets:
  - repository: octo/r0
  - repository: octo/r1
  - repository: octo/r2
  - {repository: octo/r3, revoke-grace: 2h}
  - repository: octo/r9
`)
	results := make(chan TargetResult, 10)
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t), OnResult: func(tr TargetResult) { results <- tr }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	baseline := scrape(t, srv.URL+"/metrics")
	for _, uc := range []string{ucR0, ucR1, ucR2, ucR3, ucR9} {
		// At zero before any rotation, so that increase() sees the first failure.
		s := fmt.Sprintf(`pat_rotator_rotations_total{outcome="failed",use_case=%q}`, uc)
		if v := baseline.value(t, s); v != 0 {
			t.Errorf("%s = %v before Run, want 0", s, v)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx) }()
	got := map[string]error{}
	for range 3 {
		select {
		case tr := <-results:
			got[tr.Target.Name] = tr.Err
		case <-time.After(60 * time.Second):
			t.Fatalf("the start rotations did not happen: %v", got)
		}
	}
	current := scrape(t, srv.URL+"/metrics")
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["repo:octo/r1 GROO_PAT"] != nil || got["repo:octo/r3 GROO_PAT"] != nil || got["repo:octo/r9 GROO_PAT"] == nil {
		t.Fatalf("start rotations: %v; want r1 and r3 succeeded, r9 failed", got)
	}

	// What was loaded from the store: the held token's expiry, not the newest live one's.
	if v := current.value(t, fmt.Sprintf(`pat_rotator_token_expiry_timestamp_seconds{use_case=%q}`, ucR0)); v != float64(in12h.Unix()) {
		t.Errorf("r0 expiry = %v, want %d (the store's token, not the newest live one's %d)", v, in12h.Unix(), in30d.Unix())
	}
	if v := current.value(t, fmt.Sprintf(`pat_rotator_last_success_timestamp_seconds{use_case=%q}`, ucR0)); v != float64(threeDaysAgo.Unix()) {
		t.Errorf("r0 last success = %v, want %d (the store's)", v, threeDaysAgo.Unix())
	}
	if v := current.value(t, fmt.Sprintf(`pat_rotator_token_expiry_timestamp_seconds{use_case=%q}`, ucR2)); !math.IsInf(v, 1) {
		t.Errorf("r2 expiry = %v, want +Inf (its token never expires)", v)
	}
	if v := current.value(t, fmt.Sprintf(`pat_rotator_last_success_timestamp_seconds{use_case=%q}`, ucR2)); v != float64(hourAgo.Unix()) {
		t.Errorf("r2 last success = %v, want %d (the store's)", v, hourAgo.Unix())
	}
	build, err := current.series("pat_rotator_build_info")
	if err != nil || len(build) != 1 || build[0].v != 1 || build[0].labels["goversion"] != runtime.Version() ||
		build[0].labels["version"] == "" || build[0].labels["revision"] == "" {
		t.Errorf("pat_rotator_build_info = %v (%v), want one series at 1 with version, revision and goversion %s", build, err, runtime.Version())
	}
	for key := range current.values {
		if !strings.HasPrefix(key, "pat_rotator_") && !strings.HasPrefix(key, "go_") && !strings.HasPrefix(key, "process_") &&
			!strings.HasPrefix(key, "promhttp_") {
			t.Errorf("series %s lacks the pat_rotator_ prefix", key)
		}
	}

	want := map[string][]string{
		"PatRotatorTokenExpiringSoon":  {fmt.Sprintf(`{use_case=%q}`, ucR0)},
		"PatRotatorNoRecentSuccess":    {fmt.Sprintf(`{use_case=%q}`, ucR0)},
		"PatRotatorRevokesPending":     {`{}`},
		"PatRotatorRotationsFailing":   {fmt.Sprintf(`{use_case=%q}`, ucR9)},
		"PatRotatorCredentialExpiring": {`{}`},
	}
	evalNow := float64(time.Now().Unix())
	seen := map[string]bool{}
	for _, r := range rules {
		seen[r.Alert] = true
		expected, known := want[r.Alert]
		if !known {
			t.Errorf("%s: rule %s has no expectation in this test; add one", alertsFile, r.Alert)
			continue
		}
		e, err := parsePromQL(r.Expr)
		if err != nil {
			t.Errorf("%s: %s: %v", alertsFile, r.Alert, err)
			continue
		}
		for _, name := range e.metricNames() {
			if !current.has(name) {
				t.Errorf("%s: %s names %s, which the daemon's /metrics does not export", alertsFile, r.Alert, name)
			}
		}
		firing, err := e.alerts(evalEnv{now: evalNow, cur: current, base: baseline})
		if err != nil {
			t.Errorf("%s: %s: %v", alertsFile, r.Alert, err)
			continue
		}
		if !slices.Equal(firing, expected) {
			t.Errorf("%s fires for %v, want %v\nexpr: %s", r.Alert, firing, expected, r.Expr)
		}
		// Before the daemon ran (nothing loaded, nothing failed) no rule fires.
		quiet, err := e.alerts(evalEnv{now: evalNow, cur: baseline, base: baseline})
		if err != nil {
			t.Errorf("%s: %s: %v", alertsFile, r.Alert, err)
		} else if len(quiet) > 0 {
			t.Errorf("%s fires before the daemon ran: %v", r.Alert, quiet)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s lacks the alert %s", alertsFile, name)
		}
	}
	// The README's table of alerts is the file's.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		forCell := r.For
		if forCell == "" {
			forCell = "none"
		}
		row := fmt.Sprintf("| `%s` | `%s` | %s |", r.Alert, r.Expr, forCell)
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row %s (Observability, alerts)", row)
		}
	}
}

// TestPromQLSubset: the evaluator refuses what it does not implement, and
// evaluates what it does as Prometheus would.
func TestPromQLSubset(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		`rate(x[5m]) > 0`, `x offset 5m`, `x > on(a) y`, `x > bool 1`, `x{a=~"b"}`, `x and y`, `max without (a) (x)`,
		`increase(x[5m] offset 1m)`, `topk(1, x)`, `x > 0 > 1`, `(x`, `x[5m]`, `1 < 2`, `"a"`,
	} {
		if _, err := parsePromQL(expr); err == nil {
			if e, _ := parsePromQL(expr); e != nil {
				if _, err := e.alerts(evalEnv{cur: parseProm("x 1\ny 1\n"), base: parseProm("")}); err == nil {
					t.Errorf("%q: accepted, want refused", expr)
				}
			}
		}
	}
	cur := parseProm(`a{k="1"} 5
a{k="2"} 20
a{k="3",j="x"} 7
c_total{k="1"} 3
c_total{k="2"} 2
c_total{k="3"} 9
g +Inf
`)
	base := parseProm(`c_total{k="1"} 1
c_total{k="3"} 10
`)
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`a > 6`, []string{`{k="2"}`, `{j="x",k="3"}`}},
		{`max by (k) (a) - 10 < 0`, []string{`{k="1"}`, `{k="3"}`}},
		{`max(a) > 19`, []string{`{}`}},
		{`min(a) > 19`, nil},
		{`sum(a) == 32`, []string{`{}`}},
		{`20 - a >= 13`, []string{`{k="1"}`, `{k="3",j="x"}`}},
		{`time() - a > 90`, []string{`{k="1"}`, `{j="x",k="3"}`}},
		{`sum by (k) (increase(c_total[1d])) > 0`, []string{`{k="1"}`, `{k="3"}`}}, // k=2 has one sample only; k=3 was reset
		{`g - time() < 86400`, nil},
		{`a{k!="1"} * 2 > 2 * 7`, []string{`{k="2"}`}},
		{`a{k="9"} > 0`, nil},
	} {
		e, err := parsePromQL(tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		got, err := e.alerts(evalEnv{now: 100, cur: cur, base: base})
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		var want []string
		for _, w := range tc.want {
			want = append(want, canonical(parseLabels(t, w)))
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q = %v, want %v", tc.expr, got, want)
		}
	}
}

func parseLabels(t *testing.T, s string) map[string]string {
	_, ls, err := splitSeries("x" + s)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// ---- a small PromQL evaluator ----
//
// It evaluates, at one instant, the expression shapes the shipped rules use
// and nothing else (anything else is an error, which fails the test):
//
//   - number literals, time()
//   - selectors name{l="v", l!="v"} (no regex matchers, no offset)
//   - increase(selector[duration]): current minus the baseline scrape for the
//     series present in both (a counter reset counts the current value); a
//     series absent from the baseline has one sample and no increase, as in
//     Prometheus; the window is the time between the two scrapes
//   - max, min, sum, optionally "by (labels)", over a vector
//   - + - * / between scalars, or a vector and a scalar, or two vectors with
//     the same label sets (one-to-one, no on/ignoring/group_*)
//   - one comparison > < >= <= == != at the top, between a vector and a
//     scalar or two vectors, filtering as PromQL does (no bool modifier)
//
// The result must be a vector: the label sets it holds are the alerts that
// fire (the rule's "for" is not evaluated).

type evalEnv struct {
	now       float64
	cur, base promText
}

type sample struct {
	labels map[string]string
	v      float64
}

type value struct {
	vector bool
	s      float64
	vec    []sample
}

type node interface {
	eval(env evalEnv) (value, error)
	names(add func(string))
}

type expr struct{ root node }

func (e *expr) metricNames() []string {
	var out []string
	e.root.names(func(n string) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	})
	return out
}

// alerts evaluates the expression and returns the firing label sets, sorted.
func (e *expr) alerts(env evalEnv) ([]string, error) {
	v, err := e.root.eval(env)
	if err != nil {
		return nil, err
	}
	if !v.vector {
		return nil, fmt.Errorf("the expression is a scalar; an alert needs a vector")
	}
	var out []string
	for _, s := range v.vec {
		out = append(out, canonical(dropName(s.labels)))
	}
	sort.Strings(out)
	return out, nil
}

func canonical(ls map[string]string) string {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, ls[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func dropName(ls map[string]string) map[string]string {
	out := make(map[string]string, len(ls))
	for k, v := range ls {
		if k != "__name__" {
			out[k] = v
		}
	}
	return out
}

// has reports whether the scrape holds a series of the metric name.
func (p promText) has(name string) bool {
	for key := range p.values {
		n, _, err := splitSeries(key)
		if err == nil && n == name {
			return true
		}
	}
	return false
}

// series lists the scrape's series of a name, with their labels.
func (p promText) series(name string) ([]sample, error) {
	var out []sample
	for key, v := range p.values {
		n, ls, err := splitSeries(key)
		if err != nil {
			return nil, err
		}
		if n != name {
			continue
		}
		ls["__name__"] = n
		out = append(out, sample{labels: ls, v: v})
	}
	return out, nil
}

// splitSeries parses `name{a="x",b="y"}` (the exposition's series key).
func splitSeries(key string) (string, map[string]string, error) {
	ls := map[string]string{}
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key, ls, nil
	}
	name, rest := key[:i], key[i+1:]
	for {
		rest = strings.TrimLeft(rest, ", ")
		if strings.HasPrefix(rest, "}") {
			return name, ls, nil
		}
		eq := strings.IndexByte(rest, '=')
		if eq < 0 || len(rest) < eq+2 || rest[eq+1] != '"' {
			return "", nil, fmt.Errorf("series %q: bad labels", key)
		}
		k := rest[:eq]
		j := eq + 2
		for ; j < len(rest) && rest[j] != '"'; j++ {
			if rest[j] == '\\' {
				j++
			}
		}
		if j >= len(rest) {
			return "", nil, fmt.Errorf("series %q: unterminated label value", key)
		}
		v, err := strconv.Unquote(rest[eq+1 : j+1])
		if err != nil {
			return "", nil, fmt.Errorf("series %q: %v", key, err)
		}
		ls[k] = v
		rest = rest[j+1:]
	}
}

type numberNode struct{ v float64 }

func (n numberNode) eval(evalEnv) (value, error) { return value{s: n.v}, nil }
func (numberNode) names(func(string))            {}

type timeNode struct{}

func (timeNode) eval(env evalEnv) (value, error) { return value{s: env.now}, nil }
func (timeNode) names(func(string))              {}

type matcher struct {
	name, value string
	neg         bool
}

type selectorNode struct {
	metric   string
	matchers []matcher
}

func (s selectorNode) names(add func(string)) { add(s.metric) }

func (s selectorNode) selectFrom(p promText) ([]sample, error) {
	all, err := p.series(s.metric)
	if err != nil {
		return nil, err
	}
	var out []sample
	for _, smp := range all {
		ok := true
		for _, m := range s.matchers {
			if (smp.labels[m.name] == m.value) == m.neg {
				ok = false
			}
		}
		if ok {
			out = append(out, smp)
		}
	}
	return out, nil
}

func (s selectorNode) eval(env evalEnv) (value, error) {
	v, err := s.selectFrom(env.cur)
	return value{vector: true, vec: v}, err
}

type increaseNode struct {
	sel selectorNode
}

func (n increaseNode) names(add func(string)) { n.sel.names(add) }

func (n increaseNode) eval(env evalEnv) (value, error) {
	cur, err := n.sel.selectFrom(env.cur)
	if err != nil {
		return value{}, err
	}
	base, err := n.sel.selectFrom(env.base)
	if err != nil {
		return value{}, err
	}
	before := map[string]float64{}
	for _, s := range base {
		before[canonical(s.labels)] = s.v
	}
	out := value{vector: true}
	for _, s := range cur {
		b, ok := before[canonical(s.labels)]
		if !ok {
			continue
		}
		inc := s.v - b
		if s.v < b {
			inc = s.v // reset
		}
		out.vec = append(out.vec, sample{labels: dropName(s.labels), v: inc})
	}
	return out, nil
}

type aggNode struct {
	op  string
	by  []string
	arg node
}

func (n aggNode) names(add func(string)) { n.arg.names(add) }

func (n aggNode) eval(env evalEnv) (value, error) {
	v, err := n.arg.eval(env)
	if err != nil {
		return value{}, err
	}
	if !v.vector {
		return value{}, fmt.Errorf("%s over a scalar", n.op)
	}
	groups := map[string]*sample{}
	var order []string
	for _, s := range v.vec {
		ls := map[string]string{}
		for _, l := range n.by {
			if x, ok := s.labels[l]; ok {
				ls[l] = x
			}
		}
		k := canonical(ls)
		g, ok := groups[k]
		if !ok {
			groups[k] = &sample{labels: ls, v: s.v}
			order = append(order, k)
			continue
		}
		switch n.op {
		case "max":
			g.v = math.Max(g.v, s.v)
		case "min":
			g.v = math.Min(g.v, s.v)
		case "sum":
			g.v += s.v
		}
	}
	out := value{vector: true}
	for _, k := range order {
		out.vec = append(out.vec, *groups[k])
	}
	return out, nil
}

type binNode struct {
	op   string
	l, r node
}

func (n binNode) names(add func(string)) { n.l.names(add); n.r.names(add) }

func isComparison(op string) bool {
	switch op {
	case ">", "<", ">=", "<=", "==", "!=":
		return true
	}
	return false
}

func apply(op string, a, b float64) (float64, bool) {
	switch op {
	case "+":
		return a + b, true
	case "-":
		return a - b, true
	case "*":
		return a * b, true
	case "/":
		return a / b, true
	case ">":
		return a, a > b
	case "<":
		return a, a < b
	case ">=":
		return a, a >= b
	case "<=":
		return a, a <= b
	case "==":
		return a, a == b
	case "!=":
		return a, a != b
	}
	panic(op)
}

func (n binNode) eval(env evalEnv) (value, error) {
	l, err := n.l.eval(env)
	if err != nil {
		return value{}, err
	}
	r, err := n.r.eval(env)
	if err != nil {
		return value{}, err
	}
	cmp := isComparison(n.op)
	switch {
	case !l.vector && !r.vector:
		if cmp {
			return value{}, fmt.Errorf("a comparison of two scalars needs bool, which is not supported")
		}
		v, _ := apply(n.op, l.s, r.s)
		return value{s: v}, nil
	case l.vector && !r.vector:
		out := value{vector: true}
		for _, s := range l.vec {
			if v, keep := apply(n.op, s.v, r.s); keep {
				out.vec = append(out.vec, sample{labels: dropName(s.labels), v: v})
			}
		}
		return out, nil
	case !l.vector && r.vector:
		out := value{vector: true}
		for _, s := range r.vec {
			v, keep := apply(n.op, l.s, s.v)
			if cmp {
				v = s.v // a filter keeps the vector's value
			}
			if keep {
				out.vec = append(out.vec, sample{labels: dropName(s.labels), v: v})
			}
		}
		return out, nil
	}
	right := map[string]float64{}
	for _, s := range r.vec {
		k := canonical(dropName(s.labels))
		if _, dup := right[k]; dup {
			return value{}, fmt.Errorf("many-to-one matching is not supported")
		}
		right[k] = s.v
	}
	out := value{vector: true}
	for _, s := range l.vec {
		rv, ok := right[canonical(dropName(s.labels))]
		if !ok {
			continue
		}
		if v, keep := apply(n.op, s.v, rv); keep {
			out.vec = append(out.vec, sample{labels: dropName(s.labels), v: v})
		}
	}
	return out, nil
}

// The parser.

var promToken = regexp.MustCompile(`^(?:\s+|[0-9]+(?:\.[0-9]+)?(?:[smhdwy]\b)?|[A-Za-z_:][A-Za-z0-9_:]*|"(?:[^"\\]|\\.)*"|!=|>=|<=|==|=~|!~|[-+*/(){}\[\],<>=])`)

type promParser struct {
	toks []string
	pos  int
}

func parsePromQL(src string) (*expr, error) {
	p := &promParser{}
	for rest := src; rest != ""; {
		m := promToken.FindString(rest)
		if m == "" {
			return nil, fmt.Errorf("%q: unexpected %q", src, rest)
		}
		if strings.TrimSpace(m) != "" {
			p.toks = append(p.toks, m)
		}
		rest = rest[len(m):]
	}
	root, err := p.comparison()
	if err != nil {
		return nil, fmt.Errorf("%q: %v", src, err)
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("%q: unsupported from %q", src, strings.Join(p.toks[p.pos:], " "))
	}
	return &expr{root: root}, nil
}

func (p *promParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *promParser) next() string { t := p.peek(); p.pos++; return t }

func (p *promParser) expect(tok string) error {
	if got := p.next(); got != tok {
		return fmt.Errorf("want %q, got %q", tok, got)
	}
	return nil
}

func (p *promParser) comparison() (node, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	if op := p.peek(); isComparison(op) {
		p.next()
		if p.peek() == "bool" {
			return nil, fmt.Errorf("the bool modifier is not supported")
		}
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		if isComparison(p.peek()) {
			return nil, fmt.Errorf("chained comparisons are not supported")
		}
		return binNode{op: op, l: l, r: r}, nil
	}
	return l, nil
}

func (p *promParser) additive() (node, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for op := p.peek(); op == "+" || op == "-"; op = p.peek() {
		p.next()
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = binNode{op: op, l: l, r: r}
	}
	return l, nil
}

func (p *promParser) multiplicative() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for op := p.peek(); op == "*" || op == "/"; op = p.peek() {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = binNode{op: op, l: l, r: r}
	}
	return l, nil
}

func isIdent(tok string) bool {
	return tok != "" && (unicode.IsLetter(rune(tok[0])) || tok[0] == '_' || tok[0] == ':')
}

func (p *promParser) unary() (node, error) {
	tok := p.next()
	switch {
	case tok == "(":
		n, err := p.comparison()
		if err != nil {
			return nil, err
		}
		return n, p.expect(")")
	case tok != "" && tok[0] >= '0' && tok[0] <= '9':
		v, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			return nil, fmt.Errorf("number %q: %v", tok, err)
		}
		return numberNode{v}, nil
	case tok == "time":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		return timeNode{}, p.expect(")")
	case tok == "max" || tok == "min" || tok == "sum":
		n := aggNode{op: tok}
		if p.peek() == "by" {
			p.next()
			if err := p.expect("("); err != nil {
				return nil, err
			}
			for p.peek() != ")" {
				l := p.next()
				if !isIdent(l) {
					return nil, fmt.Errorf("by: label %q", l)
				}
				n.by = append(n.by, l)
				if p.peek() == "," {
					p.next()
				}
			}
			p.next()
		}
		if err := p.expect("("); err != nil {
			return nil, err
		}
		arg, err := p.comparison()
		if err != nil {
			return nil, err
		}
		n.arg = arg
		return n, p.expect(")")
	case tok == "increase":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		sel, err := p.selector(p.next())
		if err != nil {
			return nil, err
		}
		if err := p.expect("["); err != nil {
			return nil, err
		}
		if _, err := promDuration(p.next()); err != nil {
			return nil, err
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		return increaseNode{sel: sel}, p.expect(")")
	case isIdent(tok):
		if p.peek() == "(" {
			return nil, fmt.Errorf("function or aggregation %s is not supported", tok)
		}
		return p.selector(tok)
	}
	return nil, fmt.Errorf("unsupported %q", tok)
}

func (p *promParser) selector(name string) (selectorNode, error) {
	if !isIdent(name) || slices.Contains([]string{"by", "without", "on", "ignoring", "offset", "bool", "and", "or", "unless"}, name) {
		return selectorNode{}, fmt.Errorf("metric name %q", name)
	}
	s := selectorNode{metric: name}
	if p.peek() == "{" {
		p.next()
		for p.peek() != "}" {
			l := p.next()
			op := p.next()
			v := p.next()
			if !isIdent(l) || (op != "=" && op != "!=") || !strings.HasPrefix(v, `"`) {
				return s, fmt.Errorf("matcher %s %s %s is not supported", l, op, v)
			}
			uv, err := strconv.Unquote(v)
			if err != nil {
				return s, err
			}
			s.matchers = append(s.matchers, matcher{name: l, value: uv, neg: op == "!="})
			if p.peek() == "," {
				p.next()
			}
			if p.peek() == "" {
				return s, fmt.Errorf("unterminated selector")
			}
		}
		p.next()
	}
	if p.peek() == "offset" || p.peek() == "@" {
		return s, fmt.Errorf("offset and @ are not supported")
	}
	return s, nil
}

// promDuration parses Prometheus durations of one unit (30s, 10m, 1h, 1d, 1w, 1y).
func promDuration(s string) (time.Duration, error) {
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}
	if len(s) < 2 {
		return 0, fmt.Errorf("duration %q", s)
	}
	u, ok := units[s[len(s)-1]]
	n, err := strconv.Atoi(s[:len(s)-1])
	if !ok || err != nil || n <= 0 {
		return 0, fmt.Errorf("duration %q", s)
	}
	return time.Duration(n) * u, nil
}
