package rotation_test

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestConcurrentRotations runs 8 rotations of one use case at once, each
// with its own engine and clients as separate processes would have (so the
// in-process guard cannot help): I1 and I6 hold throughout, and once the
// write window has passed one more run leaves exactly one live token.
func TestConcurrentRotations(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		name := "separate-engines"
		if shared {
			name = "one-engine"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{})
			shared := f.engine(t, 0)
			var wg sync.WaitGroup
			start := make(chan struct{})
			var mu sync.Mutex
			succeeded := 0
			for range 8 {
				e := shared
				if name == "separate-engines" {
					e = f.engine(t, 0)
				}
				wg.Go(func() {
					<-start
					if _, err := e.Rotate(context.Background(), f.request()); err == nil {
						mu.Lock()
						succeeded++
						mu.Unlock()
					}
				})
			}
			close(start)
			wg.Wait()
			if succeeded == 0 {
				t.Fatal("no rotation succeeded")
			}
			f.checkI1(t)
			f.checkI5(t)
			f.checkI7(t, "")
			attempts := map[string]bool{}
			for _, e := range f.rec.all() {
				attempts[e.ID] = true
			}
			if len(attempts) != 8 {
				t.Errorf("I7: want 8 attempts recorded, got %d", len(attempts))
			}

			time.Sleep(testWindow + testMargin)
			req := f.requestFromSecret(t)
			if _, err := f.engine(t, 0).Rotate(context.Background(), req); err != nil {
				t.Fatalf("settling run: %v", err)
			}
			f.checkI3(t)
		})
	}
}
