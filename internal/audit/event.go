// Package audit holds what pat-action remembers: rotation events (one per
// attempt, invariant I7), the stores that keep them, and the reports that
// repository admins read. Nothing here ever holds a token value: only ids,
// prefixes and last fours.
package audit

import (
	"context"
	"time"
)

// Outcome is the state an attempt ended in.
type Outcome string

const (
	OutcomeStarted   Outcome = "started"
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeFailed    Outcome = "failed"
	OutcomeAbandoned Outcome = "abandoned" // the process died; a later run found it
	OutcomePlanned   Outcome = "planned"   // plan mode: nothing changed
)

// Event is one rotation attempt. A rotation records a started event and then
// the same ID again with its final outcome; stores keep the latest per ID.
type Event struct {
	ID      string    `json:"id"` // attempt id, also in the new token's description
	Time    time.Time `json:"time"`
	Outcome Outcome   `json:"outcome"`
	UseCase string    `json:"use_case"`
	Target  string    `json:"target"` // ghsecret.Target.String()
	Actor   string    `json:"actor"`  // workflow run URL or daemon host
	Tool    string    `json:"tool"`   // pat-action, pat-rotator

	NewTokenID     string     `json:"new_token_id,omitempty"`
	NewTokenPrefix string     `json:"new_token_prefix,omitempty"`
	NewTokenLast4  string     `json:"new_token_last4,omitempty"`
	NewExpiresAt   *time.Time `json:"new_expires_at,omitempty"`
	SecretCreated  bool       `json:"secret_created,omitempty"` // 201 rather than 204
	WrittenAt      *time.Time `json:"written_at,omitempty"`

	Replaced       []string `json:"replaced_token_ids,omitempty"` // older live tokens seen
	Revoked        []string `json:"revoked_token_ids,omitempty"`
	Pending        []string `json:"pending_revoke_token_ids,omitempty"` // grace or failing revokes
	TooRecent      []string `json:"too_recent_token_ids,omitempty"`     // left live: may still be written
	Error          string   `json:"error,omitempty"`
	Step           string   `json:"step,omitempty"` // the step that failed
	OutcomeUnknown bool     `json:"write_outcome_unknown,omitempty"`

	Duration time.Duration            `json:"duration_ns"`
	Steps    map[string]time.Duration `json:"steps_ns,omitempty"`
}

// Recorder receives audit events. Implementations must not block long: a
// rotation waits for Record before it reports.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}
