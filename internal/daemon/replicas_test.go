package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/pgtest"
)

// TestReplicasSharePacing: two replicas on one PostgreSQL rotate different
// targets at once with one GitHub credential. GitHub's secondary limits count
// per credential, so the mutation pacing must hold across both: the
// emulator, enforcing a minimum interval between the credential's mutating
// requests, sees no breach. (With each replica pacing on its own, their
// first writes land together.)
func TestReplicasSharePacing(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 6, nil)
	f.emu.SetRateLimits(emulator.RateLimits{MinMutatingInterval: 100 * time.Millisecond})
	dsn := pgtest.NewDatabase(t)
	src := fmt.Sprintf(`groo: {api-url: %q, token-env: TEST_GROO_PAT}
github: {api-url: %q, token-env: TEST_GITHUB_TOKEN, mutation-interval: 400ms}
store: %s
listen: ""
defaults: {ttl: 72h, revoke-grace: 0s}
targets:
`, f.url, f.url, dsn)
	for i := range 6 {
		src += fmt.Sprintf("  - repository: octo/r%d\n", i)
	}
	cfg, err := config.Parse(filepath.Join(f.dir, "rotator.yaml"), []byte(src), f.getenv)
	if err != nil {
		t.Fatal(err)
	}
	var replicas []*Daemon
	for range 2 {
		d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: conforming(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		replicas = append(replicas, d)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, d := range replicas {
		wg.Go(func() { _, errs[i] = d.RotateTargets(context.Background(), cfg.Targets[i*3:i*3+3]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	st := f.emu.State()
	if st.RateLimitBreaches != 0 {
		t.Errorf("%d breaches of the credential's minimum interval between mutating requests, want 0", st.RateLimitBreaches)
	}
	if _, err := checkInvariants(st, cfg.Targets); err != nil {
		t.Error(err)
	}

	// The status page shows the replicas by the leases they hold.
	uc := cfg.Targets[0].UseCase
	if _, err := replicas[1].store.AcquireLease(context.Background(), uc, replicas[1].holder, time.Minute); err != nil {
		t.Fatal(err)
	}
	status, err := replicas[0].Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(status.Replicas) != 1 || status.Replicas[0].Holder != replicas[1].holder || status.Replicas[0].Self ||
		len(status.Replicas[0].Leases) != 1 || status.Replicas[0].Leases[0].UseCase != uc {
		t.Errorf("replicas on the status page: %+v, want the other replica holding %q", status.Replicas, uc)
	}
}

// TestReplicasRotateEachActivationOnce: three replicas on one PostgreSQL
// run the same activation of every target (their schedules fire at once).
// Waiting for a slot (one rotation at a time per replica), or each starting
// after its own jitter, a replica often gets a use case's lease after
// another replica rotated the activation; it leaves it. Each target is
// rotated exactly once.
func TestReplicasRotateEachActivationOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		concurrency int
		jitter      string
		run         func(d *Daemon, tg *target, fired time.Time)
	}{
		{"waiting for a slot", 1, "0s", func(d *Daemon, tg *target, fired time.Time) {
			d.rotateWithRetry(context.Background(), tg, fired)
		}},
		{"each after its own jitter", 4, "400ms", func(d *Daemon, tg *target, _ time.Time) {
			d.scheduled(context.Background(), tg) // the cron job itself
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const n = 6
			f := newFleet(t, n, nil)
			_, targets := repoTargets(n)
			cfg := f.configStore(t, pgtest.NewDatabase(t), fmt.Sprintf("defaults: {schedule: \"@daily\", ttl: 72h, revoke-grace: 0s, jitter: %s}\ndaemon: {concurrency: %d}\ntargets:\n%s",
				tt.jitter, tt.concurrency, targets))
			cfg.Daemon.RetryMin, cfg.Daemon.RetryMax = 20*time.Millisecond, 100*time.Millisecond
			var mu sync.Mutex
			rotations := map[string]int{}
			onResult := func(tr TargetResult) {
				if tr.Err == nil && tr.Result != nil {
					mu.Lock()
					rotations[tr.Target.UseCase]++
					mu.Unlock()
				}
			}
			var replicas []*Daemon
			checked := conforming(t) // one checker: a replica may well rotate nothing
			for range 3 {
				d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: checked, OnResult: onResult})
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				replicas = append(replicas, d)
			}
			fired := time.Now()
			var wg sync.WaitGroup
			for _, d := range replicas {
				for _, tg := range d.targets {
					wg.Go(func() { tt.run(d, tg, fired) })
				}
			}
			wg.Wait()
			for _, tc := range cfg.Targets {
				if got := rotations[tc.UseCase]; got != 1 {
					t.Errorf("%s rotated %d times in one activation, want once", tc.Name, got)
				}
			}
			if _, err := checkInvariants(f.emu.State(), cfg.Targets); err != nil {
				t.Error(err)
			}
		})
	}
}
