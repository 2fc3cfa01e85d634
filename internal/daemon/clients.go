package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/safetext"
)

// ErrCredential wraps every failure to load a credential named by the
// configuration. Its messages name the variable or file, never a value.
var ErrCredential = errors.New("credential")

// readSecret returns the value an *-env or *-file setting points at.
func readSecret(what, env, file string, getenv func(string) string) (string, error) {
	switch {
	case env != "":
		v := strings.TrimSpace(getenv(env))
		if v == "" {
			return "", fmt.Errorf("%w: %s: environment variable %s is empty or unset; export the credential in it", ErrCredential, what, env)
		}
		safetext.AddSecret(v) // redacted wherever it is echoed
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%w: %s: read %s: %w", ErrCredential, what, file, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%w: %s: %s is empty", ErrCredential, what, file)
		}
		safetext.AddSecret(v)
		return v, nil
	}
	return "", fmt.Errorf("%w: %s: no token-env or token-file configured", ErrCredential, what)
}

// grooCredential loads and checks the bot's own PAT.
func grooCredential(cfg *config.Config, getenv func(string) string) (groo.Token, error) {
	v, err := readSecret("groo", cfg.Groo.TokenEnv, cfg.Groo.TokenFile, getenv)
	if err != nil {
		return groo.Token{}, err
	}
	tok, err := groo.ParseToken(v)
	if err != nil {
		src := "environment variable " + cfg.Groo.TokenEnv
		if cfg.Groo.TokenFile != "" {
			src = cfg.Groo.TokenFile
		}
		return groo.Token{}, fmt.Errorf("%w: groo: %s does not hold a Groo PAT: %w", ErrCredential, src, err)
	}
	return tok, nil
}

// newGrooClient builds the Groo client whose requests the metrics count.
func newGrooClient(cfg *config.Config, m *Metrics, base http.RoundTripper, log *slog.Logger) (*groo.Client, error) {
	c, err := groo.New(
		groo.WithBaseURL(cfg.Groo.APIURL),
		groo.WithHTTPClient(&http.Client{Transport: m.Transport("groo", base)}),
		groo.WithUserAgent("pat-rotator (+https://github.com/groo/pat-action)"),
		groo.WithLogger(log),
	)
	if err != nil {
		return nil, fmt.Errorf("groo client: %w", err)
	}
	return c, nil
}

// newGitHubClient builds the one go-github client of the configured
// credential: a token, or a GitHub App installation whose tokens
// ghinstallation mints and refreshes.
func newGitHubClient(cfg *config.Config, m *Metrics, base http.RoundTripper, timeout time.Duration, getenv func(string) string) (*github.Client, error) {
	counted := m.Transport("github", base)
	if app := cfg.GitHub.App; app != nil {
		pem, err := os.ReadFile(app.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: github app: read private-key-file: %w", ErrCredential, err)
		}
		guarded := ghsecret.GuardTransport(counted)
		itr, err := ghinstallation.New(guarded, app.ID, app.InstallationID, pem)
		if err != nil {
			return nil, fmt.Errorf("%w: github app %d: private-key-file %s: %w", ErrCredential, app.ID, app.PrivateKeyFile, err)
		}
		itr.BaseURL = cfg.GitHub.APIURL
		itr.Client = ghsecret.NewHTTPClient(guarded, timeout)
		emptyTokenOptions(&itr.InstallationTokenOptions)
		// itr sends through the guarded transport already.
		gh, err := ghsecret.NewGitHubClient(cfg.GitHub.APIURL, counted, timeout, func(http.RoundTripper) http.RoundTripper { return itr })
		if err != nil {
			return nil, fmt.Errorf("github api-url: %w", err)
		}
		gh.UserAgent = userAgent
		return gh, nil
	}
	tok, err := readSecret("github", cfg.GitHub.TokenEnv, cfg.GitHub.TokenFile, getenv)
	if err != nil {
		return nil, err
	}
	gh, err := ghsecret.NewGitHubClient(cfg.GitHub.APIURL, counted, timeout, ghsecret.TokenAuth(tok))
	if err != nil {
		return nil, fmt.Errorf("github api-url: %w", err)
	}
	gh.UserAgent = userAgent
	return gh, nil
}

const userAgent = "pat-rotator (+https://github.com/groo/pat-action)"

// emptyTokenOptions gives an installation transport empty token options.
// Left nil, ghinstallation sends the JSON body null with
// POST /app/installations/{id}/access_tokens, which GitHub's OpenAPI
// description does not allow (the body, when there is one, is an object);
// empty options send {}: a token with all the installation's permissions
// and repositories, as before. Generic so that the options' type, from the
// go-github version ghinstallation uses, need not be imported.
func emptyTokenOptions[T any](p **T) { *p = new(T) }

// newSecretsClient is the fleet's one ghsecret client for the credential:
// it paces every mutating request of every target (GitHub's secondary limits
// count per credential) and honours retry-after.
//
// With a store, the pacing is shared by every replica on it: the store
// reserves each mutation's slot on its own clock.
func newSecretsClient(cfg *config.Config, gh *github.Client, pacer audit.MutationPacer, log *slog.Logger) *ghsecret.Client {
	opts := []ghsecret.Option{ghsecret.WithMutationInterval(cfg.GitHub.MutationInterval), ghsecret.WithLogger(log)}
	if pacer != nil {
		key := pacingKey(cfg)
		opts = append(opts, ghsecret.WithSharedPacer(func(ctx context.Context, interval time.Duration) (time.Duration, error) {
			slot, err := pacer.ReserveMutationSlot(ctx, key, interval)
			return slot.Wait(), err
		}))
	}
	return ghsecret.NewClient(gh, opts...)
}

// pacingKey names the GitHub credential without its value: replicas of one
// configuration share it.
func pacingKey(cfg *config.Config) string {
	g := cfg.GitHub
	if g.App != nil {
		return fmt.Sprintf("github %s app %d installation %d", g.APIURL, g.App.ID, g.App.InstallationID)
	}
	return fmt.Sprintf("github %s token env %q file %q", g.APIURL, g.TokenEnv, g.TokenFile)
}
