// Package action is pat-action, the container GitHub Action: it turns the
// step's inputs into one rotation (or plan, or audit) of one target and
// reports back to the runner through go-githubactions: masks first, then
// annotations, outputs, the step summary and, on request, GITHUB_ENV.
//
// Everything the runner provides is read through the *githubactions.Action
// (GetInput, Getenv), so tests drive it with WithGetenv and WithWriter.
package action

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
	"github.com/groo/pat-action/internal/safetext"
)

// Tool names this program in audit events and token descriptions.
const Tool = "pat-action"

// Deps are the seams of a run. The zero value is production: stdout, a
// plain HTTP client, the engine's default tuning.
type Deps struct {
	// Log receives the engine's log and the audit's JSON lines. It must be
	// the writer the Action prints to (stdout under a runner), so that masks
	// come before every line that follows them.
	Log io.Writer
	// AuditFallback receives the audit's JSON lines that Log refuses (a
	// closed stdout), so that each attempt keeps its events (os.Stderr).
	AuditFallback io.Writer
	// HTTPClient carries every request to Groo and GitHub.
	HTTPClient *http.Client
	// Engine tunes the rotation (tests shorten the write window).
	Engine rotation.Config
}

// FailedError is what Run returns after it printed its ::error::
// annotations: the caller only has to exit non-zero.
type FailedError struct{ Err error }

func (e *FailedError) Error() string { return e.Err.Error() }
func (e *FailedError) Unwrap() error { return e.Err }

// Run executes one step. Every error it returns has been reported to the
// runner as ::error:: already.
func Run(ctx context.Context, a *githubactions.Action, deps Deps) error {
	if deps.Log == nil {
		deps.Log = os.Stdout
	}
	if deps.AuditFallback == nil {
		deps.AuditFallback = os.Stderr
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}

	// The runner masks values that came from secrets, but an input may come
	// from a variable or another step's output: mask before anything else.
	for _, name := range secretInputs {
		for _, v := range masksFor(a.GetInput(name)) {
			mask(a, v)
		}
	}

	in, err := ParseInputs(a.GetInput, a.Getenv)
	if err != nil {
		for _, e := range unjoin(err) {
			errorf(a, "%s", e.Error())
		}
		return &FailedError{Err: err}
	}

	r := &runner{a: a, in: in, deps: deps, runURL: runURL(a.Getenv)}
	// Every log line is redacted: any token the run holds, and anything
	// shaped like one, in any letter case.
	r.logger = slog.New(safetext.NewHandler(slog.NewTextHandler(deps.Log, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if r.deps.Engine.Logger == nil {
		r.deps.Engine.Logger = r.logger
	} else {
		r.deps.Engine.Logger = slog.New(safetext.NewHandler(r.deps.Engine.Logger.Handler()))
	}
	r.now = time.Now
	if deps.Engine.Now != nil {
		r.now = deps.Engine.Now
	}

	switch in.Mode {
	case ModeAudit:
		err = r.audit(ctx)
	case ModePlan:
		err = r.plan(ctx)
	default:
		err = r.rotate(ctx)
	}
	if err == nil {
		return nil
	}
	var failed *FailedError
	if errors.As(err, &failed) {
		return err // already reported
	}
	msg := explain(err, in)
	errorf(a, "%s", msg)
	r.summary(renderFailure(in, msg, "", r.runURL))
	r.outputs(nil)
	return &FailedError{Err: err}
}

// runner holds one run's state.
type runner struct {
	a      *githubactions.Action
	in     *Inputs
	deps   Deps
	runURL string
	logger *slog.Logger
	now    func() time.Time
}

func (r *runner) grooClient() (rotation.GrooAPI, error) {
	c, err := groo.New(groo.WithBaseURL(r.in.GrooURL), groo.WithHTTPClient(r.deps.HTTPClient),
		groo.WithUserAgent(Tool+" (+https://github.com/groo/pat-action)"))
	if err != nil {
		return nil, &InputError{Input: inGrooAPIURL, Msg: err.Error()}
	}
	return c, nil
}

func (r *runner) engine(ctx context.Context) (*rotation.Engine, error) {
	gc, err := r.grooClient()
	if err != nil {
		return nil, err
	}
	gh, err := newGitHubClient(ctx, r.in, r.deps.HTTPClient, func(v string) { mask(r.a, v) })
	if err != nil {
		return nil, err
	}
	return &rotation.Engine{
		Groo:     gc,
		Secrets:  ghsecret.NewClient(gh),
		Recorder: r.recorder(),
		Config:   r.deps.Engine,
	}, nil
}

// recorder writes the audit's JSON lines to the step's log, else to the
// fallback.
func (r *runner) recorder() audit.Recorder {
	return fallbackRecorder{primary: audit.NewJSONLines(r.deps.Log), fallback: audit.NewJSONLines(r.deps.AuditFallback)}
}

func (r *runner) request() rotation.Request {
	return rotation.Request{
		Target:     r.in.Target,
		UseCase:    r.in.UseCase,
		Credential: r.in.GrooToken,
		TTL:        r.in.TTL,
		Grace:      r.in.Grace,
		Actor:      actor(r.runURL),
		Tool:       Tool,
		OnMint: func(t groo.Token) {
			// First thing after the mint, before the engine logs a line.
			mask(r.a, t.Reveal())
		},
	}
}

func (r *runner) rotate(ctx context.Context) error {
	eng, err := r.engine(ctx)
	if err != nil {
		return err
	}
	res, err := eng.Rotate(ctx, r.request())
	if res == nil || res.Written.IsZero() {
		if err == nil {
			err = errors.New("rotation ended without writing the secret")
		}
		msg := explain(err, r.in)
		errorf(r.a, "%s", msg)
		left := ""
		var rerr *rotation.Error
		if errors.As(err, &rerr) && rerr.LeftLive != "" {
			left = fmt.Sprintf("%s (%s; the next run settles it)", rerr.LeftLive, leftLiveReason(rerr))
			warningf(r.a, "new token %s", left)
		}
		r.summary(renderFailure(r.in, msg, left, r.runURL))
		r.outputs(nil)
		return &FailedError{Err: err}
	}
	// The secret holds the new token from here on, even if err is set (the
	// final audit event failed): report the rotation, then the error.

	infof(r.a, "Rotated %s: new token %s (last four %s) expires %s; use case %q",
		r.in.Target, res.New.ID, lastFour(res), fmtTimePtr(res.New.ExpiresAt), res.UseCase)
	if len(res.Revoked) > 0 {
		infof(r.a, "Revoked %s", strings.Join(res.Revoked, ", "))
	}
	for _, id := range res.Pending {
		if r.in.Grace > 0 {
			warningf(r.a, "token %s stays live for the revoke-grace of %s (until about %s); a later run revokes it",
				id, r.in.Grace, res.Written.Add(r.in.Grace).UTC().Format(time.RFC3339))
		} else {
			warningf(r.a, "token %s could not be revoked yet (the revoke kept failing); a later run retries, or revoke it at https://accounts.groo.dev", id)
		}
	}
	for _, id := range res.TooRecent {
		warningf(r.a, "token %s was left live: it is younger than the write window, so another run may still write it to the secret; a later run revokes it", id)
	}

	r.outputs(res)
	var exportErr error
	if r.in.ExportEnv {
		// Masked in OnMint; GITHUB_ENV is the one place the value may go.
		if exportErr = writeFileCommand(r.a, "GITHUB_ENV", r.in.Target.Name, res.NewToken.Reveal(), false); exportErr != nil {
			errorf(r.a, "export-env: could not write %s to GITHUB_ENV (%v). Fix: the secret holds the new token already; "+
				"later steps of this job must not use the old value, rerun the job", r.in.Target.Name, exportErr)
		} else {
			infof(r.a, "Exported %s to GITHUB_ENV for the later steps of this job", r.in.Target.Name)
		}
	}
	r.summary(renderRotation(res, r.in, r.runURL))
	if err != nil {
		errorf(r.a, "%s", explain(err, r.in))
	}
	if err != nil || exportErr != nil {
		return &FailedError{Err: errors.Join(err, exportErr)}
	}
	return nil
}

func leftLiveReason(e *rotation.Error) string {
	if e.OutcomeUnknown {
		return "the write's outcome is unknown, so the secret may hold it"
	}
	return "the clean-up revoke failed"
}

// outputNames are the step outputs, as in action.yml, in the order they are set.
var outputNames = []string{"token-id", "token-last4", "expires-at", "rotated", "revoked-token-ids", "pending-revoke-token-ids"}

// outputValues are the outputs of a result; nil is a run that rotated nothing.
func outputValues(res *rotation.Result) map[string]string {
	if res == nil {
		return map[string]string{"rotated": "false"}
	}
	exp := ""
	if res.New.ExpiresAt != nil {
		exp = res.New.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return map[string]string{
		"token-id":                 res.New.ID,
		"token-last4":              lastFour(res),
		"expires-at":               exp,
		"rotated":                  "true",
		"revoked-token-ids":        strings.Join(res.Revoked, ","),
		"pending-revoke-token-ids": strings.Join(union(res.Pending, res.TooRecent), ","),
	}
}

// outputs sets every step output (empty ones too, so that a later step
// never reads a stale value).
func (r *runner) outputs(res *rotation.Result) {
	if r.a.Getenv("GITHUB_OUTPUT") == "" {
		noticef(r.a, "GITHUB_OUTPUT is not set: outputs not written")
		return
	}
	vals := outputValues(res)
	for _, name := range outputNames {
		if err := writeFileCommand(r.a, "GITHUB_OUTPUT", name, vals[name], false); err != nil {
			warningf(r.a, "output %s not written: %v", name, err)
		}
	}
}

// summary appends to the step summary when the runner offers one.
func (r *runner) summary(md string) {
	if r.a.Getenv("GITHUB_STEP_SUMMARY") == "" {
		return
	}
	if err := fileCommand(func() { r.a.AddStepSummary(md) }); err != nil {
		warningf(r.a, "step summary not written: %v", err)
	}
}

func (r *runner) plan(ctx context.Context) error {
	eng, err := r.engine(ctx)
	if err != nil {
		return err
	}
	p, err := eng.Plan(ctx, r.request())
	if err != nil {
		return err
	}
	infof(r.a, "Plan for %s (use case %q); nothing will change:", r.in.Target, p.UseCase)
	for i, s := range p.Steps {
		infof(r.a, "  %d. %s: %s", i+1, s.Step, s.Detail)
	}
	live := make([]string, 0, len(p.Live))
	for _, t := range p.Live {
		live = append(live, t.ID)
	}
	ev := audit.Event{ID: planID(), Time: r.now(), Outcome: audit.OutcomePlanned, UseCase: p.UseCase, Target: p.Target,
		Actor: actor(r.runURL), Tool: Tool, Replaced: live}
	if err := r.recorder().Record(ctx, ev); err != nil {
		warningf(r.a, "audit event not written: %v", err)
	}
	r.outputs(nil)
	r.summary(renderPlan(p, r.in, r.runURL))
	return nil
}

// audit is mode: audit. It only reads: the Groo list (and the caller's
// identity), and the secret's metadata when a GitHub credential is given.
// The step fails when a finding is an error (more than one live token is
// one).
func (r *runner) audit(ctx context.Context) error {
	gc, err := r.grooClient()
	if err != nil {
		return err
	}
	all, err := gc.List(ctx, r.in.GrooToken)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	caller := ""
	if me, err := gc.Me(ctx, r.in.GrooToken); err == nil {
		caller = me.ID
	} else {
		infof(r.a, "Could not read the caller's Groo identity (the report names no user): %s", explain(err, r.in))
	}
	secret := r.secretMetadata(ctx)
	rep := audit.Build(auditInput(r.in, caller, all, secret, r.now()))

	var table strings.Builder
	if err := audit.RenderTable(&table, rep); err != nil {
		return err
	}
	infoText(r.a, strings.TrimRight(table.String(), "\n"))
	for _, f := range rep.Findings {
		switch f.Severity {
		case audit.SeverityError:
			errorf(r.a, "%s", findingAnnotation(f))
		case audit.SeverityWarning:
			warningf(r.a, "%s", findingAnnotation(f))
		}
		// Infos (what the audit could not tell) are in the table only.
	}
	r.outputs(nil)
	md, err := renderAudit(rep, r.runURL)
	if err != nil {
		return err
	}
	r.summary(md)
	if audit.ExitCode(rep, audit.FailOnError) != 0 {
		return &FailedError{Err: fmt.Errorf("audit of %q: %d finding(s) of severity error", r.in.UseCase, rep.Summary.Errors)}
	}
	return nil
}

// secretMetadata reads the target's secret metadata (never its value) when
// a GitHub credential is given; nil when none is, or when it cannot be read
// (the report then says the secret is unreadable).
func (r *runner) secretMetadata(ctx context.Context) *ghsecret.Metadata {
	if r.in.GitHubToken == "" && !r.in.usesApp() {
		return nil
	}
	gh, err := newGitHubClient(ctx, r.in, r.deps.HTTPClient, func(v string) { mask(r.a, v) })
	if err == nil {
		var md ghsecret.Metadata
		if md, err = ghsecret.NewClient(gh).Metadata(ctx, r.in.Target); err == nil {
			return &md
		}
	}
	warningf(r.a, "could not read the metadata of secret %s, so the audit cannot tell which token it holds: %s", r.in.Target, explain(err, r.in))
	return nil
}

// planID names a plan in the audit log, like a rotation's attempt id.
func planID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "plan_" + hex.EncodeToString(b[:])
}

// runURL is the workflow run, from the runner's variables.
func runURL(env func(string) string) string {
	repo, id := env("GITHUB_REPOSITORY"), env("GITHUB_RUN_ID")
	if repo == "" || id == "" {
		return ""
	}
	server := env("GITHUB_SERVER_URL")
	if server == "" {
		server = "https://github.com"
	}
	return strings.TrimRight(server, "/") + "/" + repo + "/actions/runs/" + id
}

// actor names who rotated, for the audit and the token's description.
func actor(runURL string) string {
	if runURL != "" {
		return runURL
	}
	host, _ := os.Hostname()
	return Tool + " on " + host
}

// Workflow commands. go-githubactions escapes %, \r and \n in annotation
// messages (and : and , in properties too); the text is also redacted and
// made inert first (safetext.Clean): no control or bidi character, no
// "::" or "##[" that could start a command on a line of its own.

func errorf(a *githubactions.Action, format string, args ...any) {
	a.Errorf("%s", safetext.Clean(fmt.Sprintf(format, args...)))
}

func warningf(a *githubactions.Action, format string, args ...any) {
	a.Warningf("%s", safetext.Clean(fmt.Sprintf(format, args...)))
}

func noticef(a *githubactions.Action, format string, args ...any) {
	a.Noticef("%s", safetext.Clean(fmt.Sprintf(format, args...)))
}

// infof prints one plain log line.
func infof(a *githubactions.Action, format string, args ...any) {
	a.Infof("%s", safetext.Clean(fmt.Sprintf(format, args...)))
}

// infoText prints plain lines (a table): each line made inert.
func infoText(a *githubactions.Action, s string) {
	a.Infof("%s", safetext.Text(safetext.Redact(s)))
}

// mask tells the runner to mask v and the redactor to redact it.
func mask(a *githubactions.Action, v string) {
	safetext.AddSecret(v)
	a.AddMask(v)
}

// fileCommand runs a go-githubactions file command, which panics when the
// runner's file cannot be written, and returns that as an error instead.
func fileCommand(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", p)
			}
		}
	}()
	f()
	return nil
}

// unjoin splits an errors.Join into its parts, one annotation each.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
