package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/safetext"
)

// Payload is the JSON format's body.
type Payload struct {
	Event   Kind   `json:"event"`
	Target  string `json:"target"`
	UseCase string `json:"use_case"`
	Message string `json:"message"`
	Time    string `json:"time"`            // RFC 3339, when the notifier first observed the condition (or its clearing)
	Since   string `json:"since,omitempty"` // RFC 3339, Condition.Since
	// Condition is, for Recovered, the kind that cleared; else Event again.
	Condition Kind   `json:"condition"`
	Source    string `json:"source"` // "pat-rotator"
}

// maxMessage bounds a message, in characters.
const maxMessage = 2000

// clean is every outside text's way into a body: redacted, one line, cut.
func clean(s string) string { return safetext.Cut(safetext.Redact(s), maxMessage) }

func payload(event Kind, c Condition, at time.Time) Payload {
	p := Payload{Event: event, Target: clean(c.Target), UseCase: clean(c.UseCase), Message: clean(c.Message),
		Time: at.UTC().Format(time.RFC3339), Condition: c.Kind, Source: "pat-rotator"}
	if event == Recovered {
		p.Message = clean(fmt.Sprintf("cleared: %s", c.Message))
	}
	if !c.Since.IsZero() {
		p.Since = c.Since.UTC().Format(time.RFC3339)
	}
	return p
}

// slackEscape escapes what Slack's mrkdwn reads as markup.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// body renders p in format f.
func body(f Format, p Payload) ([]byte, error) {
	if f != FormatSlack {
		return json.Marshal(p)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[pat-rotator] %s", p.Event)
	if p.Event == Recovered {
		fmt.Fprintf(&b, " (%s)", p.Condition)
	}
	if p.Target != "" {
		fmt.Fprintf(&b, ": target %s", p.Target)
	}
	if p.UseCase != "" {
		fmt.Fprintf(&b, ", use case %s", p.UseCase)
	}
	fmt.Fprintf(&b, "\n%s\ntime %s", p.Message, p.Time)
	if p.Since != "" {
		fmt.Fprintf(&b, ", since %s", p.Since)
	}
	return json.Marshal(struct {
		Text string `json:"text"`
	}{slackEscape.Replace(b.String())})
}

// sendError is a failed POST; its text never holds the URL beyond scheme
// and host.
type sendError struct {
	hook      string // scheme://host
	status    int    // 0 for a transport error
	retryable bool
	after     time.Duration // from Retry-After on 429
	msg       string
}

func (e *sendError) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("POST %s: %d %s%s", e.hook, e.status, http.StatusText(e.status), e.msg)
	}
	return fmt.Sprintf("POST %s: %s", e.hook, e.msg)
}

// post sends one body once.
func post(ctx context.Context, c *http.Client, w Webhook, b []byte) error {
	hook := RedactURL(w.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(b))
	if err != nil {
		return &sendError{hook: hook, msg: "cannot build the request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pat-rotator-notify")
	resp, err := c.Do(req)
	if err != nil {
		// *url.Error repeats the whole URL: keep only what it wraps.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		msg := err.Error()
		if strings.Contains(msg, w.URL) {
			msg = strings.ReplaceAll(msg, w.URL, hook)
		}
		return &sendError{hook: hook, retryable: true, msg: safetext.Clean(msg)}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	}
	e := &sendError{hook: hook, status: resp.StatusCode}
	if s := strings.TrimSpace(string(snippet)); s != "" {
		// The receiver's answer may echo the URL's secret path.
		s = strings.ReplaceAll(s, w.URL, hook)
		if u, perr := url.Parse(w.URL); perr == nil {
			for _, part := range []string{u.EscapedPath(), u.Path, u.RawQuery} {
				if len(part) > 1 {
					s = strings.ReplaceAll(s, part, "[redacted]")
				}
			}
		}
		e.msg = ": " + safetext.Cut(safetext.Redact(s), 120)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.retryable = true
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.after = time.Duration(secs) * time.Second
		}
	case resp.StatusCode >= 500:
		e.retryable = true
	}
	// Any other status (4xx, and 3xx: redirects are not followed) is final.
	return e
}
