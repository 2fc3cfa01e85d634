package audit

import (
	"time"

	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
)

// fixtureNow is the fixed "now" of the golden reports.
var fixtureNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func fxTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func fxTimeP(s string) *time.Time { t := fxTime(s); return &t }

func fxStr(s string) *string { return &s }

// Use cases of the fixture, one per situation.
const (
	ucApp    = "GitHub Actions - octo/app GROO_PAT"          // store, extra tokens, failing revoke, expiry before next run
	ucProd   = "GitHub Actions - octo/app env:prod GROO_PAT" // written outside, repeated failures, pending revokes
	ucDep    = "Dependabot - octo/app GROO_PAT"              // secret missing
	ucOrg    = "GitHub Actions - org octo GROO_PAT"          // secret unreadable, in secret unknown
	ucWeb    = "GitHub Actions - octo/web GROO_PAT"          // no live token
	ucAPI    = "GitHub Actions - octo/api GROO_PAT"          // the secret's token expired; a brand-new token
	ucLegacy = "GitHub Actions - octo/legacy GROO_PAT"       // not configured: orphans
)

func fxToken(id, name, created string, expires, lastUsed *time.Time) groo.TokenInfo {
	return groo.TokenInfo{ID: id, Name: name, TokenPrefix: "groo_pat_" + id[len(id)-2:], LastFour: "f" + id[len(id)-3:],
		CreatedAt: fxTime(created), ExpiresAt: expires, LastUsed: lastUsed, Description: fxStr("pat-action fixture")}
}

// fixtureInput produces every finding code at least once.
func fixtureInput() Input {
	revoked := fxToken("tok_web_01", ucWeb, "2026-01-01T00:00:00Z", fxTimeP("2026-04-01T00:00:00Z"), nil)
	revoked.Revoked = true
	revokedOrphan := fxToken("tok_leg_09", ucLegacy, "2025-11-01T00:00:00Z", nil, nil)
	revokedOrphan.Revoked = true

	tokens := []groo.TokenInfo{
		// app: the store's token expires before the next run; an old
		// token with a long TTL and a hand-made one without expiry, both
		// unused.
		fxToken("tok_app_cur", ucApp, "2026-03-01T12:00:00Z", fxTimeP("2026-03-15T12:00:00Z"), fxTimeP("2026-03-10T11:00:00Z")),
		fxToken("tok_app_old", ucApp, "2026-01-01T00:00:00Z", fxTimeP("2026-04-15T00:00:00Z"), fxTimeP("2026-01-20T08:00:00Z")),
		fxToken("tok_app_hnd", ucApp, "2026-02-01T09:30:00Z", nil, nil),
		// prod: the store's token, and a token created by hand that the
		// secret was then written with.
		fxToken("tok_prd_a01", ucProd, "2026-03-05T00:00:00Z", fxTimeP("2026-04-04T00:00:00Z"), fxTimeP("2026-03-09T10:00:00Z")),
		fxToken("tok_prd_b02", ucProd, "2026-03-09T11:00:00Z", fxTimeP("2026-04-08T11:00:00Z"), fxTimeP("2026-03-10T09:00:00Z")),
		// dependabot: a token, but no secret.
		fxToken("tok_dep_01", ucDep, "2026-03-09T00:00:00Z", fxTimeP("2026-04-08T00:00:00Z"), nil),
		// org: nothing says which token the secret holds; it expires
		// within the schedule's interval.
		fxToken("tok_org_01", ucOrg, "2026-02-10T00:00:00Z", fxTimeP("2026-03-12T00:00:00Z"), fxTimeP("2026-03-10T06:00:00Z")),
		// web: only a revoked token.
		revoked,
		// api: the secret's token expired yesterday; a rotation minted a
		// new one 30 s ago and may be writing it right now.
		fxToken("tok_api_01", ucAPI, "2026-02-20T00:00:00Z", fxTimeP("2026-03-09T00:00:00Z"), fxTimeP("2026-03-08T23:00:00Z")),
		fxToken("tok_api_02", ucAPI, "2026-03-10T11:59:30Z", fxTimeP("2026-04-09T11:59:30Z"), nil),
		// orphans (and tokens that are not).
		fxToken("tok_leg_01", ucLegacy, "2025-12-01T00:00:00Z", fxTimeP("2026-06-01T00:00:00Z"), fxTimeP("2026-01-05T00:00:00Z")),
		fxToken("tok_leg_02", "Dependabot - octo/old GROO_PAT", "2026-03-10T11:59:00Z", fxTimeP("2026-04-09T11:59:00Z"), nil),
		revokedOrphan,
		// Unmanaged: a laptop's token that never expires, a deploy key
		// with a year's TTL unused since January; the credential, which
		// expires in four days.
		fxToken("tok_lap_01", "laptop", "2025-06-01T00:00:00Z", nil, fxTimeP("2026-03-10T08:00:00Z")),
		fxToken("tok_ci_01", "ci deploy", "2025-10-01T00:00:00Z", fxTimeP("2026-10-01T00:00:00Z"), fxTimeP("2026-01-02T00:00:00Z")),
		fxToken("tok_bot_b7", "pat-rotator bot", "2026-02-12T00:00:00Z", fxTimeP("2026-03-14T00:00:00Z"), fxTimeP("2026-03-10T12:00:00Z")),
	}

	appSuccess := Event{ID: "att_app_1", Time: fxTime("2026-03-01T12:00:31Z"), Outcome: OutcomeSucceeded, UseCase: ucApp,
		Target: "repo:octo/app GROO_PAT", Actor: "rotator-1", Tool: "pat-rotator", NewTokenID: "tok_app_cur",
		WrittenAt: fxTimeP("2026-03-01T12:00:30Z")}
	prodEvents := []Event{
		// Before --since: left out.
		{ID: "att_prd_0", Time: fxTime("2026-01-01T00:00:00Z"), Outcome: OutcomeSucceeded, NewTokenID: "tok_prd_old", WrittenAt: fxTimeP("2026-01-01T00:00:00Z")},
		{ID: "att_prd_1", Time: fxTime("2026-03-05T00:00:02Z"), Outcome: OutcomeStarted},
		{ID: "att_prd_1", Time: fxTime("2026-03-05T00:00:05Z"), Outcome: OutcomeSucceeded, NewTokenID: "tok_prd_a01", WrittenAt: fxTimeP("2026-03-05T00:00:04Z"), Actor: "rotator-1"},
		{ID: "att_prd_2", Time: fxTime("2026-03-06T00:00:05Z"), Outcome: OutcomeFailed, Step: "write", Error: "put secret env:octo/app:prod GROO_PAT: GitHub answered 403", Actor: "rotator-1"},
		{ID: "att_prd_3", Time: fxTime("2026-03-07T00:00:05Z"), Outcome: OutcomeAbandoned, Actor: "rotator-2"},
		{ID: "att_prd_4", Time: fxTime("2026-03-08T00:00:05Z"), Outcome: OutcomeFailed, Step: "write", Error: "put secret env:octo/app:prod GROO_PAT: GitHub answered 403", Actor: "rotator-1"},
		{ID: "att_prd_5", Time: fxTime("2026-03-08T00:05:00Z"), Outcome: OutcomePlanned},
	}
	apiSuccess := Event{ID: "att_api_1", Time: fxTime("2026-02-20T00:00:03Z"), Outcome: OutcomeSucceeded, NewTokenID: "tok_api_01",
		WrittenAt: fxTimeP("2026-02-20T00:00:02Z"), Actor: "https://github.com/octo/api/actions/runs/42"}

	return Input{
		Now:    fixtureNow,
		Caller: "usr_octo",
		Tokens: tokens,
		UseCases: []UseCaseInput{
			{
				UseCase: ucApp, Target: "repo:octo/app GROO_PAT",
				Secret:         &ghsecret.Metadata{Exists: true, CreatedAt: fxTime("2025-12-01T00:00:00Z"), UpdatedAt: fxTime("2026-03-01T12:00:30Z")},
				CurrentTokenID: "tok_app_cur",
				History:        []Event{appSuccess},
				NextRun:        fxTimeP("2026-03-20T00:00:00Z"),
				PendingRevokes: []PendingRevoke{{TokenID: "tok_app_old", UseCase: ucApp, RevokeAfter: fxTime("2026-03-01T12:00:30Z"),
					Attempts: 5, LastError: "groo revoke token tok_app_old: HTTP 403 forbidden"}},
			},
			{
				UseCase: ucProd, Target: "env:octo/app:prod GROO_PAT",
				Secret:         &ghsecret.Metadata{Exists: true, CreatedAt: fxTime("2025-12-01T00:00:00Z"), UpdatedAt: fxTime("2026-03-09T12:00:00Z")},
				CurrentTokenID: "tok_prd_a01",
				History:        prodEvents,
				NextRun:        fxTimeP("2026-03-11T00:00:00Z"),
				PendingRevokes: []PendingRevoke{
					{TokenID: "tok_prd_z98", UseCase: ucProd, RevokeAfter: fxTime("2026-03-10T11:30:00Z"), Attempts: 1, LastError: "groo revoke token tok_prd_z98: HTTP 503"},
					{TokenID: "tok_prd_z99", UseCase: ucProd, RevokeAfter: fxTime("2026-03-10T13:00:00Z")},
				},
			},
			{
				UseCase: ucDep, Target: "dependabot:octo/app GROO_PAT",
				Secret: &ghsecret.Metadata{Exists: false},
			},
			{
				UseCase: ucOrg, Target: "org:octo GROO_PAT",
				Interval: 7 * 24 * time.Hour,
			},
			{
				UseCase: ucWeb, Target: "repo:octo/web GROO_PAT",
				Secret: &ghsecret.Metadata{Exists: true, CreatedAt: fxTime("2026-01-01T00:00:00Z"), UpdatedAt: fxTime("2026-01-01T00:00:10Z")},
			},
			{
				UseCase: ucAPI, Target: "repo:octo/api GROO_PAT",
				Secret:  &ghsecret.Metadata{Exists: true, CreatedAt: fxTime("2026-01-01T00:00:00Z"), UpdatedAt: fxTime("2026-02-20T00:00:02Z")},
				History: []Event{apiSuccess},
			},
		},
		Policy:           Policy{Since: fxTime("2026-02-08T12:00:00Z")},
		ToolNamePrefixes: DefaultToolNamePrefixes,
		Credential:       CredentialRef{Prefix: "groo_pat_b7", LastFour: "f_b7"},
	}
}
