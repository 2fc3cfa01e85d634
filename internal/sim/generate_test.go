package sim

import (
	"strings"
	"testing"

	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/testkit"
)

// TestGenerate: a seed is its schedule, and schedules are well formed.
func TestGenerate(t *testing.T) {
	t.Parallel()
	kinds := map[string]bool{}
	for seed := uint64(1); seed <= 2000; seed++ {
		s := Generate(seed)
		if again := Generate(seed); again.String() != s.String() {
			t.Fatalf("seed %d makes two schedules:\n%s\n%s", seed, s, again)
		}
		if s.Window < 400e6 || s.Window > 1e9 || len(s.Actors) == 0 || s.Actors[0].Kind == ActorPrune {
			t.Fatalf("seed %d: %s", seed, s)
		}
		if s.GrooOffset > 900e9 || s.GrooOffset < -900e9 {
			t.Fatalf("seed %d: offset %s", seed, s.GrooOffset)
		}
		for _, f := range s.Faults {
			kinds[faultFamily(f.Kind)] = true
			for _, x := range f.Faults {
				if x.Route == emulator.RouteGrooRevoke && x.Status == 404 {
					t.Fatalf("seed %d: a 404 on a revoke that did not act: %s", seed, s)
				}
				if x.Latency > s.Window*6/5+1e6 {
					t.Fatalf("seed %d: latency %s beyond the window %s", seed, x.Latency, s.Window)
				}
			}
		}
	}
	if Generate(1).String() == Generate(2).String() {
		t.Fatal("two seeds make one schedule")
	}
	for _, want := range []string{"drop-then-answer:gh.secret.put", "drop-then-slow:gh.secret.put", "drop:groo.create",
		"latency:gh.secret.put", "status:groo.revoke", "mangle-omit-createdAt:groo.list", "mangle-bad-createdAt:groo.list",
		"mangle-short-expiresAt:groo.create", "mangle-omit-expiresAt:groo.create", "queued:groo.create"} {
		if !kinds[want] {
			t.Errorf("no schedule of 2000 has a %s fault", want)
		}
	}
}

// TestChecks: the invariant checks flag what they should on a made-up
// history, and pass a clean one.
func TestChecks(t *testing.T) {
	t.Parallel()
	const uc = "GitHub Actions - octo/app GROO_PAT"
	st := emulator.State{Tokens: []emulator.TokenState{
		{ID: "tok_old", Name: uc, Secret: testkit.PAT(t)},
		{ID: "tok_new", Name: uc, Secret: testkit.PAT(t)},
	}}
	j := func(kinds ...string) []emulator.JournalEntry {
		var out []emulator.JournalEntry
		for i, k := range kinds {
			kind, id, _ := strings.Cut(k, " ")
			out = append(out, emulator.JournalEntry{Seq: i + 1, Kind: kind, TokenID: id})
		}
		return out
	}
	clean := j("seed-token tok_old", "seed-write tok_old", "mint tok_new", "verify tok_new", "write tok_new", "revoke tok_old")
	if p := checkI2(st, clean, uc); len(p) != 0 {
		t.Errorf("clean history: %v", p)
	}
	// The new token was written and then revoked by its own rotation, the
	// secret holding it: I2 (and the emulator's I1).
	bad := j("seed-token tok_old", "seed-write tok_old", "mint tok_new", "verify tok_new", "write tok_new", "revoke tok_new")
	if p := checkI2(st, bad, uc); len(p) != 1 || !strings.Contains(p[0], "tok_new") {
		t.Errorf("revoked in the secret: %v", p)
	}
	// Replaced by a token never verified.
	unverified := j("seed-token tok_old", "seed-write tok_old", "mint tok_new", "write tok_new", "revoke tok_old")
	if p := checkI2(st, unverified, uc); len(p) != 1 {
		t.Errorf("replaced by an unverified token: %v", p)
	}

	r := newRun(Actor{Kind: ActorAction})
	r.err, r.attemptID = errString("rotate: write: refused"), "rot_1"
	if p := checkI4([]*run{r}, [][]string{{"tok_new"}}); len(p) != 1 {
		t.Errorf("I4: %v", p)
	}
	r.leftLive = "tok_new"
	if p := checkI4([]*run{r}, [][]string{{"tok_new"}}); len(p) != 0 {
		t.Errorf("I4 with the token named: %v", p)
	}
	r.leftLive, r.outcomeUnknown = "", true
	if p := checkI4([]*run{r}, [][]string{{"tok_new"}}); len(p) != 0 {
		t.Errorf("I4 with the outcome unknown: %v", p)
	}

	_, _ = r.logs.Write([]byte(`{"msg":"oops","v":"` + st.Tokens[1].Secret[prefixLen:] + `"}`))
	if p := checkI5(st, []*run{r}, []string{"db " + st.Tokens[0].Secret}); len(p) != 2 {
		t.Errorf("I5: %v", p)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
