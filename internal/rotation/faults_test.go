package rotation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/rotation"
)

// The fault matrix: every step of the protocol x every way a request can go
// wrong. Each case asserts the invariants on the emulator's state, then
// clears the fault and checks that the next run settles the use case.
func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	steps := []struct {
		name, route string
		groo        bool
	}{
		{"list", "groo.list", true},
		{"public-key", "gh.public-key", false},
		{"mint", "groo.create", true},
		{"verify", "groo.me", true},
		{"write", "gh.secret.put", false},
		{"revoke", "groo.revoke", true},
	}
	type expect struct{ ok, unknown bool }
	kinds := []struct {
		name  string
		fault func(route string, groo bool) emulator.Fault
		want  func(step string) expect
	}{
		{"500", func(r string, _ bool) emulator.Fault { return emulator.Fault{Route: r, Status: 500} },
			func(step string) expect { return expect{ok: step == "revoke", unknown: step == "write"} }},
		{"429-retry-after", func(r string, _ bool) emulator.Fault { return emulator.Fault{Route: r, Status: 429, RetryAfter: 1} },
			func(step string) expect { return expect{ok: step == "revoke", unknown: step == "write"} }},
		{"401-403", func(r string, g bool) emulator.Fault {
			if g {
				return emulator.Fault{Route: r, Status: 401}
			}
			return emulator.Fault{Route: r, Status: 403}
		}, func(step string) expect { return expect{ok: step == "revoke"} }},
		{"timeout", func(r string, _ bool) emulator.Fault { return emulator.Fault{Route: r, Latency: 5 * time.Second} },
			func(step string) expect { return expect{ok: step == "revoke", unknown: step == "write"} }},
		{"dropped-after-acting", func(r string, _ bool) emulator.Fault { return emulator.Fault{Route: r, Drop: true, Count: 1} },
			// Reads, the PUT and the DELETE are idempotent and retried; the
			// POST is not: its token is found by the attempt id and revoked,
			// and the mint tried again.
			func(string) expect { return expect{ok: true} }},
	}
	for _, st := range steps {
		for _, k := range kinds {
			t.Run(st.name+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, fixtureOpts{})
				f.emu.SetFaults([]emulator.Fault{k.fault(st.route, st.groo)})
				want := k.want(st.name)
				res, err := f.engine(t, 400*time.Millisecond).Rotate(context.Background(), f.request())

				var rerr *rotation.Error
				switch {
				case want.ok && err != nil:
					t.Fatalf("want success, got %v", err)
				case !want.ok && err == nil:
					t.Fatalf("want failure, got success (new %s)", res.New.ID)
				case !want.ok && !errors.As(err, &rerr):
					t.Fatalf("want a *rotation.Error, got %T %v", err, err)
				case !want.ok && rerr.OutcomeUnknown != want.unknown:
					t.Fatalf("outcome unknown = %v, want %v (%v)", rerr.OutcomeUnknown, want.unknown, err)
				}
				f.emu.SetFaults(nil)

				state := f.checkI1(t)
				written := map[string]bool{f.seedID: true}
				if res != nil {
					written[res.New.ID] = true
				}
				f.checkI2(t, state, written)
				live := state.LiveTokens(f.useCase)
				switch {
				case want.ok && len(res.Pending) == 0:
					f.checkI3(t)
				case want.ok: // the revoke failed: the seed is pending, never dropped
					if len(res.Pending) != 1 || res.Pending[0] != f.seedID || len(live) != 2 {
						t.Errorf("pending %v with %d live, want the seed pending", res.Pending, len(live))
					}
				case want.unknown: // I4's exception: the new token is kept live
					if len(live) != 2 {
						t.Errorf("I4: outcome unknown should keep the new token live, got %d live", len(live))
					}
				default: // I4: a failed rotation leaves no new live token
					if len(live) != 1 || live[0].ID != f.seedID {
						t.Errorf("I4: failed rotation left %d live tokens", len(live))
					}
				}
				errText := ""
				if err != nil {
					errText = err.Error()
				}
				f.checkI5(t, errText)
				if want.ok {
					f.checkI7(t, audit.OutcomeSucceeded)
				} else {
					f.checkI7(t, audit.OutcomeFailed)
				}

				// Settle: the next run, once the window has passed, leaves
				// exactly one live token, the one in the secret.
				time.Sleep(testWindow + testMargin)
				req := f.requestFromSecret(t)
				if _, err := f.engine(t, 0).Rotate(context.Background(), req); err != nil {
					t.Fatalf("settling run: %v", err)
				}
				f.checkI3(t)
				f.checkI5(t)
			})
		}
	}
}
