package groo

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestListRefusesUnsafeFields: a token field from the server that could
// inject a line, a terminal escape, a bidi override or a workflow command
// into what the tools print, or that is out of bounds, is refused like a
// malformed answer, naming the field without echoing the value.
func TestListRefusesUnsafeFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, field string
		value       any
		wantID      string // the id the error names ("" when the id itself is refused)
	}{
		{"id with a slash", "id", "tok/../x", ""},
		{"id with a newline", "id", "tok_1\n::error::x", ""},
		{"id too long", "id", strings.Repeat("a", 65), ""},
		{"name with a newline", "name", "GitHub Actions\n::error::pwned", "tok_1"},
		{"name with a carriage return", "name", "a\rb", "tok_1"},
		{"name with a tab", "name", "a\tb", "tok_1"},
		{"name with an escape", "name", "\x1b[31mred", "tok_1"},
		{"name with DEL", "name", "a\x7fb", "tok_1"},
		{"name with a C1 control", "name", "a\u009bb", "tok_1"},
		{"name with a bidi override", "name", "abc\u202etxt.exe", "tok_1"},
		{"name with a bidi isolate", "name", "abc\u2066x\u2069", "tok_1"},
		{"name too long", "name", strings.Repeat("n", MaxNameLen+1), "tok_1"},
		{"description with a newline", "description", "Managed by x\n::warning::y", "tok_1"},
		{"description too long", "description", strings.Repeat("d", MaxDescriptionLen+1), "tok_1"},
		{"prefix not a groo prefix", "tokenPrefix", "ghp_ab", "tok_1"},
		{"prefix upper case", "tokenPrefix", "groo_pat_AB", "tok_1"},
		{"prefix with a newline", "tokenPrefix", "groo_pat_ab\n", "tok_1"},
		{"lastFour too long", "lastFour", "c1834", "tok_1"},
		{"lastFour not hex", "lastFour", "::e:", "tok_1"},
		{"lastFour upper case", "lastFour", "C183", "tok_1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := tokenJSON("tok_1")
			tok[tc.field] = tc.value
			body, _ := json.Marshal(map[string]any{"tokens": []any{tokenJSON("tok_0"), tok}})
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(200)
				_, _ = w.Write(body)
			})
			h := newHarness(t, f.URL)
			got, err := h.List(t.Context(), cred(t))
			if err == nil {
				t.Fatalf("List accepted %s = %q: %+v", tc.field, tc.value, got)
			}
			var fe *InvalidFieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want an *InvalidFieldError", err)
			}
			if fe.Field != tc.field || fe.TokenID != tc.wantID {
				t.Errorf("refused field %q of token %q, want %q of %q", fe.Field, fe.TokenID, tc.field, tc.wantID)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "groo list tokens: malformed answer: tokens[1]: ") ||
				!strings.Contains(msg, `field "`+tc.field+`" refused`) {
				t.Errorf("err = %q, want the malformed answer, the index and the field", msg)
			}
			if s, ok := tc.value.(string); ok && len(s) > 3 && strings.Contains(msg, s) {
				t.Errorf("err echoes the refused value: %q", msg)
			}
			if strings.ContainsAny(msg, "\n\r\t\x1b\x7f\u009b\u202e\u2066") || strings.Contains(msg, "::") {
				t.Errorf("err holds an unsafe character: %q", msg)
			}
			if got != nil {
				t.Errorf("List returned tokens with its error: %+v", got)
			}
		})
	}
}

func TestListAcceptsPrintableFields(t *testing.T) {
	t.Parallel()
	tok := tokenJSON("tok_A-9_z")
	tok["name"] = "GitHub Actions - octo/app env:prod/eu GROO_PAT ✅ é"
	tok["description"] = "Managed by pat-action for repo:octo/app GROO_PAT (attempt att_1)"
	delete(tok, "lastFour")
	delete(tok, "createdAt")
	body, _ := json.Marshal(map[string]any{"tokens": []any{tok}})
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(200)
		_, _ = w.Write(body)
	})
	got, err := newHarness(t, f.URL).List(t.Context(), cred(t))
	if err != nil || len(got) != 1 {
		t.Fatalf("List = %+v, %v", got, err)
	}
	if got[0].ID != "tok_A-9_z" || got[0].Name != tok["name"] || got[0].LastFour != "" {
		t.Errorf("List = %+v", got[0])
	}
	// A missing createdAt is unknown, never a valid-looking time.
	if got[0].CreatedAtKnown() || !got[0].CreatedAt.IsZero() {
		t.Errorf("CreatedAt = %v, known %v; want zero and unknown", got[0].CreatedAt, got[0].CreatedAtKnown())
	}
}

// TestCreateRefusesUnsafeFieldsKeepsID: a mint whose answer has a hostile
// name is unusable (outcome unknown) but returns the id, so that the caller
// can revoke the token it may have created.
func TestCreateRefusesUnsafeFieldsKeepsID(t *testing.T) {
	t.Parallel()
	tok := tokenJSON("tok_new")
	tok["name"] = "x\n::error::y"
	body, _ := json.Marshal(map[string]any{"token": tok, "secret": mintedValue})
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(201)
		_, _ = w.Write(body)
	})
	info, minted, err := newHarness(t, f.URL).Create(t.Context(), cred(t), CreateRequest{Name: "GitHub Actions - octo/app GROO_PAT"})
	var ou *OutcomeUnknownError
	var fe *InvalidFieldError
	if !errors.As(err, &ou) || !errors.As(err, &fe) || fe.Field != "name" {
		t.Fatalf("err = %v, want an outcome unknown from an *InvalidFieldError on name", err)
	}
	if info.ID != "tok_new" || !minted.IsZero() || info.Name != "" {
		t.Errorf("Create = %+v, %v; want only the id", info, minted)
	}
	assertNoSecret(t, "error", err.Error())
}

func TestMeRefusesUnsafeUserID(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		writeJSON(w, 200, map[string]any{"user": map[string]any{"id": "usr_1\n::error::x"}})
	})
	_, err := newHarness(t, f.URL).Me(t.Context(), cred(t))
	var fe *InvalidFieldError
	if !errors.As(err, &fe) || fe.Field != "user.id" || strings.Contains(err.Error(), "::error") {
		t.Fatalf("err = %v, want an *InvalidFieldError on user.id", err)
	}
}
