package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestJSONLinesOneLinePerEvent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	rec := NewJSONLines(&buf)
	exp := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	events := []Event{
		{ID: "att_1", Outcome: OutcomeStarted, UseCase: "GitHub Actions - octo/app GROO_PAT", Target: "repo:octo/app GROO_PAT", Tool: "pat-action"},
		{ID: "att_1", Outcome: OutcomeSucceeded, NewTokenID: "tok_new", NewTokenLast4: "c183", NewExpiresAt: &exp,
			Revoked: []string{"tok_old"}, Duration: 1500 * time.Millisecond},
	}
	for _, e := range events {
		if err := rec.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	sc := bufio.NewScanner(&buf)
	var got []Event
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, e)
	}
	if len(got) != 2 {
		t.Fatalf("got %d lines, want 2", len(got))
	}
	if got[1].Outcome != OutcomeSucceeded || got[1].NewTokenID != "tok_new" || got[1].Revoked[0] != "tok_old" ||
		!got[1].NewExpiresAt.Equal(exp) || got[1].Duration != 1500*time.Millisecond {
		t.Errorf("round trip lost fields: %+v", got[1])
	}
}

// TestJSONLinesConcurrent checks that events recorded at once never share a line.
func TestJSONLinesConcurrent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	rec := NewJSONLines(&buf)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = rec.Record(context.Background(), Event{ID: "att", Outcome: OutcomeStarted, UseCase: "u"})
		}()
	}
	wg.Wait()
	n := 0
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is not one event: %v", n, err)
		}
		n++
	}
	if n != 50 {
		t.Errorf("got %d lines, want 50", n)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestJSONLinesWriteError(t *testing.T) {
	t.Parallel()
	err := NewJSONLines(failWriter{}).Record(context.Background(), Event{ID: "att_9"})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("att_9")) {
		t.Errorf("err = %v, want one naming the event", err)
	}
}
