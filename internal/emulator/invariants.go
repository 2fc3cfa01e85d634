package emulator

import (
	"errors"
	"fmt"
	"strings"
)

// Lineage names one target's secret and the use case whose tokens it holds.
type Lineage struct {
	Name    string // for messages, e.g. "repo:octo/app GROO_PAT"
	Scope   string // scope key, e.g. "repo:octo/app"
	Secret  string // secret name
	UseCase string // token name
}

// CheckLineages checks I1 (every secret holds a live token) and I3 (its use
// case has exactly one live token, the one in the secret) on the snapshot,
// and that the monitor saw no I1 violation along the way. It returns a
// summary, one line per check, and every problem found.
func (s State) CheckLineages(ls []Lineage) ([]string, error) {
	var errs []error
	i1, i3 := 0, 0
	for _, l := range ls {
		sec, ok := s.Secret(l.Scope, l.Secret)
		if !ok {
			errs = append(errs, fmt.Errorf("I1: %s does not exist", l.Name))
			continue
		}
		tok, ok := s.TokenBySecret(sec.Value)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("I1: %s holds a value that is no Groo token", l.Name))
			continue
		case !tok.Live(s.Now):
			errs = append(errs, fmt.Errorf("I1: %s holds %s, which is revoked or expired", l.Name, tok.ID))
			continue
		}
		i1++
		live := s.LiveTokens(l.UseCase)
		if len(live) == 1 && live[0].ID == tok.ID {
			i3++
			continue
		}
		ids := make([]string, len(live))
		for i, t := range live {
			ids[i] = t.ID
		}
		errs = append(errs, fmt.Errorf("I3: use case %q has %d live tokens (%s); the secret holds %s", l.UseCase, len(live), strings.Join(ids, ","), tok.ID))
	}
	for _, v := range s.Violations {
		errs = append(errs, fmt.Errorf("emulator saw an I1 violation: %s", v))
	}
	lines := []string{
		fmt.Sprintf("%-52s %d/%d", "I1 every secret holds a live token:", i1, len(ls)),
		fmt.Sprintf("%-52s %d/%d", "I3 one live token per use case, the secret's one:", i3, len(ls)),
		fmt.Sprintf("%-52s %d", "I1 violations seen by the emulator during the run:", len(s.Violations)),
	}
	if len(errs) == 0 {
		lines = append(lines, "OK")
	}
	return lines, errors.Join(errs...)
}
