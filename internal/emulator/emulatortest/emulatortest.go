// Package emulatortest starts the emulator for a test. It imports "testing",
// so only _test.go files import it: no production binary (pat-emulator, the
// rotator's demo) links it. The emulator's own tests, in package emulator,
// cannot import it and keep an unexported copy (helpers_test.go).
package emulatortest

import (
	"context"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/emulator"
)

// NewServer starts a seeded emulator, built with opts, on 127.0.0.1 and
// closes it when the test ends. It returns the emulator and its base URL
// (http://127.0.0.1:PORT).
func NewServer(t testing.TB, seed emulator.Seed, opts ...emulator.Option) (*emulator.Emulator, string) {
	t.Helper()
	e := emulator.New(opts...)
	if err := e.Seed(seed); err != nil {
		t.Fatalf("emulator seed: %v", err)
	}
	url, shutdown, err := emulator.Start("127.0.0.1:0", e)
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
