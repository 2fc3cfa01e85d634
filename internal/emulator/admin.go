package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// serveAdmin serves the test-oracle API under /_emulator/. It carries
// secrets on purpose; serve the emulator on loopback only.
func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request, sub string) {
	bad := func(err error) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	switch {
	case sub == "state" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, e.State())
	case sub == "seed" && r.Method == http.MethodPost:
		var s Seed
		if err := decodeJSON(r, &s); err != nil {
			bad(err)
			return
		}
		if err := e.Seed(s); err != nil {
			bad(err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case sub == "faults" && r.Method == http.MethodPost:
		var f []Fault
		if err := decodeJSON(r, &f); err != nil {
			bad(err)
			return
		}
		e.SetFaults(f)
		w.WriteHeader(http.StatusNoContent)
	case sub == "faults" && r.Method == http.MethodGet:
		e.mu.Lock()
		out := []Fault{}
		for _, f := range e.faults {
			x := f.Fault
			if x.Count > 0 {
				x.Count = f.left
			}
			x.Skip = f.skip
			out = append(out, x)
		}
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	case sub == "chaos" && r.Method == http.MethodPost:
		var c Chaos
		if err := decodeJSON(r, &c); err != nil {
			bad(err)
			return
		}
		if err := e.SetChaos(c); err != nil {
			bad(err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case sub == "chaos" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, e.Chaos())
	case sub == "clock" && r.Method == http.MethodPost:
		var body struct {
			GrooOffset json.RawMessage `json:"groo_offset"`
		}
		if err := decodeJSON(r, &body); err != nil {
			bad(err)
			return
		}
		d, err := parseDurationJSON(body.GrooOffset)
		if err != nil {
			bad(fmt.Errorf("groo_offset: %w", err))
			return
		}
		e.SetGrooClockOffset(d)
		w.WriteHeader(http.StatusNoContent)
	case sub == "clock" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]string{"now": e.now().Format(time.RFC3339Nano),
			"groo_now": e.grooNow().Format(time.RFC3339Nano), "groo_offset": e.GrooClockOffset().String()})
	case sub == "journal" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, e.Journal())
	case sub == "ratelimits" && r.Method == http.MethodPost:
		var rl RateLimits
		if err := decodeJSON(r, &rl); err != nil {
			bad(err)
			return
		}
		e.SetRateLimits(rl)
		w.WriteHeader(http.StatusNoContent)
	case sub == "ratelimits" && r.Method == http.MethodGet:
		e.mu.Lock()
		rl := e.limits
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, rl)
	case sub == "rotate-key" && r.Method == http.MethodPost:
		var body struct {
			Scope string `json:"scope"`
		}
		if err := decodeJSON(r, &body); err != nil {
			bad(err)
			return
		}
		if err := e.RotateKey(body.Scope); err != nil {
			if errors.Is(err, errNotFound) {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
				return
			}
			bad(err)
			return
		}
		id, _ := e.PublicKey(body.Scope)
		writeJSON(w, http.StatusOK, map[string]string{"scope": body.Scope, "key_id": id})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown admin route: use GET state, GET journal, POST seed, POST faults, POST chaos, POST ratelimits, POST clock, POST rotate-key"})
	}
}
