package soak

import (
	"testing"
	"time"

	"github.com/groo/pat-action/internal/emulator"
)

// TestOverlapsFromTheJournal: the soak's overlap check finds two attempts
// of one use case whose mint-to-write spans intersect (here the second
// attempt mints before the first one's write), and none between attempts
// that follow each other or belong to different use cases.
func TestOverlapsFromTheJournal(t *testing.T) {
	t.Parallel()
	desc := func(attempt string) *string {
		s := "Managed by pat-rotator for repo:octo/app GROO_PAT (attempt " + attempt + ", try 1, write window 20s)"
		return &s
	}
	st := emulator.State{Tokens: []emulator.TokenState{
		{ID: "t1", Name: "uc", Description: desc("rot_01")},
		{ID: "t2", Name: "uc", Description: desc("rot_02")},
		{ID: "t3", Name: "uc", Description: desc("rot_03")},
		{ID: "t4", Name: "other", Description: desc("rot_04")},
		{ID: "seed", Name: "uc"},
	}}
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	journal := []emulator.JournalEntry{
		{Time: at(0), Kind: emulator.JournalSeedWrite, TokenID: "seed"},
		{Time: at(1), Kind: emulator.JournalMint, TokenID: "t1"},
		{Time: at(2), Kind: emulator.JournalVerify, TokenID: "t1"},
		{Time: at(3), Kind: emulator.JournalMint, TokenID: "t4"}, // another use case: no overlap
		{Time: at(4), Kind: emulator.JournalWrite, TokenID: "t1"},
		{Time: at(5), Kind: emulator.JournalRevoke, TokenID: "seed"},
		{Time: at(6), Kind: emulator.JournalMint, TokenID: "t2"}, // after t1's attempt: no overlap
		{Time: at(7), Kind: emulator.JournalMint, TokenID: "t3"}, // during t2's attempt: overlap
		{Time: at(8), Kind: emulator.JournalWrite, TokenID: "t2"},
		{Time: at(9), Kind: emulator.JournalWrite, TokenID: "t4"},
	}
	spans := attemptSpans(st, journal)
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4: %+v", len(spans), spans)
	}
	got := overlapping(spans)
	if len(got) != 1 || got[0].useCase != "uc" {
		t.Fatalf("overlaps %+v, want rot_02 and rot_03 of uc", got)
	}
	if want := "rot_02 ["; got[0].what[:len(want)] != want {
		t.Errorf("overlap %q, want it to name rot_02 first", got[0].what)
	}
}
