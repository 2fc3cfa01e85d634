package soak

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/storeopen"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/pgtest"
	"github.com/groo/pat-action/internal/testkit"
)

var (
	soakDuration = flag.Duration("soak.duration", 20*time.Second, "how long the soak test runs faults and kills (make bench: 2m)")
	soakSeed     = flag.Uint64("soak.seed", 0, "the soak's seed (chaos, kills, the restart's moment); 0 picks one, printed to replay")
	soakRate     = flag.Float64("soak.rate", 0.12, "the fraction of Groo and GitHub requests the emulator fails at random (at least 0.1)")
	soakKills    = flag.Duration("soak.kill-every", 3*time.Second, "the mean time between two SIGKILLs of a replica")
)

// soakParams shape one soak run.
type soakParams struct {
	replicas  int
	targets   int
	duration  time.Duration // of faults and kills
	seed      uint64
	rate      float64       // chaos rate
	killEvery time.Duration // mean time between two SIGKILLs
}

// soakResult is what a run measured: the soak line's numbers.
type soakResult struct {
	p          soakParams
	rotations  int // successful rotations in the store
	faults     int // injected by the chaos
	kills      int
	violations int
	expired    float64 // seconds
	overlaps   int
}

func (r soakResult) line() string {
	return fmt.Sprintf("soak: %d replicas, %d targets, %d rotations, %d faults, %d kills, %d I1 violations, %g s expired in a secret, %d overlaps",
		r.p.replicas, r.p.targets, r.rotations, r.faults, r.kills, r.violations, r.expired, r.overlaps)
}

func defaultParams(d time.Duration) soakParams {
	seed := *soakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	return soakParams{replicas: 3, targets: 32, duration: d, seed: seed, rate: *soakRate, killEvery: *soakKills}
}

// TestSoak runs 3 replicas of the built pat-rotator on one PostgreSQL, 32
// targets on "@every 4s" with a 90 s TTL (a write window of 20 s; the TTL
// outlasts a few attempts in a row stalled by timeout faults: GitHub's
// client sets no timeout of its own, so a stalled request holds its attempt,
// and the use case's lease, for up to the write window; with a 30 s TTL such
// runs of stalls do leave a secret holding an expired token for seconds),
// the emulator failing 12% of the
// Groo and GitHub requests at random (5xx, 429, timeouts longer than the
// Groo client waits, answers dropped after acting), a random replica
// SIGKILLed and restarted about every 3 s and PostgreSQL restarted once
// halfway. Then the faults and kills stop and it checks, from outside the
// daemon:
//
//   - I1 at every instant: the emulator's monitor saw no secret hold a
//     revoked token (State().Violations);
//   - no secret ever held an expired token: the emulator's exact measure
//     from its write history (ExpiredExposure) is 0 s;
//   - no two replicas rotated one use case at once: from the emulator's
//     journal, an attempt's span is from its first mint to the last mint,
//     verification or write of a token it minted (tokens carry their
//     attempt id in their description); per use case, the spans of distinct
//     attempts do not intersect. A killed replica's attempt does nothing
//     after its kill, so its span ends there by construction;
//   - every attempt has its audit event: each attempt id the journal shows
//     minting has an event of that id in the store whose latest outcome is
//     final. Succeeded or failed when its process lived to the end of it; an
//     attempt whose process was SIGKILLed mid-way keeps the started event it
//     recorded before its mint (naming its token once minted), and the next
//     holder of the use case's lease marks it abandoned when it takes the
//     dead holder's lease over. So: no event may be left "started", an
//     abandoned one must name a lease holder whose process the test killed
//     (or whose lease expired), and a succeeded one must name the token the
//     journal shows it wrote;
//   - every target rotates: a successful rotation (a journal write of a
//     token minted after the faults stopped, and a succeeded event after
//     that moment in the store) within a generous deadline.
//
// On failure it prints the seed (-soak.seed replays the same chaos, kills
// and restart moment; the interleaving is the machine's) and the tail of
// every replica's log. -soak.duration runs it longer.
func TestSoak(t *testing.T) {
	res := runSoak(t, defaultParams(*soakDuration))
	t.Log(res.line())
}

// BenchmarkSoak is make bench's soak line, from a 2-minute run (or
// -soak.duration).
func BenchmarkSoak(b *testing.B) {
	d := 2 * time.Minute
	if f := flag.Lookup("soak.duration"); f != nil && f.Value.String() != f.DefValue {
		d = *soakDuration
	}
	for range b.N {
		res := runSoak(b, defaultParams(d))
		fmt.Println(res.line())
	}
}

var attemptRE = regexp.MustCompile(`\(attempt (rot_[0-9a-f]+),`)

// holderPIDRE finds the pid of a "host/pid/random" lease holder in an
// abandoned event's error.
var holderPIDRE = regexp.MustCompile(`\(([^()/\s]+)/([0-9]+)/([0-9a-f]+)\)`)

type killRecord struct {
	pid int
	at  time.Time
}

func runSoak(t testing.TB, p soakParams) soakResult {
	t.Helper()
	res := soakResult{p: p}
	if p.rate < 0.1 {
		t.Fatalf("chaos rate %g: the soak fails at least 10%% of requests; use -soak.rate 0.1 or more", p.rate)
	}
	// Progress lines for a test; a benchmark prints only its soak line.
	progress := func(format string, args ...any) {
		if tt, ok := t.(*testing.T); ok {
			tt.Helper()
			tt.Logf(format, args...)
		}
	}
	progress("soak seed %d (-soak.seed %d replays it)", p.seed, p.seed)
	bin := rotatorBinary(t)
	rng := rand.New(rand.NewPCG(p.seed, p.seed+1))

	botPAT, ghToken := testkit.PAT(t), "ghs_"+strings.Repeat("s", 36)
	hourAgo := time.Now().Add(-time.Hour)
	seed := emulator.Seed{
		Groo:   emulator.GrooSeed{Tokens: []emulator.SeedToken{{Name: "pat-rotator bot", Secret: botPAT, CreatedAt: &hourAgo}}},
		GitHub: emulator.GitHubSeed{Tokens: []string{ghToken}},
	}
	for i := range p.targets {
		seed.GitHub.Repositories = append(seed.GitHub.Repositories, fmt.Sprintf("octo/r%d", i))
	}
	var opts []emulator.Option
	if tt, ok := t.(*testing.T); ok {
		// The binaries' GitHub requests, checked on the server side.
		opts = append(opts, emulator.WithRequestHook(ghconform.New(tt, nil).Check))
	}
	emu, url := emulatortest.NewServer(t, seed, opts...)
	dsn := pgtest.NewDatabase(t)

	dir := t.TempDir()
	cfg := fmt.Sprintf(`groo: {api-url: %q, token-env: SOAK_BOT_PAT}
github: {api-url: %q, token-env: SOAK_GH_TOKEN, mutation-interval: 20ms}
store: %s
listen: ""
defaults: {schedule: "@every 4s", ttl: 90s, revoke-grace: 0s, jitter: 1s}
rotation: {write-window: 20s, clock-margin: 200ms}
daemon: {concurrency: 16, lease-margin: 5s, sweep-interval: 1s, retry-min: 1s, retry-max: 3s, shutdown-timeout: 10s}
targets:
`, url, url, dsn)
	for i := range p.targets {
		cfg += fmt.Sprintf("  - repository: octo/r%d\n", i)
	}
	cfgPath := filepath.Join(dir, "rotator.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"SOAK_BOT_PAT=" + botPAT, "SOAK_GH_TOKEN=" + ghToken}

	reps := make([]*proc, p.replicas)
	var all []*proc // every incarnation, for the logs
	start := func(i int) {
		reps[i] = startRun(t, bin, cfgPath, env)
		all = append(all, reps[i])
	}
	secrets := func() []string {
		return append(emu.State().TokenValues(), botPAT, ghToken)
	}
	failed := false
	report := func() {
		if failed {
			return
		}
		failed = true
		s := secrets()
		t.Logf("soak seed %d (replay: go test ./internal/soak/ -run TestSoak -soak.seed %d -soak.duration %s)", p.seed, p.seed, p.duration)
		for i, r := range all {
			t.Logf("--- log tail of pat-rotator run #%d (pid %d):\n%s", i, r.cmd.Process.Pid, r.tail(40, s))
		}
	}
	fail := func(format string, args ...any) {
		t.Helper()
		report()
		t.Errorf(format, args...)
	}
	defer func() {
		if t.Failed() {
			report()
		}
	}()

	for i := range p.replicas {
		start(i)
	}
	if err := emu.SetChaos(emulator.Chaos{Rate: p.rate, Seed: p.seed, Timeout: groo.DefaultRequestTimeout + time.Second}); err != nil {
		t.Fatal(err)
	}

	// Kills every killEvery on average (uniform in [½, 1½]), PostgreSQL's
	// restart at a seeded moment in the middle third.
	var kills []killRecord
	killedPIDs := map[int]bool{}
	began := time.Now()
	end := began.Add(p.duration)
	restartAt := began.Add(p.duration/3 + time.Duration(rng.Int64N(int64(p.duration/3)+1)))
	restarted := false
	for {
		wait := p.killEvery/2 + time.Duration(rng.Int64N(int64(p.killEvery)+1))
		next := time.Now().Add(wait)
		if !restarted && restartAt.Before(next) && restartAt.Before(end) {
			time.Sleep(time.Until(restartAt))
			if err := pgtest.Shared(t).Restart(); err != nil {
				t.Fatalf("restart PostgreSQL: %v", err)
			}
			restarted = true
			progress("PostgreSQL restarted at +%s", time.Since(began).Round(time.Millisecond))
			continue
		}
		if next.After(end) {
			time.Sleep(time.Until(end))
			break
		}
		time.Sleep(time.Until(next))
		i := rng.IntN(p.replicas)
		pid := reps[i].cmd.Process.Pid
		reps[i].kill()
		kills = append(kills, killRecord{pid: pid, at: time.Now()})
		killedPIDs[pid] = true
		start(i)
	}
	if !restarted {
		t.Fatalf("the run (%s) ended before PostgreSQL's restart; raise -soak.duration", p.duration)
	}
	if err := emu.SetChaos(emulator.Chaos{}); err != nil {
		t.Fatal(err)
	}
	stopped := emu.State().Now
	res.kills = len(kills)
	progress("faults and kills stopped at +%s: %d kills", time.Since(began).Round(time.Millisecond), len(kills))

	// Every target rotates once the faults stopped.
	ctx := context.Background()
	store, err := storeopen.OpenExisting(ctx, dsn, "")
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	defer store.Close()
	targets := make([]string, p.targets)
	for i := range targets {
		targets[i] = fmt.Sprintf("repo:octo/r%d", i)
	}
	deadline := time.Now().Add(2 * time.Minute)
	var missing []string
	for {
		missing = notRotatedSince(ctx, emu, store, targets, stopped)
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(missing) > 0 {
		fail("%d targets did not rotate within 2m of the faults stopping: %s", len(missing), strings.Join(missing, ", "))
	}
	for i, r := range reps {
		if err := r.stop(30 * time.Second); err != nil {
			fail("replica %d (pid %d) after SIGTERM: %v", i, r.cmd.Process.Pid, err)
		}
	}

	st := emu.State()
	journal := emu.Journal()
	for _, n := range st.ChaosFaults {
		res.faults += n
	}
	res.violations = len(st.Violations)
	res.expired = st.ExpiredExposure
	for _, v := range st.Violations {
		fail("emulator saw an I1 violation: %s", v)
	}
	if st.ExpiredExposure != 0 {
		fail("secrets held expired tokens for %g s in total, want 0", st.ExpiredExposure)
		for _, h := range emu.ExpiredHoldings() {
			fail("  %s %s held expired %s from +%s to +%s", h.Scope, h.Name, h.TokenID,
				h.From.Sub(began).Round(time.Millisecond), h.To.Sub(began).Round(time.Millisecond))
		}
	}
	for _, k := range emulator.ChaosKinds {
		if st.ChaosFaults[k] == 0 {
			fail("the chaos injected no %s fault (faults %v): the run proves nothing of them", k, st.ChaosFaults)
		}
	}

	spans := attemptSpans(st, journal)
	overlaps := overlapping(spans)
	res.overlaps = len(overlaps)
	for _, o := range overlaps {
		fail("two attempts rotated use case %q at once: %s", o.useCase, o.what)
	}

	events, err := store.History(ctx, audit.HistoryQuery{})
	if err != nil {
		t.Fatalf("read the audit history: %v", err)
	}
	byID := map[string]audit.Event{}
	for _, e := range events {
		byID[e.ID] = e
		if e.Outcome == audit.OutcomeSucceeded {
			res.rotations++
		}
	}
	writtenBy := map[string]bool{} // token ids the journal shows written
	for _, j := range journal {
		if j.Kind == emulator.JournalWrite {
			writtenBy[j.TokenID] = true
		}
	}
	for _, e := range events {
		if e.Outcome == audit.OutcomeStarted {
			fail("attempt %s of %q is still \"started\" after every replica stopped (I7)", e.ID, e.UseCase)
		}
	}
	abandonedKilled, abandonedExpired := 0, 0
	for _, s := range spans {
		e, ok := byID[s.attempt]
		if !ok {
			fail("attempt %s minted %s for %q and has no audit event in the store (I7)", s.attempt, strings.Join(s.tokens, ","), s.useCase)
			continue
		}
		switch e.Outcome {
		case audit.OutcomeSucceeded:
			if !writtenBy[e.NewTokenID] || !slices.Contains(s.tokens, e.NewTokenID) {
				fail("attempt %s succeeded with token %q, which it did not mint and write (minted %v)", e.ID, e.NewTokenID, s.tokens)
			}
		case audit.OutcomeAbandoned:
			m := holderPIDRE.FindStringSubmatch(e.Error)
			pid := 0
			if m != nil {
				pid, _ = strconv.Atoi(m[2])
			}
			switch {
			case killedPIDs[pid]:
				abandonedKilled++
			case strings.Contains(e.Error, "expired"):
				abandonedExpired++
			default:
				fail("attempt %s was abandoned (%q), but its holder was not killed and its lease did not expire", e.ID, e.Error)
			}
		}
	}
	if res.rotations == 0 {
		fail("no rotation succeeded")
	}
	outcomes := map[audit.Outcome]int{}
	for _, e := range events {
		outcomes[e.Outcome]++
	}
	progress("%d attempts minted; events: %d succeeded, %d failed, %d abandoned (%d minting: %d of a killed holder, %d of an expired lease)",
		len(spans), outcomes[audit.OutcomeSucceeded], outcomes[audit.OutcomeFailed], outcomes[audit.OutcomeAbandoned],
		abandonedKilled+abandonedExpired, abandonedKilled, abandonedExpired)
	return res
}

// notRotatedSince lists the targets without a successful rotation since
// since: the journal's write of a token minted after since, and a succeeded
// event after since in the store (its use case named by the token).
func notRotatedSince(ctx context.Context, emu *emulator.Emulator, store audit.Store, scopes []string, since time.Time) []string {
	st := emu.State()
	byID := map[string]emulator.TokenState{}
	for _, tok := range st.Tokens {
		byID[tok.ID] = tok
	}
	written := map[string]string{} // scope -> use case of a fresh token written
	for _, j := range emu.Journal() {
		if j.Kind != emulator.JournalWrite || j.Time.Before(since) {
			continue
		}
		if tok, ok := byID[j.TokenID]; ok && !tok.CreatedAt.Add(-emu.GrooClockOffset()).Before(since) {
			written[j.Scope] = tok.Name
		}
	}
	var missing []string
	for _, s := range scopes {
		uc, ok := written[s]
		if ok {
			evs, err := store.History(ctx, audit.HistoryQuery{UseCase: uc, Since: since})
			ok = err == nil && slices.ContainsFunc(evs, func(e audit.Event) bool { return e.Outcome == audit.OutcomeSucceeded })
		}
		if !ok {
			missing = append(missing, s)
		}
	}
	return missing
}

// span is what one attempt did, by the emulator's journal.
type span struct {
	attempt, useCase string
	from, to         time.Time
	tokens           []string
}

// attemptSpans derives each attempt's span from the journal: the mints,
// first verifications and writes of the tokens whose description names
// the attempt.
func attemptSpans(st emulator.State, journal []emulator.JournalEntry) []span {
	attemptOf := map[string]string{}
	useCase := map[string]string{}
	for _, tok := range st.Tokens {
		if tok.Description == nil {
			continue
		}
		if m := attemptRE.FindStringSubmatch(*tok.Description); m != nil {
			attemptOf[tok.ID], useCase[tok.ID] = m[1], tok.Name
		}
	}
	spans := map[string]*span{}
	for _, j := range journal {
		switch j.Kind {
		case emulator.JournalMint, emulator.JournalVerify, emulator.JournalWrite:
		default:
			continue
		}
		a, ok := attemptOf[j.TokenID]
		if !ok {
			continue
		}
		s := spans[a]
		if s == nil {
			s = &span{attempt: a, useCase: useCase[j.TokenID], from: j.Time, to: j.Time}
			spans[a] = s
		}
		if j.Time.After(s.to) {
			s.to = j.Time
		}
		if j.Kind == emulator.JournalMint {
			s.tokens = append(s.tokens, j.TokenID)
		}
	}
	out := make([]span, 0, len(spans))
	for _, s := range spans {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].from.Before(out[j].from) })
	return out
}

type overlap struct{ useCase, what string }

// overlapping lists, per use case, the attempts whose spans intersect.
func overlapping(spans []span) []overlap {
	byUC := map[string][]span{}
	for _, s := range spans {
		byUC[s.useCase] = append(byUC[s.useCase], s)
	}
	var out []overlap
	for uc, ss := range byUC { // each sorted by from
		for i := 1; i < len(ss); i++ {
			prev := ss[i-1]
			for k := 0; k < i; k++ {
				if ss[k].to.After(prev.to) {
					prev = ss[k]
				}
			}
			if !ss[i].from.After(prev.to) {
				out = append(out, overlap{useCase: uc, what: fmt.Sprintf("%s [%s, %s] and %s [%s, %s]",
					prev.attempt, prev.from.Format(time.StampMilli), prev.to.Format(time.StampMilli),
					ss[i].attempt, ss[i].from.Format(time.StampMilli), ss[i].to.Format(time.StampMilli))})
			}
		}
	}
	return out
}
