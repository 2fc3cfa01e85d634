package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type grooUser struct {
	id, email string
}

type grooToken struct {
	id          string
	name        string
	description *string
	secret      string
	user        string
	expiresAt   *time.Time
	createdAt   time.Time
	lastUsed    *time.Time
	revoked     bool
	revokedAt   *time.Time
	forbidden   bool
	verified    bool // journaled its first GET /v1/auth/me
	// offset is Groo's clock offset when the token was added: its expiry
	// on the emulator's clock is expiresAt - offset (ExpiredExposure).
	offset time.Duration
}

const (
	grooPATPrefix = "groo_pat_"
	grooTimeFmt   = "2006-01-02T15:04:05.000Z"
)

// grooTime formats like Groo: RFC 3339 UTC with milliseconds.
type grooTime time.Time

func (t grooTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(grooTimeFmt) + `"`), nil
}

func grooTimePtr(t *time.Time) *grooTime {
	if t == nil {
		return nil
	}
	g := grooTime(*t)
	return &g
}

type grooTokenJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description *string   `json:"description"`
	TokenPrefix string    `json:"tokenPrefix"`
	LastFour    string    `json:"lastFour"`
	LastUsed    *grooTime `json:"lastUsed"`
	ExpiresAt   *grooTime `json:"expiresAt"`
	Revoked     bool      `json:"revoked"`
	CreatedAt   grooTime  `json:"createdAt"`
}

func (t *grooToken) json() grooTokenJSON {
	return grooTokenJSON{
		ID: t.id, Name: t.name, Description: copyStr(t.description),
		TokenPrefix: t.secret[:min(len(t.secret), len(grooPATPrefix)+2)],
		LastFour:    t.secret[max(0, len(t.secret)-4):],
		LastUsed:    grooTimePtr(t.lastUsed), ExpiresAt: grooTimePtr(t.expiresAt),
		Revoked: t.revoked, CreatedAt: grooTime(t.createdAt),
	}
}

// parseMangles splits a merged Fault.Mangle.
func parseMangles(s string) map[string]bool {
	if s == "" {
		return nil
	}
	m := map[string]bool{}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			m[v] = true
		}
	}
	return m
}

// mangled is the token's answer as a Mangle fault damages it (Fault.Mangle);
// without one, the token as is.
func (j grooTokenJSON) mangled(m map[string]bool) any {
	if !m[MangleOmitCreatedAt] && !m[MangleNullCreatedAt] && !m[MangleBadCreatedAt] && !m[MangleOmitExpiresAt] {
		return j
	}
	b, err := json.Marshal(j)
	if err != nil {
		panic(fmt.Sprintf("emulator: encode token: %v", err)) // plain strings and times
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("emulator: decode token: %v", err))
	}
	switch {
	case m[MangleOmitCreatedAt]:
		delete(out, "createdAt")
	case m[MangleNullCreatedAt]:
		out["createdAt"] = nil
	case m[MangleBadCreatedAt]:
		out["createdAt"] = "yesterday"
	}
	if m[MangleOmitExpiresAt] {
		delete(out, "expiresAt")
	}
	return out
}

func (t *grooToken) live(now time.Time) bool {
	return !t.revoked && (t.expiresAt == nil || now.Before(*t.expiresAt))
}

func grooError(w http.ResponseWriter, status int, code, msg string) {
	body := map[string]string{"error": msg}
	if code != "" {
		body["code"] = code
	}
	writeJSON(w, status, body)
}

func grooRoute(method, path string) (route, tokenID string) {
	switch {
	case path == "/v1/auth/me":
		return RouteGrooMe, ""
	case path == "/v1/account/tokens" && method == http.MethodPost:
		return RouteGrooCreate, ""
	case path == "/v1/account/tokens":
		return RouteGrooList, ""
	case strings.HasPrefix(path, "/v1/account/tokens/") && strings.Count(path, "/") == 4:
		return RouteGrooRevoke, strings.TrimPrefix(path, "/v1/account/tokens/")
	}
	return RouteGrooUnknown, ""
}

func (e *Emulator) serveGroo(w http.ResponseWriter, r *http.Request, path string) {
	route, tokenID := grooRoute(r.Method, path)
	// Groo's answers carry Groo's clock, which may run offset from GitHub's.
	w.Header().Set("Date", e.grooNow().Format(http.TimeFormat))
	e.recordHit(route)
	e.log.Debug("groo request", "method", r.Method, "route", route)
	f, _ := e.takeFaults(route, "")
	if !latency(r, f) {
		return
	}
	if f.Status != 0 {
		e.grooFault(w, f)
		return
	}
	handle := func(w http.ResponseWriter) { e.handleGroo(w, r, route, tokenID, parseMangles(f.Mangle)) }
	if f.Drop {
		drop(w, r, handle)
		return
	}
	handle(w)
}

func (e *Emulator) grooFault(w http.ResponseWriter, f Fault) {
	if f.Status == http.StatusTooManyRequests || f.Status == http.StatusForbidden {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	code, msg := "", http.StatusText(f.Status)
	switch {
	case f.Status == http.StatusBadRequest:
		code = "invalid_request"
	case f.Status == http.StatusUnauthorized:
		code = "unauthorized"
	case f.Status == http.StatusForbidden:
		code = "forbidden"
	case f.Status == http.StatusNotFound:
		code = "not_found"
	case f.Status == http.StatusTooManyRequests:
		code, msg = "rate_limited", "too many requests"
	case f.Status >= 500:
		code = "internal_error"
	}
	if f.Message != "" {
		msg = f.Message
	}
	grooError(w, f.Status, code, msg)
}

// grooCredential extracts the PAT from the session cookie or a Bearer header.
func grooCredential(r *http.Request) string {
	if c, err := r.Cookie("session"); err == nil && c.Value != "" {
		return c.Value
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, v, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (e *Emulator) handleGroo(w http.ResponseWriter, r *http.Request, route, tokenID string, mangle map[string]bool) {
	if route == RouteGrooUnknown {
		grooError(w, http.StatusNotFound, "not_found", "no such route")
		return
	}
	wantMethod := map[string]string{RouteGrooMe: http.MethodGet, RouteGrooList: http.MethodGet,
		RouteGrooCreate: http.MethodPost, RouteGrooRevoke: http.MethodDelete}[route]
	if r.Method != wantMethod {
		w.Header().Set("Allow", wantMethod)
		grooError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
		return
	}

	// Parse the body before taking the lock.
	var create struct {
		Name        *string         `json:"name"`
		Description *string         `json:"description"`
		ExpiresAt   json.RawMessage `json:"expiresAt"`
	}
	var bodyErr error
	if route == RouteGrooCreate {
		bodyErr = decodeJSON(r, &create)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.grooNow()
	cred := grooCredential(r)
	caller, ok := e.tokenBySec[cred]
	if cred == "" || !ok || !caller.live(now) {
		grooError(w, http.StatusUnauthorized, "unauthorized", "missing, unknown, revoked or expired token")
		return
	}
	caller.lastUsed = &now
	if route != RouteGrooMe && caller.forbidden {
		grooError(w, http.StatusForbidden, "forbidden", `missing required scope "accounts:tokens"`)
		return
	}

	switch route {
	case RouteGrooMe:
		u := e.users[caller.user]
		if !caller.verified { // the first one only: the journal stays small
			caller.verified = true
			e.journalAdd(JournalEntry{Kind: JournalVerify, TokenID: caller.id, By: caller.id})
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": map[string]any{"id": u.id, "email": u.email, "phone": nil}})

	case RouteGrooList:
		list := []any{}
		for _, t := range e.tokens {
			if t.user == caller.user {
				list = append(list, t.json().mangled(mangle))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"tokens": list})

	case RouteGrooCreate:
		if bodyErr != nil {
			grooError(w, http.StatusBadRequest, "invalid_request", "invalid JSON body: "+bodyErr.Error())
			return
		}
		if create.Name == nil || strings.TrimSpace(*create.Name) == "" {
			grooError(w, http.StatusBadRequest, "invalid_request", "name is required")
			return
		}
		if utf8.RuneCountInString(*create.Name) > 100 {
			grooError(w, http.StatusBadRequest, "invalid_request", "name must be at most 100 characters")
			return
		}
		var expires *time.Time
		if s := strings.TrimSpace(string(create.ExpiresAt)); s != "" && s != "null" {
			var str string
			if err := json.Unmarshal(create.ExpiresAt, &str); err != nil {
				grooError(w, http.StatusBadRequest, "invalid_request", "expiresAt must be an RFC 3339 string")
				return
			}
			t, err := time.Parse(time.RFC3339Nano, str)
			if err != nil {
				grooError(w, http.StatusBadRequest, "invalid_request", "expiresAt must be an RFC 3339 time")
				return
			}
			if !t.After(now) {
				grooError(w, http.StatusBadRequest, "invalid_request", "expiresAt must be in the future")
				return
			}
			t = t.UTC()
			if mangle[MangleShortExpiresAt] {
				t = now.Add(t.Sub(now) / 2)
			}
			expires = &t
		}
		t := &grooToken{
			id: "tok_" + randomHex(12), name: *create.Name, description: copyStr(create.Description),
			secret: grooPATPrefix + randomHex(32), user: caller.user, expiresAt: expires, createdAt: now,
		}
		e.addToken(t)
		e.journalAdd(JournalEntry{Kind: JournalMint, TokenID: t.id, By: caller.id})
		e.log.Info("groo token created", "id", t.id, "name", t.name, "last_four", t.secret[len(t.secret)-4:])
		writeJSON(w, http.StatusCreated, map[string]any{"token": t.json().mangled(mangle), "secret": t.secret})

	case RouteGrooRevoke:
		t, ok := e.tokenByID[tokenID]
		if !ok || t.user != caller.user {
			grooError(w, http.StatusNotFound, "not_found", "token not found")
			return
		}
		if !t.revoked {
			t.revoked = true
			t.revokedAt = &now
			e.journalAdd(JournalEntry{Kind: JournalRevoke, TokenID: t.id, By: caller.id})
			e.checkRevoke(t)
			e.log.Info("groo token revoked", "id", t.id, "name", t.name)
		}
		writeJSON(w, http.StatusOK, map[string]bool{"revoked": true})
	}
}

func (e *Emulator) addToken(t *grooToken) {
	t.offset = e.GrooClockOffset()
	e.tokens = append(e.tokens, t)
	e.tokenByID[t.id] = t
	e.tokenBySec[t.secret] = t
}

// checkRevoke records an I1 violation when a secret still holds the token
// that was just revoked. Callers hold e.mu.
func (e *Emulator) checkRevoke(t *grooToken) {
	for _, scope := range sortedKeys(e.secrets) {
		for _, name := range sortedKeys(e.secrets[scope]) {
			if e.secrets[scope][name].value == t.secret {
				e.violations = append(e.violations,
					fmt.Sprintf("I1: token %s revoked while secret %s %s holds it", t.id, scope, name))
			}
		}
	}
}

// checkWrite records an I1 violation when a secret is written with a revoked
// token. Callers hold e.mu.
func (e *Emulator) checkWrite(scope, name, value string) {
	if t, ok := e.tokenBySec[value]; ok && t.revoked {
		e.violations = append(e.violations,
			fmt.Sprintf("I1: secret %s %s written with revoked token %s", scope, name, t.id))
	}
}
