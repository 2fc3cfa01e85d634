package emulator

import (
	"context"
	"testing"
	"time"
)

// NewTestServer starts a seeded emulator, built with opts, on 127.0.0.1 and
// closes it when the test ends. It returns the emulator and its base URL
// (http://127.0.0.1:PORT).
func NewTestServer(t testing.TB, seed Seed, opts ...Option) (*Emulator, string) {
	t.Helper()
	e := New(opts...)
	if err := e.Seed(seed); err != nil {
		t.Fatalf("emulator seed: %v", err)
	}
	url, shutdown, err := Start("127.0.0.1:0", e)
	if err != nil {
		t.Fatalf("emulator start: %v", err)
	}
	t.Cleanup(func() {
		// Short: nothing should be in flight when a test ends.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = shutdown(ctx)
	})
	return e, url
}
