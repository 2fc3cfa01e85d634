// Package duration is the one grammar for durations that people write: in
// pat-rotator's configuration, on its command line and in the Action's
// inputs. It is Go's time.ParseDuration with a day unit in front
// ("90m", "72h", "7d", "1d12h", "1d12h30m"); negative values and values that
// overflow are refused. Format prints a duration back in the same grammar,
// so that what a command shows can be pasted into a configuration.
package duration

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Day is the "d" unit: 24 hours (the grammar knows no calendar).
const Day = 24 * time.Hour

// ErrSyntax is wrapped by every refusal of Parse.
var ErrSyntax = errors.New("invalid duration")

// ErrTooLong is wrapped (with ErrSyntax) by a refusal of a duration that is
// well written but longer than a time.Duration holds (about 292 years).
var ErrTooLong = errors.New("too long")

// goSyntax is time.ParseDuration's grammar without a sign: a string of this
// shape that time.ParseDuration refuses overflowed.
var goSyntax = regexp.MustCompile(`^(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$`)

// Examples is what an error shows a person who wrote a bad duration.
const Examples = `90m, 72h, 7d or 1d12h`

// Parse reads a duration such as "90m", "72h", "7d" or "1d12h". A day part
// comes first and is whole; the rest is Go's grammar (h, m, s, ms, us,
// ns). "0" is zero. A sign is refused: no setting is negative.
func Parse(s string) (time.Duration, error) {
	orig := s

	if s == "" {
		return 0, fmt.Errorf("%w: empty; write e.g. %s", ErrSyntax, Examples)
	}
	if s[0] == '-' || s[0] == '+' {
		return 0, fmt.Errorf("%w %q: no sign allowed (durations are never negative); write e.g. %s", ErrSyntax, orig, Examples)
	}
	if s == "0" {
		return 0, nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 63)
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%w %q: %w (at most %d days)", ErrSyntax, orig, ErrTooLong, math.MaxInt64/int64(Day))
		}
		if err != nil || i == 0 {
			return 0, fmt.Errorf("%w %q: the day count before \"d\" must be a whole number; write e.g. %s", ErrSyntax, orig, Examples)
		}
		if n > uint64(math.MaxInt64/int64(Day)) {
			return 0, fmt.Errorf("%w %q: %w (at most %d days)", ErrSyntax, orig, ErrTooLong, math.MaxInt64/int64(Day))
		}
		days = time.Duration(n) * Day
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	rest, err := time.ParseDuration(s)
	if err != nil && goSyntax.MatchString(s) {
		return 0, fmt.Errorf("%w %q: %w (at most %d days)", ErrSyntax, orig, ErrTooLong, math.MaxInt64/int64(Day))
	}
	if err != nil {
		// time.ParseDuration's error quotes its input; ours names the fix.
		return 0, fmt.Errorf("%w %q: write e.g. %s", ErrSyntax, orig, Examples)
	}
	if rest < 0 {
		return 0, fmt.Errorf("%w %q: no sign allowed; write e.g. %s", ErrSyntax, orig, Examples)
	}
	if days > math.MaxInt64-rest {
		return 0, fmt.Errorf("%w %q: %w (at most %d days)", ErrSyntax, orig, ErrTooLong, math.MaxInt64/int64(Day))
	}
	return days + rest, nil
}

// Max is the longest duration: Sum stops there.
const Max = time.Duration(math.MaxInt64)

// Sum adds durations, stopping at Max instead of wrapping to a negative
// (a configuration may hold durations of up to 292 years each).
func Sum(ds ...time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		if d > 0 && sum > Max-d {
			return Max
		}
		sum += d
	}
	return sum
}

// Format prints d in Parse's grammar: whole days first, then Go's form of
// the rest without zero units ("1d12h", "2m", "1d", "1h30m", "1.5s").
func Format(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	neg := d < 0
	if neg {
		d = -d
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if days := d / Day; days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('d')
		d -= days * Day
	}
	if d > 0 {
		s := d.String()
		// Go prints "12h0m0s": drop the zero units it pads with.
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		b.WriteString(s)
	}
	return b.String()
}
