package prune

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/groo"
)

// fakeRevoker records revokes and fails those it is told to.
type fakeRevoker struct {
	calls []string
	fail  map[string]error
}

func (f *fakeRevoker) Revoke(ctx context.Context, _ groo.Token, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.calls = append(f.calls, id)
	return f.fail[id]
}

var _ Revoker = (*fakeRevoker)(nil)

func TestApply(t *testing.T) {
	t.Parallel()
	cred, err := groo.ParseToken("groo_pat_" + strings.Repeat("ab", 30) + "cdef")
	if err != nil {
		t.Fatal(err)
	}
	plan := []audit.PruneAction{
		{TokenID: "tok_cred", Prefix: cred.TokenPrefix(), LastFour: cred.LastFour(), UseCase: "u"},
		{TokenID: "tok_a", Prefix: "groo_pat_12", LastFour: "1111", UseCase: "u"},
		{TokenID: "tok_keep", UseCase: "u", Skip: true, SkipReason: "the token in the secret"},
		{TokenID: "tok_b", Prefix: "groo_pat_34", LastFour: "2222", UseCase: "u"},
		{TokenID: "tok_a", UseCase: "u"}, // listed twice: revoked once
		{TokenID: "", UseCase: "u"},
	}
	sentinel := errors.New("HTTP 503")
	f := &fakeRevoker{fail: map[string]error{"tok_a": sentinel}}
	revoked, err := Apply(context.Background(), f, cred, plan)
	if want := []string{"tok_a", "tok_b", "tok_cred"}; !slices.Equal(f.calls, want) {
		t.Errorf("revoke calls %v, want %v (the credential last, skipped and duplicates left out)", f.calls, want)
	}
	if want := []string{"tok_b", "tok_cred"}; !slices.Equal(revoked, want) {
		t.Errorf("revoked %v, want %v", revoked, want)
	}
	if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), "tok_a") {
		t.Errorf("err = %v, want the failure of tok_a", err)
	}
	if strings.Contains(err.Error(), cred.Reveal()) {
		t.Error("the error holds the credential")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f2 := &fakeRevoker{}
	revoked, err = Apply(ctx, f2, cred, plan)
	if len(f2.calls) != 0 || len(revoked) != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: calls %v, revoked %v, err %v", f2.calls, revoked, err)
	}
}
