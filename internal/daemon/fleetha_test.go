package daemon

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/pgtest"
)

// haRun is one pass of the fleet by a set of replicas: every replica runs
// every target's activation (as their schedules fire together), the leases
// decide who rotates.
type haRun struct {
	elapsed    time.Duration
	rotated    int // targets with a successful rotation
	rotations  int // successful rotations (more than rotated: an activation rotated twice)
	failures   int // failed attempts
	breaches   int // requests the emulator refused for GitHub's secondary limits
	violations int // I1
}

// perSec is the pass's throughput: targets rotated per second.
func (r haRun) perSec() float64 { return float64(r.rotated) / r.elapsed.Seconds() }

// passHA runs one activation of all fleetTargets targets on replicas
// daemons sharing store ("" is each replica's own SQLite file), with GitHub's
// secondary limits on (shrunk as in the fleet tests) and the default mutation
// interval scaled alike.
func passHA(b *testing.B, replicas int, store string) haRun {
	b.Helper()
	useCases, targets := repoTargets(fleetTargets)
	f := newFleet(b, fleetTargets, useCases)
	extra := `defaults: {schedule: "@daily", ttl: 72h, revoke-grace: 0s, jitter: 0s}
daemon: {concurrency: 16}
targets:
` + targets
	cfg := f.config(b, extra)
	if store != "" {
		cfg = f.configStore(b, store, extra)
	}
	cfg.GitHub.MutationInterval = scaled(time.Second)
	// A replica that found a lease held tries again after the default
	// retry-min, on the same shrunk clock.
	cfg.Daemon.RetryMin, cfg.Daemon.RetryMax = scaled(config.DefaultRetryMin), scaled(config.DefaultRetryMax)
	f.emu.SetRateLimits(fleetLimits())

	var mu sync.Mutex
	succeeded := map[string]int{}
	failures := 0
	var last time.Time // the pass ends with its last rotation, not with the replicas' retries
	onResult := func(tr TargetResult) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case tr.Err == nil && tr.Result != nil:
			succeeded[tr.Target.UseCase]++
			last = time.Now()
		case !tr.Skipped:
			failures++
		}
	}
	var ds []*Daemon
	for range replicas {
		d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: http.DefaultTransport, OnResult: onResult})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close() })
		ds = append(ds, d)
	}
	ctx := context.Background()
	start := time.Now() // the schedules fire
	var wg sync.WaitGroup
	for _, d := range ds {
		for _, t := range d.targets {
			wg.Go(func() { d.rotateWithRetry(ctx, t, start) })
		}
	}
	wg.Wait()
	r := haRun{elapsed: last.Sub(start), failures: failures}
	for _, n := range succeeded {
		r.rotated++
		r.rotations += n
	}
	st := f.emu.State()
	r.breaches, r.violations = st.RateLimitBreaches, len(st.Violations)
	if r.rotated != fleetTargets {
		b.Errorf("%d of %d targets rotated", r.rotated, fleetTargets)
	}
	return r
}

// BenchmarkFleetHA prints fleet-ha: the throughput of one pass of 200
// targets by 3 replicas on one PostgreSQL over that of 1 replica on SQLite,
// with GitHub's secondary limits on. The pacing is shared by the replicas (a
// row in the store), so HA should cost nothing: goal 0.95 or more, with no
// request refused for a rate limit.
func BenchmarkFleetHA(b *testing.B) {
	for b.Loop() {
		one := passHA(b, 1, "")
		three := passHA(b, 3, pgtest.NewDatabase(b))
		ratio := three.perSec() / one.perSec()
		b.ReportMetric(ratio, "fleet-ha")
		fmt.Printf("fleet-ha %.2f (%d targets: 1 replica on SQLite %.1f/s in %s, %d rotations; 3 replicas on PostgreSQL %.1f/s in %s, %d rotations; "+
			"rate-limit breaches %d+%d; failed attempts %d+%d; I1 violations %d+%d)\n",
			ratio, fleetTargets, one.perSec(), one.elapsed.Round(time.Millisecond), one.rotations,
			three.perSec(), three.elapsed.Round(time.Millisecond), three.rotations,
			one.breaches, three.breaches, one.failures, three.failures, one.violations, three.violations)
	}
}
