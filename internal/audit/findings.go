package audit

import (
	"cmp"
	"slices"
)

// Severities of a Finding, from worst to mildest.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
	SeverityInfo    = "info"
)

// severityRank orders severities: higher is worse; unknown ranks lowest.
func severityRank(s string) int {
	switch s {
	case SeverityError:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// Finding codes. They are part of the JSON schema (docs/audit.md): scripts
// branch on them, so a code is never renamed and its severity never changes.
const (
	CodeMultipleLiveTokens        = "multiple-live-tokens"
	CodeNoLiveToken               = "no-live-token"
	CodeNoExpiry                  = "no-expiry"
	CodeTTLAboveMax               = "ttl-above-max"
	CodeExpiresBeforeNextRotation = "expires-before-next-rotation"
	CodeUnused                    = "unused"
	CodeOrphan                    = "orphan"
	CodeSecretMissing             = "secret-missing"
	CodeSecretUnreadable          = "secret-unreadable"
	CodeSecretWrittenOutside      = "secret-written-outside"
	CodeSecretTokenNotLive        = "secret-token-not-live"
	CodeInSecretUnknown           = "in-secret-unknown"
	CodeRevokeScheduled           = "revoke-scheduled"
	CodeRevokePending             = "revoke-pending"
	CodeRevokeFailing             = "revoke-failing"
	CodeRepeatedFailures          = "repeated-failures"
	CodeUnmanagedNoExpiry         = "unmanaged-no-expiry"
	CodeUnmanagedTTLAboveMax      = "unmanaged-ttl-above-max"
	CodeUnmanagedUnused           = "unmanaged-unused"
	CodeCredentialNoExpiry        = "credential-no-expiry"
	CodeCredentialExpiresSoon     = "credential-expires-soon"
	CodeCredentialUnidentified    = "credential-unidentified"
)

// GrooRevokePath is where a person revokes a token in Groo's UI.
const GrooRevokePath = "Groo → Account → Personal access tokens → Revoke"

// Finding is one thing a use case (or an orphan token) does wrong, with
// what to do about it.
type Finding struct {
	Severity string `json:"severity"` // error, warning, info
	Code     string `json:"code"`     // stable, see FindingKinds
	UseCase  string `json:"use_case"` // the use case (for an orphan: its token's name)
	TokenID  string `json:"token_id"` // "" when the finding is about the use case as a whole
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

// FindingKind documents one finding code: its fixed severity, what it means
// and the generic fix (a Finding's Fix may be more specific). ActionFix is
// the fix in the terms of the Action's user (its inputs, Groo's UI), who may
// have no pat-rotator: Input.ActionFixes picks it.
type FindingKind struct {
	Code      string
	Severity  string
	Meaning   string
	Fix       string
	ActionFix string
}

// FindingKinds lists every finding code the report can produce. docs/audit.md
// documents each of them; a test keeps the two in step.
var FindingKinds = []FindingKind{
	{CodeMultipleLiveTokens, SeverityError,
		"More than one live token bears the use case's name: the one-token-per-use-case rule is broken.",
		"Rotate the use case (a rotation retires every older token once that is safe), or run `pat-rotator audit --prune` to revoke the extra tokens that are safe to revoke.",
		"Run the Action with `mode: rotate` (a rotation retires every older token once that is safe), or revoke the extra tokens in " + GrooRevokePath + "."},
	{CodeNoLiveToken, SeverityWarning,
		"The secret exists but no live token bears the use case's name: it holds an expired or revoked token, or one named otherwise (a token created by hand to bootstrap).",
		"Rotate the use case now; if the secret's token is dead, store a fresh PAT in the secret first.",
		"Run the Action with `mode: rotate` now; if the secret's token is dead, store a fresh PAT in the secret first."},
	{CodeNoExpiry, SeverityError,
		"A token of the use case never expires.",
		"Rotate the use case: the tool always mints with an expiry, and retires the token without one.",
		"Run the Action with `mode: rotate`: it always mints with an expiry (`expires-in`), and retires the token without one."},
	{CodeTTLAboveMax, SeverityWarning,
		"A token lives longer (expiresAt - createdAt) than the policy's maximum TTL (default 90 days).",
		"Lower the use case's ttl and rotate.",
		"Lower the `expires-in` input and rotate."},
	{CodeExpiresBeforeNextRotation, SeverityError,
		"The token in the secret expires before the next scheduled rotation: the secret will hold a dead token.",
		"Rotate now, and make the schedule's interval shorter than the ttl.",
		"Rotate now, and schedule the workflow more often than `expires-in`."},
	{CodeUnused, SeverityWarning,
		"A token that is not the one in the secret has not been used for longer than the policy allows (default 30 days; never used counts from its creation).",
		"Revoke it (`pat-rotator audit --prune`), unless something else depends on it.",
		"Revoke it in " + GrooRevokePath + ", unless something else depends on it."},
	{CodeOrphan, SeverityWarning,
		"A live token of the caller is named like the tool's use cases but matches no configured target: a forgotten target, or one removed from the configuration.",
		"Revoke it (`pat-rotator audit --prune`), or configure its target again.",
		"Revoke it in " + GrooRevokePath + " if no workflow rotates it any more."},
	{CodeSecretMissing, SeverityError,
		"The target's secret does not exist.",
		"Rotate the use case (a rotation creates the secret), or fix the target's scope and name.",
		"Run the Action with `mode: rotate` (it creates the secret), or fix the `repository`, `scope` and `secret-name` inputs."},
	{CodeSecretUnreadable, SeverityInfo,
		"The secret's metadata could not be read, so the audit cannot tell when it was written.",
		"Give the GitHub credential read access to the target's secrets.",
		"Give the `github-token` input (or the GitHub App) read access to the target's secrets."},
	{CodeSecretWrittenOutside, SeverityWarning,
		"The secret was written after the last successful rotation wrote it, and no rotation explains it: something else writes the secret.",
		"Find what else writes the secret and stop it, then rotate so that the store knows again which token the secret holds.",
		"Find what else writes the secret and stop it, then run the Action with `mode: rotate`."},
	{CodeSecretTokenNotLive, SeverityError,
		"The token the last rotation wrote to the secret is expired or revoked: workflows that use the secret fail.",
		"Rotate now; if the credential is that token, store a fresh PAT in the secret first.",
		"Rotate now; if `groo-token` is that token, store a fresh PAT in the secret first."},
	{CodeInSecretUnknown, SeverityInfo,
		"Nothing tells which token the secret holds (no store record, no secret metadata to derive it from): unused-token checks and pruning skip the use case.",
		"Rotate the use case with a store (pat-rotator), or give the GitHub credential read access to the secret.",
		"Set the `github-token` input (or a GitHub App) with read access to the secret, so that the audit can tell which token it holds."},
	{CodeRevokeScheduled, SeverityInfo,
		"A replaced token is still live during its grace period; it will be revoked once the grace ends.",
		"Nothing to do: the next run or the daemon's sweep revokes it.",
		"Nothing to do: the next rotation revokes it once its grace ends."},
	{CodeRevokePending, SeverityWarning,
		"A replaced token's grace is over but it has not been revoked yet.",
		"Nothing to do if the daemon's sweep runs; else revoke it (`pat-rotator audit --prune`).",
		"Run the Action with `mode: rotate` (it retires the replaced token), or revoke it in " + GrooRevokePath + "."},
	{CodeRevokeFailing, SeverityError,
		"Revoking a replaced token failed at least 3 times, or it is more than an hour past its revoke-after.",
		"Read the pending revoke's last error; check that the credential may revoke tokens (scope accounts:tokens), then revoke it by hand or with `pat-rotator audit --prune`.",
		"Check that `groo-token` may revoke tokens (scope accounts:tokens), then revoke it in " + GrooRevokePath + "."},
	{CodeRepeatedFailures, SeverityError,
		"The use case's last N rotations (default 3) failed.",
		"Read the last error (`pat-rotator audit --format json`), fix its cause, then rotate.",
		"Read the failed runs' logs, fix the cause, then run the Action with `mode: rotate`."},
	{CodeUnmanagedNoExpiry, SeverityWarning,
		"A live token of the account that the tool does not manage (not a configured use case's, not named by the tool's scheme) never expires.",
		"Revoke it in " + GrooRevokePath + " and create one with an expiry, or revoke it with `pat-rotator audit --prune --include-unmanaged --yes`, unless something depends on it.",
		"Revoke it in " + GrooRevokePath + " and create one with an expiry, unless something depends on it."},
	{CodeUnmanagedTTLAboveMax, SeverityWarning,
		"A live token the tool does not manage lives longer (expiresAt - createdAt) than the policy's maximum TTL (default 90 days).",
		"Replace it by one with a shorter expiry and revoke it in " + GrooRevokePath + ".",
		"Replace it by one with a shorter expiry and revoke it in " + GrooRevokePath + "."},
	{CodeUnmanagedUnused, SeverityWarning,
		"A live token the tool does not manage has not been used for longer than the policy allows (default 30 days; never used counts from its creation).",
		"Revoke it in " + GrooRevokePath + ", or with `pat-rotator audit --prune --include-unmanaged --yes`, unless something depends on it.",
		"Revoke it in " + GrooRevokePath + ", unless something depends on it."},
	{CodeCredentialNoExpiry, SeverityWarning,
		"The credential the tool authenticates with (its Groo PAT) never expires.",
		"Create a PAT with an expiry in Groo → Account → Personal access tokens, point groo.token-env or groo.token-file at it, then revoke this one in " + GrooRevokePath + ".",
		"Create a PAT with an expiry in Groo → Account → Personal access tokens, store it in the secret that `groo-token` reads, then revoke this one in " + GrooRevokePath + "."},
	{CodeCredentialExpiresSoon, SeverityError,
		"The credential the tool authenticates with expires within 7 days: then every rotation fails.",
		"Create a new PAT in Groo → Account → Personal access tokens and point groo.token-env or groo.token-file at it before this one expires.",
		"Create a new PAT in Groo → Account → Personal access tokens and store it in the secret that `groo-token` reads before this one expires."},
	{CodeCredentialUnidentified, SeverityInfo,
		"No live token of the list has the credential's prefix and last four, so the credential's expiry and use cannot be checked.",
		"Nothing to do unless this persists: Groo may not list the last four of tokens; check the credential in Groo → Account → Personal access tokens.",
		"Nothing to do unless this persists: Groo may not list the last four of tokens; check the `groo-token` PAT in Groo → Account → Personal access tokens."},
}

// findingKind returns the documented kind of code.
func findingKind(code string) FindingKind {
	for _, k := range FindingKinds {
		if k.Code == code {
			return k
		}
	}
	panic("audit: undocumented finding code " + code) // a programming error caught by the tests
}

// newFinding builds a finding of a documented kind. fix overrides the
// generic fix when it can say more (the token id to revoke, the due date).
func newFinding(code, useCase, tokenID, message, fix string) Finding {
	k := findingKind(code)
	if fix == "" {
		fix = k.Fix
	}
	return Finding{Severity: k.Severity, Code: code, UseCase: useCase, TokenID: tokenID, Message: message, Fix: fix}
}

// sortFindings orders findings worst first, then by use case, code and token.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(severityRank(b.Severity), severityRank(a.Severity)),
			cmp.Compare(a.UseCase, b.UseCase),
			cmp.Compare(a.Code, b.Code),
			cmp.Compare(a.TokenID, b.TokenID),
		)
	})
}
