package audit

import "github.com/groo/pat-action/internal/safetext"

// Scrub replaces every token value the process holds, and anything shaped
// like a token in any letter case, with its prefix and last four at most
// (safetext.Redact): stores call it on every text of an event before they
// keep it.
func Scrub(s string) string { return safetext.Redact(s) }

// ScrubEvent is e with its free texts (error, step, actor) scrubbed: what a
// store keeps. Names and ids are keys and stay as they are.
func ScrubEvent(e Event) Event {
	e.Error = Scrub(e.Error)
	e.Step = Scrub(e.Step)
	e.Actor = Scrub(e.Actor)
	return e
}
