package daemon

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/emulator"
)

// GitHub's secondary limits count per minute; the fleet tests shrink the
// minute to fleetWindow and scale the mutation interval by the same factor,
// so that a 200-target pass takes seconds and meets the same constraints.
const (
	fleetWindow  = 2 * time.Second
	fleetScale   = float64(time.Minute) / float64(fleetWindow) // 30
	fleetTargets = 200
)

// fleetLimits are GitHub's documented secondary limits (GitHub's REST docs, "Rate limits") on
// the shrunk window.
func fleetLimits() emulator.RateLimits {
	return emulator.RateLimits{Window: fleetWindow, PointsPerWindow: 900, ContentCreatingPerWindow: 80, MaxConcurrent: 100}
}

// requestLog records when each GitHub request left, to check the pacing
// from the outside.
type requestLog struct {
	mu   sync.Mutex
	base http.RoundTripper
	reqs []loggedRequest
}

type loggedRequest struct {
	at       time.Time
	mutating bool
	put      bool
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") { // Groo's routes; the rest is GitHub
		l.mu.Lock()
		l.reqs = append(l.reqs, loggedRequest{at: time.Now(), mutating: r.Method != http.MethodGet, put: r.Method == http.MethodPut})
		l.mu.Unlock()
	}
	return l.base.RoundTrip(r)
}

// worst returns the most content-creating requests and the most points seen
// in any sliding window of the given length.
func (l *requestLog) worst(window time.Duration) (puts, points int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	reqs := append([]loggedRequest{}, l.reqs...)
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].at.Before(reqs[j].at) })
	j, curPuts, curPoints := 0, 0, 0
	for _, r := range reqs {
		cost := 1
		if r.mutating {
			cost = 5
		}
		curPoints += cost
		if r.put {
			curPuts++
		}
		for reqs[j].at.Add(window).Before(r.at) || reqs[j].at.Add(window).Equal(r.at) {
			c := 1
			if reqs[j].mutating {
				c = 5
			}
			curPoints -= c
			if reqs[j].put {
				curPuts--
			}
			j++
		}
		puts, points = max(puts, curPuts), max(points, curPoints)
	}
	return puts, points
}

type fleetRun struct {
	results  []TargetResult
	err      error
	elapsed  time.Duration
	emu      *emulator.Emulator
	log      *requestLog
	d        *Daemon
	breaches int
}

// repoTargets are n repository targets octo/r0..r(n-1): their use cases,
// and their configuration's targets list.
func repoTargets(n int) (useCases []string, yaml string) {
	var b strings.Builder
	for i := range n {
		useCases = append(useCases, fmt.Sprintf("GitHub Actions - octo/r%d GROO_PAT", i))
		fmt.Fprintf(&b, "  - repository: octo/r%d\n", i)
	}
	return useCases, b.String()
}

// rotateFleet seeds 200 repositories with a bootstrap token each, turns the
// emulator's secondary limits on and rotates every target once.
func rotateFleet(t testing.TB, mutationInterval time.Duration) fleetRun {
	t.Helper()
	useCases, targets := repoTargets(fleetTargets)
	f := newFleet(t, fleetTargets, useCases)
	cfg := f.config(t, `defaults: {schedule: "@daily", ttl: 72h, revoke-grace: 0s, jitter: 0s}
daemon: {concurrency: 16}
targets:
`+targets)
	cfg.GitHub.MutationInterval = mutationInterval
	f.emu.SetRateLimits(fleetLimits())
	rl := &requestLog{base: conforming(t)}
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: rl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	start := time.Now()
	results, err := d.RotateTargets(context.Background(), cfg.Targets)
	elapsed := time.Since(start)
	return fleetRun{results: results, err: err, elapsed: elapsed, emu: f.emu, log: rl, d: d, breaches: f.emu.State().RateLimitBreaches}
}

// envelope is the pass's rotation throughput divided by the most that the
// secondary limits allow: 80 content-creating requests a window (one per
// rotation) or 900 points a window (GETs 1, mutations 5, per rotation as
// measured), whichever binds.
func (r fleetRun) envelope() (ratio, perSec, maxPerSec float64) {
	st := r.emu.State()
	lim := fleetLimits()
	gets := 0
	for route, n := range st.Hits {
		if strings.HasPrefix(route, "gh.") && route != emulator.RouteSecretPut {
			gets += n
		}
	}
	puts := st.Hits[emulator.RouteSecretPut]
	n := float64(len(r.results))
	pointsPerRotation := (float64(gets) + 5*float64(puts)) / n
	putsPerRotation := float64(puts) / n
	win := lim.Window.Seconds()
	maxPerSec = min(float64(lim.ContentCreatingPerWindow)/putsPerRotation/win, float64(lim.PointsPerWindow)/pointsPerRotation/win)
	perSec = n / r.elapsed.Seconds()
	return perSec / maxPerSec, perSec, maxPerSec
}

// 200 targets against the emulator with GitHub's secondary limits on: all
// rotate, none fails, and the pacing keeps within the limits as measured
// from outside the client.
func TestFleetOf200WithSecondaryLimits(t *testing.T) {
	t.Parallel()
	interval := scaled(time.Second) // GitHub's 1 s, scaled
	r := rotateFleet(t, interval)
	if r.err != nil {
		t.Fatalf("pass failed: %v", r.err)
	}
	for _, res := range r.results {
		if res.Err != nil || res.Result == nil {
			t.Errorf("%s: %v", res.Target.Name, res.Err)
		}
	}
	st := r.emu.State()
	if len(st.Violations) > 0 {
		t.Errorf("I1 violations: %v", st.Violations)
	}
	if _, err := checkInvariants(st, r.d.cfg.Targets); err != nil {
		t.Error(err)
	}
	puts, points := r.log.worst(fleetWindow)
	lim := fleetLimits()
	if puts > lim.ContentCreatingPerWindow || points > lim.PointsPerWindow {
		t.Errorf("the fleet sent %d PUTs and %d points within one %s window; GitHub allows %d and %d",
			puts, points, fleetWindow, lim.ContentCreatingPerWindow, lim.PointsPerWindow)
	}
	if got := st.Hits[emulator.RouteSecretPut]; got < fleetTargets {
		t.Errorf("%d PUTs for %d targets", got, fleetTargets)
	}
	// Breaches the clients waited out are allowed, but reported.
	limited := testValue(t, r.d, `pat_rotator_rate_limited_responses_total{api="github"}`)
	ratio, perSec, maxPerSec := r.envelope()
	t.Logf("200 targets in %s: %.1f rotations/s of %.1f allowed (envelope %.2f); worst window %d PUTs, %d points; breaches %d (clients saw %v)",
		r.elapsed.Round(time.Millisecond), perSec, maxPerSec, ratio, puts, points, r.breaches, limited)
	if float64(r.breaches) != limited {
		t.Errorf("emulator counted %d breaches, /metrics %v", r.breaches, limited)
	}
}

// BenchmarkFleetEnvelope prints fleet-envelope: 200 targets' rotation
// throughput divided by what GitHub's secondary limits allow at most, the
// emulator enforcing them on a window shrunk 30 times (mutation interval
// scaled alike). Sub-benchmarks: GitHub's best-practice 1 s between
// mutations (the default), and 800 ms, which the 80 content-creating
// requests a minute still allow.
func BenchmarkFleetEnvelope(b *testing.B) {
	for _, real := range []time.Duration{time.Second, 800 * time.Millisecond} {
		b.Run("mutation-interval="+real.String(), func(b *testing.B) {
			interval := scaled(real)
			var ratios []float64
			for b.Loop() {
				r := rotateFleet(b, interval)
				if r.err != nil {
					b.Fatalf("pass failed: %v", r.err)
				}
				failures := 0
				for _, res := range r.results {
					if res.Err != nil {
						failures++
					}
				}
				ratio, perSec, maxPerSec := r.envelope()
				ratios = append(ratios, ratio)
				b.Logf("fleet-envelope %.3f (%d targets in %s: %.1f/s of %.1f/s allowed; rate-limit failures %d, breaches waited out %d)",
					ratio, fleetTargets, r.elapsed.Round(time.Millisecond), perSec, maxPerSec, failures, r.breaches)
				fmt.Printf("fleet-envelope %.3f mutation-interval=%s failures=%d breaches=%d\n", ratio, real, failures, r.breaches)
			}
			mean := 0.0
			for _, x := range ratios {
				mean += x
			}
			b.ReportMetric(mean/float64(len(ratios)), "fleet-envelope")
		})
	}
}

// BenchmarkDaemonMemory10k measures a daemon with 10,000 configured
// targets: configuration parsed, clients and store open, 10,000 cron
// entries scheduled.
func BenchmarkDaemonMemory10k(b *testing.B) {
	const n = 10000
	var src strings.Builder
	src.WriteString("groo: {token-env: G, api-url: \"http://127.0.0.1:1\"}\ngithub: {token-env: T, api-url: \"http://127.0.0.1:1\"}\n")
	src.WriteString("store: sqlite://" + filepath.Join(b.TempDir(), "state.db") + "\ntargets:\n")
	for i := range n {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&src, "  - repository: org%d/repo%d\n", i/100, i)
		case 1:
			fmt.Fprintf(&src, "  - {repository: org%d/repo%d, environment: prod}\n", i/100, i)
		case 2:
			fmt.Fprintf(&src, "  - {repository: org%d/repo%d, dependabot: true, schedule: \"@every 12h\"}\n", i/100, i)
		case 3:
			fmt.Fprintf(&src, "  - {organization: org%d, secret: GROO_PAT_%d}\n", i, i)
		}
	}
	env := map[string]string{"G": randomPAT(), "T": "ghs_" + randomHex(18)}
	data := []byte(src.String())
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		rssBefore := vmRSS()
		start := time.Now()
		cfg, err := config.Parse("fleet.yaml", data, func(k string) string { return env[k] })
		if err != nil {
			b.Fatal(err)
		}
		d, err := New(context.Background(), cfg, Options{Getenv: func(k string) string { return env[k] }})
		if err != nil {
			b.Fatal(err)
		}
		c := d.newCron(context.Background())
		c.Start()
		load := time.Since(start)
		if got := len(c.Entries()); got != n {
			b.Fatalf("%d cron entries, want %d", got, n)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		rss := vmRSS()
		heap := float64(after.HeapInuse) / (1 << 20)
		delta := float64(after.HeapInuse-before.HeapInuse) / (1 << 20)
		b.ReportMetric(heap, "heap-inuse-MB")
		b.ReportMetric(rss, "rss-MB")
		fmt.Printf("daemon-memory targets=%d heap-inuse=%.1fMB (daemon's share %.1fMB) rss=%.1fMB (before %.1fMB) load+schedule=%s\n",
			n, heap, delta, rss, rssBefore, load.Round(time.Millisecond))
		<-c.Stop().Done()
		d.Close()
		runtime.KeepAlive(d)
	}
}

// vmRSS is the resident set size in MB, from /proc/self/status (Linux).
func vmRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// scaled shrinks a real-world interval by the fleet tests' window factor.
func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) / fleetScale) }
