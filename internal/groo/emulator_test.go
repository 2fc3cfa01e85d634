package groo_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/groo"
)

// These tests run the client against the emulator that the end-to-end tests
// use, so that the two agree on docs/groo-api.md. The core behaviour is tested
// against plain httptest servers in the other files.

var hex64 = regexp.MustCompile(`[0-9a-f]{64}`)

const (
	emuCred      = "groo_pat_e0000000000000000000000000000000000000000000000000000000000000a1"
	emuForbidden = "groo_pat_f0000000000000000000000000000000000000000000000000000000000000b2"
)

func newEmulated(t *testing.T) (*emulator.Emulator, *groo.Client, groo.Token) {
	t.Helper()
	emu, url := emulatortest.NewServer(t, emulator.Seed{Groo: emulator.GrooSeed{
		Users: []emulator.SeedUser{{ID: "usr_1", Email: "one@example.com"}},
		Tokens: []emulator.SeedToken{
			{ID: "tok_cred", Name: "GitHub Actions - octo/app GROO_PAT", Secret: emuCred},
			{ID: "tok_forbidden", Name: "read only", Secret: emuForbidden, Forbidden: true},
		},
	}})
	c, err := groo.New(groo.WithBaseURL(url),
		groo.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cred, err := groo.ParseToken(emuCred)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if v := emu.Violations(); len(v) > 0 {
			t.Errorf("emulator saw contract violations: %v", v)
		}
	})
	return emu, c, cred
}

func TestEmulatorRotationRoundTrip(t *testing.T) {
	t.Parallel()
	_, c, cred := newEmulated(t)
	ctx := t.Context()

	me, err := c.Me(ctx, cred)
	if err != nil || me.ID != "usr_1" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	nonce := "pat-action nonce=7f3a"
	info, fresh, err := c.Create(ctx, cred, groo.CreateRequest{
		Name: "GitHub Actions - octo/app GROO_PAT", Description: nonce, ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if info.ID == "" || info.Description == nil || *info.Description != nonce || info.ExpiresAt == nil {
		t.Errorf("created %+v", info)
	}
	if info.TokenPrefix != fresh.TokenPrefix() || (info.LastFour != "" && info.LastFour != fresh.LastFour()) {
		t.Errorf("created token %+v does not describe the secret %v", info, fresh)
	}
	if me2, err := c.Me(ctx, fresh); err != nil || me2.ID != me.ID {
		t.Fatalf("Me(new token) = %+v, %v; want the same user", me2, err)
	}

	list, err := c.List(ctx, fresh)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	ids := map[string]groo.TokenInfo{}
	for _, ti := range list {
		ids[ti.ID] = ti
	}
	if _, ok := ids["tok_cred"]; !ok {
		t.Errorf("List lacks tok_cred: %+v", list)
	}
	if _, ok := ids[info.ID]; !ok {
		t.Errorf("List lacks the new token: %+v", list)
	}

	if err := c.Revoke(ctx, fresh, "tok_cred"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if err := c.Revoke(ctx, fresh, "tok_cred"); err != nil {
		t.Errorf("Revoke again: %v, want nil", err)
	}
	if err := c.Revoke(ctx, fresh, "tok_unknown"); err != nil {
		t.Errorf("Revoke unknown: %v, want nil", err)
	}
	if _, err := c.Me(ctx, cred); !errors.As(err, new(*groo.UnauthorizedError)) {
		t.Errorf("Me(revoked) = %v, want *UnauthorizedError", err)
	}
	list, err = c.List(ctx, fresh)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, ti := range list {
		if ti.ID == "tok_cred" && !ti.Revoked {
			t.Errorf("tok_cred not listed as revoked")
		}
	}
}

func TestEmulatorErrors(t *testing.T) {
	t.Parallel()
	_, c, cred := newEmulated(t)
	ctx := t.Context()
	forbidden, err := groo.ParseToken(emuForbidden)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := groo.ParseToken(strings.Replace(emuCred, "a1", "a2", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(ctx, forbidden); !errors.As(err, new(*groo.ForbiddenError)) {
		t.Errorf("List(forbidden) = %v, want *ForbiddenError", err)
	}
	if _, err := c.List(ctx, unknown); !errors.As(err, new(*groo.UnauthorizedError)) {
		t.Errorf("List(unknown) = %v, want *UnauthorizedError", err)
	}
	// The client's own checks must not be stricter than Groo's: the longest
	// name it lets through is accepted.
	if _, _, err := c.Create(ctx, cred, groo.CreateRequest{Name: strings.Repeat("x", 100)}); err != nil {
		t.Errorf("Create with a 100-character name: %v", err)
	}
}

func TestEmulatorFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		fault       emulator.Fault
		call        func(context.Context, *groo.Client, groo.Token) error
		route       string
		wantHits    int
		wantUnknown bool
		wantTokens  int // tokens in the emulator afterwards (2 seeded)
	}{
		{
			name:  "list 503 twice is retried",
			fault: emulator.Fault{Route: emulator.RouteGrooList, Status: 503, Count: 2},
			call: func(ctx context.Context, c *groo.Client, cred groo.Token) error {
				_, err := c.List(ctx, cred)
				return err
			},
			route: emulator.RouteGrooList, wantHits: 3, wantTokens: 2,
		},
		{
			name:  "revoke 500 once is retried",
			fault: emulator.Fault{Route: emulator.RouteGrooRevoke, Status: 500, Count: 1},
			call: func(ctx context.Context, c *groo.Client, cred groo.Token) error {
				return c.Revoke(ctx, cred, "tok_forbidden")
			},
			route: emulator.RouteGrooRevoke, wantHits: 2, wantTokens: 2,
		},
		{
			name:  "create 429 is retried",
			fault: emulator.Fault{Route: emulator.RouteGrooCreate, Status: 429, RetryAfter: 1, Count: 1},
			call: func(ctx context.Context, c *groo.Client, cred groo.Token) error {
				_, _, err := c.Create(ctx, cred, groo.CreateRequest{Name: "n"})
				return err
			},
			route: emulator.RouteGrooCreate, wantHits: 2, wantTokens: 3,
		},
		{
			name:  "create 503 is outcome unknown",
			fault: emulator.Fault{Route: emulator.RouteGrooCreate, Status: 503, Count: 1},
			call: func(ctx context.Context, c *groo.Client, cred groo.Token) error {
				_, _, err := c.Create(ctx, cred, groo.CreateRequest{Name: "n"})
				return err
			},
			route: emulator.RouteGrooCreate, wantHits: 1, wantUnknown: true, wantTokens: 2,
		},
		{
			name:  "create dropped after acting is outcome unknown",
			fault: emulator.Fault{Route: emulator.RouteGrooCreate, Drop: true, Count: 1},
			call: func(ctx context.Context, c *groo.Client, cred groo.Token) error {
				_, _, err := c.Create(ctx, cred, groo.CreateRequest{Name: "n", Description: "nonce=1"})
				return err
			},
			route: emulator.RouteGrooCreate, wantHits: 1, wantUnknown: true, wantTokens: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu, c, cred := newEmulated(t)
			emu.SetFaults([]emulator.Fault{tc.fault})
			err := tc.call(t.Context(), c, cred)
			if tc.wantUnknown {
				if !errors.As(err, new(*groo.OutcomeUnknownError)) {
					t.Fatalf("err = %v, want *OutcomeUnknownError", err)
				}
				if hex64.MatchString(err.Error()) {
					t.Errorf("err %q holds a token value", err)
				}
			} else if err != nil {
				t.Fatalf("call: %v", err)
			}
			if n := emu.Hits(tc.route); n != tc.wantHits {
				t.Errorf("%s hit %d times, want %d", tc.route, n, tc.wantHits)
			}
			if n := len(emu.State().Tokens); n != tc.wantTokens {
				t.Errorf("emulator holds %d tokens, want %d", n, tc.wantTokens)
			}
		})
	}
}
