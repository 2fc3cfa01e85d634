package audit

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/groo/pat-action/internal/safetext"
)

// HistoryCSVHeader is the first line of the history's CSV form (the status
// page's /api/v1/history?format=csv and `pat-rotator history --format csv`).
var HistoryCSVHeader = []string{
	"time", "use_case", "target", "outcome", "attempt_id", "actor", "tool",
	"new_token_id", "new_token_prefix", "new_token_last4", "new_expires_at", "written_at",
	"replaced_token_ids", "revoked_token_ids", "pending_revoke_token_ids", "too_recent_token_ids",
	"step", "error", "write_outcome_unknown", "duration_seconds",
}

// csvCell is one CSV cell: one inert line, and a leading character that a
// spreadsheet would start a formula with quoted.
func csvCell(s string) string {
	s = safetext.Line(safetext.Redact(s))
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		s = "'" + s
	}
	return s
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// WriteHistoryCSV writes events as CSV, HistoryCSVHeader first.
func WriteHistoryCSV(w io.Writer, evs []Event) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(HistoryCSVHeader); err != nil {
		return fmt.Errorf("write history CSV: %w", err)
	}
	for _, e := range evs {
		tm := e.Time
		if err := cw.Write([]string{
			csvTime(&tm), csvCell(e.UseCase), csvCell(e.Target), csvCell(string(e.Outcome)), csvCell(e.ID), csvCell(e.Actor), csvCell(e.Tool),
			csvCell(e.NewTokenID), csvCell(e.NewTokenPrefix), csvCell(e.NewTokenLast4), csvTime(e.NewExpiresAt), csvTime(e.WrittenAt),
			csvCell(strings.Join(e.Replaced, " ")), csvCell(strings.Join(e.Revoked, " ")), csvCell(strings.Join(e.Pending, " ")),
			csvCell(strings.Join(e.TooRecent, " ")), csvCell(e.Step), csvCell(e.Error), strconv.FormatBool(e.OutcomeUnknown),
			strconv.FormatFloat(e.Duration.Seconds(), 'f', 3, 64),
		}); err != nil {
			return fmt.Errorf("write history CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write history CSV: %w", err)
	}
	return nil
}
