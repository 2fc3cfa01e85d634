package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/emulator"
)

// webhookReceiver records the notifications posted to it.
type webhookReceiver struct {
	mu     sync.Mutex
	events []map[string]any
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err == nil {
		w.mu.Lock()
		w.events = append(w.events, m)
		w.mu.Unlock()
	}
	rw.WriteHeader(http.StatusNoContent)
}

func (w *webhookReceiver) kinds() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, e := range w.events {
		out = append(out, fmt.Sprint(e["event"]))
	}
	return out
}

// waitFor polls cond until it holds or the (generous) deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDaemonRetriesAndTellsSomebody: Groo fails every mint for a while.
// The daemon does not wait for the next scheduled run (an hour away): it
// tries again with backoff until the rotation succeeds (L1). After two
// failed attempts a webhook hears "rotation-failing" once, then
// "recovered" once (L3). The status page, behind its bearer token, shows
// the target.
func TestDaemonRetriesAndTellsSomebody(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, nil)
	rec := &webhookReceiver{}
	hook := httptest.NewServer(rec)
	t.Cleanup(hook.Close)
	f.env["TEST_WEBHOOK"] = hook.URL + "/hook/s3cr3t"
	f.env["TEST_STATUS_TOKEN"] = "status-token-" + randomHex(8)
	// Every mint of the first two attempts fails (3 tries each).
	f.emu.SetFaults([]emulator.Fault{{Route: emulator.RouteGrooCreate, Status: 503, Count: 6}})
	cfg := f.config(t, `daemon: {retry-min: 1s, retry-max: 2s}
status: {token-env: TEST_STATUS_TOKEN}
notify: {webhooks: [{url-env: TEST_WEBHOOK}], failed-runs: 2}
defaults: {ttl: 72h, revoke-grace: 0s, schedule: "@every 1h", jitter: 0s}
targets:
  - repository: octo/r0
`)
	d, addr := f.listening(t, cfg)
	running(t, d)

	waitFor(t, "the secret to be written after the retries", func() bool {
		_, ok := f.emu.State().Secret("repo:octo/r0", "GROO_PAT")
		return ok
	})
	waitFor(t, "the recovered notification", func() bool {
		k := rec.kinds()
		return len(k) >= 2
	})
	if k := rec.kinds(); strings.Join(k, ",") != "rotation-failing,recovered" {
		t.Errorf("notifications %v, want rotation-failing then recovered, once each", k)
	}
	if n := f.emu.State().Hits[emulator.RouteGrooCreate]; n != 7 {
		t.Errorf("%d mints, want 7 (two failed attempts of 3 tries, then one)", n)
	}
	if _, err := checkInvariants(f.emu.State(), cfg.Targets); err != nil {
		t.Error(err)
	}

	base := "http://" + addr
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/api/v1/status", ""); code != http.StatusUnauthorized {
		t.Errorf("status without the token: %d, want 401", code)
	}
	code, body := get("/api/v1/status", f.env["TEST_STATUS_TOKEN"])
	var st struct {
		Targets []struct {
			Name         string `json:"name"`
			LastRotation struct {
				Outcome string `json:"outcome"`
			} `json:"last_rotation"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil || len(st.Targets) != 1 ||
		st.Targets[0].Name != "repo:octo/r0 GROO_PAT" || st.Targets[0].LastRotation.Outcome != "succeeded" {
		t.Errorf("status: %d %v %s", code, err, body)
	}
	if code, body := get("/", f.env["TEST_STATUS_TOKEN"]); code != http.StatusOK || !strings.Contains(body, "repo:octo/r0 GROO_PAT") {
		t.Errorf("page: %d %.300s", code, body)
	}
	if code, _ := get("/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz behind the token: %d", code)
	}
	for _, s := range append(f.secrets, f.env["TEST_STATUS_TOKEN"]) {
		if strings.Contains(body, s) {
			t.Error("a secret value reached the status page")
		}
	}
}
