// Package demo is `pat-rotator demo`: the emulators in process, three
// targets rotated twice through the real daemon, and the invariants checked
// on the emulator's state. Only cmd/pat-rotator imports it, so that no
// other binary or package links the emulator.
package demo

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
	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/daemon"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/safetext"
)

// The demo's write window. A rotation may revoke an older token of its use
// case only once every write of that token has ended (docs/design.md, the
// retire rule): either the token was minted more than its writer's W plus the
// clock margin before this rotation's own token, or the store recorded that
// its rotation ended before this write started. The
// store does prove the latter for the first pass's tokens, but the demo
// also waits W out between the passes, so that what it shows holds by the
// plainer rule too. With GitHub's default W of 2 minutes that wait would be
// two minutes; W = 1s keeps the demo to a few seconds.
const (
	demoWriteWindow = time.Second
	demoClockMargin = 100 * time.Millisecond
)

// Options are the demo's seams. The zero value is `pat-rotator demo`.
type Options struct {
	Logger *slog.Logger // every step, as the daemon logs it (discard)
	// Transport is the base transport of the demo daemon's Groo and GitHub
	// clients (http.DefaultTransport), as Options.Transport: tests check
	// the GitHub requests there.
	Transport http.RoundTripper
}

// Run is `pat-rotator demo`, the README's first command: it starts the
// Groo and GitHub emulators in process on loopback, seeds three targets with
// bootstrap tokens, rotates them twice through the real code path (the
// engine with the real Groo and GitHub clients over HTTP, the SQLite store,
// leases, metrics), prints what happened and the audit history, and checks
// on the emulator that every secret holds a live token. It prints no token
// whole: ids and last fours only.
func Run(ctx context.Context, w io.Writer, opts Options) error {
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
	cfg, err := config.Parse(filepath.Join(dir, "demo.yaml"), []byte(yaml), getenv)
	if err != nil {
		return fmt.Errorf("demo: configuration: %w", err)
	}
	cred, _ := groo.ParseToken(botPAT)
	d, err := daemon.New(ctx, cfg, daemon.Options{Logger: log, Getenv: getenv, Transport: opts.Transport})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer d.Close()
	gc, err := groo.New(groo.WithBaseURL(url))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	fmt.Fprintf(w, "pat-rotator demo\n  emulators (Groo and GitHub) on %s\n  store     sqlite://%s\n  targets   %d, rotated twice with revoke-grace 0 and write window %s\n",
		url, dbPath, len(cfg.Targets), demoWriteWindow)

	var passErr error
	for pass := 1; pass <= 2; pass++ {
		if pass == 2 {
			time.Sleep(demoWriteWindow + demoClockMargin) // see demoWriteWindow
		}
		before, err := gc.List(ctx, cred)
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

	events, err := d.Store().History(ctx, audit.HistoryQuery{})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(w, "\nAudit history (the store's events, latest outcome per attempt)\n")
	audit.RenderHistory(w, events)

	fmt.Fprintf(w, "\nInvariants, checked on the emulator's state\n")
	lines, invErr := checkInvariants(emu.State(), cfg.Targets)
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
	return errors.Join(passErr, invErr)
}

// writeDemoResult prints one rotation: use case, old and new last four,
// what was revoked, the new expiry.
func writeDemoResult(w io.Writer, r daemon.TargetResult, before []groo.TokenInfo) {
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
		fmt.Fprintf(w, "    FAILED    %s\n", r.Err)
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
		fmt.Fprintf(w, "    left live %s\n", strings.Join(append(append([]string{}, res.Pending...), res.TooRecent...), ","))
	}
	if len(res.Kept) > 0 {
		fmt.Fprintf(w, "    kept      %s (pat-rotator's own credential)\n", strings.Join(res.Kept, ","))
	}
	expires := "-"
	if res.New.ExpiresAt != nil {
		expires = res.New.ExpiresAt.UTC().Format("2006-01-02 15:04:05Z")
	}
	fmt.Fprintf(w, "    expires   %s\n", expires)
	secret := "updated"
	if res.SecretCreated {
		secret = "created"
	}
	fmt.Fprintf(w, "    secret    %s in %s\n", secret, res.Duration.Round(time.Millisecond))
	if r.Err != nil {
		fmt.Fprintf(w, "    warning   %s\n", r.Err)
	}
}

// checkInvariants checks I1 and I3 of the targets on the emulator's state.
func checkInvariants(st emulator.State, targets []*config.TargetConfig) ([]string, error) {
	return st.CheckLineages(Lineages(targets))
}

// Lineages names the targets' secrets and use cases for the emulator.
func Lineages(targets []*config.TargetConfig) []emulator.Lineage {
	out := make([]emulator.Lineage, len(targets))
	for i, t := range targets {
		out[i] = emulator.Lineage{Name: t.Name, Scope: t.Target.Key(), Secret: t.Target.Name, UseCase: t.UseCase}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomPAT() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return groo.Prefix + hex.EncodeToString(b)
}
