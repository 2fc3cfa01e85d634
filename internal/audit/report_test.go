package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/testkit"
)

func findingCodes(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func reportUseCase(t *testing.T, r Report, name string) UseCaseReport {
	t.Helper()
	for _, uc := range r.UseCases {
		if uc.UseCase == name {
			return uc
		}
	}
	t.Fatalf("use case %q not in the report", name)
	return UseCaseReport{}
}

func hasFinding(fs []Finding, code, tokenID string) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Code == code && (tokenID == "" || f.TokenID == tokenID) })
}

func TestFixtureHasEveryFinding(t *testing.T) {
	t.Parallel()
	r := Build(fixtureInput())
	// One credential has one of its findings: the others come from the
	// same account with another credential.
	noExpiry, unknown := fixtureInput(), fixtureInput()
	for i, t := range noExpiry.Tokens {
		if t.ID == "tok_bot_b7" {
			noExpiry.Tokens[i].ExpiresAt = nil
		}
	}
	unknown.Credential = CredentialRef{Prefix: "groo_pat_zz", LastFour: "0000"}
	all := slices.Concat(r.Findings, Build(noExpiry).Findings, Build(unknown).Findings)
	for _, k := range FindingKinds {
		if !hasFinding(all, k.Code, "") {
			t.Errorf("the fixture does not produce finding %s", k.Code)
		}
	}
	for _, f := range r.Findings {
		if k := findingKind(f.Code); f.Severity != k.Severity {
			t.Errorf("finding %s has severity %s, documented %s", f.Code, f.Severity, k.Severity)
		}
		if f.Message == "" || f.Fix == "" {
			t.Errorf("finding %s of %s lacks a message or a fix: %+v", f.Code, f.UseCase, f)
		}
	}
}

func TestBuildFixture(t *testing.T) {
	t.Parallel()
	r := Build(fixtureInput())

	if r.Version != 2 || !r.GeneratedAt.Equal(fixtureNow) || r.Caller != "usr_octo" {
		t.Errorf("header = %d %s %q", r.Version, r.GeneratedAt, r.Caller)
	}
	wantSummary := Summary{UseCases: 6, LiveTokens: 10, Unmanaged: 2, Errors: 10, Warnings: 11, Infos: 3}
	if r.Summary != wantSummary {
		t.Errorf("summary = %+v, want %+v", r.Summary, wantSummary)
	}
	if got := r.MaxSeverity(); got != SeverityError {
		t.Errorf("MaxSeverity = %q", got)
	}

	tests := []struct {
		useCase, inSecret, source, secret string
		live                              []string
		codes                             []string
	}{
		{ucApp, "tok_app_cur", InSecretStore, SecretPresent, []string{"tok_app_old", "tok_app_hnd", "tok_app_cur"},
			[]string{CodeExpiresBeforeNextRotation, CodeMultipleLiveTokens, CodeNoExpiry, CodeRevokeFailing, CodeTTLAboveMax, CodeUnused, CodeUnused}},
		{ucProd, "tok_prd_b02", InSecretDerived, SecretPresent, []string{"tok_prd_a01", "tok_prd_b02"},
			[]string{CodeMultipleLiveTokens, CodeRepeatedFailures, CodeRevokePending, CodeSecretWrittenOutside, CodeRevokeScheduled}},
		{ucDep, "", InSecretNone, SecretMissing, []string{"tok_dep_01"}, []string{CodeSecretMissing}},
		{ucOrg, "", InSecretUnknown, SecretUnknown, []string{"tok_org_01"},
			[]string{CodeExpiresBeforeNextRotation, CodeInSecretUnknown, CodeSecretUnreadable}},
		{ucWeb, "", InSecretUnknown, SecretPresent, nil, []string{CodeNoLiveToken}},
		{ucAPI, "tok_api_01", InSecretStore, SecretPresent, []string{"tok_api_02"}, []string{CodeSecretTokenNotLive}},
	}
	for _, tt := range tests {
		uc := reportUseCase(t, r, tt.useCase)
		if uc.InSecret != tt.inSecret || uc.InSecretSource != tt.source || uc.Secret != tt.secret {
			t.Errorf("%s: in secret %q (%s), secret %s; want %q (%s), %s", tt.useCase, uc.InSecret, uc.InSecretSource, uc.Secret,
				tt.inSecret, tt.source, tt.secret)
		}
		var live []string
		for _, row := range uc.Live {
			live = append(live, row.ID)
			if row.InSecret != (row.ID == tt.inSecret) {
				t.Errorf("%s: token %s in_secret = %v", tt.useCase, row.ID, row.InSecret)
			}
		}
		if !slices.Equal(live, tt.live) {
			t.Errorf("%s: live = %v, want %v", tt.useCase, live, tt.live)
		}
		if got := findingCodes(uc.Findings); !slices.Equal(got, tt.codes) {
			t.Errorf("%s: findings = %v, want %v", tt.useCase, got, tt.codes)
		}
	}

	// Orphans: the live legacy tokens; not the revoked one, not "laptop".
	var orphans []string
	for _, o := range r.Orphans {
		orphans = append(orphans, o.ID)
	}
	if want := []string{"tok_leg_02", "tok_leg_01"}; !slices.Equal(orphans, want) {
		t.Errorf("orphans = %v, want %v", orphans, want)
	}
	// The unused token in the secret is never flagged; the extra ones are.
	app := reportUseCase(t, r, ucApp)
	if hasFinding(app.Findings, CodeUnused, "tok_app_cur") || !hasFinding(app.Findings, CodeUnused, "tok_app_old") ||
		!hasFinding(app.Findings, CodeUnused, "tok_app_hnd") {
		t.Errorf("unused findings wrong: %+v", app.Findings)
	}
	// --since left the January success out; the planned event too.
	prod := reportUseCase(t, r, ucProd)
	if prod.LastRotation == nil || prod.LastRotation.AttemptID != "att_prd_4" || prod.LastRotation.Outcome != "failed" {
		t.Errorf("prod last rotation = %+v", prod.LastRotation)
	}
	// The report's findings are the use cases', one per orphan, the
	// unmanaged tokens' and the credential's, worst first.
	n := len(r.Orphans) + 4
	for _, uc := range r.UseCases {
		n += len(uc.Findings)
	}
	if len(r.Findings) != n {
		t.Errorf("report has %d findings, use cases and orphans %d", len(r.Findings), n)
	}
	for i := 1; i < len(r.Findings); i++ {
		if severityRank(r.Findings[i].Severity) > severityRank(r.Findings[i-1].Severity) {
			t.Errorf("findings not worst first at %d: %s after %s", i, r.Findings[i].Severity, r.Findings[i-1].Severity)
		}
	}
}

func renderAll(t *testing.T, r Report) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, render := range map[string]func(*bytes.Buffer, Report) error{
		"report.table.golden": func(b *bytes.Buffer, r Report) error { return RenderTable(b, r) },
		"report.json.golden":  func(b *bytes.Buffer, r Report) error { return RenderJSON(b, r) },
		"report.md.golden":    func(b *bytes.Buffer, r Report) error { return RenderMarkdown(b, r) },
	} {
		var b bytes.Buffer
		if err := render(&b, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b.Bytes()
	}
	return out
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	for name, got := range renderAll(t, Build(fixtureInput())) {
		testkit.Golden(t, filepath.Join("testdata", "report", name), got)
	}
}

func TestRenderEmpty(t *testing.T) {
	t.Parallel()
	r := Build(Input{Now: fixtureNow})
	if r.MaxSeverity() != "" || ExitCode(r, FailOnWarning) != 0 {
		t.Errorf("an empty report has severity %q", r.MaxSeverity())
	}
	outs := renderAll(t, r)
	if !bytes.Contains(outs["report.table.golden"], []byte("FINDINGS\n  none")) {
		t.Errorf("table of an empty report:\n%s", outs["report.table.golden"])
	}
	var decoded map[string]any
	if err := json.Unmarshal(outs["report.json.golden"], &decoded); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"use_cases", "orphans", "findings"} {
		if _, ok := decoded[k].([]any); !ok {
			t.Errorf("JSON %s = %#v, want an array", k, decoded[k])
		}
	}
	// A Report built by hand with nil slices renders arrays too.
	var b bytes.Buffer
	if err := RenderJSON(&b, Report{Version: 1, UseCases: []UseCaseReport{{UseCase: "x"}}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"use_cases", "orphans", "findings", "live_tokens"} {
		if strings.Contains(b.String(), `"`+k+`": null`) {
			t.Errorf("nil %s rendered as null:\n%s", k, b.String())
		}
	}
}

// TestRenderHostileNames checks that a token name cannot inject terminal
// escapes, table columns or HTML into the renderings.
func TestRenderHostileNames(t *testing.T) {
	t.Parallel()
	name := "GitHub Actions - x|y <script>alert(1)</script> \x1b[31mred\x1b[0m\tTAB\nNEWLINE `tick`"
	in := Input{Now: fixtureNow, ToolNamePrefixes: DefaultToolNamePrefixes,
		Tokens: []groo.TokenInfo{fxToken("tok_evil_01", name, "2026-01-01T00:00:00Z", nil, nil)}}
	outs := renderAll(t, Build(in))
	for _, k := range []string{"report.table.golden", "report.md.golden"} {
		s := string(outs[k])
		if strings.ContainsAny(s, "\x1b\t") {
			t.Errorf("%s holds a control character:\n%q", k, s)
		}
		if strings.Contains(s, "NEWLINE") && strings.Contains(s, "\nNEWLINE") {
			t.Errorf("%s: a newline in a name broke a line:\n%s", k, s)
		}
	}
	md := string(outs["report.md.golden"])
	if strings.Contains(md, "<script>") {
		t.Errorf("Markdown holds raw HTML:\n%s", md)
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| `GitHub") || strings.HasPrefix(line, "| GitHub") {
			// The orphan row: 7 cells, so 8 unescaped pipes.
			if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 8 {
				t.Errorf("orphan row has %d cell separators: %s", n, line)
			}
		}
	}
}

func TestInSecret(t *testing.T) {
	t.Parallel()
	const uc = "GitHub Actions - o/r GROO_PAT"
	now := fixtureNow
	t1 := fxToken("tok_t1", uc, "2026-03-01T00:00:00Z", fxTimeP("2026-04-01T00:00:00Z"), nil)
	t2 := fxToken("tok_t2", uc, "2026-03-05T00:00:00.400Z", fxTimeP("2026-04-05T00:00:00Z"), nil)
	t2.CreatedAt = fxTime("2026-03-05T00:00:00Z").Add(400 * time.Millisecond)
	success := func(id, written string) Event {
		return Event{ID: "att_" + id, Time: fxTime(written).Add(time.Second), Outcome: OutcomeSucceeded, NewTokenID: id, WrittenAt: fxTimeP(written)}
	}
	meta := func(updated string) *ghsecret.Metadata {
		return &ghsecret.Metadata{Exists: true, UpdatedAt: fxTime(updated)}
	}
	tests := []struct {
		name       string
		uc         UseCaseInput
		wantID     string
		wantSource string
		wantCode   string // a finding that must be there
	}{
		{"store, confirmed by updated_at", UseCaseInput{CurrentTokenID: "tok_t1", Secret: meta("2026-03-06T00:00:00Z"),
			History: []Event{success("tok_t1", "2026-03-05T23:59:30Z")}}, "tok_t1", InSecretStore, ""},
		{"store without history or metadata", UseCaseInput{CurrentTokenID: "tok_t1"}, "tok_t1", InSecretStore, CodeSecretUnreadable},
		{"history stands in for the store", UseCaseInput{Secret: meta("2026-03-01T00:00:05Z"),
			History: []Event{success("tok_t1", "2026-03-01T00:00:05Z")}}, "tok_t1", InSecretStore, ""},
		{"derived: updated_at in the same second as the mint", UseCaseInput{Secret: meta("2026-03-05T00:00:00Z")}, "tok_t2", InSecretDerived, ""},
		{"derived: before the newer token existed", UseCaseInput{Secret: meta("2026-03-04T00:00:00Z")}, "tok_t1", InSecretDerived, ""},
		{"store contradicted by an outside write: derived", UseCaseInput{CurrentTokenID: "tok_t1", Secret: meta("2026-03-07T00:00:00Z"),
			History: []Event{success("tok_t1", "2026-03-01T00:00:05Z")}}, "tok_t2", InSecretDerived, CodeSecretWrittenOutside},
		{"a later write of unknown outcome explains updated_at", UseCaseInput{CurrentTokenID: "tok_t1", Secret: meta("2026-03-05T00:00:01Z"),
			History: []Event{success("tok_t1", "2026-03-01T00:00:05Z"),
				{ID: "att_u", Time: fxTime("2026-03-05T00:02:00Z"), Outcome: OutcomeFailed, OutcomeUnknown: true, Duration: 2 * time.Minute, NewTokenID: "tok_t2"}}},
			"tok_t2", InSecretDerived, ""},
		{"store token not listed: derived", UseCaseInput{CurrentTokenID: "tok_gone", Secret: meta("2026-03-06T00:00:00Z"),
			History: []Event{success("tok_gone", "2026-03-06T00:00:00Z")}}, "tok_t2", InSecretDerived, ""},
		{"nothing says", UseCaseInput{Secret: nil}, "", InSecretUnknown, CodeInSecretUnknown},
		{"secret older than every token", UseCaseInput{Secret: meta("2026-02-01T00:00:00Z")}, "", InSecretUnknown, CodeInSecretUnknown},
		{"missing secret", UseCaseInput{CurrentTokenID: "tok_t1", Secret: &ghsecret.Metadata{}}, "", InSecretNone, CodeSecretMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := tt.uc
			u.UseCase, u.Target = uc, "repo:o/r GROO_PAT"
			r := Build(Input{Now: now, Tokens: []groo.TokenInfo{t1, t2}, UseCases: []UseCaseInput{u}})
			got := r.UseCases[0]
			if got.InSecret != tt.wantID || got.InSecretSource != tt.wantSource {
				t.Errorf("in secret = %q (%s), want %q (%s)", got.InSecret, got.InSecretSource, tt.wantID, tt.wantSource)
			}
			if tt.wantCode != "" && !hasFinding(got.Findings, tt.wantCode, "") {
				t.Errorf("want finding %s, got %v", tt.wantCode, findingCodes(got.Findings))
			}
			if tt.wantCode != CodeSecretWrittenOutside && hasFinding(got.Findings, CodeSecretWrittenOutside, "") {
				t.Errorf("unexpected %s: %+v", CodeSecretWrittenOutside, got.Findings)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	const uc = "GitHub Actions - o/r GROO_PAT"
	old := fxToken("tok_old", uc, "2025-01-01T00:00:00Z", fxTimeP("2026-12-01T00:00:00Z"), nil)
	cur := fxToken("tok_cur", uc, "2026-03-09T00:00:00Z", fxTimeP("2026-03-11T00:00:00Z"), nil)
	fail := Event{ID: "a", Time: fxTime("2026-03-09T00:00:00Z"), Outcome: OutcomeFailed}
	fail2, fail3 := fail, fail
	fail2.ID, fail3.ID = "b", "c"
	base := UseCaseInput{UseCase: uc, CurrentTokenID: "tok_cur", History: []Event{fail, fail2}}
	tests := []struct {
		name   string
		pol    Policy
		uc     func(UseCaseInput) UseCaseInput
		want   []string
		absent []string
	}{
		{"defaults", Policy{}, nil, []string{CodeTTLAboveMax, CodeUnused}, []string{CodeRepeatedFailures, CodeExpiresBeforeNextRotation}},
		{"checks off", Policy{MaxTTL: -1, UnusedAfter: -1, FailedRunsThreshold: -1}, nil, nil,
			[]string{CodeTTLAboveMax, CodeUnused, CodeRepeatedFailures}},
		{"threshold 2", Policy{FailedRunsThreshold: 2}, nil, []string{CodeRepeatedFailures}, nil},
		{"a success among the last 3", Policy{}, func(u UseCaseInput) UseCaseInput {
			s := fail3
			s.Outcome = OutcomeSucceeded
			u.History = []Event{fail, s, fail2}
			return u
		}, nil, []string{CodeRepeatedFailures}},
		{"since drops old failures", Policy{FailedRunsThreshold: 2, Since: fxTime("2026-03-09T12:00:00Z")}, nil, nil, []string{CodeRepeatedFailures}},
		{"interval", Policy{}, func(u UseCaseInput) UseCaseInput { u.Interval = 48 * time.Hour; return u },
			[]string{CodeExpiresBeforeNextRotation}, nil},
		{"next run first", Policy{}, func(u UseCaseInput) UseCaseInput {
			u.Interval = 48 * time.Hour
			u.NextRun = fxTimeP("2026-03-10T18:00:00Z")
			return u
		}, nil, []string{CodeExpiresBeforeNextRotation}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := base
			if tt.uc != nil {
				u = tt.uc(u)
			}
			r := Build(Input{Now: fixtureNow, Tokens: []groo.TokenInfo{old, cur}, UseCases: []UseCaseInput{u}, Policy: tt.pol})
			fs := r.UseCases[0].Findings
			for _, c := range tt.want {
				if !hasFinding(fs, c, "") {
					t.Errorf("want %s, got %v", c, findingCodes(fs))
				}
			}
			for _, c := range tt.absent {
				if hasFinding(fs, c, "") {
					t.Errorf("unwanted %s in %v", c, findingCodes(fs))
				}
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	withSeverities := func(sev ...string) Report {
		var r Report
		for _, s := range sev {
			r.Findings = append(r.Findings, Finding{Severity: s, Code: "x"})
		}
		return r
	}
	tests := []struct {
		name   string
		r      Report
		failOn string
		want   int
	}{
		{"never, with errors", withSeverities(SeverityError), "", 0},
		{"error, with an error", withSeverities(SeverityInfo, SeverityError), "error", 1},
		{"error, with warnings only", withSeverities(SeverityWarning, SeverityInfo), "error", 0},
		{"warning, with a warning", withSeverities(SeverityWarning), "warning", 1},
		{"warning, with an error", withSeverities(SeverityError), "warning", 1},
		{"warning, with infos only", withSeverities(SeverityInfo), "warning", 0},
		{"warning, clean", withSeverities(), "warning", 0},
		{"typo fails closed", withSeverities(), "errors", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ExitCode(tt.r, tt.failOn); got != tt.want {
				t.Errorf("ExitCode(%q) = %d, want %d", tt.failOn, got, tt.want)
			}
			if err := ValidateFailOn(tt.failOn); (err != nil) != (tt.want == 2) {
				t.Errorf("ValidateFailOn(%q) = %v", tt.failOn, err)
			} else if err != nil && !errors.Is(err, ErrInvalidFailOn) {
				t.Errorf("ValidateFailOn error %v is not ErrInvalidFailOn", err)
			}
		})
	}
	if got := withSeverities(SeverityInfo, SeverityWarning).MaxSeverity(); got != SeverityWarning {
		t.Errorf("MaxSeverity = %q", got)
	}
}

// TestDocsCoverEveryCode keeps docs/audit.md and the schema in step with
// FindingKinds.
func TestDocsCoverEveryCode(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "audit.md"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "audit-report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	codes := schema["$defs"].(map[string]any)["finding"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)["enum"].([]any)
	var schemaCodes []string
	for _, c := range codes {
		schemaCodes = append(schemaCodes, c.(string))
	}
	var kinds []string
	for _, k := range FindingKinds {
		kinds = append(kinds, k.Code)
		if !strings.Contains(string(doc), "`"+k.Code+"`") {
			t.Errorf("docs/audit.md does not document finding %s", k.Code)
		}
	}
	if !slices.Equal(schemaCodes, kinds) {
		t.Errorf("schema codes %v, FindingKinds %v", schemaCodes, kinds)
	}
}
