package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/audit/sqlitestore"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/testkit"
)

const (
	deathUseCase = "GitHub Actions - octo/app GROO_PAT"
	deathScope   = "repo:octo/app"
)

// deathSetup is one target whose token is due (it expires before the next
// scheduled run, an hour away), a bot PAT, a SQLite store, and the
// configuration's extra YAML.
type deathSetup struct {
	emu    *emulator.Emulator
	config string
	dbPath string
	env    []string
	values []string // every credential the test made, for the leak check
}

func newDeathSetup(t *testing.T, botExpires *time.Time, extraEnv []string, extra string) *deathSetup {
	t.Helper()
	bot, ghTok, boot := testkit.PAT(t), "ghs_"+strings.Repeat("d", 36), testkit.PAT(t)
	hourAgo := time.Now().Add(-time.Hour)
	bootExpires := time.Now().Add(50 * time.Minute)
	chk := ghconform.New(t, nil)
	emu, url := emulatortest.NewServer(t, emulator.Seed{
		Groo: emulator.GrooSeed{Tokens: []emulator.SeedToken{
			{Name: "pat-rotator bot", Secret: bot, CreatedAt: &hourAgo, ExpiresAt: botExpires},
			{Name: deathUseCase, Secret: boot, CreatedAt: &hourAgo, ExpiresAt: &bootExpires},
		}},
		GitHub: emulator.GitHubSeed{Tokens: []string{ghTok}, Repositories: []string{"octo/app"},
			Secrets: []emulator.SeedSecret{{Scope: deathScope, Name: "GROO_PAT", Value: boot, UpdatedAt: &hourAgo}}},
	}, emulator.WithRequestHook(chk.Check))
	dir := t.TempDir()
	db := filepath.Join(dir, "state.db")
	cfg := fmt.Sprintf(`groo: {api-url: %q, token-env: BOT_PAT}
github: {api-url: %q, token-env: GH_TOKEN, mutation-interval: 10ms}
store: sqlite://%s
listen: ""
defaults: {schedule: "@every 1h", ttl: 2h, revoke-grace: 0s, jitter: 0s}
%s
targets:
  - repository: octo/app
`, url, url, db, extra)
	path := filepath.Join(dir, "rotator.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &deathSetup{emu: emu, config: path, dbPath: db, values: []string{bot, ghTok, boot},
		env: append([]string{"BOT_PAT=" + bot, "GH_TOKEN=" + ghTok}, extraEnv...)}
}

// waitLog waits until the process logged want.
func waitLog(t *testing.T, p *proc, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the process did not log %q within %s; stderr:\n%s", want, within, p.tail(60, nil))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rotated waits until the secret holds a token minted by pat-rotator (not
// the seeded one), live.
func (s *deathSetup) rotated(t *testing.T, p *proc, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := s.emu.State()
		if sec, ok := st.Secret(deathScope, "GROO_PAT"); ok {
			if tok, ok := st.TokenBySecret(sec.Value); ok && tok.Live(st.GrooNow) && tok.Description != nil &&
				strings.Contains(*tok.Description, "Managed by pat-rotator") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the target was not rotated within %s; stderr:\n%s", within, p.tail(60, nil))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *deathSetup) events(t *testing.T) []audit.Event {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), s.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	evs, err := store.History(context.Background(), audit.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// checkNoLeaks: no token value the test or the emulator knows reached a
// log or the store's files.
func (s *deathSetup) checkNoLeaks(t *testing.T, procs ...*proc) {
	t.Helper()
	logs := map[string]string{}
	for i, p := range procs {
		logs[fmt.Sprintf("process %d's log", i+1)] = p.stderr.String()
	}
	testkit.NoTokenValues(t, append(s.emu.State().TokenValues(), s.values...), logs, s.dbPath+"*")
}

// TestKillDuringRetryBackoff: pat-rotator is SIGKILLed while it waits to
// retry, in either of its two backoffs, and restarted. The restart rotates
// the use case at once: it neither waits out the dead process's lease (2 m
// 30 s here) nor its retry, and the secret holds a live token throughout.
//
//   - within an attempt, between two tries of a failed mint (the lease is
//     held): the restart takes the dead holder's lease over at once and
//     marks the dead attempt abandoned for it;
//   - between two attempts, in the daemon's capped backoff (retry-min 1m;
//     the lease was released, the failed attempt recorded): the restart's
//     start-up check finds the token still due and rotates.
func TestKillDuringRetryBackoff(t *testing.T) {
	bin := rotatorBinary(t)
	tests := []struct {
		name    string
		faults  []emulator.Fault
		waitFor string // the log line after which the process is in the backoff
		dead    audit.Outcome
	}{
		{"between mint tries", []emulator.Fault{
			{Route: emulator.RouteGrooCreate, Status: 503, Count: 1},
			// Should the kill come late, the process is in its second mint,
			// which the emulator holds: still inside the attempt.
			{Route: emulator.RouteGrooCreate, Latency: 20 * time.Second, Count: 1, Skip: 1},
		}, "mint failed; nothing of it is live, trying again", audit.OutcomeAbandoned},
		{"between attempts", []emulator.Fault{
			{Route: emulator.RouteGrooCreate, Status: 503, Count: 3},
		}, "rotation will be tried again", audit.OutcomeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDeathSetup(t, nil, nil, "daemon: {sweep-interval: 1s, retry-min: 1m, retry-max: 2m}")
			s.emu.SetFaults(tt.faults)
			first := startRun(t, bin, s.config, s.env)
			waitLog(t, first, tt.waitFor, 60*time.Second)
			first.kill()
			s.emu.SetFaults(nil)
			if v := s.emu.State().Violations; len(v) > 0 {
				t.Fatalf("I1 violated by the kill: %v", v)
			}

			second := startRun(t, bin, s.config, s.env)
			// Less than the dead lease's TTL and the dead retry's wait.
			s.rotated(t, second, 45*time.Second)
			if err := second.stop(30 * time.Second); err != nil {
				t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, second.tail(60, nil))
			}
			if strings.Contains(second.stderr.String(), "rotation skipped: lease held") {
				t.Errorf("the restart waited for its dead predecessor's lease; stderr:\n%s", second.tail(60, nil))
			}
			st := s.emu.State()
			if _, err := st.CheckLineages([]emulator.Lineage{{Name: "octo/app", Scope: deathScope, Secret: "GROO_PAT", UseCase: deathUseCase}}); err != nil {
				t.Error(err)
			}
			var dead, succeeded int
			for _, e := range s.events(t) {
				switch e.Outcome {
				case tt.dead:
					dead++
					if tt.dead == audit.OutcomeAbandoned && !strings.Contains(e.Error, "no longer running") {
						t.Errorf("abandoned attempt %s: %q, want its holder's process gone", e.ID, e.Error)
					}
				case audit.OutcomeSucceeded:
					succeeded++
				case audit.OutcomeStarted:
					t.Errorf("attempt %s still \"started\" after a clean stop", e.ID)
				}
			}
			if dead != 1 || succeeded != 1 {
				t.Errorf("events: %d %s, %d succeeded; want the killed process's attempt %s and the restart's rotation", dead, tt.dead, succeeded, tt.dead)
			}
			s.checkNoLeaks(t, first, second)
		})
	}
}

// holdingReceiver is a webhook receiver that answers 204 to every
// notification but the first one of hold's event, which it holds without
// answering until its sender goes away. A notification counts as delivered
// when the receiver answered it: the held one was read but never
// acknowledged, and its sender cannot know whether it was acted on.
type holdingReceiver struct {
	hold string
	held chan struct{} // closed when it holds one

	mu        sync.Mutex
	received  []map[string]any // read in full
	delivered []map[string]any // answered 204
	once      sync.Once
}

func (h *holdingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	var m map[string]any
	if err != nil || json.Unmarshal(b, &m) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.received = append(h.received, m)
	h.mu.Unlock()
	holding := false
	if m["event"] == h.hold {
		h.once.Do(func() { holding = true })
	}
	if holding {
		close(h.held)
		<-r.Context().Done() // the sender died
		return
	}
	w.WriteHeader(http.StatusNoContent)
	h.mu.Lock()
	h.delivered = append(h.delivered, m)
	h.mu.Unlock()
}

func count(ms []map[string]any, event, target string) int {
	n := 0
	for _, m := range ms {
		if m["event"] == event && (target == "" || strings.Contains(fmt.Sprint(m["target"]), target)) {
			n++
		}
	}
	return n
}

func (h *holdingReceiver) counts(event, target string) (received, delivered int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return count(h.received, event, target), count(h.delivered, event, target)
}

func (h *holdingReceiver) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.received {
		out = append(out, fmt.Sprintf("%v %v", m["event"], m["target"]))
	}
	return strings.Join(out, "; ")
}

// TestKillWhileNotifying: pat-rotator is SIGKILLed while its webhook
// notification (its Groo credential expires within expiry-warning) is in
// flight: the receiver holds the request unanswered. After a restart the
// notification is delivered once: not lost (the restart sends it again,
// since its sender died before the receiver acknowledged it) and not a
// storm (the receiver is sent it twice in all, the held request and the
// one delivery). The restart's own conditions are notified too: its
// start-up rotation fails twice (rotation-failing), then succeeds
// (recovered); they come after the credential's in the notifier's queue,
// so once the receiver has them the restart has had its chance to send.
func TestKillWhileNotifying(t *testing.T) {
	bin := rotatorBinary(t)
	rec := &holdingReceiver{hold: "credential-expiring", held: make(chan struct{})}
	hook := httptest.NewServer(rec)
	t.Cleanup(hook.Close)
	botExpires := time.Now().Add(48 * time.Hour)
	s := newDeathSetup(t, &botExpires, []string{"SOAK_WEBHOOK=" + hook.URL + "/hook/s3cr3t"},
		`daemon: {sweep-interval: 1s, retry-min: 1s, retry-max: 2s}
notify: {webhooks: [{url-env: SOAK_WEBHOOK}], failed-runs: 2, expiry-warning: 7d}`)
	// The first process rotates nothing: every mint fails.
	s.emu.SetFaults([]emulator.Fault{{Route: emulator.RouteGrooCreate, Status: 503}})
	first := startRun(t, bin, s.config, s.env)
	select {
	case <-rec.held:
	case <-time.After(60 * time.Second):
		t.Fatalf("no credential-expiring notification reached the receiver; stderr:\n%s", first.tail(60, nil))
	}
	first.kill()

	// The restart's start-up rotation fails twice (three tries each), then succeeds.
	s.emu.SetFaults([]emulator.Fault{{Route: emulator.RouteGrooCreate, Status: 503, Count: 6}})
	second := startRun(t, bin, s.config, s.env)
	s.rotated(t, second, 60*time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for _, n := rec.counts("recovered", "octo/app"); n == 0; _, n = rec.counts("recovered", "octo/app") {
		if time.Now().After(deadline) {
			t.Fatalf("no recovered notification after the rotation; received: %s; stderr:\n%s", rec.summary(), second.tail(60, nil))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := second.stop(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, second.tail(60, nil))
	}
	if got, n := rec.counts("credential-expiring", ""); got != 2 || n != 1 {
		t.Errorf("the credential-expiring notification was sent %d times and delivered %d times, want sent twice (held, then again) and delivered once; received: %s",
			got, n, rec.summary())
	}
	if got, n := rec.counts("rotation-failing", "octo/app"); got != 1 || n != 1 {
		t.Errorf("rotation-failing was sent %d times and delivered %d times, want once; received: %s", got, n, rec.summary())
	}
	for _, p := range []*proc{first, second} {
		if strings.Contains(p.stderr.String(), "s3cr3t") {
			t.Error("the webhook URL, a credential, reached a log")
		}
	}
	s.checkNoLeaks(t, first, second)
}
