package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/emulator"
)

// listCounter counts the bytes of Groo's list answers (GET
// /v1/account/tokens) as they come off the wire.
type listCounter struct {
	base         http.RoundTripper
	lists, bytes atomic.Int64
}

func (c *listCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && r.URL.Path == "/v1/account/tokens" {
		c.lists.Add(1)
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.bytes}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// seedHistory adds perUseCase revoked tokens to each use case, minted over
// the past year: the account of a fleet that has rotated for a while.
func seedHistory(tb testing.TB, emu *emulator.Emulator, useCases []string, perUseCase int) {
	tb.Helper()
	now := time.Now()
	var toks []emulator.SeedToken
	for _, uc := range useCases {
		for i := range perUseCase {
			created := now.Add(-time.Duration(i+1) * 365 * 24 * time.Hour / time.Duration(perUseCase+1))
			expires := created.Add(72 * time.Hour)
			desc := fmt.Sprintf("Managed by pat-rotator for %s (attempt rot_%016x, try 1, write window 2m0s)", strings.TrimPrefix(uc, "GitHub Actions - "), i)
			toks = append(toks, emulator.SeedToken{Name: uc, Description: &desc, Secret: randomPAT(), CreatedAt: &created, ExpiresAt: &expires, Revoked: true})
		}
	}
	if err := emu.Seed(emulator.Seed{Groo: emulator.GrooSeed{Tokens: toks}}); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkGrooListBytes prints groo-list-bytes-per-rotation: the bytes of
// Groo's list answers per rotation in one pass of 1,000 targets whose
// account holds 30,000 tokens (each use case's live token and 29 revoked
// ones from a year of rotations).
func BenchmarkGrooListBytes(b *testing.B) {
	const targets, history = 1000, 29
	for b.Loop() {
		useCases, src := repoTargets(targets)
		f := newFleet(b, targets, useCases)
		seedHistory(b, f.emu, useCases, history)
		cfg := f.config(b, `defaults: {schedule: "@daily", ttl: 72h, revoke-grace: 0s, jitter: 0s}
daemon: {concurrency: 16}
targets:
`+src)
		cfg.GitHub.MutationInterval = time.Millisecond
		tokens := len(f.emu.State().Tokens)
		lc := &listCounter{base: http.DefaultTransport}
		d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: lc})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		results, err := d.RotateTargets(context.Background(), cfg.Targets)
		elapsed := time.Since(start)
		d.Close()
		if err != nil {
			b.Fatalf("pass failed: %v", err)
		}
		st := f.emu.State()
		if len(st.Violations) > 0 {
			b.Fatalf("I1 violations: %v", st.Violations)
		}
		if _, err := checkInvariants(st, cfg.Targets); err != nil {
			b.Fatal(err)
		}
		perRotation := float64(lc.bytes.Load()) / float64(len(results))
		b.ReportMetric(perRotation, "list-bytes/rotation")
		fmt.Printf("groo-list-bytes-per-rotation %.0f (%d targets, %d tokens in the account: %d lists, %.1f MB of list answers in %s)\n",
			perRotation, len(results), tokens, lc.lists.Load(), float64(lc.bytes.Load())/1e6, elapsed.Round(time.Millisecond))
	}
}

// A pass of the fleet lists the account once, not once per rotation, and
// still retires every replaced token (I3 for each target).
func TestPassListsTheAccountOnce(t *testing.T) {
	t.Parallel()
	const n = 20
	useCases, src := repoTargets(n)
	f := newFleet(t, n, useCases)
	cfg := f.config(t, "defaults: {ttl: 72h, revoke-grace: 0s}\ndaemon: {concurrency: 8}\ntargets:\n"+src)
	lc := &listCounter{base: conforming(t)}
	d, err := New(context.Background(), cfg, Options{Getenv: f.getenv, Transport: lc})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.RotateTargets(context.Background(), cfg.Targets); err != nil {
		t.Fatal(err)
	}
	if got := lc.lists.Load(); got != 1 {
		t.Errorf("a pass of %d rotations listed the account %d times, want once", n, got)
	}
	if _, err := checkInvariants(f.emu.State(), cfg.Targets); err != nil {
		t.Error(err)
	}
}
