// Package sim is a seeded simulation of compound fault schedules against
// the emulator, in the spirit of FoundationDB's simulation testing and
// TigerBeetle's VOPR. It has no code of its own outside its tests.
//
// A seed makes one schedule: one use case, a starting state (a bootstrap
// token in the secret, sometimes leftover tokens), a Groo clock offset, and
// several concurrent actors — stateless Action-style rotations (an Engine
// without History), daemon-style rotations (an Engine over a SQLite store as
// Recorder and History, under the store's lease) and audit prunes
// (PlanPrune + prune.Apply, as `pat-rotator audit --prune --yes`) — with
// several faults per rotation installed in the emulator: answers dropped
// after the server acted followed by any answer, latencies up to the write
// window, refusals and server errors, Groo answers with missing or
// malformed createdAt/expiresAt, a mint whose expiry is shorter than asked.
// Real time is kept small by scaling the write window down (hundreds of
// milliseconds) and the latencies with it; the Groo clock offset is not
// scaled (up to ±15 minutes), since the retire rule must compare Groo's
// times with Groo's times whatever the offset.
//
// After each schedule the test checks, over real HTTP against the
// emulator's state and journal:
//
//   - I1: the emulator's monitor saw no moment at which a secret held a
//     revoked token;
//   - I2: every token that was ever written to the secret and was revoked
//     had a newer token written and verified before its revoke;
//   - I4: a failed rotation left no token of its own live, unless its error
//     says the write outcome was unknown (OutcomeUnknown) or names the token
//     it could not revoke (LeftLive);
//   - I5: no token value in any log, error text, audit line, prune plan or
//     store file.
//
// Run it:
//
//	go test ./internal/sim -run TestSimulation -v                  # the default number of seeds
//	go test ./internal/sim -run TestSimulation -sim.seeds 5000      # more
//	go test ./internal/sim -run TestSimulation -sim.seed 12345 -v   # replay one, printing its schedule
//	go test ./internal/sim -run '^$' -bench BenchmarkSimulation    # the one-line summary for make bench
//
// A failure prints its seed, its schedule and the command that replays it.
// The schedule (actors, their start times, the faults, the offset) is a
// pure function of the seed (math/rand/v2 with a PCG source), so a replay
// runs the same schedule; the interleaving of the actors' goroutines and
// HTTP requests is not reproducible (the scheduler and the network decide
// which request meets which fault), so a violation found once may need a
// few replays (-count) to show again.
package sim
