package action

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Durations longer than time.Duration holds are refused as too long, never
// wrapped to a negative or short value (which read as "too short" before).
func TestParseInputsRefusesOverflowingDurations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		value string
	}{
		{"expires-in days beyond uint64", inExpiresIn, "99999999999999999999999d"},
		{"expires-in days beyond nanoseconds", inExpiresIn, "99999999999d"},
		{"expires-in one day past the limit", inExpiresIn, "106752d"},
		{"expires-in days plus hours past the limit", inExpiresIn, "65535d2562047h"},
		{"expires-in hours past the limit", inExpiresIn, "9999999999h"},
		{"revoke-grace days beyond nanoseconds", inRevokeGrace, "99999999999d"},
		{"revoke-grace hours past the limit", inRevokeGrace, "2562048h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := base(map[string]string{tc.input: tc.value})
			if tc.input == inRevokeGrace {
				in[inExpiresIn] = "7d"
			}
			_, err := ParseInputs(inputsOf(in), func(string) string { return "" })
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != tc.input {
				t.Fatalf("err = %v, want an *InputError for %s", err, tc.input)
			}
			if msg := err.Error(); !strings.Contains(msg, `"`+tc.value+`" is too long`) || !strings.Contains(msg, "106751d") {
				t.Errorf("err = %q, want it to say the value is too long and where durations stop", msg)
			}
		})
	}
}

func TestParseDurationLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		tooLong bool
	}{
		{in: "106751d", want: 106751 * 24 * time.Hour},
		{in: "106751d23h", want: 106751*24*time.Hour + 23*time.Hour},
		{in: "2562047h", want: 2562047 * time.Hour},
		{in: "106752d", tooLong: true},
		{in: "106751d24h", tooLong: true},
		{in: "1d9999999999h", tooLong: true},
		{in: "18446744073709551616d", tooLong: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseDuration(tc.in)
			switch {
			case tc.tooLong && !errors.Is(err, errDurationTooLong):
				t.Errorf("parseDuration(%q) = %s, %v; want errDurationTooLong", tc.in, got, err)
			case !tc.tooLong && (err != nil || got != tc.want):
				t.Errorf("parseDuration(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
}
