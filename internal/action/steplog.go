package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/groo/pat-action/internal/audit"
)

// StepLog is the step's log (stdout under a runner) made safe to lose: a
// closed pipe must not end a rotation half-way. After the first failed
// write nothing more is written to it (so no line can follow a mask that
// was lost), the failure is reported once on the notice writer, and every
// later Write returns that error. Lossy is the view for go-githubactions,
// which panics when a command cannot be written.
type StepLog struct {
	mu     sync.Mutex
	w      io.Writer
	notice io.Writer
	err    error
}

// NewStepLog wraps w; notice (stderr) hears of its first failure.
func NewStepLog(w, notice io.Writer) *StepLog { return &StepLog{w: w, notice: notice} }

// Write writes p unless an earlier write failed.
func (l *StepLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		l.err = fmt.Errorf("the step's log is lost: %w", err)
		if l.notice != nil {
			fmt.Fprintf(l.notice, "pat-action: writing the step's log failed (%v); nothing more is printed there, the audit events follow on stderr\n", err)
		}
		return n, l.err
	}
	return n, nil
}

// Lossy is l for writers that must not fail: its writes always succeed.
func (l *StepLog) Lossy() io.Writer { return lossy{l} }

type lossy struct{ l *StepLog }

func (w lossy) Write(p []byte) (int, error) {
	_, _ = w.l.Write(p)
	return len(p), nil
}

// fallbackRecorder records each audit event in the step's log and, when
// that fails, on the fallback (stderr), so that a lost stdout never leaves
// an attempt without its events (I7) nor stops it before it starts.
type fallbackRecorder struct {
	primary, fallback audit.Recorder
}

func (f fallbackRecorder) Record(ctx context.Context, e audit.Event) error {
	err := f.primary.Record(ctx, e)
	if err == nil || f.fallback == nil {
		return err
	}
	if ferr := f.fallback.Record(ctx, e); ferr != nil {
		return errors.Join(err, ferr)
	}
	return nil
}
