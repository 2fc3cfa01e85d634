package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/groo/pat-action/internal/emulator"
)

// outcome is what one schedule did and what the checks found.
type outcome struct {
	sched    Schedule
	runs     []*run
	problems []string // "I1: ...", "I2: ...", "I4: ...", "I5: ...", "setup: ..."
	causes   []string // one per I1 violation: who revoked the token, and what may explain it
	i1       int      // I1 violations the emulator's monitor recorded
	elapsed  time.Duration
}

// invariantsOf lists the invariants an outcome broke, once each, in order.
func (o outcome) invariants() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range o.problems {
		k, _, _ := strings.Cut(p, ":")
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func randomPAT() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "groo_pat_" + hex.EncodeToString(b[:])
}

// runSchedule runs one schedule against its own emulator over real HTTP,
// with its store (if any) under dir, and checks the invariants.
func runSchedule(ctx context.Context, s Schedule, transport http.RoundTripper, dir string) outcome {
	start := time.Now()
	o := outcome{sched: s}
	fail := func(format string, args ...any) outcome {
		o.problems = append(o.problems, "setup: "+fmt.Sprintf(format, args...))
		o.elapsed = time.Since(start)
		return o
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// The state a rotation starts from: the bootstrap token, minted an hour
	// ago (on Groo's clock) and written by its rotation right after (on
	// GitHub's), the bot's credential, and the schedule's extra tokens.
	useCase := simTarget.UseCase()
	now := time.Now().UTC()
	grooNow := now.Add(s.GrooOffset)
	bootCreated := grooNow.Add(-time.Hour)
	bootWritten := now.Add(-time.Hour).Add(s.Window / 10)
	bootExpires := bootCreated.Add(24 * time.Hour)
	botCreated := grooNow.Add(-24 * time.Hour)
	desc := func(attempt string) *string {
		d := "Managed by pat-action for " + simTarget.String() + " (attempt " + attempt + ")"
		return &d
	}
	boot, bot := randomPAT(), randomPAT()
	seed := emulator.Seed{
		Groo: emulator.GrooSeed{Tokens: []emulator.SeedToken{
			{ID: "tok_bot", Name: "pat-rotator bot", Secret: bot, CreatedAt: &botCreated},
			{ID: "tok_boot", Name: useCase, Description: desc("rot_boot"), Secret: boot, CreatedAt: &bootCreated, ExpiresAt: &bootExpires},
		}},
		GitHub: emulator.GitHubSeed{
			Tokens:       []string{ghToken},
			Repositories: []string{simTarget.Owner + "/" + simTarget.Repo},
			Secrets:      []emulator.SeedSecret{{Scope: simTarget.Key(), Name: simTarget.Name, Value: boot, UpdatedAt: &bootWritten}},
		},
	}
	for i, x := range s.Extras {
		created := bootCreated.Add(-x.Age)
		expires := created.Add(24 * time.Hour)
		seed.Groo.Tokens = append(seed.Groo.Tokens, emulator.SeedToken{ID: fmt.Sprintf("tok_extra%d", i), Name: useCase,
			Description: desc(fmt.Sprintf("rot_extra%d", i)), Secret: randomPAT(), CreatedAt: &created, ExpiresAt: &expires})
	}
	emu := emulator.New(emulator.WithGrooClockOffset(s.GrooOffset))
	if err := emu.Seed(seed); err != nil {
		return fail("emulator seed: %v", err)
	}
	url, shutdown, err := emulator.Start("127.0.0.1:0", emu)
	if err != nil {
		return fail("emulator start: %v", err)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		defer scancel()
		_ = shutdown(sctx)
	}()
	botTok, err := parseToken(bot)
	if err != nil {
		return fail("bot token: %v", err)
	}
	e := &env{url: url, transport: transport, bot: botTok, margin: s.Margin}
	storeDir := filepath.Join(dir, fmt.Sprintf("seed-%d", s.Seed))
	for _, a := range s.Actors {
		if a.Kind != ActorAction && e.store == nil {
			if e.store, err = openStore(ctx, filepath.Join(storeDir, "store.db")); err != nil {
				return fail("open store: %v", err)
			}
		}
	}
	defer os.RemoveAll(storeDir)

	var faults []emulator.Fault
	for _, f := range s.Faults {
		faults = append(faults, f.Faults...)
	}
	emu.SetFaults(faults)

	// The actors, concurrently, each at its start time.
	o.runs = make([]*run, len(s.Actors))
	live := make([][]string, len(s.Actors)) // each rotation's own tokens live when it returned
	t0 := time.Now()
	var wg sync.WaitGroup
	for i, a := range s.Actors {
		wg.Go(func() {
			time.Sleep(time.Until(t0.Add(a.Start)))
			var r *run
			switch a.Kind {
			case ActorAction:
				// groo-token: ${{ secrets.GROO_PAT }}: the value the secret
				// holds when the run starts.
				st := emu.State()
				sec, _ := st.Secret(simTarget.Key(), simTarget.Name)
				held, _ := st.TokenBySecret(sec.Value)
				cred, perr := parseToken(sec.Value)
				if perr != nil {
					r = newRun(a)
					r.err = fmt.Errorf("the secret holds no Groo token: %w", perr)
					break
				}
				r = e.runAction(ctx, a, cred, held.ID)
			case ActorDaemon:
				r = e.runDaemon(ctx, a)
			case ActorPrune:
				r = e.runPrune(ctx, a)
			}
			if r.attemptID != "" {
				st := emu.State()
				for _, tok := range st.Tokens {
					if tok.Description != nil && strings.Contains(*tok.Description, r.attemptID) && tok.Live(st.GrooNow) {
						live[i] = append(live[i], tok.ID)
					}
				}
			}
			o.runs[i] = r
		})
	}
	wg.Wait()
	emu.SetFaults(nil)

	st := emu.State()
	o.i1 = len(st.Violations)
	o.problems = append(o.problems, st.Violations...)
	journal := emu.Journal()
	o.causes = causes(s, st, journal, o.runs)
	o.problems = append(o.problems, checkI2(st, journal, useCase)...)
	o.problems = append(o.problems, checkI4(o.runs, live)...)
	var files []string
	if e.store != nil {
		_ = e.store.Close()
		files = storeFiles(storeDir)
	}
	o.problems = append(o.problems, checkI5(st, o.runs, files)...)
	o.elapsed = time.Since(start)
	return o
}

// storeFiles reads the store's files (the database, its WAL and shared
// memory) as text to search.
func storeFiles(dir string) []string {
	var out []string
	entries, _ := os.ReadDir(dir)
	for _, de := range entries {
		if b, err := os.ReadFile(filepath.Join(dir, de.Name())); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}
