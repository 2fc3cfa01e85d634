package rotation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/ghsecret"
)

// BenchmarkRotation measures one rotation's wall time in round trips: every
// request to the emulator pays L = 20 ms, so wall/L counts the requests on
// the critical path (mint -> verify -> write -> revoke: 4; strictly
// sequential calls: 7 or more).
func BenchmarkRotation(b *testing.B) {
	const L = 20 * time.Millisecond
	targets := []ghsecret.Target{
		defaultTarget(),
		{Scope: ghsecret.ScopeEnvironment, Owner: "octo", Repo: "app", Environment: "prod/eu", Name: "GROO_PAT"},
		{Scope: ghsecret.ScopeOrganization, Org: "octo", Name: "GROO_PAT"},
	}
	for _, tg := range targets {
		b.Run(string(tg.Scope), func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f := newFixture(b, fixtureOpts{target: tg})
				e := f.engine(b, 5*time.Second)
				e.Config.WriteWindow = time.Minute
				f.emu.SetFaults([]emulator.Fault{{Route: "*", Latency: L}})
				b.StartTimer()
				start := time.Now()
				res, err := e.Rotate(context.Background(), f.request())
				total += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Revoked) != 1 {
					b.Fatalf("revoked %v", res.Revoked)
				}
			}
			rtts := float64(total) / float64(b.N) / float64(L)
			b.ReportMetric(rtts, "rotation-rtts")
			if tg.Scope == ghsecret.ScopeRepository {
				fmt.Printf("rotation-rtts %.2f\n", rtts)
			} else {
				fmt.Printf("rotation-rtts-%s %.2f\n", tg.Scope, rtts)
			}
		})
	}
}

// BenchmarkSealToken is the sealing cost per rotation (a 73-byte token).
func BenchmarkSealToken(b *testing.B) {
	f := newFixture(b, fixtureOpts{})
	keyID, raw := f.emu.PublicKey(f.target.Key())
	key := ghsecret.PublicKey{KeyID: keyID, Key: raw}
	plain := []byte(f.cred.Reveal())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ghsecret.Seal(key, plain); err != nil {
			b.Fatal(err)
		}
	}
}
