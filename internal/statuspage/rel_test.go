package statuspage

import (
	"testing"
	"time"
)

func TestRel(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0:                            "now",
		30 * time.Second:             "now",
		-59 * time.Second:            "now",
		5 * time.Minute:              "in 5 min",
		-5 * time.Minute:             "5 min ago",
		3*time.Hour + 59*time.Minute: "in 3 h",
		-47 * time.Hour:              "47 h ago",
		49 * time.Hour:               "in 2 d",
		-30 * 24 * time.Hour:         "30 d ago",
	} {
		if got := rel(now, now.Add(d)); got != want {
			t.Errorf("rel(%s) = %q, want %q", d, got, want)
		}
	}
}
