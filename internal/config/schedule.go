package config

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/groo/pat-action/internal/duration"
)

// parseSchedule parses a schedule as the daemon runs it; its error names
// the forms cron accepts.
func parseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("cron cannot parse %q (%v); use 5 fields (minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\") or a descriptor such as @daily, @hourly or @every 12h", spec, err)
	}
	return s, nil
}

// checkTTL refuses a TTL that does not outlast the schedule's longest gap
// plus the grace and the jitter: the token would expire before its
// successor is written.
func checkTTL(ttl, gap, grace, jitter time.Duration, spec string) error {
	if ttl == 0 {
		return errors.New("0; a token needs a lifetime, e.g. ttl: 72h")
	}
	if need := duration.Sum(gap, grace, jitter); ttl <= need {
		f := duration.Format
		return fmt.Errorf("%s does not outlast the schedule's longest interval (%s, %q) + revoke-grace (%s) + jitter (%s) = %s: the token would expire before its successor; raise ttl above %s or run the schedule more often",
			f(ttl), f(gap), spec, f(grace), f(jitter), f(need), f(need))
	}
	return nil
}

// scheduleCache parses each distinct schedule once: a fleet of thousands of
// targets usually shares a handful of schedules, and finding the longest
// interval walks weeks of activations.
type scheduleCache struct {
	mu   sync.Mutex
	now  time.Time
	memo map[string]scheduleEntry
}

type scheduleEntry struct {
	s   cron.Schedule
	gap time.Duration
	err error
}

func newScheduleCache(now time.Time) *scheduleCache {
	return &scheduleCache{now: now, memo: map[string]scheduleEntry{}}
}

func (c *scheduleCache) get(spec string) (cron.Schedule, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.memo[spec]; ok {
		return e.s, e.gap, e.err
	}
	var e scheduleEntry
	e.s, e.err = parseSchedule(spec)
	if e.err == nil {
		e.gap, e.err = MaxInterval(e.s, c.now)
		if e.err != nil {
			e.err = fmt.Errorf("schedule %q: %w", spec, e.err)
		}
	}
	c.memo[spec] = e
	return e.s, e.gap, e.err
}

// MaxInterval is the longest gap between two consecutive activations of s,
// walking at least eight days (weekday-only schedules skip weekends) and at
// least two activations (monthly and yearly ones), from from.
func MaxInterval(s cron.Schedule, from time.Time) (time.Duration, error) {
	if c, ok := s.(cron.ConstantDelaySchedule); ok {
		return c.Delay, nil
	}
	prev := s.Next(from)
	if prev.IsZero() {
		return 0, errors.New("it never fires (cron finds no activation in the next five years); check the day and month fields")
	}
	const minSpan = 8 * 24 * time.Hour
	limit := from.AddDate(3, 0, 0)
	var gap time.Duration
	for n := 0; ; n++ {
		next := s.Next(prev)
		if next.IsZero() || next.After(limit) {
			if n == 0 {
				return 0, errors.New("it fires at most once in three years; rotate at least once a year")
			}
			return gap, nil
		}
		if d := next.Sub(prev); d > gap {
			gap = d
		}
		prev = next
		if n >= 1 && next.Sub(from) >= minSpan {
			return gap, nil
		}
	}
}
