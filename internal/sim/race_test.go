//go:build race

package sim

// Under the race detector everything runs several times slower: fewer
// seeds by default, so that make race stays within its timeout.
const raceEnabled = true
