package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/groo/pat-action/internal/safetext"
)

// Format is how a webhook's body is written.
type Format string

const (
	// FormatJSON is one JSON object per notification (the default): see
	// Payload.
	FormatJSON Format = "json"
	// FormatSlack is a Slack incoming-webhook body: {"text": ...}.
	FormatSlack Format = "slack"
)

// Defaults of the thresholds, used for a zero field of Settings.
const (
	DefaultFailedRuns    = 3
	DefaultExpiryWarning = 24 * time.Hour
	DefaultStuckRevoke   = time.Hour
)

// Webhook is one receiver of notifications. Its URL is a credential (a
// Slack webhook URL is one): the caller resolves it from an environment
// variable or a file (url-env, url-file), never from the configuration text.
// It prints (String, LogValue) as scheme and host only.
type Webhook struct {
	URL    string // resolved by the caller; never printed whole
	Format Format // "" is FormatJSON
	// Source says where the URL came from ("env PAT_ROTATOR_WEBHOOK",
	// "file /run/secrets/hook"), for errors; it must not hold the URL.
	Source string
}

// String is the webhook as it may be printed: scheme and host.
func (w Webhook) String() string { return RedactURL(w.URL) }

// LogValue keeps the URL's path and query (often the secret part) out of logs.
func (w Webhook) LogValue() slog.Value { return slog.StringValue(w.String()) }

// GoString keeps %#v to scheme and host too.
func (w Webhook) GoString() string {
	return fmt.Sprintf("notify.Webhook{URL:%q, Format:%q, Source:%q}", w.String(), w.Format, w.Source)
}

// MarshalJSON writes the URL as scheme and host, so that a JSON log handler
// marshalling Settings cannot print it whole.
func (w Webhook) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		URL    string `json:"url"`
		Format Format `json:"format,omitempty"`
		Source string `json:"source,omitempty"`
	}{w.String(), w.Format, w.Source})
}

// RedactURL returns scheme://host of raw (the port kept), "[invalid URL]"
// when it does not parse: the only form of a webhook URL this package prints.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "[invalid URL]"
	}
	return safetext.Clean(u.Scheme + "://" + u.Host)
}

// Settings are the notify section of the configuration.
type Settings struct {
	Webhooks []Webhook
	// FailedRuns is how many consecutive failed attempts of a target make a
	// rotation-failing condition (0: DefaultFailedRuns).
	FailedRuns int
	// ExpiryWarning is how long before a token's (or the credential's)
	// expiry a token-expiring (credential-expiring) condition starts
	// (0: DefaultExpiryWarning).
	ExpiryWarning time.Duration
	// StuckRevoke is how long after its grace ended a pending revoke makes a
	// revoke-stuck condition (0: DefaultStuckRevoke).
	StuckRevoke time.Duration
}

// WithDefaults returns s with every zero threshold set to its default and
// every empty format to FormatJSON.
func (s Settings) WithDefaults() Settings {
	if s.FailedRuns == 0 {
		s.FailedRuns = DefaultFailedRuns
	}
	if s.ExpiryWarning == 0 {
		s.ExpiryWarning = DefaultExpiryWarning
	}
	if s.StuckRevoke == 0 {
		s.StuckRevoke = DefaultStuckRevoke
	}
	hooks := make([]Webhook, len(s.Webhooks))
	copy(hooks, s.Webhooks)
	for i := range hooks {
		if hooks[i].Format == "" {
			hooks[i].Format = FormatJSON
		}
	}
	s.Webhooks = hooks
	return s
}

// Validate returns every problem of s (zero thresholds are defaults, not
// problems), each naming the setting and what to do. No error holds a
// webhook URL beyond its scheme and host.
func (s Settings) Validate() error {
	var errs []error
	seen := map[string]int{}
	for i, w := range s.Webhooks {
		name := fmt.Sprintf("notify.webhooks[%d]", i)
		if w.Source != "" {
			name += " (" + safetext.Clean(w.Source) + ")"
		}
		switch w.Format {
		case "", FormatJSON, FormatSlack:
		default:
			errs = append(errs, fmt.Errorf("%s: unknown format %q; use json or slack", name, safetext.Clean(string(w.Format))))
		}
		if err := checkURL(w.URL); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if j, dup := seen[w.URL]; dup {
			errs = append(errs, fmt.Errorf("%s: the same URL as notify.webhooks[%d]; remove one of them", name, j))
		}
		seen[w.URL] = i
	}
	if s.FailedRuns < 0 {
		errs = append(errs, fmt.Errorf("notify.failed-runs: %d is negative; use 1 or more (default %d)", s.FailedRuns, DefaultFailedRuns))
	}
	if s.ExpiryWarning < 0 {
		errs = append(errs, fmt.Errorf("notify.expiry-warning: %s is negative; use a duration such as 24h (the default)", s.ExpiryWarning))
	}
	if s.StuckRevoke < 0 {
		errs = append(errs, fmt.Errorf("notify.stuck-revoke: %s is negative; use a duration such as 1h (the default)", s.StuckRevoke))
	}
	return errors.Join(errs...)
}

// checkURL says what is wrong with a webhook URL without repeating it.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("the URL is empty; set the environment variable (url-env) or the file (url-file) it is read from")
	}
	if safetext.CheckLine(raw) != nil {
		return errors.New("the URL holds a line break or a control character; write it on one line with no trailing newline")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the URL does not parse; write an absolute URL, https://host/path")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("the URL's scheme is %q; use https (or http)", safetext.Clean(u.Scheme))
	}
	if u.Host == "" {
		return errors.New("the URL has no host; write an absolute URL, https://host/path")
	}
	if u.User != nil {
		return fmt.Errorf("the URL for %s carries user info; put the credential in the URL's path or query as the receiver documents, not before the host", RedactURL(raw))
	}
	return nil
}
