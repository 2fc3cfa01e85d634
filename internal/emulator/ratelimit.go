package emulator

import (
	"net/http"
	"strconv"
	"time"
)

const (
	secondaryMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
		"If you reach out to GitHub Support for help, please include the request ID."
	secondaryDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	primaryDocs   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
	defaultLimit  = 5000
)

// rlState is one token's rate-limit accounting.
type rlState struct {
	primaryStart time.Time
	primaryUsed  int

	winStart     time.Time
	points       int
	creates      int
	lastMutating time.Time
	inflight     int
}

// admit applies GitHub's rate limits to a request of token (an unvalidated
// credential: GitHub counts per credential). It always sets the
// x-ratelimit-* headers. On a breach it returns the answer to write;
// else the caller must call release when the request ends.
func (e *Emulator) admit(w http.ResponseWriter, r *http.Request, token string) (release func(), breach func()) {
	e.mu.Lock()
	now := e.now()
	lim := e.limits
	def := lim.withDefaults()
	st := e.rl[token]
	if st == nil {
		st = &rlState{}
		e.rl[token] = st
	}
	if st.primaryStart.IsZero() || now.Sub(st.primaryStart) >= def.PrimaryWindow {
		st.primaryStart, st.primaryUsed = now, 0
	}
	limit := defaultLimit
	if lim.PrimaryLimit > 0 {
		limit = lim.PrimaryLimit
	}
	reset := st.primaryStart.Add(def.PrimaryWindow)
	h := w.Header()
	setHeaders := func(used int) {
		h.Set("X-Ratelimit-Limit", strconv.Itoa(limit))
		h.Set("X-Ratelimit-Remaining", strconv.Itoa(max(0, limit-used)))
		h.Set("X-Ratelimit-Used", strconv.Itoa(used))
		h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		h.Set("X-Ratelimit-Resource", "core")
	}
	status := http.StatusForbidden
	if lim.Use429 {
		status = http.StatusTooManyRequests
	}

	if lim.PrimaryLimit > 0 && st.primaryUsed >= limit {
		e.breaches++
		setHeaders(limit)
		e.mu.Unlock()
		e.log.Info("github primary rate limit exceeded", "path", r.URL.Path)
		return nil, func() {
			ghError(w, status, "API rate limit exceeded for installation. Wait until the reset time in x-ratelimit-reset.", primaryDocs)
		}
	}

	if lim.secondaryOn() {
		if st.winStart.IsZero() || now.Sub(st.winStart) >= def.Window {
			st.winStart, st.points, st.creates = now, 0, 0
		}
		mutating := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
		cost := 1
		if mutating {
			cost = 5
		}
		wait := time.Duration(0)
		switch {
		case st.inflight >= def.MaxConcurrent:
			wait = time.Second
		case st.points+cost > def.PointsPerWindow:
			wait = st.winStart.Add(def.Window).Sub(now)
		case r.Method == http.MethodPut && st.creates+1 > def.ContentCreatingPerWindow:
			wait = st.winStart.Add(def.Window).Sub(now)
		case mutating && def.MinMutatingInterval > 0 && !st.lastMutating.IsZero() &&
			now.Sub(st.lastMutating) < def.MinMutatingInterval:
			wait = def.MinMutatingInterval - now.Sub(st.lastMutating)
		}
		if wait > 0 {
			e.breaches++
			setHeaders(st.primaryUsed)
			e.mu.Unlock()
			e.log.Info("github secondary rate limit exceeded", "path", r.URL.Path)
			h.Set("Retry-After", strconv.Itoa(ceilSeconds(wait)))
			return nil, func() { ghError(w, status, secondaryMessage, secondaryDocs) }
		}
		st.points += cost
		if r.Method == http.MethodPut {
			st.creates++
		}
		if mutating {
			st.lastMutating = now
		}
	}
	st.primaryUsed++
	st.inflight++
	setHeaders(st.primaryUsed)
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		st.inflight--
		e.mu.Unlock()
	}, nil
}
