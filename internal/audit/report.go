package audit

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/retire"
)

// ReportVersion is Report.Version: bumped only when a field changes meaning
// or disappears (adding one keeps it), see docs/audit.md.
const ReportVersion = 2

// Defaults of Policy's zero fields.
const (
	DefaultMaxTTL              = 90 * 24 * time.Hour
	DefaultUnusedAfter         = 30 * 24 * time.Hour
	DefaultFailedRunsThreshold = 3
)

// The thresholds of the findings that have no Policy field.
const (
	// WrittenOutsideMargin absorbs the difference between the time a
	// rotation recorded for its write and GitHub's updated_at (clock skew,
	// GitHub's whole seconds).
	WrittenOutsideMargin = 2 * time.Minute
	// RevokeFailingAttempts and RevokeFailingLate turn a pending revoke
	// into a failing one.
	RevokeFailingAttempts = 3
	RevokeFailingLate     = time.Hour
	// CredentialExpirySoon turns the credential's expiry into
	// credential-expires-soon.
	CredentialExpirySoon = 7 * 24 * time.Hour
)

// DefaultToolNamePrefixes are the name schemes of the use cases the tool
// names by default (ghsecret.Target.UseCase); a caller's live token named so
// that matches no configured use case is an orphan.
var DefaultToolNamePrefixes = []string{"GitHub Actions - ", "Dependabot - "}

// Where UseCaseReport.InSecret comes from.
const (
	InSecretStore   = "store"   // the store's record of the last successful write
	InSecretDerived = "derived" // the newest live token created before the secret's updated_at
	InSecretUnknown = "unknown" // nothing says
	InSecretNone    = "none"    // the secret does not exist
)

// What UseCaseReport.Secret says about the secret.
const (
	SecretPresent = "present"
	SecretMissing = "missing"
	SecretUnknown = "unknown" // its metadata could not be read
)

// Input is everything a report is computed from. The Action fills it from
// the Groo list and the one target's metadata (no store, so no History);
// pat-rotator adds its store and its schedules. Nothing in it is a token
// value.
type Input struct {
	Now    time.Time
	Caller string // Groo user id of the token used to list (GET /v1/auth/me)
	// Tokens are the caller's tokens from GET /v1/account/tokens, revoked
	// ones included.
	Tokens   []groo.TokenInfo
	UseCases []UseCaseInput
	Policy   Policy
	// ToolNamePrefixes mark a token as the tool's for orphan detection
	// (usually DefaultToolNamePrefixes). Empty: no orphan detection, which
	// is what an audit of a single target wants.
	ToolNamePrefixes []string
	// KnownNames are use cases configured but not audited (a --target
	// subset): their tokens are neither orphans nor unmanaged.
	KnownNames []string
	// Credential identifies the token the caller authenticates with (its
	// prefix and last four, never its value); zero when unknown.
	Credential CredentialRef
	// IncludeUnmanaged lets PlanPrune revoke unmanaged tokens
	// (--include-unmanaged); without it they are listed as kept.
	IncludeUnmanaged bool
	// ActionFixes words every fix for a user of the Action (its inputs,
	// Groo's UI) instead of pat-rotator's commands.
	ActionFixes bool
}

// CredentialRef identifies a token as retire.Matches does: its prefix and
// last four (groo.Token's TokenPrefix and LastFour).
type CredentialRef struct {
	Prefix   string
	LastFour string
}

// matches reports whether listed token t is definitely the credential.
func (c CredentialRef) matches(t groo.TokenInfo) bool {
	return retire.Identifies(t, c.Prefix, c.LastFour)
}

// UseCaseInput is one configured target and what is known about it.
type UseCaseInput struct {
	UseCase string // the token name
	Target  string // ghsecret.Target.String()
	// Secret is the secret's metadata: nil when it could not be read,
	// Exists false when the secret is missing.
	Secret *ghsecret.Metadata
	// CurrentTokenID is what the store says the secret holds
	// (Store.Current); "" when unknown. When empty, the newest successful
	// event of History stands in.
	CurrentTokenID string
	// History is this use case's events (Store.History; any order, several
	// records of one attempt allowed, the last one wins). Empty in the
	// Action.
	History []Event
	// NextRun is the next scheduled rotation (daemon); nil when not
	// scheduled.
	NextRun *time.Time
	// Interval is the schedule's interval when known; with no NextRun, a
	// token must outlive Now+Interval.
	Interval time.Duration
	// PendingRevokes are the store's pending revokes of this use case.
	PendingRevokes []PendingRevoke
	// Grace is the target's revoke-grace. With the secret's updated_at and
	// the token it holds, the retire rule (retire.Rotation) tells a
	// replaced token still in its grace without a store.
	Grace time.Duration
}

// Policy tunes the findings. Zero fields take the defaults; a negative
// duration or threshold turns its check off.
type Policy struct {
	MaxTTL              time.Duration // ttl-above-max (90 days)
	UnusedAfter         time.Duration // unused (30 days)
	FailedRunsThreshold int           // repeated-failures (3)
	// Since drops events older than it from History (--since); zero keeps
	// them all.
	Since time.Time
}

func (p Policy) withDefaults() Policy {
	if p.MaxTTL == 0 {
		p.MaxTTL = DefaultMaxTTL
	}
	if p.UnusedAfter == 0 {
		p.UnusedAfter = DefaultUnusedAfter
	}
	if p.FailedRunsThreshold == 0 {
		p.FailedRunsThreshold = DefaultFailedRunsThreshold
	}
	return p
}

// Report is the audit of a set of use cases. Its JSON form is documented
// by docs/audit.md and docs/audit-report.schema.json.
type Report struct {
	Version      int             `json:"version"`
	GeneratedAt  time.Time       `json:"generated_at"`
	Caller       string          `json:"caller"`
	HistorySince *time.Time      `json:"history_since"`
	Summary      Summary         `json:"summary"`
	UseCases     []UseCaseReport `json:"use_cases"`
	Orphans      []TokenRow      `json:"orphans"`
	// Unmanaged are the caller's live tokens that are neither a configured
	// use case's nor named by the tool's scheme (nor the credential).
	Unmanaged []TokenRow `json:"unmanaged"`
	// Credential is the token the caller authenticates with, when
	// identified among the list.
	Credential *TokenRow `json:"credential"`
	// Findings is every finding of the report, the use cases', the
	// orphans', the unmanaged tokens' and the credential's, worst first.
	Findings []Finding `json:"findings"`
}

// Summary counts what the report holds.
type Summary struct {
	UseCases   int `json:"use_cases"`
	LiveTokens int `json:"live_tokens"` // of the use cases, plus orphans
	Unmanaged  int `json:"unmanaged_tokens"`
	Errors     int `json:"errors"`
	Warnings   int `json:"warnings"`
	Infos      int `json:"infos"`
}

// UseCaseReport is one use case: its live tokens, its secret, and what
// happened to it.
type UseCaseReport struct {
	UseCase         string     `json:"use_case"`
	Target          string     `json:"target"`
	Secret          string     `json:"secret"` // present, missing, unknown
	SecretUpdatedAt *time.Time `json:"secret_updated_at"`
	// InSecret is the id of the token the secret holds, "" when unknown or
	// when there is no secret; InSecretSource says how it is known.
	InSecret       string        `json:"in_secret"`
	InSecretSource string        `json:"in_secret_source"`
	Live           []TokenRow    `json:"live_tokens"` // oldest first
	LastRotation   *RotationInfo `json:"last_rotation"`
	NextRun        *time.Time    `json:"next_run"`
	Findings       []Finding     `json:"findings"`
}

// RotationInfo is the latest recorded attempt of a use case.
type RotationInfo struct {
	AttemptID string    `json:"attempt_id"`
	Outcome   string    `json:"outcome"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Error     string    `json:"error"`
}

// TokenRow is a Groo token as the report shows it: never its value.
type TokenRow struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	LastFour  string     `json:"last_four"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used"`
	ExpiresAt *time.Time `json:"expires_at"`
	InSecret  bool       `json:"in_secret"`
}

// tokenLive reports whether Groo still accepts t at now.
func tokenLive(t groo.TokenInfo, now time.Time) bool {
	return !t.Revoked && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

func utcTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func newTokenRow(t groo.TokenInfo, inSecret bool) TokenRow {
	return TokenRow{ID: t.ID, Name: t.Name, Prefix: t.TokenPrefix, LastFour: t.LastFour, CreatedAt: t.CreatedAt.UTC(),
		LastUsed: utcTimePtr(t.LastUsed), ExpiresAt: utcTimePtr(t.ExpiresAt), InSecret: inSecret}
}

// sortTokens orders tokens oldest first, then by id.
func sortTokens(ts []groo.TokenInfo) {
	slices.SortStableFunc(ts, func(a, b groo.TokenInfo) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}

// Build computes the report. It reads nothing and changes nothing: callers
// gather the Input, and only PlanPrune (and internal/prune, which carries a plan out) act on the result.
func Build(in Input) Report {
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	now := in.Now.UTC()
	pol := in.Policy.withDefaults()
	r := Report{Version: ReportVersion, GeneratedAt: now, Caller: in.Caller,
		UseCases: []UseCaseReport{}, Orphans: []TokenRow{}, Unmanaged: []TokenRow{}, Findings: []Finding{}}
	if !pol.Since.IsZero() {
		r.HistorySince = utcTimePtr(&pol.Since)
	}

	configured := map[string]bool{}
	for _, uc := range in.UseCases {
		configured[uc.UseCase] = true
		ur := buildUseCase(in, uc, now, pol)
		r.UseCases = append(r.UseCases, ur)
		r.Findings = append(r.Findings, ur.Findings...)
		r.Summary.LiveTokens += len(ur.Live)
	}

	var orphans []groo.TokenInfo
	for _, t := range in.Tokens {
		if tokenLive(t, now) && !configured[t.Name] && hasAnyPrefix(t.Name, in.ToolNamePrefixes) {
			orphans = append(orphans, t)
		}
	}
	slices.SortStableFunc(orphans, func(a, b groo.TokenInfo) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	for _, t := range orphans {
		r.Orphans = append(r.Orphans, newTokenRow(t, false))
		r.Findings = append(r.Findings, newFinding(CodeOrphan, t.Name, t.ID,
			fmt.Sprintf("token %s (%s…%s, %s) is named like the tool's use cases but no configured target uses that name",
				t.ID, t.TokenPrefix, t.LastFour, lastUsedPhrase(t, now)), ""))
	}
	r.Summary.LiveTokens += len(r.Orphans)
	r.Summary.UseCases = len(r.UseCases)

	for _, n := range in.KnownNames {
		configured[n] = true
	}
	scheme := append(slices.Clone(DefaultToolNamePrefixes), in.ToolNamePrefixes...)
	var unmanaged []groo.TokenInfo
	for _, t := range in.Tokens {
		if tokenLive(t, now) && !configured[t.Name] && !hasAnyPrefix(t.Name, scheme) && !in.Credential.matches(t) {
			unmanaged = append(unmanaged, t)
		}
	}
	slices.SortStableFunc(unmanaged, func(a, b groo.TokenInfo) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	for _, t := range unmanaged {
		r.Unmanaged = append(r.Unmanaged, newTokenRow(t, false))
		r.Findings = append(r.Findings, unmanagedFindings(t, now, pol)...)
	}
	r.Summary.Unmanaged = len(r.Unmanaged)
	r.Findings = append(r.Findings, credentialFindings(&r, in, configured, scheme, now)...)

	if in.ActionFixes {
		for i := range r.Findings {
			r.Findings[i].Fix = findingKind(r.Findings[i].Code).ActionFix
		}
		for i := range r.UseCases {
			for j := range r.UseCases[i].Findings {
				r.UseCases[i].Findings[j].Fix = findingKind(r.UseCases[i].Findings[j].Code).ActionFix
			}
		}
	}

	sortFindings(r.Findings)
	for _, f := range r.Findings {
		switch f.Severity {
		case SeverityError:
			r.Summary.Errors++
		case SeverityWarning:
			r.Summary.Warnings++
		case SeverityInfo:
			r.Summary.Infos++
		}
	}
	return r
}

// unmanagedFindings are the findings of a live token the tool does not
// manage: no expiry, a TTL above the maximum, unused.
func unmanagedFindings(t groo.TokenInfo, now time.Time, pol Policy) []Finding {
	var out []Finding
	who := fmt.Sprintf("unmanaged token %s (%s…%s)", t.ID, t.TokenPrefix, t.LastFour)
	if t.ExpiresAt == nil {
		out = append(out, newFinding(CodeUnmanagedNoExpiry, t.Name, t.ID, who+" never expires", ""))
	} else if ttl := t.ExpiresAt.Sub(t.CreatedAt); pol.MaxTTL > 0 && ttl > pol.MaxTTL {
		out = append(out, newFinding(CodeUnmanagedTTLAboveMax, t.Name, t.ID,
			fmt.Sprintf("%s lives %s, above the maximum of %s", who, fmtDays(ttl), fmtDays(pol.MaxTTL)), ""))
	}
	since := t.CreatedAt
	if t.LastUsed != nil {
		since = *t.LastUsed
	}
	if pol.UnusedAfter > 0 && now.Sub(since) > pol.UnusedAfter {
		out = append(out, newFinding(CodeUnmanagedUnused, t.Name, t.ID, who+" "+unusedPhrase(t, now), ""))
	}
	return out
}

// credentialFindings sets r.Credential to the listed token the caller
// authenticates with, and judges its expiry. A credential that is a token
// of a configured use case (the Action's groo-token rotating itself), or
// one named by the tool's scheme (a rotation renews it), is left to its use
// case's expiry checks.
func credentialFindings(r *Report, in Input, useCases map[string]bool, scheme []string, now time.Time) []Finding {
	if in.Credential.Prefix == "" || in.Credential.LastFour == "" {
		return nil
	}
	var cred *groo.TokenInfo
	for i, t := range in.Tokens {
		if tokenLive(t, now) && in.Credential.matches(t) {
			cred = &in.Tokens[i]
			break
		}
	}
	if cred == nil {
		return []Finding{newFinding(CodeCredentialUnidentified, "", "",
			fmt.Sprintf("no live token listed has the credential's prefix and last four (%s…%s)", in.Credential.Prefix, in.Credential.LastFour), "")}
	}
	row := newTokenRow(*cred, false)
	r.Credential = &row
	if useCases[cred.Name] || hasAnyPrefix(cred.Name, scheme) {
		return nil
	}
	who := fmt.Sprintf("the credential, token %s (%s…%s),", cred.ID, cred.TokenPrefix, cred.LastFour)
	switch {
	case cred.ExpiresAt == nil:
		return []Finding{newFinding(CodeCredentialNoExpiry, cred.Name, cred.ID, who+" never expires", "")}
	case cred.ExpiresAt.Sub(now) <= CredentialExpirySoon:
		return []Finding{newFinding(CodeCredentialExpiresSoon, cred.Name, cred.ID,
			fmt.Sprintf("%s expires at %s (%s), within %s", who, fmtTime(*cred.ExpiresAt), fmtAgo(*cred.ExpiresAt, now), fmtDays(CredentialExpirySoon)), "")}
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// normalizeHistory normalises a use case's events: drops those before since and
// plan-mode ones, keeps the last record of each attempt, oldest first.
func normalizeHistory(evs []Event, since time.Time) []Event {
	last := map[string]int{}
	var out []Event
	for _, e := range evs {
		if e.Outcome == OutcomePlanned || (!since.IsZero() && e.Time.Before(since)) {
			continue
		}
		if i, ok := last[e.ID]; ok && e.ID != "" {
			out[i] = e
			continue
		}
		last[e.ID] = len(out)
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return out
}

// eventWrittenAt is when an attempt wrote the secret, or when it ended.
func eventWrittenAt(e Event) time.Time {
	if e.WrittenAt != nil {
		return *e.WrittenAt
	}
	return e.Time
}

func buildUseCase(in Input, uc UseCaseInput, now time.Time, pol Policy) UseCaseReport {
	ur := UseCaseReport{UseCase: uc.UseCase, Target: uc.Target, NextRun: utcTimePtr(uc.NextRun),
		Live: []TokenRow{}, Findings: []Finding{}}
	add := func(code, tokenID, msg, fix string) {
		ur.Findings = append(ur.Findings, newFinding(code, uc.UseCase, tokenID, msg, fix))
	}

	var liveTokens []groo.TokenInfo
	byID := map[string]groo.TokenInfo{}
	for _, t := range in.Tokens {
		byID[t.ID] = t
		if t.Name == uc.UseCase && tokenLive(t, now) {
			liveTokens = append(liveTokens, t)
		}
	}
	sortTokens(liveTokens)

	evs := normalizeHistory(uc.History, pol.Since)
	var lastSuccess *Event
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Outcome == OutcomeSucceeded {
			lastSuccess = &evs[i]
			break
		}
	}
	if n := len(evs); n > 0 {
		e := evs[n-1]
		ur.LastRotation = &RotationInfo{AttemptID: e.ID, Outcome: string(e.Outcome), Time: e.Time.UTC(), Actor: e.Actor, Error: e.Error}
	}

	// The secret.
	switch {
	case uc.Secret == nil:
		ur.Secret = SecretUnknown
		add(CodeSecretUnreadable, "", fmt.Sprintf("the metadata of secret %s could not be read", uc.Target), "")
	case !uc.Secret.Exists:
		ur.Secret = SecretMissing
		add(CodeSecretMissing, "", fmt.Sprintf("secret %s does not exist", uc.Target), "")
	default:
		ur.Secret = SecretPresent
		ur.SecretUpdatedAt = utcTimePtr(&uc.Secret.UpdatedAt)
	}

	// Was the secret written after the last successful rotation, by
	// something the history does not explain?
	outside := false      // written by something else
	storeStale := false   // the store's record no longer says what the secret holds
	storeChecked := false // the secret's updated_at confirms the store's record
	if ur.Secret == SecretPresent && lastSuccess != nil {
		updated := uc.Secret.UpdatedAt
		written := eventWrittenAt(*lastSuccess)
		if updated.After(written.Add(WrittenOutsideMargin)) {
			storeStale = true
			outside = !explainedWrite(evs, lastSuccess, updated)
		} else {
			storeChecked = true
		}
		if outside {
			add(CodeSecretWrittenOutside, "", fmt.Sprintf("secret %s was updated at %s, %s after the last successful rotation (%s) wrote it; no recorded rotation explains it",
				uc.Target, fmtTime(updated), roundDur(updated.Sub(written)), lastSuccess.ID), "")
		}
	}

	// Which token the secret holds.
	storeID := uc.CurrentTokenID
	if storeID == "" && lastSuccess != nil {
		storeID = lastSuccess.NewTokenID
	}
	storeTok, storeListed := byID[storeID]
	ur.InSecretSource = InSecretUnknown
	secretTokenDead := false
	switch {
	case ur.Secret == SecretMissing:
		ur.InSecretSource = InSecretNone
	case storeListed && !storeStale && tokenLive(storeTok, now):
		ur.InSecret, ur.InSecretSource = storeID, InSecretStore
	case storeListed && storeChecked:
		// The store's token is listed but dead, and the secret's updated_at
		// says nothing wrote the secret since: the secret holds a dead
		// token. (A token not listed at all may belong to another Groo
		// user; derive instead of guessing.)
		ur.InSecret, ur.InSecretSource = storeID, InSecretStore
		secretTokenDead = true
		state := "is revoked"
		if !storeTok.Revoked {
			state = "expired at " + fmtTime(*storeTok.ExpiresAt)
		}
		add(CodeSecretTokenNotLive, storeID, fmt.Sprintf("the secret holds token %s (written by rotation %s), which %s", storeID, lastSuccess.ID, state), "")
	case ur.Secret == SecretPresent:
		if d, ok := deriveInSecret(liveTokens, uc.Secret.UpdatedAt); ok {
			ur.InSecret, ur.InSecretSource = d.ID, InSecretDerived
		}
	}

	for _, t := range liveTokens {
		ur.Live = append(ur.Live, newTokenRow(t, t.ID == ur.InSecret))
	}

	// Replaced tokens inside their revoke grace: the store's pending
	// revokes, else the retire rule on the secret's last write. They are
	// revoke-scheduled, and no other finding of a live token is theirs.
	inGrace := graceTokens(uc, ur, liveTokens, byID, now, secretTokenDead)
	var judged []groo.TokenInfo // the live tokens outside their grace
	for _, t := range liveTokens {
		if _, ok := inGrace[t.ID]; !ok {
			judged = append(judged, t)
		}
	}

	// One token per use case.
	switch {
	case len(liveTokens) == 0 && ur.Secret == SecretPresent && !secretTokenDead:
		add(CodeNoLiveToken, "", fmt.Sprintf("secret %s exists but no live token is named %q", uc.Target, uc.UseCase), "")
	case len(judged) > 1:
		ids := make([]string, 0, len(judged))
		for _, t := range judged {
			ids = append(ids, t.ID)
		}
		msg := fmt.Sprintf("%d live tokens bear the use case's name (%s); the rule is one per use case", len(judged), strings.Join(ids, ", "))
		if n := len(liveTokens) - len(judged); n > 0 {
			msg += fmt.Sprintf(" (besides %d in its revoke grace)", n)
		}
		if ur.InSecret != "" {
			msg += "; the secret holds " + ur.InSecret
		}
		add(CodeMultipleLiveTokens, "", msg, "")
	}
	if len(liveTokens) > 0 && ur.InSecretSource == InSecretUnknown {
		add(CodeInSecretUnknown, "", fmt.Sprintf("cannot tell which of the %d live token(s) secret %s holds", len(liveTokens), uc.Target), "")
	}

	// Expiry.
	var deadline *time.Time
	switch {
	case uc.NextRun != nil:
		d := uc.NextRun.UTC()
		deadline = &d
	case uc.Interval > 0:
		d := now.Add(uc.Interval)
		deadline = &d
	}
	for _, t := range judged {
		if t.ExpiresAt == nil {
			add(CodeNoExpiry, t.ID, fmt.Sprintf("token %s never expires", t.ID), "")
			continue
		}
		if ttl := t.ExpiresAt.Sub(t.CreatedAt); pol.MaxTTL > 0 && ttl > pol.MaxTTL {
			add(CodeTTLAboveMax, t.ID, fmt.Sprintf("token %s lives %s, above the maximum of %s", t.ID, fmtDays(ttl), fmtDays(pol.MaxTTL)), "")
		}
		// The token in the secret must outlive the next rotation; when
		// which one it is is unknown, every live token might be it.
		inScope := t.ID == ur.InSecret || ur.InSecretSource == InSecretUnknown
		if deadline != nil && inScope && !t.ExpiresAt.After(*deadline) {
			what := "the next scheduled rotation at " + fmtTime(*deadline)
			if uc.NextRun == nil {
				what = fmt.Sprintf("the next rotation (at the latest %s, one interval of %s from now)", fmtTime(*deadline), fmtDays(uc.Interval))
			}
			add(CodeExpiresBeforeNextRotation, t.ID, fmt.Sprintf("token %s expires at %s, before %s", t.ID, fmtTime(*t.ExpiresAt), what), "")
		}
	}

	// Unused tokens, other than the one in the secret.
	if pol.UnusedAfter > 0 && ur.InSecretSource != InSecretUnknown {
		for _, t := range judged {
			if t.ID == ur.InSecret {
				continue
			}
			since := t.CreatedAt
			if t.LastUsed != nil {
				since = *t.LastUsed
			}
			if now.Sub(since) > pol.UnusedAfter {
				add(CodeUnused, t.ID, fmt.Sprintf("token %s is not the one in the secret and %s", t.ID, unusedPhrase(t, now)),
					fmt.Sprintf("Revoke token %s (`pat-rotator audit --prune`), unless something else depends on it.", t.ID))
			}
		}
	}

	// Pending revokes.
	pend := slices.Clone(uc.PendingRevokes)
	slices.SortStableFunc(pend, func(a, b PendingRevoke) int { return cmp.Compare(a.TokenID, b.TokenID) })
	for _, p := range pend {
		lastErr := ""
		if p.LastError != "" {
			lastErr = "; last error: " + p.LastError
		}
		switch {
		case now.Before(p.RevokeAfter):
			add(CodeRevokeScheduled, p.TokenID, fmt.Sprintf("replaced token %s is in its revoke grace: revoke scheduled at %s", p.TokenID, fmtTime(p.RevokeAfter)), "")
		case p.Attempts >= RevokeFailingAttempts || now.Sub(p.RevokeAfter) > RevokeFailingLate:
			add(CodeRevokeFailing, p.TokenID, fmt.Sprintf("revoking replaced token %s failed %d time(s); due since %s%s",
				p.TokenID, p.Attempts, fmtTime(p.RevokeAfter), lastErr), "")
		default:
			add(CodeRevokePending, p.TokenID, fmt.Sprintf("replaced token %s is due for revocation since %s (%d attempt(s))%s",
				p.TokenID, fmtTime(p.RevokeAfter), p.Attempts, lastErr), "")
		}
	}

	// Tokens in grace by the retire rule alone (no pending revoke).
	graceIDs := slices.Sorted(maps.Keys(inGrace))
	for _, id := range graceIDs {
		if g := inGrace[id]; !g.pending {
			add(CodeRevokeScheduled, id, fmt.Sprintf("replaced token %s is in its revoke grace: revoke scheduled at %s (the secret was written at %s, grace %s)",
				id, fmtTime(g.after), fmtTime(uc.Secret.UpdatedAt), duration.Format(uc.Grace)), "")
		}
	}

	// Repeated failures: the last N finished attempts all failed.
	if n := pol.FailedRunsThreshold; n > 0 {
		var finished []Event
		for _, e := range evs {
			switch e.Outcome {
			case OutcomeSucceeded, OutcomeFailed, OutcomeAbandoned:
				finished = append(finished, e)
			}
		}
		if len(finished) >= n {
			tail := finished[len(finished)-n:]
			if !slices.ContainsFunc(tail, func(e Event) bool { return e.Outcome == OutcomeSucceeded }) {
				last := tail[n-1]
				msg := fmt.Sprintf("the last %d rotations failed; the latest (%s at %s)", n, last.ID, fmtTime(last.Time))
				if last.Error != "" {
					msg += ": " + last.Error
				} else {
					msg += " ended " + string(last.Outcome)
				}
				add(CodeRepeatedFailures, "", msg, "")
			}
		}
	}

	sortFindings(ur.Findings)
	return ur
}

// graceEnd is when a replaced token in its grace will be revoked, and
// whether the store's pending revoke says so.
type graceEnd struct {
	after   time.Time
	pending bool
}

// graceTokens are the live tokens of a use case inside their revoke grace:
// those with a pending revoke not yet due, and, by the retire rule
// (retire.Rotation, as the rotation that wrote the secret judged them),
// those that the token in the secret replaced less than the target's grace
// ago. The secret's updated_at (plus GitHub's second) stands for that
// rotation's write, so a stateless audit (the Action's) tells them too.
func graceTokens(uc UseCaseInput, ur UseCaseReport, live []groo.TokenInfo, byID map[string]groo.TokenInfo, now time.Time,
	secretTokenDead bool) map[string]graceEnd {
	out := map[string]graceEnd{}
	liveIDs := map[string]bool{}
	for _, t := range live {
		liveIDs[t.ID] = true
	}
	for _, p := range uc.PendingRevokes {
		if liveIDs[p.TokenID] && now.Before(p.RevokeAfter) {
			out[p.TokenID] = graceEnd{after: p.RevokeAfter.UTC(), pending: true}
		}
	}
	cur, ok := byID[ur.InSecret]
	if uc.Grace <= 0 || !ok || secretTokenDead || ur.Secret != SecretPresent || cur.CreatedAt.IsZero() {
		return out
	}
	updated := uc.Secret.UpdatedAt
	var older []groo.TokenInfo
	for _, t := range live {
		if _, done := out[t.ID]; !done && t.ID != cur.ID && t.CreatedAt.Before(cur.CreatedAt) {
			older = append(older, t)
		}
	}
	rule := retire.Rotation{New: cur, Written: updated.Add(time.Second), Now: now, Grace: uc.Grace,
		Margin: retire.DefaultMargin, SecretUpdatedAt: &updated}
	for _, d := range rule.Decide(older) {
		if d.Verdict == retire.Grace {
			out[d.Token.ID] = graceEnd{after: d.RevokeAfter.UTC()}
		}
	}
	return out
}

// explainedWrite reports whether an attempt after the last success may have
// written the secret at updated: one that recorded a write near that time,
// or one whose write outcome is unknown and whose run spans it.
func explainedWrite(evs []Event, lastSuccess *Event, updated time.Time) bool {
	for _, e := range evs {
		if !e.Time.After(lastSuccess.Time) {
			continue
		}
		if e.WrittenAt != nil && absDur(updated.Sub(*e.WrittenAt)) <= WrittenOutsideMargin {
			return true
		}
		if e.OutcomeUnknown {
			start := e.Time.Add(-e.Duration).Add(-WrittenOutsideMargin)
			if !updated.Before(start) && !updated.After(e.Time.Add(WrittenOutsideMargin)) {
				return true
			}
		}
	}
	return false
}

// deriveInSecret picks the newest live token created before the secret was last
// written. GitHub's updated_at has whole seconds, so a token created in the
// same second as the write still counts.
func deriveInSecret(liveOldestFirst []groo.TokenInfo, updated time.Time) (groo.TokenInfo, bool) {
	limit := updated.Add(time.Second)
	for i := len(liveOldestFirst) - 1; i >= 0; i-- {
		if t := liveOldestFirst[i]; t.CreatedAt.Before(limit) {
			return t, true
		}
	}
	return groo.TokenInfo{}, false
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func unusedPhrase(t groo.TokenInfo, now time.Time) string {
	if t.LastUsed == nil {
		return "was never used since its creation " + fmtAgo(t.CreatedAt, now)
	}
	return "was last used " + fmtAgo(*t.LastUsed, now)
}

func lastUsedPhrase(t groo.TokenInfo, now time.Time) string {
	if t.LastUsed == nil {
		return "never used, created " + fmtAgo(t.CreatedAt, now)
	}
	return "last used " + fmtAgo(*t.LastUsed, now)
}

// MaxSeverity is the worst severity among the findings: "error",
// "warning", "info", or "" when there is none.
func (r Report) MaxSeverity() string {
	best := ""
	for _, f := range r.Findings {
		if severityRank(f.Severity) > severityRank(best) {
			best = f.Severity
		}
	}
	return best
}

// FailOn values (--fail-on).
const (
	FailOnNever   = ""
	FailOnError   = "error"
	FailOnWarning = "warning"
)

// ErrInvalidFailOn is returned by ValidateFailOn.
var ErrInvalidFailOn = errors.New("invalid fail-on")

// ValidateFailOn checks a --fail-on value before anything runs.
func ValidateFailOn(s string) error {
	switch s {
	case FailOnNever, FailOnError, FailOnWarning:
		return nil
	}
	return fmt.Errorf("%w %q: use error or warning (or leave it empty never to fail)", ErrInvalidFailOn, s)
}

// ExitCode is the process exit code for --fail-on: 1 when a finding at
// least as bad as failOn exists, else 0. failOn "" never fails. A value
// ValidateFailOn refuses gives 2 (usage error), so that a typo in a CI
// gate does not silently pass.
func ExitCode(r Report, failOn string) int {
	worst := severityRank(r.MaxSeverity())
	switch failOn {
	case FailOnNever:
		return 0
	case FailOnError, FailOnWarning:
		if worst >= severityRank(failOn) {
			return 1
		}
		return 0
	}
	return 2
}
