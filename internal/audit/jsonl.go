package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// JSONLines writes each event as one JSON object per line, for logs that are
// the only store there is (the Action's log). Events carry ids, prefixes and
// last fours only, so a line can never hold a token.
type JSONLines struct {
	mu sync.Mutex // one Write per event, so concurrent events never interleave
	w  io.Writer
}

var _ Recorder = (*JSONLines)(nil)

// NewJSONLines returns a Recorder that appends to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

// Record writes e as a single line.
func (j *JSONLines) Record(_ context.Context, e Event) error {
	b, err := json.Marshal(ScrubEvent(e))
	if err != nil {
		return fmt.Errorf("audit: encode event %s: %w", e.ID, err)
	}
	// A runner reads "##[" anywhere in a log line as a legacy command: the
	// same text, escaped the JSON way, decodes to the same event.
	b = bytes.ReplaceAll(b, []byte("##["), []byte(`#\u0023[`))
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.w.Write(b); err != nil {
		return fmt.Errorf("audit: write event %s: %w", e.ID, err)
	}
	return nil
}
