package sim

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/ghconform"
)

var (
	flagSeeds    = flag.Int("sim.seeds", 3000, "number of schedules (seeds sim.base .. sim.base+sim.seeds-1); -short and -race: 300 unless set")
	flagBase     = flag.Uint64("sim.base", 1, "first seed")
	flagSeed     = flag.String("sim.seed", "", "replay this one seed, printing its schedule and what each actor did")
	flagParallel = flag.Int("sim.parallel", 0, "schedules run at once (default 32 per CPU, as they mostly wait; 3 under -race)")
	flagConform  = flag.Bool("sim.conform", true, "check every GitHub request against GitHub's OpenAPI description")
)

// seeds is the seed list the flags ask for.
func seeds(tb testing.TB) []uint64 {
	if *flagSeed != "" {
		s, err := strconv.ParseUint(*flagSeed, 10, 64)
		if err != nil {
			tb.Fatalf("-sim.seed %q: %v", *flagSeed, err)
		}
		return []uint64{s}
	}
	n := *flagSeeds
	if (testing.Short() || raceEnabled) && !flagSet("sim.seeds") {
		n = 300
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = *flagBase + uint64(i)
	}
	return out
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func replayCommand(seed uint64) string {
	return fmt.Sprintf("go test ./internal/sim -run TestSimulation -sim.seed=%d -v", seed)
}

// simulate runs the seeds' schedules on a pool of workers, each schedule
// with its own emulator, and calls report with each outcome as it ends.
func simulate(tb testing.TB, list []uint64, transport http.RoundTripper, report func(outcome)) {
	par := *flagParallel
	if par <= 0 {
		par = 32 * runtime.GOMAXPROCS(0)
		if raceEnabled {
			par = 3 * runtime.GOMAXPROCS(0)
		}
	}
	dir := tb.TempDir()
	jobs := make(chan uint64)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(par, len(list)) {
		wg.Go(func() {
			for seed := range jobs {
				o := runSchedule(context.Background(), Generate(seed), transport, dir)
				mu.Lock()
				report(o)
				mu.Unlock()
			}
		})
	}
	for _, s := range list {
		jobs <- s
	}
	close(jobs)
	wg.Wait()
}

func newTransport(t *testing.T) http.RoundTripper {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 16
	if !*flagConform {
		return base
	}
	return ghconform.New(t, base)
}

// summary gathers the outcomes of a simulation.
type summary struct {
	schedules, faults, i1 int
	// What the actors did: rotations that succeeded, failed (outcome
	// unknown among them), daemons that found the lease held, prunes and
	// the tokens they revoked.
	rotOK, rotFailed, rotUnknown, skipped, prunes, pruned int
	failed                                                []outcome
	byInvariant                                           map[string][]uint64 // seeds
	byCause                                               map[string][]uint64 // I1 violations' causes -> seeds
	byFamily                                              map[string][]uint64 // other problems, their ids and numbers blanked -> seeds
	byCombo                                               map[string]int      // "I1+I2" -> schedules
	// kindsBy counts, per invariant broken, the fault kinds (without their
	// route) of the schedules that broke it.
	kindsBy map[string]map[string]int
	slowest time.Duration
}

func newSummary() *summary {
	return &summary{byInvariant: map[string][]uint64{}, byCause: map[string][]uint64{}, byFamily: map[string][]uint64{},
		byCombo: map[string]int{}, kindsBy: map[string]map[string]int{}}
}

func (s *summary) add(o outcome) {
	s.schedules++
	s.faults += o.sched.FaultCount()
	s.i1 += o.i1
	s.slowest = max(s.slowest, o.elapsed)
	for _, r := range o.runs {
		switch {
		case r == nil:
		case r.actor.Kind == ActorPrune:
			s.prunes++
			s.pruned += len(r.pruned)
		case r.skipped:
			s.skipped++
		case r.err == nil:
			s.rotOK++
		default:
			s.rotFailed++
			if r.outcomeUnknown {
				s.rotUnknown++
			}
		}
	}
	if len(o.problems) == 0 {
		return
	}
	s.failed = append(s.failed, o)
	s.byCombo[strings.Join(o.invariants(), "+")]++
	for _, p := range o.problems {
		if strings.HasPrefix(p, "I1:") {
			continue
		}
		f := problemFamily(p)
		if l := s.byFamily[f]; len(l) == 0 || l[len(l)-1] != o.sched.Seed {
			s.byFamily[f] = append(l, o.sched.Seed)
		}
	}
	for _, c := range o.causes {
		if l := s.byCause[c]; len(l) == 0 || l[len(l)-1] != o.sched.Seed {
			s.byCause[c] = append(l, o.sched.Seed)
		}
	}
	for _, inv := range o.invariants() {
		s.byInvariant[inv] = append(s.byInvariant[inv], o.sched.Seed)
		if s.kindsBy[inv] == nil {
			s.kindsBy[inv] = map[string]int{}
		}
		seen := map[string]bool{}
		for _, k := range o.sched.Kinds() {
			k = faultFamily(k)
			if !seen[k] {
				seen[k] = true
				s.kindsBy[inv][k]++
			}
		}
		for _, x := range o.sched.Extras {
			s.kindsBy[inv]["extra-"+x.Kind]++
		}
	}
}

// faultFamily drops a fault kind's status and keeps its route:
// "drop-then-403:gh.secret.put" -> "drop-then-answer:gh.secret.put".
func faultFamily(k string) string {
	kind, route, _ := strings.Cut(k, ":")
	switch {
	case strings.HasPrefix(kind, "drop-then-"):
		if kind != "drop-then-slow" {
			kind = "drop-then-answer"
		}
	case strings.HasPrefix(kind, "status-"):
		kind = "status"
	}
	if route == "" {
		return kind
	}
	return kind + ":" + route
}

var (
	idsPattern  = regexp.MustCompile(`(tok|rot)_[0-9a-z]+`)
	hostPattern = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
	numPattern  = regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?(ns|µs|ms|s|m|h)?\b`)
)

// problemFamily blanks a problem's ids, ports and numbers, so that problems
// of one kind count together; long ones are cut.
func problemFamily(p string) string {
	p = idsPattern.ReplaceAllString(p, "${1}_*")
	p = hostPattern.ReplaceAllString(p, "HOST")
	p = numPattern.ReplaceAllString(p, "N")
	p = strings.ReplaceAll(p, "\n", " ")
	p = strings.ReplaceAll(p, "rotate "+simTarget.String()+" ("+simTarget.UseCase()+"): ", "")
	if len(p) > 400 {
		p = p[:400] + "..."
	}
	return p
}

func (s *summary) line() string {
	return fmt.Sprintf("sim: %d schedules, %d faults, %d I1 violations", s.schedules, s.faults, s.i1)
}

func (s *summary) actors() string {
	return fmt.Sprintf("rotations: %d succeeded, %d failed (%d with the write outcome unknown), %d skipped (lease held); %d prunes revoked %d tokens",
		s.rotOK, s.rotFailed, s.rotUnknown, s.skipped, s.prunes, s.pruned)
}

func (s *summary) details() string {
	var b strings.Builder
	invs := make([]string, 0, len(s.byInvariant))
	for k := range s.byInvariant {
		invs = append(invs, k)
	}
	sort.Strings(invs)
	for _, inv := range invs {
		seeds := s.byInvariant[inv]
		slices.Sort(seeds)
		shown := seeds[:min(len(seeds), 12)]
		fmt.Fprintf(&b, "%s broken in %d schedule(s), seeds %v", inv, len(seeds), shown)
		if len(seeds) > len(shown) {
			b.WriteString(" ...")
		}
		b.WriteString("\n  fault kinds in them:")
		type kc struct {
			k string
			n int
		}
		var kcs []kc
		for k, n := range s.kindsBy[inv] {
			kcs = append(kcs, kc{k, n})
		}
		sort.Slice(kcs, func(i, j int) bool {
			if kcs[i].n != kcs[j].n {
				return kcs[i].n > kcs[j].n
			}
			return kcs[i].k < kcs[j].k
		})
		for _, x := range kcs[:min(len(kcs), 10)] {
			fmt.Fprintf(&b, " %s=%d", x.k, x.n)
		}
		b.WriteString("\n")
	}
	causes := make([]string, 0, len(s.byCause))
	for c := range s.byCause {
		causes = append(causes, c)
	}
	sort.Slice(causes, func(i, j int) bool { return len(s.byCause[causes[i]]) > len(s.byCause[causes[j]]) })
	for _, c := range causes {
		seeds := s.byCause[c]
		slices.Sort(seeds)
		fmt.Fprintf(&b, "I1 cause %q: %d schedule(s), seeds %v\n", c, len(seeds), seeds[:min(len(seeds), 8)])
	}
	fams := make([]string, 0, len(s.byFamily))
	for f := range s.byFamily {
		fams = append(fams, f)
	}
	sort.Slice(fams, func(i, j int) bool { return len(s.byFamily[fams[i]]) > len(s.byFamily[fams[j]]) })
	for _, f := range fams {
		seeds := s.byFamily[f]
		slices.Sort(seeds)
		fmt.Fprintf(&b, "%d schedule(s), seeds %v: %s\n", len(seeds), seeds[:min(len(seeds), 8)], f)
	}
	combos := make([]string, 0, len(s.byCombo))
	for c := range s.byCombo {
		combos = append(combos, c)
	}
	sort.Strings(combos)
	b.WriteString("invariants broken together:")
	for _, c := range combos {
		fmt.Fprintf(&b, " %s=%d", c, s.byCombo[c])
	}
	b.WriteString("\n")
	return b.String()
}

func describeOutcome(o outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", o.sched)
	for i, r := range o.runs {
		if r == nil {
			continue
		}
		state := "ok"
		switch {
		case r.skipped:
			state = "skipped (lease held)"
		case r.err != nil:
			state = "failed: " + r.errText()
		}
		fmt.Fprintf(&b, "  actor %d %s: %s", i, r.actor.Kind, state)
		if r.attemptID != "" {
			fmt.Fprintf(&b, " [attempt %s]", r.attemptID)
		}
		if len(r.pruned) > 0 {
			fmt.Fprintf(&b, " [pruned %s]", strings.Join(r.pruned, ","))
		}
		b.WriteString("\n")
	}
	for _, p := range o.problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	for _, c := range o.causes {
		fmt.Fprintf(&b, "  I1 cause: %s\n", c)
	}
	fmt.Fprintf(&b, "  replay: %s", replayCommand(o.sched.Seed))
	return b.String()
}

// TestSimulation runs the schedules of -sim.seeds seeds (or replays
// -sim.seed) and fails on any broken invariant, printing each failing
// seed's schedule and replay command.
func TestSimulation(t *testing.T) {
	list := seeds(t)
	replay := len(list) == 1 && *flagSeed != ""
	sum := newSummary()
	const maxShown = 15
	simulate(t, list, newTransport(t), func(o outcome) {
		sum.add(o)
		if replay {
			t.Logf("schedule and outcome (%s):\n%s", o.elapsed.Round(time.Millisecond), describeOutcome(o))
		}
		if len(o.problems) > 0 && len(sum.failed) <= maxShown {
			t.Errorf("sim: seed %d broke %s:\n%s", o.sched.Seed, strings.Join(o.invariants(), ", "), describeOutcome(o))
		}
	})
	t.Log(sum.line())
	t.Log(sum.actors())
	t.Logf("slowest schedule: %s", sum.slowest.Round(time.Millisecond))
	if len(sum.failed) > 0 {
		if len(sum.failed) > maxShown {
			t.Errorf("... and %d more failing seeds", len(sum.failed)-maxShown)
		}
		t.Errorf("sim: %d of %d schedules broke an invariant:\n%s", len(sum.failed), sum.schedules, sum.details())
	}
	if sum.i1 != 0 {
		t.Errorf("%s: want 0", sum.line())
	}
}

var benchOnce sync.Once

// BenchmarkSimulation runs the default seeds once and prints one line,
// "sim: N schedules, F faults, V I1 violations", for make bench. It fails
// nothing: TestSimulation asserts.
func BenchmarkSimulation(b *testing.B) {
	list := seeds(b)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	for b.Loop() {
		sum := newSummary()
		simulate(b, list, transport, sum.add)
		benchOnce.Do(func() { fmt.Fprintln(os.Stdout, sum.line()) })
	}
}
