package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/duration"
)

// --since (history and audit) takes internal/duration's grammar, as the
// configuration and the Action's inputs do; "" is no limit.
func TestParseSince(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", 0, false},
		{"30d", 30 * day, false},
		{" 7d ", 7 * day, false},
		{"0d", 0, false},
		{"1d12h", day + 12*time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"30", 0, true},
		{"d", 0, true},
		{"-3d", 0, true},
		{"-30d", 0, true},
		{"-1h", 0, true},
		{"+1h", 0, true},
		{"1.5d", 0, true},
		{"30days", 0, true},
		{"1d-1h", 0, true},
		{"99999999d", 0, true},
		{"xyz", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseSince(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseSince(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, duration.ErrSyntax) {
				t.Errorf("parseSince(%q): %v is not duration's error", tt.in, err)
			}
		})
	}
}

// validate's table prints durations in the grammar they are written in.
func TestWriteTargetsPrintsDurationsAsWritten(t *testing.T) {
	t.Parallel()
	src := "groo: {token-env: G}\ngithub: {token-env: T}\ntargets:\n" +
		"  - {repository: octo/app, ttl: 1d12h, revoke-grace: 90m, jitter: 0s}\n" +
		"  - {repository: octo/web, ttl: 7d, schedule: \"@every 12h\"}\n"
	cfg, err := config.Parse("c.yaml", []byte(src), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	WriteTargets(&out, cfg)
	for _, want := range []string{"1d12h  1h30m  0s", "7d     15m    10m"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "0m0s") {
		t.Errorf("table pads zero units:\n%s", out.String())
	}
}
