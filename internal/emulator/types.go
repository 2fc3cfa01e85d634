package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Seed is the initial (or additional) state of the emulator. Seeding is
// additive: users, tokens, repositories and the rest are added to what the
// emulator already holds. `pat-emulator --seed FILE` and POST /_emulator/seed
// take this JSON.
type Seed struct {
	Groo   GrooSeed   `json:"groo"`
	GitHub GitHubSeed `json:"github"`
}

// GrooSeed seeds the Groo Accounts side.
type GrooSeed struct {
	Users  []SeedUser  `json:"users,omitempty"`
	Tokens []SeedToken `json:"tokens,omitempty"`
}

// SeedUser is a Groo user.
type SeedUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// SeedToken is a Groo PAT that exists before the test starts.
type SeedToken struct {
	ID          string     `json:"id,omitempty"` // default tok_<random hex>
	Name        string     `json:"name"`
	Description *string    `json:"description,omitempty"`
	Secret      string     `json:"secret"`              // groo_pat_<64 lowercase hex>
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"` // nil: never expires
	User        string     `json:"user,omitempty"`      // default: first user, or the implicit usr_demo
	CreatedAt   *time.Time `json:"createdAt,omitempty"` // default: now
	Forbidden   bool       `json:"forbidden,omitempty"` // lacks the accounts:tokens scope
	Revoked     bool       `json:"revoked,omitempty"`
}

// GitHubSeed seeds the GitHub side.
type GitHubSeed struct {
	Tokens         []string     `json:"tokens,omitempty"`           // full access
	ReadOnlyTokens []string     `json:"read_only_tokens,omitempty"` // like GITHUB_TOKEN: 403 on secret writes
	Repositories   []string     `json:"repositories,omitempty"`     // "owner/name"; owners become organizations
	Environments   []string     `json:"environments,omitempty"`     // "owner/name:env" (env may contain '/')
	Apps           []SeedApp    `json:"apps,omitempty"`
	Secrets        []SeedSecret `json:"secrets,omitempty"` // plaintext values stored as if written
	Orgs           []string     `json:"orgs,omitempty"`    // extra organizations without repositories
}

// SeedApp is a GitHub App and its installations.
type SeedApp struct {
	ID            int64              `json:"id"`
	Installations []SeedInstallation `json:"installations,omitempty"`
}

// SeedInstallation is one installation of a GitHub App on an account.
type SeedInstallation struct {
	ID      int64  `json:"id"`
	Account string `json:"account"`
}

// SeedSecret is a GitHub secret that exists before the test starts.
type SeedSecret struct {
	Scope                 string  `json:"scope"` // scope key, e.g. "repo:octo/app"
	Name                  string  `json:"name"`
	Value                 string  `json:"value"`
	Visibility            string  `json:"visibility,omitempty"` // organization scopes; default private
	SelectedRepositoryIDs []int64 `json:"selected_repository_ids,omitempty"`
	// UpdatedAt is when the secret was last written (also its created_at),
	// on the emulator's (GitHub's) clock; default now. A test sets it so
	// that the seeded secret looks written by a rotation of its token.
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// State is a snapshot of everything the emulator holds, secrets included
// (it is a test oracle; see the package documentation).
type State struct {
	Now time.Time `json:"now"` // the emulator's clock, GitHub's side
	// GrooNow is Groo's clock: Now plus the Groo clock offset
	// (SetGrooClockOffset). Tokens' times are on it.
	GrooNow           time.Time      `json:"groo_now"`
	Tokens            []TokenState   `json:"tokens"`
	Secrets           []SecretState  `json:"secrets"`
	Violations        []string       `json:"violations"`
	Hits              map[string]int `json:"hits"`
	RateLimitBreaches int            `json:"rate_limit_breaches"`
	// ChaosFaults counts the faults the chaos injected, by kind
	// (ChaosKinds), since the emulator started.
	ChaosFaults map[string]int `json:"chaos_faults"`
	// ExpiredExposure is Emulator.ExpiredExposure in seconds: how long, in
	// total, secrets held a token past its expiry.
	ExpiredExposure float64 `json:"expired_exposure_seconds"`
}

// TokenState is a Groo token with its secret. Its times are on Groo's
// clock (State.GrooNow).
type TokenState struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description *string    `json:"description"`
	Secret      string     `json:"secret"`
	Revoked     bool       `json:"revoked"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	LastUsed    *time.Time `json:"lastUsed"`
	CreatedAt   time.Time  `json:"createdAt"`
	User        string     `json:"user"`
}

// Live reports whether the token is neither revoked nor expired at now.
func (t TokenState) Live(now time.Time) bool {
	return !t.Revoked && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// SecretState is a GitHub secret with its decrypted value.
type SecretState struct {
	Scope                 string    `json:"scope"`
	Name                  string    `json:"name"`
	Value                 string    `json:"value"`
	Visibility            string    `json:"visibility,omitempty"`
	SelectedRepositoryIDs []int64   `json:"selected_repository_ids"`
	CreatedAt             time.Time `json:"created_at"`
	UpdatedAt             time.Time `json:"updated_at"`
	KeyID                 string    `json:"key_id"`
	Writes                int       `json:"writes"` // successful PUTs (seeding counts 0)
}

// Secret finds a secret by scope key and name (case-insensitive, as GitHub).
func (s State) Secret(scopeKey, name string) (SecretState, bool) {
	name = strings.ToUpper(name)
	for _, sec := range s.Secrets {
		if sec.Scope == scopeKey && sec.Name == name {
			return sec, true
		}
	}
	return SecretState{}, false
}

// TokenBySecret finds the Groo token whose secret is value.
func (s State) TokenBySecret(value string) (TokenState, bool) {
	for _, t := range s.Tokens {
		if t.Secret == value {
			return t, true
		}
	}
	return TokenState{}, false
}

// TokenValues is the value of every token Groo knows, revoked ones
// included: what a test looks for in logs, errors and files.
func (s State) TokenValues() []string {
	out := make([]string, 0, len(s.Tokens))
	for _, tok := range s.Tokens {
		out = append(out, tok.Secret)
	}
	return out
}

// LiveTokens lists the tokens named name that are neither revoked nor expired
// at the snapshot's time (on Groo's clock).
func (s State) LiveTokens(name string) []TokenState {
	now := s.GrooNow
	if now.IsZero() {
		now = s.Now
	}
	var out []TokenState
	for _, t := range s.Tokens {
		if t.Name == name && t.Live(now) {
			out = append(out, t)
		}
	}
	return out
}

// Fault makes the emulator misbehave on chosen routes.
//
// Every fault matching a request (route, scope) applies to it, merged:
// latencies add up, the first status wins, any drop drops, mangles combine.
// A fault with Skip > 0 lets that many matching requests pass untouched
// first, so an ordered sequence on one route is a list of faults with
// growing Skip: {Drop, Count: 1}, {Status: 403, Count: 1, Skip: 1} drops the
// first request after acting and refuses the second.
//
// Latency runs before the request acts, as if the server were slow to
// receive it: when the client goes away during the latency (its timeout or
// context ended), the request does not act at all. A slow write that its
// client abandoned never lands. (A real server may act on receipt and be
// slow to answer; Drop models the answer that never comes.) Queued keeps
// the request alive through its latency all the same: it acts after its
// client gave up, as one queued behind others at a busy server would.
type Fault struct {
	Route      string        `json:"route"`                 // route name (see Routes) or "*"
	Scope      string        `json:"scope,omitempty"`       // scope key filter for GitHub routes
	Status     int           `json:"status,omitempty"`      // answer this status without acting
	RetryAfter int           `json:"retry_after,omitempty"` // seconds, sent as retry-after with 429/403
	Latency    time.Duration `json:"latency,omitempty"`     // JSON: Go duration string ("20ms")
	Drop       bool          `json:"drop,omitempty"`        // act, then close the connection without an answer
	Queued     bool          `json:"queued,omitempty"`      // act after the latency even if the client went away
	Count      int           `json:"count,omitempty"`       // requests it hits; 0 = every request
	Skip       int           `json:"skip,omitempty"`        // matching requests it lets pass before it applies
	// Mangle damages Groo's token answers (groo.list, groo.create; other
	// routes ignore it): one of the Mangle* values, or several joined by
	// commas. The request acts as usual.
	Mangle string `json:"mangle,omitempty"`
	// Message replaces the error message of a Status answer: a server's own
	// text, hostile on purpose in tests (markup, control characters).
	Message string `json:"message,omitempty"`
}

// Mangle values for Fault.Mangle.
const (
	// MangleOmitCreatedAt leaves createdAt out of every token in the answer.
	MangleOmitCreatedAt = "omit-createdAt"
	// MangleNullCreatedAt sends createdAt as null.
	MangleNullCreatedAt = "null-createdAt"
	// MangleBadCreatedAt sends a createdAt that is no time ("yesterday").
	MangleBadCreatedAt = "bad-createdAt"
	// MangleOmitExpiresAt leaves expiresAt out of every token in the
	// answer, although the token has one.
	MangleOmitExpiresAt = "omit-expiresAt"
	// MangleShortExpiresAt makes a mint that asked for an expiry create the
	// token with an earlier one (halfway between now and what was asked), as
	// a server capping lifetimes would; the answer tells the truth.
	MangleShortExpiresAt = "short-expiresAt"
)

// Mangles lists the Mangle values.
var Mangles = []string{MangleOmitCreatedAt, MangleNullCreatedAt, MangleBadCreatedAt, MangleOmitExpiresAt, MangleShortExpiresAt}

type faultJSON struct {
	Route      string          `json:"route"`
	Scope      string          `json:"scope,omitempty"`
	Status     int             `json:"status,omitempty"`
	RetryAfter int             `json:"retry_after,omitempty"`
	Latency    json.RawMessage `json:"latency,omitempty"`
	Drop       bool            `json:"drop,omitempty"`
	Queued     bool            `json:"queued,omitempty"`
	Count      int             `json:"count,omitempty"`
	Skip       int             `json:"skip,omitempty"`
	Mangle     string          `json:"mangle,omitempty"`
	Message    string          `json:"message,omitempty"`
}

// UnmarshalJSON reads latency as a Go duration string ("20ms") or a number
// of nanoseconds.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	lat, err := parseDurationJSON(j.Latency)
	if err != nil {
		return fmt.Errorf("fault latency: %w", err)
	}
	*f = Fault{Route: j.Route, Scope: j.Scope, Status: j.Status, RetryAfter: j.RetryAfter, Latency: lat, Drop: j.Drop, Queued: j.Queued,
		Count: j.Count, Skip: j.Skip, Mangle: j.Mangle, Message: j.Message}
	return nil
}

// MarshalJSON writes latency as a Go duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Route: f.Route, Scope: f.Scope, Status: f.Status, RetryAfter: f.RetryAfter, Drop: f.Drop, Queued: f.Queued, Count: f.Count,
		Skip: f.Skip, Mangle: f.Mangle, Message: f.Message}
	if f.Latency != 0 {
		j.Latency, _ = json.Marshal(f.Latency.String())
	}
	return json.Marshal(j)
}

// RateLimits configures GitHub's rate limits. The zero value turns them off.
// Primary limits apply when PrimaryLimit > 0. Secondary limits apply when
// Secondary is true or any secondary field is set; unset secondary fields then
// take GitHub's documented values.
type RateLimits struct {
	PrimaryLimit  int           `json:"primary_limit,omitempty"`  // requests per token per PrimaryWindow
	PrimaryWindow time.Duration `json:"primary_window,omitempty"` // default 1h

	Secondary                bool          `json:"secondary,omitempty"`
	Window                   time.Duration `json:"window,omitempty"`                      // default 1m
	PointsPerWindow          int           `json:"points_per_window,omitempty"`           // default 900 (GET 1, mutating 5)
	ContentCreatingPerWindow int           `json:"content_creating_per_window,omitempty"` // default 80 (PUTs)
	MaxConcurrent            int           `json:"max_concurrent,omitempty"`              // default 100 per token
	MinMutatingInterval      time.Duration `json:"min_mutating_interval,omitempty"`       // 0 = off

	Use429 bool `json:"use_429,omitempty"` // answer breaches with 429 instead of 403
}

type rateLimitsJSON struct {
	PrimaryLimit             int             `json:"primary_limit,omitempty"`
	PrimaryWindow            json.RawMessage `json:"primary_window,omitempty"`
	Secondary                bool            `json:"secondary,omitempty"`
	Window                   json.RawMessage `json:"window,omitempty"`
	PointsPerWindow          int             `json:"points_per_window,omitempty"`
	ContentCreatingPerWindow int             `json:"content_creating_per_window,omitempty"`
	MaxConcurrent            int             `json:"max_concurrent,omitempty"`
	MinMutatingInterval      json.RawMessage `json:"min_mutating_interval,omitempty"`
	Use429                   bool            `json:"use_429,omitempty"`
}

// UnmarshalJSON reads durations as Go duration strings or nanoseconds.
func (r *RateLimits) UnmarshalJSON(b []byte) error {
	var j rateLimitsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := RateLimits{PrimaryLimit: j.PrimaryLimit, Secondary: j.Secondary, PointsPerWindow: j.PointsPerWindow,
		ContentCreatingPerWindow: j.ContentCreatingPerWindow, MaxConcurrent: j.MaxConcurrent, Use429: j.Use429}
	var err error
	if out.PrimaryWindow, err = parseDurationJSON(j.PrimaryWindow); err != nil {
		return fmt.Errorf("primary_window: %w", err)
	}
	if out.Window, err = parseDurationJSON(j.Window); err != nil {
		return fmt.Errorf("window: %w", err)
	}
	if out.MinMutatingInterval, err = parseDurationJSON(j.MinMutatingInterval); err != nil {
		return fmt.Errorf("min_mutating_interval: %w", err)
	}
	*r = out
	return nil
}

// MarshalJSON writes durations as Go duration strings.
func (r RateLimits) MarshalJSON() ([]byte, error) {
	d := func(v time.Duration) json.RawMessage {
		if v == 0 {
			return nil
		}
		b, _ := json.Marshal(v.String())
		return b
	}
	return json.Marshal(rateLimitsJSON{PrimaryLimit: r.PrimaryLimit, PrimaryWindow: d(r.PrimaryWindow), Secondary: r.Secondary,
		Window: d(r.Window), PointsPerWindow: r.PointsPerWindow, ContentCreatingPerWindow: r.ContentCreatingPerWindow,
		MaxConcurrent: r.MaxConcurrent, MinMutatingInterval: d(r.MinMutatingInterval), Use429: r.Use429})
}

func (r RateLimits) secondaryOn() bool {
	return r.Secondary || r.Window != 0 || r.PointsPerWindow != 0 || r.ContentCreatingPerWindow != 0 ||
		r.MaxConcurrent != 0 || r.MinMutatingInterval != 0
}

// withDefaults fills unset fields with GitHub's documented values.
func (r RateLimits) withDefaults() RateLimits {
	if r.PrimaryWindow <= 0 {
		r.PrimaryWindow = time.Hour
	}
	if r.Window <= 0 {
		r.Window = time.Minute
	}
	if r.PointsPerWindow <= 0 {
		r.PointsPerWindow = 900
	}
	if r.ContentCreatingPerWindow <= 0 {
		r.ContentCreatingPerWindow = 80
	}
	if r.MaxConcurrent <= 0 {
		r.MaxConcurrent = 100
	}
	return r
}

func parseDurationJSON(raw json.RawMessage) (time.Duration, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, nil
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, err
		}
		if str == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(str)
		if err != nil {
			return 0, fmt.Errorf("%q is not a Go duration such as \"20ms\": %w", str, err)
		}
		return d, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("%s is neither a duration string nor nanoseconds", s)
	}
	return time.Duration(n), nil
}

// Journal entry kinds.
const (
	JournalSeedToken = "seed-token" // a token seeded (TokenID)
	JournalSeedWrite = "seed-write" // a secret seeded (Scope, Name, TokenID of its value)
	JournalMint      = "mint"       // POST /v1/account/tokens created TokenID
	JournalVerify    = "verify"     // GET /v1/auth/me answered 200 for TokenID (the first time)
	JournalRevoke    = "revoke"     // TokenID was revoked (the first time)
	JournalWrite     = "write"      // a PUT wrote the secret Scope Name with TokenID's value
	JournalDelete    = "delete"     // the secret Scope Name was deleted
)

// JournalEntry is one state change the emulator made (and the successful
// verifications), in the order it made them: the history that invariants
// such as I2 "no token is revoked before a newer one is written and
// verified" are judged on. It names tokens by id, never by value; TokenID
// of a write is empty when the value is no Groo token.
type JournalEntry struct {
	Seq     int       `json:"seq"`
	Time    time.Time `json:"time"` // the emulator's clock (GitHub's side)
	Kind    string    `json:"kind"`
	TokenID string    `json:"token_id,omitempty"`
	Scope   string    `json:"scope,omitempty"`
	Name    string    `json:"name,omitempty"`
	By      string    `json:"by,omitempty"` // Groo: the id of the token the request authenticated with
}
