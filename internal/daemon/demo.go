package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/safetext"
)

// The demo's write window. A rotation may revoke an older token of its use
// case only once every write of that token has ended (DESIGN.md, "safe to
// revoke"): either the token is older than W plus the clock margin, or the
// store recorded that its rotation ended before this write started. The
// store does prove the latter for the first pass's tokens, but the demo
// also waits W out between the passes, so that what it shows holds by the
// plainer rule too. With GitHub's default W of 2 minutes that wait would be
// two minutes; W = 1s keeps the demo to a few seconds.
const (
	demoWriteWindow = time.Second
	demoClockMargin = 100 * time.Millisecond
)

// DemoOptions are the demo's seams. The zero value is `pat-rotator demo`.
type DemoOptions struct {
	Logger *slog.Logger // every step, as the daemon logs it (discard)
	// Transport is the base transport of the demo daemon's Groo and GitHub
	// clients (http.DefaultTransport), as Options.Transport: tests check
	// the GitHub requests there.
	Transport http.RoundTripper
}

// Demo is `pat-rotator demo`, the README's first command: it starts the
// Groo and GitHub emulators in process on loopback, seeds three targets with
// bootstrap tokens, rotates them twice through the real code path (the
// engine with the real Groo and GitHub clients over HTTP, the SQLite store,
// leases, metrics), prints what happened and the audit history, and checks
// on the emulator that every secret holds a live token. It prints no token
// whole: ids and last fours only.
func Demo(ctx context.Context, w io.Writer, opts DemoOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = slog.New(safetext.NewHandler(log.Handler()))
	dir, err := os.MkdirTemp("", "pat-rotator-demo-")
	if err != nil {
		return fmt.Errorf("demo: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	// Credentials exist only in this process: random, never printed.
	botPAT := randomPAT()
	ghToken := "ghs_" + randomHex(18)
	useCases := []string{
		"GitHub Actions - octo/app GROO_PAT",
		"GitHub Actions - octo/app env:prod/eu GROO_PAT",
		"GitHub Actions - org octo GROO_PAT",
	}
	// Bootstrap tokens: one live token per use case, made by hand an hour
	// ago, as a team that starts using pat-rotator has.
	hourAgo := time.Now().Add(-time.Hour)
	expires := time.Now().Add(30 * 24 * time.Hour)
	seed := emulator.Seed{
		Groo: emulator.GrooSeed{Tokens: []emulator.SeedToken{{Name: "pat-rotator bot", Secret: botPAT, CreatedAt: &hourAgo}}},
		GitHub: emulator.GitHubSeed{
			Tokens:       []string{ghToken},
			Repositories: []string{"octo/app"},
			Environments: []string{"octo/app:prod/eu"},
		},
	}
	for _, uc := range useCases {
		seed.Groo.Tokens = append(seed.Groo.Tokens, emulator.SeedToken{Name: uc, Secret: randomPAT(), CreatedAt: &hourAgo, ExpiresAt: &expires})
	}
	emu := emulator.New()
	if err := emu.Seed(seed); err != nil {
		return fmt.Errorf("demo: seed the emulator: %w", err)
	}
	url, shutdown, err := emulator.Start("127.0.0.1:0", emu)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(sctx)
	}()

	dbPath := filepath.Join(dir, "demo.db")
	// The same configuration a user writes; the emulator stands in for both
	// APIs. mutation-interval is shortened because the emulator enforces no
	// rate limit here: against GitHub keep the default 1s.
	yaml := fmt.Sprintf(`groo: {api-url: %q, token-env: DEMO_GROO_PAT}
github: {api-url: %q, token-env: DEMO_GITHUB_TOKEN, mutation-interval: 250ms}
store: sqlite://%s
listen: ""
defaults: {schedule: "0 3 * * *", ttl: 72h, revoke-grace: 0s, jitter: 0s}
rotation: {write-window: %s, clock-margin: %s}
targets:
  - repository: octo/app
  - {repository: octo/app, environment: prod/eu}
  - {organization: octo, visibility: selected, selected-repositories: [app]}
`, url, url, dbPath, demoWriteWindow, demoClockMargin)
	env := map[string]string{"DEMO_GROO_PAT": botPAT, "DEMO_GITHUB_TOKEN": ghToken}
	getenv := func(k string) string { return env[k] }
	cfg, err := ParseConfig(filepath.Join(dir, "demo.yaml"), []byte(yaml), getenv)
	if err != nil {
		return fmt.Errorf("demo: configuration: %w", err)
	}
	cred, _ := groo.ParseToken(botPAT)
	d, err := New(ctx, cfg, Options{Logger: log, Getenv: getenv, Transport: opts.Transport})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer d.Close()

	fmt.Fprintf(w, "pat-rotator demo\n  emulators (Groo and GitHub) on %s\n  store     sqlite://%s\n  targets   %d, rotated twice with revoke-grace 0 and write window %s\n",
		url, dbPath, len(cfg.Targets), demoWriteWindow)

	var passErr error
	for pass := 1; pass <= 2; pass++ {
		if pass == 2 {
			time.Sleep(demoWriteWindow + demoClockMargin) // see demoWriteWindow
		}
		before, err := d.grooC.List(ctx, cred)
		if err != nil {
			return fmt.Errorf("demo: list tokens: %w", err)
		}
		results, err := d.RotateTargets(ctx, cfg.Targets)
		fmt.Fprintf(w, "\nPass %d\n", pass)
		for _, r := range results {
			writeDemoResult(w, r, before)
		}
		if err != nil {
			passErr = errors.Join(passErr, fmt.Errorf("pass %d: %w", pass, err))
		}
	}

	events, err := d.store.History(ctx, audit.HistoryQuery{})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(w, "\nAudit history (the store's events, latest outcome per attempt)\n")
	WriteHistory(w, events)

	fmt.Fprintf(w, "\nInvariants, checked on the emulator's state\n")
	lines, invErr := checkInvariants(emu.State(), cfg.Targets)
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
	return errors.Join(passErr, invErr)
}

// writeDemoResult prints one rotation: use case, old and new last four,
// what was revoked, the new expiry.
func writeDemoResult(w io.Writer, r TargetResult, before []groo.TokenInfo) {
	fmt.Fprintf(w, "  %s\n", r.Target.Name)
	fmt.Fprintf(w, "    use case  %s\n", r.Target.UseCase)
	last4 := map[string]string{}
	var old []string
	for _, t := range before {
		last4[t.ID] = t.LastFour
		if t.Name == r.Target.UseCase && !t.Revoked {
			old = append(old, "…"+t.LastFour)
		}
	}
	if r.Result == nil {
		fmt.Fprintf(w, "    FAILED    %s\n", errText(r.Err))
		return
	}
	res := r.Result
	oldS := "(none)"
	if len(old) > 0 {
		sort.Strings(old)
		oldS = strings.Join(old, ", ")
	}
	fmt.Fprintf(w, "    token     %s → …%s (%s)\n", oldS, res.New.LastFour, res.New.ID)
	revoked := "(none)"
	if len(res.Revoked) > 0 {
		var parts []string
		for _, id := range res.Revoked {
			parts = append(parts, fmt.Sprintf("%s (…%s)", id, last4[id]))
		}
		revoked = strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "    revoked   %s\n", revoked)
	if len(res.Pending)+len(res.TooRecent) > 0 {
		fmt.Fprintf(w, "    left live %s\n", list(append(append([]string{}, res.Pending...), res.TooRecent...)))
	}
	fmt.Fprintf(w, "    expires   %s\n", tsPtr(res.New.ExpiresAt))
	secret := "updated"
	if res.SecretCreated {
		secret = "created"
	}
	fmt.Fprintf(w, "    secret    %s in %s\n", secret, res.Duration.Round(time.Millisecond))
	if r.Err != nil {
		fmt.Fprintf(w, "    warning   %s\n", errText(r.Err))
	}
}

// checkInvariants checks I1 (every secret holds a live token) and I3 (the
// use case has exactly one live token, the one in the secret) on the
// emulator's state, and that the emulator saw no I1 violation along the way.
func checkInvariants(st emulator.State, targets []*TargetConfig) ([]string, error) {
	var lines []string
	var errs []error
	i1, i3 := 0, 0
	for _, t := range targets {
		sec, ok := st.Secret(t.Target.Key(), t.Target.Name)
		if !ok {
			errs = append(errs, fmt.Errorf("I1: %s does not exist", t.Name))
			continue
		}
		tok, ok := st.TokenBySecret(sec.Value)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("I1: %s holds a value that is no Groo token", t.Name))
			continue
		case !tok.Live(st.Now):
			errs = append(errs, fmt.Errorf("I1: %s holds %s, which is revoked or expired", t.Name, tok.ID))
			continue
		}
		i1++
		live := st.LiveTokens(t.UseCase)
		if len(live) == 1 && live[0].ID == tok.ID {
			i3++
		} else {
			ids := make([]string, len(live))
			for i, l := range live {
				ids[i] = l.ID
			}
			errs = append(errs, fmt.Errorf("I3: use case %q has %d live tokens (%s); the secret holds %s", t.UseCase, len(live), strings.Join(ids, ","), tok.ID))
		}
	}
	for _, v := range st.Violations {
		errs = append(errs, fmt.Errorf("emulator saw an I1 violation: %s", v))
	}
	lines = append(lines,
		fmt.Sprintf("%-52s %d/%d", "I1 every secret holds a live token:", i1, len(targets)),
		fmt.Sprintf("%-52s %d/%d", "I3 one live token per use case, the secret's one:", i3, len(targets)),
		fmt.Sprintf("%-52s %d", "I1 violations seen by the emulator during the run:", len(st.Violations)),
	)
	if len(errs) == 0 {
		lines = append(lines, "OK")
	}
	return lines, errors.Join(errs...)
}

func randomPAT() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return groo.Prefix + hex.EncodeToString(b)
}
