// Package testkit holds the small helpers that the project's tests share: a
// goroutine-safe log buffer, a settable clock, Groo PAT values, golden
// files (Golden, and the one -update flag) and the token-leak check
// (NoTokenValues). It imports "testing", so only
// _test.go files (and other test helper packages) import it. It imports
// nothing of the project, so any package's tests (internal ones included)
// can use it.
package testkit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"
)

// Buffer is a bytes.Buffer that concurrent loggers may write to.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Clock is a clock that tests set and advance.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// Time parses an RFC 3339 time; a typo in a test's literal panics.
func Time(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TimeP is Time's result by pointer, for optional fields.
func TimeP(s string) *time.Time { t := Time(s); return &t }

const patPrefix = "groo_pat_"

// PAT is a fresh random Groo PAT value.
func PAT(t testing.TB) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return patPrefix + hex.EncodeToString(b[:])
}

// PATFor is a deterministic Groo PAT value for seed, for golden files.
func PATFor(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return patPrefix + hex.EncodeToString(sum[:])
}
