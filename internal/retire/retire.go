// Package retire is the one rule that decides when a replaced token of a use
// case may be revoked. Rotate, plan and prune all ask it, so they cannot
// disagree. It is pure: it reads tokens and times and decides, it calls
// nothing.
//
// The rule keeps I1 (a secret never holds a revoked token) whatever the
// offset between this machine's clock and Groo's: whether a token's writes
// have ended is judged on Groo's clock alone, comparing a candidate's
// createdAt with a later Groo time (the rotation's own new token's createdAt,
// or the newest time Groo itself reported). A missing time never makes a
// token old enough. The write window a writer used travels in its token's
// description, so each token is judged by its own writer's window.
package retire

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/groo"
)

const (
	// DefaultWindow is the write window W: a rotation writes its token only
	// within W of minting it.
	DefaultWindow = 2 * time.Minute
	// MaxWindow is the longest write window a writer may use, and the one
	// assumed for a token whose description names none (made by hand, or by
	// an older version): such a token is judged by the worst case.
	MaxWindow = 15 * time.Minute
	// DefaultMargin covers the jitter between Groo's own servers' clocks
	// when two of its times are compared.
	DefaultMargin = 5 * time.Second
)

// Description is what a rotation stores on the token it mints: it tells a
// person which tool and target own the token, carries the attempt id and the
// try (so that a mint whose answer was lost can be found and revoked) and the
// writer's write window (so that every other writer judges the token by it).
func Description(tool, target, attempt string, try int, window time.Duration) string {
	if tool == "" {
		tool = "pat-action"
	}
	return fmt.Sprintf("Managed by %s for %s (attempt %s, try %d, write window %s)", tool, target, attempt, try, window)
}

var windowRE = regexp.MustCompile(`\(attempt rot_[0-9a-f]+(?:, try [0-9]+)?, write window ([0-9a-z.]+)\)$`)

// WindowOf is the write window of the writer that minted t: the one its
// description names, or MaxWindow when it names none or one this rule
// cannot trust (unparsable, not positive, above MaxWindow).
func WindowOf(t groo.TokenInfo) time.Duration {
	if t.Description == nil {
		return MaxWindow
	}
	m := windowRE.FindStringSubmatch(*t.Description)
	if m == nil {
		return MaxWindow
	}
	d, err := time.ParseDuration(m[1])
	if err != nil || d <= 0 || d > MaxWindow {
		return MaxWindow
	}
	return d
}

// MintedBy reports whether t's description names the attempt id.
func MintedBy(t groo.TokenInfo, attempt string) bool {
	return attempt != "" && t.Description != nil && strings.Contains(*t.Description, "(attempt "+attempt+",")
}

// MintedByTry reports whether t's description names the attempt id and
// that try of it: a lost try is settled only by its own token, not by an
// earlier try's.
func MintedByTry(t groo.TokenInfo, attempt string, try int) bool {
	return attempt != "" && t.Description != nil &&
		strings.Contains(*t.Description, fmt.Sprintf("(attempt %s, try %d,", attempt, try))
}

// WritesEndedBefore reports whether every write of x ended before ref, a
// time on Groo's clock: x was minted more than its writer's window (plus
// margin) before ref. An unknown time (zero) is never old enough.
func WritesEndedBefore(x groo.TokenInfo, ref time.Time, margin time.Duration) bool {
	if x.CreatedAt.IsZero() || ref.IsZero() {
		return false
	}
	return x.CreatedAt.Add(WindowOf(x) + margin).Before(ref)
}

// LatestSeen is a lower bound of Groo's clock at the moment it answered a
// list: the newest createdAt or lastUsed it reported (every authenticated
// request sets the caller's lastUsed). Zero when the list says nothing.
func LatestSeen(tokens []groo.TokenInfo) time.Time {
	var t time.Time
	for _, x := range tokens {
		if x.CreatedAt.After(t) {
			t = x.CreatedAt
		}
		if x.LastUsed != nil && x.LastUsed.After(t) {
			t = *x.LastUsed
		}
	}
	return t
}

// ListCovers reports whether a list read for several rotations (the
// daemon's shared list) may stand in for rotation R's own look at the
// account when R retires: its newest Groo time is at most R's write window
// before R's own token's createdAt, both on Groo's clock. A token such a list
// misses was minted after it, so within window of R's mint: by another
// rotation of the use case within W before R (which I3 does not cover), or
// by a writer whose token is too recent to revoke anyway. An unknown time
// never covers. The list must also have been answered before R's write
// started (Rotation.Listed), which holds for any list R took before it.
func ListCovers(listed []groo.TokenInfo, minted time.Time, window time.Duration) bool {
	seen := LatestSeen(listed)
	if seen.IsZero() || minted.IsZero() {
		return false
	}
	return minted.Sub(seen) <= window
}

// Offset bounds Groo's clock against this machine's: groo - local lies in
// [Low, High]. A rotation measures it on its own mint: the local times
// before the request and after the answer bracket the token's createdAt.
type Offset struct {
	Low, High time.Duration
	Known     bool
}

// MeasureOffset brackets Groo's createdAt of a token minted between the
// local times sent and answered.
func MeasureOffset(sent, answered, createdAt time.Time) Offset {
	if createdAt.IsZero() || sent.IsZero() || answered.Before(sent) {
		return Offset{}
	}
	return Offset{Low: createdAt.Sub(answered), High: createdAt.Sub(sent), Known: true}
}

// LocalLatest is the latest local time at which Groo's clock could have read
// g. Unknown offset: the clocks are taken to agree within margin.
func (o Offset) LocalLatest(g time.Time, margin time.Duration) time.Time {
	if !o.Known {
		return g.Add(margin)
	}
	return g.Add(-o.Low)
}

// Verdict is what to do with one older token.
type Verdict string

const (
	Revoke    Verdict = "revoke"     // safe, and its grace is over
	Grace     Verdict = "grace"      // safe, but its grace ends at RevokeAfter
	TooRecent Verdict = "too-recent" // a write of it may still land, or may be the secret's value
	Keep      Verdict = "keep"       // never revoked by this caller (its own credential)
)

// Decision is the verdict on one token, and why.
type Decision struct {
	Token       groo.TokenInfo
	Verdict     Verdict
	RevokeAfter time.Time // local clock; set for Grace and Revoke
	Why         string
}

// Rotation is what a rotation R knows when it retires the older tokens of
// its use case: its own new token (on Groo's clock) and its local times.
type Rotation struct {
	// New is R's own token; its CreatedAt (Groo's clock) is the reference
	// every candidate's writes must have ended before. Zero when unknown.
	New groo.TokenInfo
	// Listed is the list R read before its write: its LatestSeen is also a
	// Groo time before R's write started.
	Listed []groo.TokenInfo
	// WriteStart and Written are local: when R's write started and ended.
	WriteStart, Written time.Time
	Now                 time.Time
	Grace               time.Duration
	Margin              time.Duration
	// Offset converts Groo times to local ones for the grace.
	Offset Offset
	// SecretUpdatedAt is the secret's updated_at (GitHub's clock) read
	// before R's write; nil when unknown or the secret did not exist.
	SecretUpdatedAt *time.Time
	// WritesEnded is optional: a store that knows when the rotation that
	// minted a token ended (local clock), so that no write of it can land
	// later.
	WritesEnded func(tokenID string) (time.Time, bool)
	// Keep is optional: tokens this caller never revokes.
	Keep func(groo.TokenInfo) bool
}

// Decide judges each older token, in the order given.
func (r Rotation) Decide(older []groo.TokenInfo) []Decision {
	ref := r.New.CreatedAt
	if seen := LatestSeen(r.Listed); seen.After(ref) {
		ref = seen
	}
	out := make([]Decision, 0, len(older))
	for _, x := range older {
		d := Decision{Token: x}
		switch {
		case r.Keep != nil && r.Keep(x):
			d.Verdict, d.Why = Keep, "the credential this tool authenticates with is never revoked by it"
		case !r.writesEnded(x, ref):
			d.Verdict = TooRecent
			d.Why = r.tooRecentWhy(x)
		default:
			d.RevokeAfter = r.replacedAt(x).Add(r.Grace)
			if r.Grace > 0 && r.Now.Before(d.RevokeAfter) {
				d.Verdict, d.Why = Grace, fmt.Sprintf("grace of %s after it was replaced", duration.Format(r.Grace))
			} else {
				d.Verdict, d.Why = Revoke, "every write of it ended before this rotation's write"
			}
		}
		out = append(out, d)
	}
	return out
}

func (r Rotation) writesEnded(x groo.TokenInfo, ref time.Time) bool {
	if WritesEndedBefore(x, ref, r.Margin) {
		return true
	}
	if r.WritesEnded == nil {
		return false
	}
	ended, ok := r.WritesEnded(x.ID)
	return ok && ended.Before(r.WriteStart)
}

func (r Rotation) tooRecentWhy(x groo.TokenInfo) string {
	if x.CreatedAt.IsZero() {
		return "Groo gave no creation time for it, so nothing shows that its writes ended"
	}
	if r.New.CreatedAt.IsZero() && LatestSeen(r.Listed).IsZero() {
		return "Groo gave no creation time for the new token, so nothing shows that older writes ended"
	}
	return fmt.Sprintf("minted less than its writer's write window %s (+%s) before this rotation's token: a write of it may still land",
		WindowOf(x), r.Margin)
}

// replacedAt bounds, on the safe (late) side, when x stopped being the
// secret's value: at R's own write, unless the secret's updated_at shows a
// write after every write of x ended, in which case x was replaced by then.
// GitHub's clock is taken to agree with this machine's within the margin; an
// error there shortens or lengthens a grace, never I1.
func (r Rotation) replacedAt(x groo.TokenInfo) time.Time {
	at := r.Written
	if r.SecretUpdatedAt == nil || x.CreatedAt.IsZero() {
		return at
	}
	xEnd := r.Offset.LocalLatest(x.CreatedAt.Add(WindowOf(x)), r.Margin).Add(r.Margin)
	updated := *r.SecretUpdatedAt
	if xEnd.Before(updated.Add(-r.Margin)) {
		// GitHub's updated_at has whole seconds: the write may have come up
		// to a second after it.
		if u := updated.Add(time.Second + r.Margin); u.Before(at) {
			at = u
		}
	}
	return at
}

// Secret is what prune knows of a use case's secret: the token the store
// recorded as written last (listed by Groo, so its createdAt is known), and
// when that write happened on this machine's clock.
type Secret struct {
	Current   groo.TokenInfo
	WrittenAt time.Time
}

// MayHold reports whether the secret may hold x: x is the recorded token, or
// a write of x may have landed after the recorded one (x's writes had not
// ended when the recorded token was minted). Only a write outside the tools
// escapes this, which the audit reports separately.
func (s Secret) MayHold(x groo.TokenInfo, margin time.Duration) bool {
	if x.ID == s.Current.ID {
		return true
	}
	return !WritesEndedBefore(x, s.Current.CreatedAt, margin)
}

// Prune is the audit's clean-up of one use case.
type Prune struct {
	Secret *Secret // nil: which token the secret holds is not known
	Listed []groo.TokenInfo
	Now    time.Time
	Grace  time.Duration
	Margin time.Duration
	// PendingAfter is a pending revoke's revoke-after (local), if any.
	PendingAfter func(tokenID string) (time.Time, bool)
	Keep         func(groo.TokenInfo) bool
}

// Decide judges each extra token of the use case.
func (p Prune) Decide(tokens []groo.TokenInfo) []Decision {
	seen := LatestSeen(p.Listed)
	out := make([]Decision, 0, len(tokens))
	for _, x := range tokens {
		d := Decision{Token: x}
		switch {
		case p.Keep != nil && p.Keep(x):
			d.Verdict, d.Why = Keep, "the credential this tool authenticates with is never revoked by it"
		case p.Secret == nil:
			d.Verdict, d.Why = TooRecent, "which token the secret holds is not known for sure: rotate first"
		case x.ID == p.Secret.Current.ID:
			d.Verdict, d.Why = Keep, "never revoke the token in the secret"
		case p.Secret.MayHold(x, p.Margin):
			d.Verdict = TooRecent
			d.Why = fmt.Sprintf("a write of it may have landed after the recorded one (its writer's window %s + %s): rotate first", WindowOf(x), p.Margin)
		case !WritesEndedBefore(x, seen, p.Margin):
			d.Verdict, d.Why = TooRecent, "a run may still write it"
		default:
			d.RevokeAfter = p.Secret.WrittenAt.Add(p.Grace)
			if after, ok := p.pendingAfter(x.ID); ok && after.After(d.RevokeAfter) {
				d.RevokeAfter = after
			}
			if p.Now.Before(d.RevokeAfter) {
				d.Verdict, d.Why = Grace, fmt.Sprintf("in its grace period until %s (grace %s after its successor's recorded write)",
					d.RevokeAfter.UTC().Format(time.RFC3339), duration.Format(p.Grace))
			} else {
				d.Verdict, d.Why = Revoke, "replaced, and no write of it can land any more"
			}
		}
		out = append(out, d)
	}
	return out
}

func (p Prune) pendingAfter(id string) (time.Time, bool) {
	if p.PendingAfter == nil {
		return time.Time{}, false
	}
	return p.PendingAfter(id)
}

// Orphan judges a token of no configured use case: it may be revoked once no
// run can still write it, on Groo's clock.
func Orphan(x groo.TokenInfo, listed []groo.TokenInfo, margin time.Duration, keep func(groo.TokenInfo) bool) Decision {
	d := Decision{Token: x}
	switch {
	case keep != nil && keep(x):
		d.Verdict, d.Why = Keep, "the credential this tool authenticates with is never revoked by it"
	case !WritesEndedBefore(x, LatestSeen(listed), margin):
		d.Verdict, d.Why = TooRecent, fmt.Sprintf("a run may still write it (its writer's window %s + %s)", WindowOf(x), margin)
	default:
		d.Verdict, d.Why = Revoke, "orphan: no configured target uses its name"
	}
	return d
}

// Matches reports whether listed token x is the token cred (the same prefix
// and last four). A listed token without a last four matches on its prefix
// alone: when in doubt, it may be the credential.
func Matches(x groo.TokenInfo, cred groo.Token) bool {
	if cred.IsZero() {
		return false
	}
	if x.TokenPrefix != "" && x.TokenPrefix != cred.TokenPrefix() {
		return false
	}
	return x.LastFour == "" || x.LastFour == cred.LastFour()
}

// Identifies reports whether listed token x is certainly the token with
// this prefix and last four: both are known on both sides and equal. (Matches
// is the cautious "may be", for never revoking; this is the "is", for
// naming the token.)
func Identifies(x groo.TokenInfo, prefix, lastFour string) bool {
	return prefix != "" && lastFour != "" && x.TokenPrefix == prefix && x.LastFour == lastFour
}

// IDs lists the ids of the decisions with verdict v, sorted.
func IDs(ds []Decision, v Verdict) []string {
	var out []string
	for _, d := range ds {
		if d.Verdict == v {
			out = append(out, d.Token.ID)
		}
	}
	slices.Sort(out)
	return out
}
