package groo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// grooAPI mirrors rotation.GrooAPI, which this package cannot import.
type grooAPI interface {
	Me(ctx context.Context, cred Token) (User, error)
	List(ctx context.Context, cred Token) ([]TokenInfo, error)
	Create(ctx context.Context, cred Token, req CreateRequest) (TokenInfo, Token, error)
	Revoke(ctx context.Context, cred Token, id string) error
}

var _ grooAPI = (*Client)(nil)

func tokenJSON(id string) map[string]any {
	return map[string]any{
		"id": id, "name": "GitHub Actions - octo/app GROO_PAT", "description": nil,
		"tokenPrefix": "groo_pat_5e", "lastFour": "9abc", "lastUsed": nil,
		"expiresAt": "2026-12-04T03:00:00.000Z", "revoked": false, "createdAt": "2026-11-27T03:00:00.000Z",
	}
}

// route is one API call, with what a fake answers on success.
type route struct {
	name, method, path, op string
	mint                   bool
	call                   func(ctx context.Context, c *Client, cred Token) error
	ok                     func(w http.ResponseWriter)
}

var routes = []route{
	{
		name: "me", method: http.MethodGet, path: "/v1/auth/me", op: "get current user",
		call: func(ctx context.Context, c *Client, cred Token) error { _, err := c.Me(ctx, cred); return err },
		ok: func(w http.ResponseWriter) {
			writeJSON(w, 200, map[string]any{"user": map[string]any{"id": "usr_1", "email": "a@example.com", "phone": nil}})
		},
	},
	{
		name: "list", method: http.MethodGet, path: "/v1/account/tokens", op: "list tokens",
		call: func(ctx context.Context, c *Client, cred Token) error { _, err := c.List(ctx, cred); return err },
		ok:   func(w http.ResponseWriter) { writeJSON(w, 200, map[string]any{"tokens": []any{tokenJSON("tok_1")}}) },
	},
	{
		name: "create", method: http.MethodPost, path: "/v1/account/tokens", op: "create token", mint: true,
		call: func(ctx context.Context, c *Client, cred Token) error {
			_, _, err := c.Create(ctx, cred, CreateRequest{Name: "n", ExpiresAt: time.Now().Add(time.Hour)})
			return err
		},
		ok: func(w http.ResponseWriter) {
			writeJSON(w, 201, map[string]any{"token": tokenJSON("tok_new"), "secret": mintedValue})
		},
	},
	{
		name: "revoke", method: http.MethodDelete, path: "/v1/account/tokens/tok_1", op: "revoke token tok_1",
		call: func(ctx context.Context, c *Client, cred Token) error { return c.Revoke(ctx, cred, "tok_1") },
		ok:   func(w http.ResponseWriter) { writeJSON(w, 200, map[string]any{"revoked": true}) },
	},
}

func TestRoutesSendCredentialAndHeaders(t *testing.T) {
	t.Parallel()
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { rt.ok(w) })
			h := newHarness(t, f.URL, WithUserAgent("test-agent/1"))
			if err := rt.call(t.Context(), h.Client, cred(t)); err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != rt.method || r.Path != rt.path {
				t.Errorf("request %s %s, want %s %s", r.Method, r.Path, rt.method, rt.path)
			}
			if r.Cookie != "session="+credValue {
				t.Errorf("Cookie header is not the session cookie with the credential")
			}
			if r.Auth != "" {
				t.Errorf("Authorization header sent as well")
			}
			if r.UserAgent != "test-agent/1" || r.Accept != "application/json" {
				t.Errorf("User-Agent %q Accept %q", r.UserAgent, r.Accept)
			}
			if rt.mint != (r.ContentType == "application/json") {
				t.Errorf("Content-Type %q", r.ContentType)
			}
		})
	}
}

func TestMe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    User
		wantErr bool
	}{
		{"user", `{"user":{"id":"usr_1","email":"a@example.com","phone":null}}`, User{ID: "usr_1", Email: "a@example.com"}, false},
		{"phone", `{"user":{"id":"usr_1","email":"a@example.com","phone":"+1555"}}`, User{ID: "usr_1", Email: "a@example.com", Phone: ptr("+1555")}, false},
		{"extra fields", `{"user":{"id":"usr_1","email":"e","role":"admin"},"session":{}}`, User{ID: "usr_1", Email: "e"}, false},
		{"null user", `{"user":null}`, User{}, true},
		{"no id", `{"user":{"email":"e"}}`, User{}, true},
		{"not json", `<html>`, User{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(200)
				_, _ = w.Write([]byte(tc.body))
			})
			h := newHarness(t, f.URL)
			u, err := h.Me(t.Context(), cred(t))
			if tc.wantErr {
				if err == nil || !strings.HasPrefix(err.Error(), "groo get current user: malformed answer") {
					t.Fatalf("err = %v, want a malformed answer", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Me: %v", err)
			}
			if !reflect.DeepEqual(u, tc.want) {
				t.Errorf("Me = %+v, want %+v", u, tc.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	at := func(s string) *time.Time { v, _ := time.Parse(time.RFC3339Nano, s); v = v.UTC(); return &v }
	tests := []struct {
		name    string
		body    string
		want    []TokenInfo
		wantErr string
	}{
		{
			name: "full token",
			body: `{"tokens":[{"id":"tok_1","name":"n","description":"d","tokenPrefix":"groo_pat_ab","lastFour":"c183",
				"lastUsed":"2026-11-28T03:00:00.123Z","expiresAt":"2026-12-04T03:00:00.000Z","revoked":true,"createdAt":"2026-11-27T03:00:00.000Z"}]}`,
			want: []TokenInfo{{ID: "tok_1", Name: "n", Description: ptr("d"), TokenPrefix: "groo_pat_ab", LastFour: "c183",
				LastUsed: at("2026-11-28T03:00:00.123Z"), ExpiresAt: at("2026-12-04T03:00:00Z"), Revoked: true,
				CreatedAt: *at("2026-11-27T03:00:00Z")}},
		},
		{
			name: "absent lastFour, nulls, no milliseconds, offset",
			body: `{"tokens":[{"id":"tok_2","name":"n","description":null,"tokenPrefix":"groo_pat_ab",
				"lastUsed":null,"expiresAt":null,"revoked":false,"createdAt":"2026-11-27T05:00:00+02:00"}]}`,
			want: []TokenInfo{{ID: "tok_2", Name: "n", TokenPrefix: "groo_pat_ab", CreatedAt: *at("2026-11-27T03:00:00Z")}},
		},
		{
			name: "absent optional fields",
			body: `{"tokens":[{"id":"tok_3","name":"n","createdAt":"2026-11-27T03:00:00Z"}]}`,
			want: []TokenInfo{{ID: "tok_3", Name: "n", CreatedAt: *at("2026-11-27T03:00:00Z")}},
		},
		{name: "empty", body: `{"tokens":[]}`, want: []TokenInfo{}},
		{name: "null list", body: `{"tokens":null}`, want: []TokenInfo{}},
		{name: "no tokens key", body: `{}`, wantErr: `no "tokens"`},
		{name: "token without id", body: `{"tokens":[{"name":"n"}]}`, wantErr: `tokens[0]: token without "id"`},
		{name: "bad time", body: `{"tokens":[{"id":"tok_1","expiresAt":"tomorrow"}]}`, wantErr: `token tok_1: field "expiresAt"`},
		{name: "not an object", body: `[]`, wantErr: "decode JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(200)
				_, _ = w.Write([]byte(tc.body))
			})
			h := newHarness(t, f.URL)
			got, err := h.List(t.Context(), cred(t))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "groo list tokens: malformed answer") {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("List =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		req      CreateRequest
		wantBody string
	}{
		{
			name:     "all fields",
			req:      CreateRequest{Name: "GitHub Actions - octo/app GROO_PAT", Description: "pat-action nonce=abc", ExpiresAt: now.Add(7 * 24 * time.Hour)},
			wantBody: `{"name":"GitHub Actions - octo/app GROO_PAT","description":"pat-action nonce=abc","expiresAt":"2026-12-04T03:00:00.000Z"}`,
		},
		{
			name:     "expiry in another zone with nanoseconds",
			req:      CreateRequest{Name: "n", ExpiresAt: time.Date(2026, 12, 4, 4, 0, 0, 123456789, time.FixedZone("CET", 3600))},
			wantBody: `{"name":"n","expiresAt":"2026-12-04T03:00:00.123Z"}`,
		},
		{name: "name only", req: CreateRequest{Name: "n"}, wantBody: `{"name":"n"}`},
		{name: "100 characters", req: CreateRequest{Name: strings.Repeat("é", 100)}, wantBody: `{"name":"` + strings.Repeat("é", 100) + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				writeJSON(w, 201, map[string]any{"token": tokenJSON("tok_new"), "secret": mintedValue})
			})
			h := newHarness(t, f.URL, WithClock(func() time.Time { return now }))
			info, tok, err := h.Create(t.Context(), cred(t), tc.req)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if tok.Reveal() != mintedValue {
				t.Errorf("Create returned another secret: %v", tok)
			}
			if info.ID != "tok_new" || info.LastFour != "9abc" || info.ExpiresAt == nil {
				t.Errorf("info = %+v", info)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			if string(reqs[0].Body) != tc.wantBody {
				t.Errorf("body %s\nwant %s", reqs[0].Body, tc.wantBody)
			}
			if !strings.Contains(h.logs.String(), "groo_pat_5e…9abc") {
				t.Errorf("the mint is not logged with the redacted token:\n%s", h.logs)
			}
		})
	}
}

func TestCreateChecksBeforeRequest(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		req  CreateRequest
		want string
	}{
		{"empty name", CreateRequest{}, "name is empty"},
		{"blank name", CreateRequest{Name: " \t"}, "name is empty"},
		{"name too long", CreateRequest{Name: strings.Repeat("x", 101)}, "name has 101 characters"},
		{"expiry now", CreateRequest{Name: "n", ExpiresAt: now}, "not in the future"},
		{"expiry past", CreateRequest{Name: "n", ExpiresAt: now.Add(-time.Second)}, "not in the future"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { t.Error("request made") })
			h := newHarness(t, f.URL, WithClock(func() time.Time { return now }))
			_, _, err := h.Create(t.Context(), cred(t), tc.req)
			if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidRequest with %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "groo create token: ") {
				t.Errorf("err %q lacks the operation", err)
			}
			if n := f.count(); n != 0 {
				t.Errorf("%d requests made", n)
			}
		})
	}
}

func TestCreateUnusableAnswer(t *testing.T) {
	t.Parallel()
	malformed := strings.ToUpper(mintedValue[len(Prefix):])
	tests := []struct {
		name   string
		body   string
		wantID string
	}{
		{"malformed secret", `{"token":{"id":"tok_new","name":"n"},"secret":"groo_pat_` + malformed + `"}`, "tok_new"},
		{"secret too short", `{"token":{"id":"tok_new","name":"n"},"secret":"` + mintedValue[:40] + `"}`, "tok_new"},
		{"no secret", `{"token":{"id":"tok_new","name":"n"}}`, "tok_new"},
		{"no token", `{"secret":"` + mintedValue + `"}`, ""},
		{"secret not a string", `{"token":{"id":"tok_new"},"secret":12345678901234567890}`, ""},
		{"not json", `{"token":`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(201)
				_, _ = w.Write([]byte(tc.body))
			})
			h := newHarness(t, f.URL)
			info, tok, err := h.Create(t.Context(), cred(t), CreateRequest{Name: "n"})
			var ou *OutcomeUnknownError
			if !errors.As(err, &ou) {
				t.Fatalf("err = %v, want *OutcomeUnknownError", err)
			}
			assertNoSecret(t, "error", err.Error())
			if strings.Contains(err.Error(), malformed) || strings.Contains(err.Error(), mintedValue[:40]) {
				t.Errorf("error quotes the secret: %v", err)
			}
			if !tok.IsZero() || info.ID != tc.wantID {
				t.Errorf("token zero %v, info id %q want %q", tok.IsZero(), info.ID, tc.wantID)
			}
			if n := f.count(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		id       string
		status   int
		body     string
		wantPath string
	}{
		{"revoked", "tok_1", 200, `{"revoked":true}`, "/v1/account/tokens/tok_1"},
		{"already revoked answers 200 again", "tok_1", 200, `{"revoked":true}`, "/v1/account/tokens/tok_1"},
		{"no content", "tok_1", 204, ``, "/v1/account/tokens/tok_1"},
		{"unknown id is already gone", "tok_x", 404, `{"error":"token not found","code":"not_found"}`, "/v1/account/tokens/tok_x"},
		{"id escaped", "tok 1/2?x", 200, `{"revoked":true}`, "/v1/account/tokens/tok%201%2F2%3Fx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			h := newHarness(t, f.URL)
			if err := h.Revoke(t.Context(), cred(t), tc.id); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 || reqs[0].Method != http.MethodDelete || reqs[0].Path != tc.wantPath {
				t.Fatalf("requests %+v, want one DELETE %s", reqs, tc.wantPath)
			}
		})
	}
}

func TestRevokeRefusesBadIDs(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", ".", "..", credValue, mintedValue} {
		t.Run(fmt.Sprintf("%.12q", id), func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { t.Error("request made") })
			h := newHarness(t, f.URL)
			err := h.Revoke(t.Context(), cred(t), id)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
			assertNoSecret(t, "error", err.Error())
			if n := f.count(); n != 0 {
				t.Errorf("%d requests made", n)
			}
		})
	}
}

func TestCredentialRefusedBeforeRequest(t *testing.T) {
	t.Parallel()
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { t.Error("request made") })
			h := newHarness(t, f.URL)
			err := rt.call(t.Context(), h.Client, Token{})
			if !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("err = %v, want ErrMalformedToken", err)
			}
			if !strings.HasPrefix(err.Error(), "groo "+rt.op+": ") {
				t.Errorf("err %q lacks the operation", err)
			}
			if n := f.count(); n != 0 {
				t.Errorf("%d requests made", n)
			}
		})
	}
}

// TestErrorKinds answers every route with every error status and checks the
// error's type, fields, text and how many attempts were made.
func TestErrorKinds(t *testing.T) {
	t.Parallel()
	statuses := []struct {
		status int
		code   string
		as     func(error) bool
	}{
		{400, "invalid_request", func(err error) bool { var e *InvalidRequestError; return errors.As(err, &e) }},
		{401, "unauthorized", func(err error) bool { var e *UnauthorizedError; return errors.As(err, &e) }},
		{403, "forbidden", func(err error) bool { var e *ForbiddenError; return errors.As(err, &e) }},
		{404, "not_found", func(err error) bool { var e *NotFoundError; return errors.As(err, &e) }},
		{409, "conflict", func(err error) bool { return true }},
		{429, "rate_limited", func(err error) bool { var e *RateLimitedError; return errors.As(err, &e) }},
		{500, "internal", func(err error) bool { return true }},
		{503, "unavailable", func(err error) bool { return true }},
	}
	typed := func(err error) int {
		n := 0
		for _, ok := range []bool{
			errors.As(err, new(*InvalidRequestError)), errors.As(err, new(*UnauthorizedError)),
			errors.As(err, new(*ForbiddenError)), errors.As(err, new(*NotFoundError)), errors.As(err, new(*RateLimitedError)),
		} {
			if ok {
				n++
			}
		}
		return n
	}
	for _, rt := range routes {
		for _, st := range statuses {
			t.Run(fmt.Sprintf("%s/%d", rt.name, st.status), func(t *testing.T) {
				t.Parallel()
				msg := "the " + st.code + " message"
				f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeErr(w, st.status, st.code, msg) })
				h := newHarness(t, f.URL)
				err := rt.call(t.Context(), h.Client, cred(t))

				if rt.method == http.MethodDelete && st.status == 404 {
					if err != nil {
						t.Fatalf("revoke of an unknown id: %v, want nil", err)
					}
					return
				}
				var ae *APIError
				if !errors.As(err, &ae) {
					t.Fatalf("err = %v, want an *APIError", err)
				}
				if ae.StatusCode != st.status || ae.Code != st.code || ae.Message != msg || ae.Op != rt.op {
					t.Errorf("APIError %+v", *ae)
				}
				if !st.as(err) {
					t.Errorf("err %v is not the typed error for %d", err, st.status)
				}
				wantTyped := 1
				if st.status == 409 || st.status >= 500 {
					wantTyped = 0
				}
				if got := typed(err); got != wantTyped {
					t.Errorf("err matches %d typed errors, want %d", got, wantTyped)
				}
				prefix := fmt.Sprintf("groo %s: HTTP %d %s: %s", rt.op, st.status, st.code, msg)
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("err %q, want prefix %q", err, prefix)
				}
				isOU := errors.As(err, new(*OutcomeUnknownError))
				if want := rt.mint && st.status >= 500; isOU != want {
					t.Errorf("OutcomeUnknownError %v, want %v", isOU, want)
				}

				wantAttempts := 1
				switch {
				case st.status == 429:
					wantAttempts = DefaultMaxAttempts
				case st.status >= 500 && !rt.mint:
					wantAttempts = DefaultMaxAttempts
				}
				if n := f.count(); n != wantAttempts {
					t.Errorf("%d attempts, want %d", n, wantAttempts)
				}
				if n := len(h.recordedWaits()); n != wantAttempts-1 {
					t.Errorf("%d waits, want %d", n, wantAttempts-1)
				}
				if wantAttempts > 1 && !strings.Contains(err.Error(), fmt.Sprintf("gave up after %d attempts", wantAttempts)) {
					t.Errorf("err %q does not say how many attempts were made", err)
				}
			})
		}
	}
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"message without code", `{"error":"token revoked"}`, "groo revoke token tok_1: HTTP 401: token revoked"},
		{"code and message", `{"error":"token revoked","code":"unauthorized"}`, "groo revoke token tok_1: HTTP 401 unauthorized: token revoked"},
		{"not json", `<html>nope</html>`, "groo revoke token tok_1: HTTP 401: Unauthorized"},
		{"empty", ``, "groo revoke token tok_1: HTTP 401: Unauthorized"},
		{"control characters", `{"error":"line1\nline2 \u001b[31m \u202e ::error::x"}`, `groo revoke token tok_1: HTTP 401: line1\nline2 \x1b[31m \u202e :\:error:\:x`},
		{"echoed credential upper-cased", `{"error":"bad session ` + strings.ToUpper(credValue) + `!"}`, "groo revoke token tok_1: HTTP 401: bad session GROO_PAT_[redacted]!"},
		{"echoed old token being revoked", `{"error":"token ` + oldValue + ` is gone"}`, "groo revoke token tok_1: HTTP 401: token groo_pat_…beef is gone"},
		{"echoed credential", `{"error":"bad session ` + credValue + `!"}`, "groo revoke token tok_1: HTTP 401: bad session groo_pat_[redacted]!"},
		{"echoed hex", `{"error":"bad ` + credValue[len(Prefix):] + `","code":"` + credValue + `"}`, "groo revoke token tok_1: HTTP 401 groo_pat_[redacted]: bad [redacted]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(401)
				_, _ = w.Write([]byte(tc.body))
			})
			h := newHarness(t, f.URL)
			err := h.Revoke(t.Context(), cred(t), "tok_1")
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant   %s", err, tc.want)
			}
			assertNoSecret(t, "error", err.Error())
			if !errors.As(err, new(*UnauthorizedError)) {
				t.Errorf("not an *UnauthorizedError")
			}
		})
	}
}

// failures a fake can answer an attempt with.
var failures = map[string]func(w http.ResponseWriter, r *http.Request){
	"500":     func(w http.ResponseWriter, _ *http.Request) { writeErr(w, 500, "", "boom") },
	"502":     func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) },
	"503":     func(w http.ResponseWriter, _ *http.Request) { writeErr(w, 503, "unavailable", "busy") },
	"timeout": hang,
	"dropped": drop,
	// truncated answers 200 with a body shorter than announced.
	"truncated": func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"tok`))
		w.(http.Flusher).Flush()
		drop(w, nil)
	},
}

func TestRetriesIdempotent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		fail         []string // answers of the first attempts; the rest succeed
		wantAttempts int
		wantErr      bool
	}{
		{"500 then ok", []string{"500"}, 2, false},
		{"502 then ok", []string{"502"}, 2, false},
		{"503 three times then ok", []string{"503", "503", "503"}, 4, false},
		{"timeout then ok", []string{"timeout"}, 2, false},
		{"dropped then ok", []string{"dropped"}, 2, false},
		{"truncated then ok", []string{"truncated"}, 2, false},
		{"mixed then ok", []string{"dropped", "timeout", "503"}, 4, false},
		{"always 503", []string{"503", "503", "503", "503", "503"}, 4, true},
		{"always timeout", []string{"timeout", "timeout", "timeout", "timeout"}, 4, true},
		{"always dropped", []string{"dropped", "dropped", "dropped", "dropped"}, 4, true},
	}
	for _, rt := range routes {
		if rt.mint {
			continue
		}
		for _, tc := range tests {
			t.Run(rt.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
					if n <= len(tc.fail) {
						failures[tc.fail[n-1]](w, r)
						return
					}
					rt.ok(w)
				})
				h := newHarness(t, f.URL, WithRequestTimeout(300*time.Millisecond))
				err := rt.call(t.Context(), h.Client, cred(t))
				if tc.wantErr != (err != nil) {
					t.Fatalf("err = %v, want error %v", err, tc.wantErr)
				}
				if err != nil {
					assertNoSecret(t, "error", err.Error())
					if !strings.HasPrefix(err.Error(), "groo "+rt.op+": ") || !strings.Contains(err.Error(), "gave up after 4 attempts") {
						t.Errorf("err %q", err)
					}
				}
				if n := f.count(); n != tc.wantAttempts {
					t.Errorf("%d attempts, want %d", n, tc.wantAttempts)
				}
				waits := h.recordedWaits()
				if len(waits) != tc.wantAttempts-1 {
					t.Fatalf("%d waits, want %d", len(waits), tc.wantAttempts-1)
				}
				for i, d := range waits {
					if d < DefaultInitialBackoff/2 || d > DefaultMaxBackoff {
						t.Errorf("wait %d is %s, want within [%s, %s]", i, d, DefaultInitialBackoff/2, DefaultMaxBackoff)
					}
				}
				if len(waits) > 0 && waits[0] > DefaultInitialBackoff*3/2+time.Millisecond {
					t.Errorf("first wait %s, want about %s", waits[0], DefaultInitialBackoff)
				}
			})
		}
	}
}

func TestBackoffCappedAndGrowing(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(503) })
	h := newHarness(t, f.URL, WithRetry(8, 100*time.Millisecond, 400*time.Millisecond))
	_, err := h.List(t.Context(), cred(t))
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Fatalf("err = %v, want HTTP 503", err)
	}
	waits := h.recordedWaits()
	if len(waits) != 7 || f.count() != 8 {
		t.Fatalf("%d waits and %d attempts, want 7 and 8", len(waits), f.count())
	}
	// Jitter is ±50% around 100ms, 200ms, 400ms, 400ms...: the cap holds and
	// the last waits are never below half the cap.
	for i, d := range waits {
		if d > 400*time.Millisecond || d < 50*time.Millisecond {
			t.Errorf("wait %d = %s, outside [50ms, 400ms]", i, d)
		}
		if i >= 2 && d < 200*time.Millisecond {
			t.Errorf("wait %d = %s, want at least 200ms once the interval reached the cap", i, d)
		}
	}
}

func TestMintNotRetried(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"500", "502", "503", "timeout", "dropped", "truncated"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					failures[name](w, r)
					return
				}
				writeJSON(w, 201, map[string]any{"token": tokenJSON("tok_new"), "secret": mintedValue})
			})
			h := newHarness(t, f.URL, WithRequestTimeout(300*time.Millisecond))
			_, tok, err := h.Create(t.Context(), cred(t), CreateRequest{Name: "n"})
			var ou *OutcomeUnknownError
			if !errors.As(err, &ou) || ou.Op != "create token" {
				t.Fatalf("err = %v, want *OutcomeUnknownError", err)
			}
			if !strings.HasPrefix(err.Error(), "groo create token: ") || !strings.Contains(err.Error(), "outcome unknown") {
				t.Errorf("err %q", err)
			}
			assertNoSecret(t, "error", err.Error())
			var ae *APIError
			if isHTTP := name[0] == '5'; errors.As(err, &ae) != isHTTP {
				t.Errorf("errors.As *APIError = %v, want %v", !isHTTP, isHTTP)
			}
			if !tok.IsZero() {
				t.Errorf("a token came back with the error")
			}
			if n := f.count(); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
			if n := len(h.recordedWaits()); n != 0 {
				t.Errorf("%d waits, want 0", n)
			}
		})
	}
}

// TestNotSentRetried: when no connection could be made the server cannot
// have acted, so every call, a mint included, is retried.
func TestNotSentRetried(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	_ = ln.Close()
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, base)
			err := rt.call(t.Context(), h.Client, cred(t))
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "dial" {
				t.Fatalf("err = %v, want a dial error", err)
			}
			if errors.As(err, new(*OutcomeUnknownError)) {
				t.Errorf("a mint that never connected is reported as outcome unknown")
			}
			if n := len(h.recordedWaits()); n != DefaultMaxAttempts-1 {
				t.Errorf("%d waits, want %d", n, DefaultMaxAttempts-1)
			}
		})
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		retryAfter   []string // Retry-After of each 429; then success
		always       bool     // every attempt answers 429
		wantWaits    []time.Duration
		wantAttempts int
		wantAfter    time.Duration // RetryAfter on the final error
	}{
		{name: "seconds", retryAfter: []string{"2"}, wantWaits: []time.Duration{2 * time.Second}, wantAttempts: 2},
		{name: "zero", retryAfter: []string{"0"}, wantWaits: []time.Duration{0}, wantAttempts: 2},
		{name: "http date", retryAfter: []string{now.Add(3 * time.Second).Format(http.TimeFormat)}, wantWaits: []time.Duration{3 * time.Second}, wantAttempts: 2},
		{name: "date in the past", retryAfter: []string{now.Add(-time.Minute).Format(http.TimeFormat)}, wantWaits: []time.Duration{0}, wantAttempts: 2},
		{name: "at the cap", retryAfter: []string{"30"}, wantWaits: []time.Duration{30 * time.Second}, wantAttempts: 2},
		{name: "twice", retryAfter: []string{"1", "2"}, wantWaits: []time.Duration{time.Second, 2 * time.Second}, wantAttempts: 3},
		{name: "beyond the cap", retryAfter: []string{"120"}, always: true, wantAttempts: 1, wantAfter: 2 * time.Minute},
		{name: "always", retryAfter: []string{"1"}, always: true, wantWaits: []time.Duration{time.Second, time.Second, time.Second}, wantAttempts: 4, wantAfter: time.Second},
	}
	for _, rt := range routes {
		for _, tc := range tests {
			t.Run(rt.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				f := newFake(t, func(w http.ResponseWriter, _ *http.Request, n int) {
					if tc.always || n <= len(tc.retryAfter) {
						w.Header().Set("Retry-After", tc.retryAfter[min(n, len(tc.retryAfter))-1])
						writeErr(w, 429, "rate_limited", "slow down")
						return
					}
					rt.ok(w)
				})
				h := newHarness(t, f.URL, WithClock(func() time.Time { return now }))
				err := rt.call(t.Context(), h.Client, cred(t))
				if tc.always {
					var rl *RateLimitedError
					if !errors.As(err, &rl) {
						t.Fatalf("err = %v, want *RateLimitedError", err)
					}
					if rl.RetryAfter != tc.wantAfter {
						t.Errorf("RetryAfter = %s, want %s", rl.RetryAfter, tc.wantAfter)
					}
					if errors.As(err, new(*OutcomeUnknownError)) {
						t.Errorf("a 429 is reported as outcome unknown")
					}
				} else if err != nil {
					t.Fatalf("call: %v", err)
				}
				if n := f.count(); n != tc.wantAttempts {
					t.Errorf("%d attempts, want %d", n, tc.wantAttempts)
				}
				if got := h.recordedWaits(); !reflect.DeepEqual(got, tc.wantWaits) && (len(got) != 0 || len(tc.wantWaits) != 0) {
					t.Errorf("waits %v, want %v", got, tc.wantWaits)
				}
			})
		}
	}
}

func TestRateLimitedWithoutRetryAfterBacksOff(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(429)
			return
		}
		routes[2].ok(w)
	})
	h := newHarness(t, f.URL)
	if _, _, err := h.Create(t.Context(), cred(t), CreateRequest{Name: "n"}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	waits := h.recordedWaits()
	if len(waits) != 1 || waits[0] < DefaultInitialBackoff/2 || waits[0] > DefaultInitialBackoff*3/2+time.Millisecond {
		t.Errorf("waits %v, want one backoff around %s", waits, DefaultInitialBackoff)
	}
	if f.count() != 2 {
		t.Errorf("%d attempts, want 2", f.count())
	}
}

func TestRetryAfterParsing(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", -1}, {"abc", -1}, {"-3", -1}, {"1.5", -1},
		{"0", 0}, {" 7 ", 7 * time.Second},
		{"99999999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(5 * time.Second).Format(time.RFC850), 5 * time.Second},
	}
	for _, tc := range tests {
		if got := retryAfter(tc.in, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()

	t.Run("cancelled before", func(t *testing.T) {
		t.Parallel()
		for _, rt := range routes {
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { t.Error("request made") })
			h := newHarness(t, f.URL)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := rt.call(ctx, h.Client, cred(t)); !errors.Is(err, context.Canceled) {
				t.Errorf("%s: err = %v, want context.Canceled", rt.name, err)
			}
		}
	})

	t.Run("cancelled while waiting to retry", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) { writeErr(w, 503, "", "busy") })
		ctx, cancel := context.WithCancel(t.Context())
		h := newHarness(t, f.URL, WithSleep(func(ctx context.Context, _ time.Duration) error {
			cancel()
			return context.Cause(ctx)
		}))
		_, err := h.List(ctx, cred(t))
		var ae *APIError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &ae) || ae.StatusCode != 503 {
			t.Fatalf("err = %v, want context.Canceled and the last HTTP 503", err)
		}
		if f.count() != 1 {
			t.Errorf("%d attempts, want 1", f.count())
		}
	})

	t.Run("mint cancelled in flight", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			cancel()
			<-r.Context().Done()
		})
		h := newHarness(t, f.URL)
		_, _, err := h.Create(ctx, cred(t), CreateRequest{Name: "n"})
		if !errors.Is(err, context.Canceled) || !errors.As(err, new(*OutcomeUnknownError)) {
			t.Fatalf("err = %v, want context.Canceled and *OutcomeUnknownError", err)
		}
		if f.count() != 1 {
			t.Errorf("%d attempts, want 1", f.count())
		}
	})

	t.Run("get cancelled in flight is not retried", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
			cancel()
			<-r.Context().Done()
		})
		h := newHarness(t, f.URL)
		_, err := h.Me(ctx, cred(t))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if f.count() != 1 || len(h.recordedWaits()) != 0 {
			t.Errorf("%d attempts and %d waits, want 1 and 0", f.count(), len(h.recordedWaits()))
		}
	})
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			})
			h := newHarness(t, f.URL)
			err := rt.call(t.Context(), h.Client, cred(t))
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != http.StatusFound {
				t.Fatalf("err = %v, want HTTP 302", err)
			}
			if reqs := f.requests(); len(reqs) != 1 || reqs[0].Path != rt.path {
				t.Errorf("requests %+v, want only %s", reqs, rt.path)
			}
		})
	}
}

// An answer over its route's bound is refused: 1 MiB, and for the list of
// the account's tokens (which grows with its history) maxListBody.
func TestOversizedAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		size int
		call func(t *testing.T, h *harness) error
	}{
		{"me", maxBody, func(t *testing.T, h *harness) error { _, err := h.Me(t.Context(), cred(t)); return err }},
		{"list", maxListBody, func(t *testing.T, h *harness) error { _, err := h.List(t.Context(), cred(t)); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chunk := bytes.Repeat([]byte("x"), 1<<20)
			f := newFake(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(200)
				_, _ = w.Write([]byte(`{"tokens":["`))
				for written := 0; written <= tt.size; written += len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
				_, _ = w.Write([]byte(`"]}`))
			})
			h := newHarness(t, f.URL, WithRetry(1, time.Millisecond, time.Millisecond))
			if err := tt.call(t, h); err == nil || !strings.Contains(err.Error(), "answer larger than") {
				t.Fatalf("err = %v, want an oversized answer", err)
			}
		})
	}
}

// TestSecretsNeverLeak drives every route through success and failure with
// the server echoing the credential, and checks errors and logs.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		cookie := r.Header.Get("Cookie")
		switch n % 3 {
		case 0:
			writeErr(w, 401, cookie, "bad credential "+cookie)
		case 1:
			writeErr(w, 503, "", "cannot check "+strings.TrimPrefix(cookie, "session="))
		default:
			w.Header().Set("Retry-After", "1")
			writeErr(w, 429, "", cookie)
		}
	})
	h := newHarness(t, f.URL)
	for _, rt := range routes {
		err := rt.call(t.Context(), h.Client, cred(t))
		if err == nil {
			t.Fatalf("%s: no error", rt.name)
		}
		assertNoSecret(t, rt.name+" error", err.Error())
		assertNoSecret(t, rt.name+" error %+v", fmt.Sprintf("%+v %#v", err, err))
	}
}

func TestAPIErrorJSONHasNoSecret(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		writeErr(w, 403, "forbidden", "missing required scope \"accounts:tokens\" for "+r.Header.Get("Cookie"))
	})
	h := newHarness(t, f.URL)
	err := h.Revoke(t.Context(), cred(t), "tok_1")
	var fe *ForbiddenError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *ForbiddenError", err)
	}
	b, jerr := json.Marshal(fe.APIError)
	if jerr != nil {
		t.Fatal(jerr)
	}
	assertNoSecret(t, "APIError JSON", string(b))
}

func TestScrub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"plain", 100, "plain"},
		{"a " + credValue + " b", 100, "a groo_pat_[redacted] b"},
		{"groo_pat_ABCxyz0123-rest", 100, "groo_pat_…0123-rest"},
		{"GROO_PAT_" + strings.ToUpper(credValue[len(Prefix):]), 100, "GROO_PAT_[redacted]"},
		{"groo_pat_[redacted] twice groo_pat_[redacted]", 100, "groo_pat_[redacted] twice groo_pat_[redacted]"},
		{"tab\tnew\nline", 100, `tab\tnew\nline`},
		{"ééééé", 3, "ééé…"},
		{strings.Repeat("x", 10) + credValue, 20, strings.Repeat("x", 10) + "groo_pat_[…"},
	}
	for _, tc := range tests {
		if got := scrub(tc.in, tc.limit); got != tc.want {
			t.Errorf("scrub(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}
