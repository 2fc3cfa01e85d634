// Package soak holds the soak test of pat-rotator (its tests only; no code
// of its own ships): several replicas of the built binary on one real
// PostgreSQL rotate a fleet against the emulator while the emulator fails a
// seeded fraction of requests at random, replicas are SIGKILLed and
// restarted, and PostgreSQL restarts once. It checks liveness and safety
// from outside the daemon: I1 at every instant, no secret ever holding an
// expired token, no two replicas rotating one use case at once, an audit
// event for every attempt, and every target rotating once the faults stop.
// It also holds the process-death tests of the daemon's retry and
// notification paths, which need the same built binary.
//
//	go test ./internal/soak/ -run TestSoak -soak.duration 2m -soak.seed 42 -v
//	go test ./internal/soak/ -run '^$' -bench BenchmarkSoak -benchtime 1x
package soak
