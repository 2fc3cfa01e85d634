package sim

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/groo/pat-action/internal/emulator"
)

// checkI2: a token that was ever written to the secret (seeded there, or
// PUT) is revoked only after it was replaced: after its last write before
// the revoke, the secret was written with another token of the use case,
// one verified (GET /v1/auth/me answered for it) before the revoke.
// "Newer" is read as "its successor in the secret", not "minted later": a
// rotation may rightly retire a token minted after its own once every write
// of it has ended (docs/design.md, the retire rule), and the secret then holds the
// older one. Tokens never written (the unused new token of a failed
// rotation, a leftover) are I4's and I1's business; a write of a token after
// its revoke is I1's.
func checkI2(st emulator.State, journal []emulator.JournalEntry, useCase string) []string {
	name := map[string]string{}
	for _, t := range st.Tokens {
		name[t.ID] = t.Name
	}
	verified := map[string]int{} // first verification; seeded tokens worked before the schedule
	lastWrite := map[string]int{}
	var writes []emulator.JournalEntry
	var out []string
	for _, j := range journal {
		switch j.Kind {
		case emulator.JournalSeedToken:
			verified[j.TokenID] = j.Seq
		case emulator.JournalVerify:
			if _, ok := verified[j.TokenID]; !ok {
				verified[j.TokenID] = j.Seq
			}
		case emulator.JournalWrite, emulator.JournalSeedWrite:
			if j.TokenID != "" {
				writes = append(writes, j)
				lastWrite[j.TokenID] = j.Seq
			}
		case emulator.JournalRevoke:
			x := j.TokenID
			lw, written := lastWrite[x]
			if !written || name[x] != useCase {
				continue
			}
			replaced := false
			for _, w := range writes {
				if v, ok := verified[w.TokenID]; ok && w.Seq > lw && w.TokenID != x && name[w.TokenID] == useCase && v < j.Seq {
					replaced = true
					break
				}
			}
			if !replaced {
				out = append(out, fmt.Sprintf("I2: token %s, last written to the secret at journal #%d, revoked at #%d before another verified token replaced it there",
					x, lw, j.Seq))
			}
		}
	}
	return out
}

// checkI4: a failed rotation leaves none of its own tokens live when it
// returns, unless it says so: its write outcome is unknown, it names the
// token it could not revoke, or its mint's answer was lost and Groo would
// not even list the tokens to look for it (then the token carries the
// attempt id, and a later run retires it).
func checkI4(runs []*run, live [][]string) []string {
	var out []string
	for i, r := range runs {
		if r == nil || r.err == nil || len(live[i]) == 0 {
			continue
		}
		if r.outcomeUnknown || r.mintUnknown {
			continue
		}
		named := map[string]bool{}
		for _, id := range strings.Split(r.leftLive, ",") {
			named[strings.TrimSpace(id)] = true
		}
		for _, id := range live[i] {
			if !named[id] {
				out = append(out, fmt.Sprintf("I4: actor %d (%s, attempt %s) failed without an unknown write outcome but left its token %s live: %s",
					i, r.actor.Kind, r.attemptID, id, r.errText()))
			}
		}
	}
	return out
}

// checkI5: no token value (whole, or without its prefix) in any actor's
// log, audit lines, prune plan, recorded events or error, nor in the store's
// files.
func checkI5(st emulator.State, runs []*run, files []string) []string {
	type hay struct{ what, text string }
	var hays []hay
	for i, r := range runs {
		if r == nil {
			continue
		}
		hays = append(hays,
			hay{fmt.Sprintf("actor %d's log", i), r.logs.String()},
			hay{fmt.Sprintf("actor %d's audit lines or plan", i), r.out.String()},
			hay{fmt.Sprintf("actor %d's events", i), r.events.json()},
			hay{fmt.Sprintf("actor %d's error", i), r.errText()})
	}
	for i, f := range files {
		hays = append(hays, hay{fmt.Sprintf("store file %d", i), f})
	}
	var out []string
	for _, t := range st.Tokens {
		for _, h := range hays {
			if strings.Contains(h.text, t.Secret) || strings.Contains(h.text, t.Secret[prefixLen:]) {
				out = append(out, fmt.Sprintf("I5: the value of token %s is in %s", t.ID, h.what))
			}
		}
	}
	return out
}

var tokenIDPattern = regexp.MustCompile(`tok_[0-9a-z]+`)

// causes names, for each I1 violation, who revoked the token and what the
// schedule held that may explain it: the report's "which faults found what".
// It is a heuristic over the journal (who revoked, with which credential)
// and the actors' results, for people; no check depends on it.
func causes(s Schedule, st emulator.State, journal []emulator.JournalEntry, runs []*run) []string {
	byID := map[string]emulator.TokenState{}
	for _, t := range st.Tokens {
		byID[t.ID] = t
	}
	revokedBy := map[string]string{}
	for _, j := range journal {
		if j.Kind == emulator.JournalRevoke {
			revokedBy[j.TokenID] = j.By
		}
	}
	ownerOf := func(id string) *run {
		t := byID[id]
		for _, r := range runs {
			if r != nil && r.attemptID != "" && t.Description != nil && strings.Contains(*t.Description, r.attemptID) {
				return r
			}
		}
		return nil
	}
	var tags []string
	switch {
	case s.GrooOffset < -s.Margin:
		tags = append(tags, "groo-clock-behind")
	case s.GrooOffset > s.Margin:
		tags = append(tags, "groo-clock-ahead")
	}
	for _, f := range s.Faults {
		for _, m := range []string{emulator.MangleOmitCreatedAt, emulator.MangleNullCreatedAt} {
			if strings.Contains(f.Kind, m+":"+emulator.RouteGrooList) && !slices.Contains(tags, "createdAt-missing") {
				tags = append(tags, "createdAt-missing")
			}
		}
	}
	for _, a := range s.Actors {
		if a.Window != s.Window && a.Kind != ActorPrune && !slices.Contains(tags, "mixed-windows") {
			tags = append(tags, "mixed-windows")
		}
	}
	var out []string
	for _, v := range st.Violations {
		ids := tokenIDPattern.FindAllString(v, -1)
		if len(ids) == 0 {
			out = append(out, "unknown")
			continue
		}
		x := ids[len(ids)-1]
		by := revokedBy[x]
		owner, revoker := ownerOf(x), ownerOf(by)
		var cause string
		switch {
		case owner != nil && owner.err != nil && (by == x || by == owner.credID):
			step := "?"
			if i := strings.Index(owner.errText(), "): "); i >= 0 {
				step, _, _ = strings.Cut(owner.errText()[i+3:], ":")
			}
			cause = fmt.Sprintf("%s revoked its own new token after failing at %s", owner.actor.Kind, step)
			switch {
			case step == "write" && strings.Contains(owner.errText(), "GitHub answered"):
				cause += " with a refusal (the write had landed)"
			case step == "write" && strings.Contains(owner.errText(), "not sent"):
				cause += " with a 'not sent' refusal (an earlier attempt had landed)"
			}
		case slices.ContainsFunc(runs, func(r *run) bool { return r != nil && slices.Contains(r.pruned, x) }):
			cause = "prune revoked it"
		case revoker != nil:
			cause = fmt.Sprintf("%s retired it as old enough", revoker.actor.Kind)
		default:
			cause = "revoked by " + by
		}
		if strings.Contains(v, "written with revoked") {
			cause = "late write: " + cause
		}
		if len(tags) > 0 && !strings.Contains(cause, "own new token") {
			cause += " [" + strings.Join(tags, ",") + "]"
		}
		out = append(out, cause)
	}
	return out
}
