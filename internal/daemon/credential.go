package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/retire"
)

// ErrCredentialInUseCase is wrapped when the bot's own PAT bears the name of
// a configured use case: rotating that use case would retire the credential
// every later rotation needs.
var ErrCredentialInUseCase = errors.New("the bot's credential is a token of a configured use case")

// CredentialInUseCaseError names the target whose use case holds the
// bot's own PAT.
type CredentialInUseCaseError struct {
	Target, UseCase, TokenID string
}

func (e *CredentialInUseCaseError) Error() string {
	return fmt.Sprintf("target %s: the Groo credential pat-rotator authenticates with is token %s, which bears the target's use-case name %q: "+
		"a rotation would replace it and every later rotation would fail; give pat-rotator a PAT of its own "+
		"(a token with another name, e.g. \"pat-rotator bot\") in groo.token-env or groo.token-file", e.Target, e.TokenID, e.UseCase)
}

func (e *CredentialInUseCaseError) Unwrap() error { return ErrCredentialInUseCase }

// CheckCredential identifies the bot's own PAT among the tokens Groo lists
// and refuses a configuration in which it is a token of a configured use
// case. Only a definite match counts (the same prefix and last four): a
// listed token without a last four is merely never revoked (the retire
// rule's Keep). It returns the credential's token when identified.
func (d *Daemon) CheckCredential(ctx context.Context) (groo.TokenInfo, bool, error) {
	cred := d.cred()
	tokens, err := d.grooC.List(ctx, cred)
	if err != nil {
		return groo.TokenInfo{}, false, fmt.Errorf("identify the Groo credential among its tokens: %w", err)
	}
	return d.identify(cred, tokens)
}

// identify finds cred among the listed tokens (see CheckCredential).
func (d *Daemon) identify(cred groo.Token, tokens []groo.TokenInfo) (groo.TokenInfo, bool, error) {
	var self groo.TokenInfo
	found := false
	for _, t := range tokens {
		if t.Revoked || !retire.Identifies(t, cred.TokenPrefix(), cred.LastFour()) {
			continue
		}
		self, found = t, true
		for _, tg := range d.targets {
			if tg.cfg.UseCase == t.Name {
				return self, true, &CredentialInUseCaseError{Target: tg.cfg.Name, UseCase: t.Name, TokenID: t.ID}
			}
		}
	}
	return self, found, nil
}

// checkCredentialAtStart identifies the credential (GET /v1/auth/me and
// the token list) for the status page and the notifications, and refuses
// to go on when the credential is a token of a configured use case. Groo
// unreachable is not a reason to refuse: the rotations say so themselves.
// It returns the list it read (nil when it could not), for the start-up
// check to reuse.
func (d *Daemon) checkCredentialAtStart(ctx context.Context) ([]groo.TokenInfo, error) {
	cred := d.cred()
	user, err := d.grooC.Me(ctx, cred)
	if err != nil {
		d.log.Warn("could not identify the Groo credential at start", "error", err.Error())
		return nil, nil
	}
	tokens, err := d.grooC.List(ctx, cred)
	if err != nil {
		d.log.Warn("could not identify the Groo credential at start", "error", err.Error())
		return nil, nil
	}
	tok, found, err := d.identify(cred, tokens)
	if err != nil {
		return nil, err
	}
	d.credInfo.set(user.ID, tok, found)
	if found {
		d.metrics.observeCredential(tok.ID, tok.ExpiresAt)
	}
	return tokens, nil
}
