package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/emulator"
)

// ActorKind is what an actor of a schedule does.
type ActorKind string

const (
	// ActorAction is one stateless run of the Action: an Engine with no
	// History, minting with the token the secret holds when it starts.
	ActorAction ActorKind = "action"
	// ActorDaemon is one rotation of a pat-rotator replica: an Engine with
	// the schedule's SQLite store as Recorder and History, under its lease,
	// minting with the bot's credential.
	ActorDaemon ActorKind = "daemon"
	// ActorPrune is `pat-rotator audit --prune --yes` over the same store.
	ActorPrune ActorKind = "prune"
)

// Actor is one participant of a schedule.
type Actor struct {
	Kind   ActorKind
	Start  time.Duration // after the schedule starts
	Window time.Duration // the write window W of its engine or prune
}

// FaultSpec is one fault of a schedule: a kind (for reports) and the
// emulator faults that make it (a drop then an answer is two).
type FaultSpec struct {
	Kind   string
	Faults []emulator.Fault
}

// Extra is a token of the use case that exists besides the one in the secret
// when the schedule starts.
type Extra struct {
	Kind string        // "leftover" (older than the secret's), "loser" (minted just before it, never written)
	Age  time.Duration // before the secret's token was minted; negative: after
}

// Schedule is one simulated use case. Generate makes it from a seed.
type Schedule struct {
	Seed       uint64
	Window     time.Duration // the base write window W
	Margin     time.Duration // the engines' clock margin
	GrooOffset time.Duration // Groo's clock minus GitHub's (and the actors')
	Extras     []Extra
	Actors     []Actor
	Faults     []FaultSpec
}

// FaultCount counts the schedule's faults: each FaultSpec, and a Groo clock
// offset (any, within the margin too).
func (s Schedule) FaultCount() int {
	n := len(s.Faults)
	if s.GrooOffset != 0 {
		n++
	}
	return n
}

// Kinds lists the schedule's fault kinds, for reports.
func (s Schedule) Kinds() []string {
	var out []string
	if s.GrooOffset != 0 {
		out = append(out, grooOffsetKind(s.GrooOffset, s.Margin))
	}
	for _, f := range s.Faults {
		out = append(out, f.Kind)
	}
	return out
}

func grooOffsetKind(d, margin time.Duration) string {
	switch {
	case d > margin:
		return "groo-clock-ahead"
	case d < -margin:
		return "groo-clock-behind"
	}
	return "groo-clock-within-margin"
}

func (s Schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: W %s, margin %s, Groo clock offset %s", s.Seed, s.Window, s.Margin, s.GrooOffset)
	for _, x := range s.Extras {
		fmt.Fprintf(&b, "\n  extra token %s, minted %s before the secret's", x.Kind, x.Age)
	}
	for i, a := range s.Actors {
		fmt.Fprintf(&b, "\n  actor %d: %s at +%s, W %s", i, a.Kind, a.Start, a.Window)
	}
	for _, f := range s.Faults {
		fmt.Fprintf(&b, "\n  fault %s:", f.Kind)
		for _, x := range f.Faults {
			fmt.Fprintf(&b, " %s", describeFault(x))
		}
	}
	return b.String()
}

func describeFault(f emulator.Fault) string {
	var parts []string
	if f.Skip > 0 {
		parts = append(parts, fmt.Sprintf("after %d", f.Skip))
	}
	if f.Drop {
		parts = append(parts, "drop after acting")
	}
	if f.Status != 0 {
		parts = append(parts, fmt.Sprintf("answer %d", f.Status))
		if f.RetryAfter > 0 {
			parts = append(parts, fmt.Sprintf("retry-after %ds", f.RetryAfter))
		}
	}
	if f.Latency > 0 {
		parts = append(parts, "latency "+f.Latency.String())
		if f.Queued {
			parts = append(parts, "acting even when its client gave up")
		}
	}
	if f.Mangle != "" {
		parts = append(parts, f.Mangle)
	}
	count := "every request"
	if f.Count > 0 {
		count = fmt.Sprintf("%d request(s)", f.Count)
	}
	return fmt.Sprintf("[%s: %s, %s]", f.Route, strings.Join(parts, " "), count)
}

// Routes the faults choose from, weighted: the write and the revoke are where
// I1 is won or lost.
var faultRoutes = []struct {
	route  string
	groo   bool
	weight int
}{
	{emulator.RouteSecretPut, false, 5},
	{emulator.RouteGrooRevoke, true, 3},
	{emulator.RouteGrooCreate, true, 2},
	{emulator.RouteGrooList, true, 2},
	{emulator.RouteGrooMe, true, 2},
	{emulator.RoutePublicKey, false, 1},
	{emulator.RouteSecretGet, false, 1},
}

var (
	ghStatuses   = []int{403, 404, 422, 500, 502, 429}
	grooStatuses = []int{401, 403, 404, 500, 503, 429}
)

// Generate makes the schedule of a seed. It depends on nothing but the
// seed.
func Generate(seed uint64) Schedule {
	r := rand.New(rand.NewPCG(seed, 0x5eed_0f_5c4ed01e))
	w := time.Duration(400+r.IntN(601)) * time.Millisecond // 400ms..1s
	s := Schedule{Seed: seed, Window: w, Margin: w / 10}

	// Groo's clock: the same as GitHub's, off within the margin, or off by
	// up to 15 minutes either way.
	switch p := r.IntN(100); {
	case p < 40:
	case p < 55:
		s.GrooOffset = time.Duration(r.Int64N(int64(2*s.Margin))) - s.Margin
	default:
		s.GrooOffset = time.Duration(1+r.IntN(900)) * time.Second
		if r.IntN(2) == 0 {
			s.GrooOffset = -s.GrooOffset
		}
	}

	for range r.IntN(3) {
		if r.IntN(2) == 0 {
			s.Extras = append(s.Extras, Extra{Kind: "leftover", Age: time.Duration(1+r.IntN(48)) * time.Hour})
		} else {
			s.Extras = append(s.Extras, Extra{Kind: "loser", Age: time.Duration(r.Int64N(int64(w)))})
		}
	}

	// Actors: 1-4, at least one that rotates, starting within 1.5 W of each
	// other (concurrent writers), sometimes one later (after the window).
	n := 1 + r.IntN(4)
	for i := range n {
		var k ActorKind
		switch p := r.IntN(100); {
		case p < 45:
			k = ActorAction
		case p < 80:
			k = ActorDaemon
		default:
			k = ActorPrune
		}
		if i == 0 && k == ActorPrune {
			k = ActorAction
		}
		start := time.Duration(r.Int64N(int64(3 * w / 2)))
		if r.IntN(5) == 0 {
			start = w + time.Duration(r.Int64N(int64(2*w)))
		}
		aw := w
		if r.IntN(5) == 0 {
			aw = w/2 + time.Duration(r.Int64N(int64(3*w/2))) // writers with different windows
		}
		s.Actors = append(s.Actors, Actor{Kind: k, Start: start, Window: aw})
	}

	// Faults: one to three per rotating actor; one schedule in five is calm.
	rotating := 0
	for _, a := range s.Actors {
		if a.Kind != ActorPrune {
			rotating++
		}
	}
	nf := rotating + r.IntN(2*rotating+1)
	if r.IntN(5) == 0 {
		nf = r.IntN(2) // calm: concurrency and the clocks alone, or one fault
	}
	for range nf {
		s.Faults = append(s.Faults, genFault(r, w))
	}
	return s
}

func pickRoute(r *rand.Rand) (string, bool) {
	total := 0
	for _, x := range faultRoutes {
		total += x.weight
	}
	n := r.IntN(total)
	for _, x := range faultRoutes {
		if n < x.weight {
			return x.route, x.groo
		}
		n -= x.weight
	}
	panic("unreachable")
}

func pickStatus(r *rand.Rand, route string, groo bool) (status, retryAfter int) {
	list := ghStatuses
	if groo {
		list = grooStatuses
	}
	status = list[r.IntN(len(list))]
	if route == emulator.RouteGrooRevoke && status == 404 {
		// A 404 on a revoke means "already gone" (docs/groo-api.md): answered without
		// acting, and faults answer without acting, it is a lie the protocol
		// may believe.
		status = 500
	}
	if status == 429 && !groo && r.IntN(2) == 0 {
		retryAfter = 1
	}
	return status, retryAfter
}

func genFault(r *rand.Rand, w time.Duration) FaultSpec {
	route, groo := pickRoute(r)
	skip := r.IntN(3)
	switch p := r.IntN(100); {
	case p < 35: // the answer is lost after the server acted, then any answer
		status, ra := pickStatus(r, route, groo)
		then := emulator.Fault{Route: route, Status: status, RetryAfter: ra, Count: 1 + r.IntN(2), Skip: skip + 1}
		kind := fmt.Sprintf("drop-then-%d:%s", status, route)
		if r.IntN(4) == 0 {
			then = emulator.Fault{Route: route, Latency: scaled(r, w), Count: 1, Skip: skip + 1}
			kind = "drop-then-slow:" + route
		}
		return FaultSpec{Kind: kind, Faults: []emulator.Fault{{Route: route, Drop: true, Count: 1, Skip: skip}, then}}
	case p < 45:
		return FaultSpec{Kind: "drop:" + route, Faults: []emulator.Fault{{Route: route, Drop: true, Count: 1, Skip: skip}}}
	case p < 65:
		if route == emulator.RouteGrooCreate && r.IntN(2) == 0 {
			// A busy Groo that mints after its client gave up. (Only a mint:
			// the write window rests on a PUT its client abandoned never
			// landing later, docs/design.md.)
			return FaultSpec{Kind: "queued:" + route, Faults: []emulator.Fault{{Route: route, Latency: scaled(r, w), Queued: true, Count: 1, Skip: skip}}}
		}
		return FaultSpec{Kind: "latency:" + route, Faults: []emulator.Fault{{Route: route, Latency: scaled(r, w), Count: 1 + r.IntN(2), Skip: skip}}}
	case p < 80:
		status, ra := pickStatus(r, route, groo)
		return FaultSpec{Kind: fmt.Sprintf("status-%d:%s", status, route),
			Faults: []emulator.Fault{{Route: route, Status: status, RetryAfter: ra, Count: 1 + r.IntN(2), Skip: skip}}}
	default: // damaged Groo answers
		m := emulator.Mangles[r.IntN(len(emulator.Mangles))]
		route := emulator.RouteGrooList
		if m == emulator.MangleShortExpiresAt || r.IntN(3) == 0 {
			route = emulator.RouteGrooCreate
		}
		return FaultSpec{Kind: "mangle-" + m + ":" + route, Faults: []emulator.Fault{{Route: route, Mangle: m, Count: 1 + r.IntN(3), Skip: skip}}}
	}
}

// scaled is a latency up to a little more than the write window.
func scaled(r *rand.Rand, w time.Duration) time.Duration {
	return time.Duration(r.Int64N(int64(w*6/5))) + time.Millisecond
}
