package duration

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"90m", 90 * time.Minute},
		{"72h", 72 * time.Hour},
		{"7d", 7 * Day},
		{"1d12h", 36 * time.Hour},
		{"1d12h30m", 36*time.Hour + 30*time.Minute},
		{"0", 0},
		{"0s", 0},
		{"1.5s", 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("Parse(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
			}
			// Format and Parse agree.
			back, err := Parse(Format(got))
			if err != nil || back != got {
				t.Errorf("Parse(Format(%s) = %q) = %s, %v", got, Format(got), back, err)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "-3d", "+1h", "-1h", "d", "1.5d", "1d-1h", "3 days", "7", "1w", "99999999999d",
		"106751d24h", "2562047h48m", "1d\n", "1d1d", " 2m"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			if d, err := Parse(in); !errors.Is(err, ErrSyntax) {
				t.Errorf("Parse(%q) = %s, %v; want a refusal", in, d, err)
			}
		})
	}
}

// Well-written durations that overflow are refused as too long; others as
// syntax only.
func TestParseTooLong(t *testing.T) {
	t.Parallel()
	for in, tooLong := range map[string]bool{
		"99999999999d": true, "99999999999999999999d": true,
		"2562048h": true, "9999999999h": true, "1h9223372036854775807ns": true,
		"106752d": true, "106751d24h": true, "1d9999999999h": true, "18446744073709551616d": true,
		"99999999999999999999999d": true, "65535d2562047h": true,
		"106751d": false, "2562047h": false, "106751d23h": false, "three days": false, "-99999999999d": false, "1.5d": false,
	} {
		_, err := Parse(in)
		if errors.Is(err, ErrTooLong) != tooLong || (!tooLong && !strings.HasPrefix(in, "106751d") && in != "2562047h" && !errors.Is(err, ErrSyntax)) {
			t.Errorf("Parse(%q): %v; too long: want %v", in, err, tooLong)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := map[time.Duration]string{
		36 * time.Hour:                  "1d12h",
		Day:                             "1d",
		2 * time.Minute:                 "2m",
		90 * time.Minute:                "1h30m",
		15 * time.Minute:                "15m",
		1500 * time.Millisecond:         "1.5s",
		0:                               "0s",
		Day + 25*time.Minute:            "1d25m",
		12*time.Hour + 5*time.Second:    "12h0m5s",
		3*Day + time.Hour + time.Minute: "3d1h1m",
	}
	for d, want := range tests {
		if got := Format(d); got != want {
			t.Errorf("Format(%s) = %q, want %q", d, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"90m", "1d12h", "-3d", "7d", "99999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("Parse(%q) = %s, negative", s, d)
		}
		if back, err := Parse(Format(d)); err != nil || back != d {
			t.Fatalf("Parse(Format(Parse(%q))) = %s, %v; want %s", s, back, err, d)
		}
	})
}

func TestSumSaturates(t *testing.T) {
	t.Parallel()
	if got := Sum(Max-time.Hour, 2*time.Hour); got != Max {
		t.Errorf("sum past the limit = %s, want the limit", got)
	}
	if got := Sum(time.Hour, 30*time.Minute); got != 90*time.Minute {
		t.Errorf("1h + 30m = %s", got)
	}
}
