package groo

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUnresolvableHostIsNotRetried: a host name that does not exist
// (NXDOMAIN, as .invalid always is) fails at once with what to check,
// instead of being retried as a transient failure.
func TestUnresolvableHostIsNotRetried(t *testing.T) {
	t.Parallel()
	ct := &countingTransport{}
	c, err := New(WithBaseURL("https://groo.nonexistent.invalid"), WithHTTPClient(&http.Client{Transport: ct}),
		WithRetry(5, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := ParseToken(Prefix + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Me(context.Background(), cred)
	if err == nil || !strings.Contains(err.Error(), "does not resolve") || !strings.Contains(err.Error(), "groo-api-url") {
		t.Fatalf("err = %v, want one that says the host does not resolve and what to check", err)
	}
	if n := ct.n.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}
