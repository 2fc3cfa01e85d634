package ghsecret

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

type countRoundTrips struct{ n atomic.Int32 }

func (c *countRoundTrips) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestUnresolvableHostIsNotRetried: a GitHub API host that does not exist
// is a definitive failure before anything was sent (a RefusedError with no
// status: nothing written), named with what to check, not retried.
func TestUnresolvableHostIsNotRetried(t *testing.T) {
	t.Parallel()
	ct := &countRoundTrips{}
	gh, err := github.NewClient(&http.Client{Transport: ct}).WithEnterpriseURLs("https://github.nonexistent.invalid/", "https://github.nonexistent.invalid/")
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(gh, WithMaxRetries(5), WithBackoff(time.Millisecond, time.Millisecond), WithMutationInterval(0))
	tg := Target{Scope: ScopeRepository, Owner: "octo", Repo: "app", Name: "GROO_PAT"}
	_, err = c.Put(context.Background(), tg, PublicKey{KeyID: "1", Key: [32]byte{9}}, []byte("v"))
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.StatusCode != 0 || !strings.Contains(err.Error(), "does not resolve") {
		t.Fatalf("err = %v, want a not-sent refusal that says the host does not resolve", err)
	}
	if n := ct.n.Load(); n != 1 {
		t.Errorf("%d round trips, want 1", n)
	}
}
