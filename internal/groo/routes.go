package groo

// Everything this client knows about Groo's wire format is in this file:
// paths, the credential header, field names and the time format. Groo
// publishes no reference for these routes (docs/groo-api.md says where each line
// comes from), so adapting to the live service must stay a change here only.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Routes. The route templates, not the concrete paths, are what the client logs.
const (
	pathMe     = "/v1/auth/me"
	pathTokens = "/v1/account/tokens"
	routeToken = pathTokens + "/{id}"
)

// pathToken is DELETE's path; the id is escaped so that it stays one segment.
func pathToken(id string) string { return pathTokens + "/" + url.PathEscape(id) }

// sessionCookie carries the PAT (the Groo PAT guide: "Cookie: session=<PAT>").
const sessionCookie = "session"

// setCredential puts the PAT on a request. It is the only place a token value
// is written to the wire.
func setCredential(h http.Header, t Token) {
	h.Set("Cookie", sessionCookie+"="+t.Reveal())
}

// wireTime is how Groo writes times: RFC 3339 UTC with milliseconds.
const wireTime = "2006-01-02T15:04:05.000Z"

// parseWireTime accepts RFC 3339 with or without fractional seconds.
func parseWireTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("field %q: %w", field, err)
	}
	return t.UTC(), nil
}

// optWireTime maps null and "" to nil.
func optWireTime(field string, s *string) (*time.Time, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	t, err := parseWireTime(field, *s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// wireError is the body of every non-2xx answer; code may be absent.
type wireError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func decodeWireError(body []byte) (message, code string) {
	var w wireError
	if json.Unmarshal(body, &w) != nil {
		return "", ""
	}
	return w.Error, w.Code
}

// GET /v1/auth/me -> 200 {"user":{"id","email","phone"}}. Any 2xx is
// accepted as success on every route.
type wireMe struct {
	User *struct {
		ID    string  `json:"id"`
		Email string  `json:"email"`
		Phone *string `json:"phone"`
	} `json:"user"`
}

func decodeMe(body []byte) (User, error) {
	var w wireMe
	if err := decodeJSON(body, &w); err != nil {
		return User{}, err
	}
	if w.User == nil || w.User.ID == "" {
		return User{}, errors.New(`no "user" with an "id"`)
	}
	if !idRE.MatchString(w.User.ID) {
		return User{}, &InvalidFieldError{Field: "user.id", Reason: "not 1 to 64 letters, digits, '_' or '-'"}
	}
	return User{ID: w.User.ID, Email: w.User.Email, Phone: w.User.Phone}, nil
}

// wireToken is the token object. lastFour is assumed by docs/groo-api.md and may
// be absent; description, lastUsed and expiresAt may be null.
type wireToken struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	TokenPrefix string  `json:"tokenPrefix"`
	LastFour    string  `json:"lastFour"`
	LastUsed    *string `json:"lastUsed"`
	ExpiresAt   *string `json:"expiresAt"`
	Revoked     bool    `json:"revoked"`
	CreatedAt   *string `json:"createdAt"`
}

func (w wireToken) info() (TokenInfo, error) {
	if w.ID == "" {
		return TokenInfo{}, errors.New(`token without "id"`)
	}
	if err := w.check(); err != nil {
		var ti TokenInfo
		if fe := (*InvalidFieldError)(nil); errors.As(err, &fe) && fe.TokenID != "" {
			ti.ID = fe.TokenID // a valid id: a mint's caller can still revoke it
		}
		return ti, err
	}
	ti := TokenInfo{
		ID:          w.ID,
		Name:        w.Name,
		Description: w.Description,
		TokenPrefix: w.TokenPrefix,
		LastFour:    w.LastFour,
		Revoked:     w.Revoked,
	}
	var err error
	if ti.LastUsed, err = optWireTime("lastUsed", w.LastUsed); err != nil {
		return TokenInfo{}, fmt.Errorf("token %s: %w", w.ID, err)
	}
	if ti.ExpiresAt, err = optWireTime("expiresAt", w.ExpiresAt); err != nil {
		return TokenInfo{}, fmt.Errorf("token %s: %w", w.ID, err)
	}
	if created, err := optWireTime("createdAt", w.CreatedAt); err != nil {
		return TokenInfo{}, fmt.Errorf("token %s: %w", w.ID, err)
	} else if created != nil {
		ti.CreatedAt = *created
	}
	return ti, nil
}

// GET /v1/account/tokens -> {"tokens":[Token...]}. A null list is empty; a
// missing one is not an answer from this route.
type wireList struct {
	Tokens json.RawMessage `json:"tokens"`
}

func decodeList(body []byte) ([]TokenInfo, error) {
	var w wireList
	if err := decodeJSON(body, &w); err != nil {
		return nil, err
	}
	if len(w.Tokens) == 0 {
		return nil, errors.New(`no "tokens"`)
	}
	var ws []wireToken
	if err := json.Unmarshal(w.Tokens, &ws); err != nil {
		return nil, fmt.Errorf(`"tokens": %w`, err)
	}
	out := make([]TokenInfo, 0, len(ws))
	for i, wt := range ws {
		ti, err := wt.info()
		if err != nil {
			return nil, fmt.Errorf("tokens[%d]: %w", i, err)
		}
		out = append(out, ti)
	}
	return out, nil
}

// POST /v1/account/tokens {"name","description"?,"expiresAt"?}
type wireCreate struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	ExpiresAt   string `json:"expiresAt,omitempty"`
}

func encodeCreate(req CreateRequest) ([]byte, error) {
	w := wireCreate{Name: req.Name, Description: req.Description}
	if !req.ExpiresAt.IsZero() {
		w.ExpiresAt = req.ExpiresAt.UTC().Format(wireTime)
	}
	return json.Marshal(w)
}

// 201 {"token":Token,"secret":"groo_pat_..."}: the only time Groo returns a
// secret. Decoding errors never quote the body, which holds it.
type wireCreated struct {
	Token  *wireToken `json:"token"`
	Secret string     `json:"secret"`
}

func decodeCreated(body []byte) (TokenInfo, Token, error) {
	var w wireCreated
	if err := decodeJSON(body, &w); err != nil {
		return TokenInfo{}, Token{}, err
	}
	if w.Token == nil {
		return TokenInfo{}, Token{}, errors.New(`no "token"`)
	}
	ti, err := w.Token.info()
	if err != nil {
		return ti, Token{}, err
	}
	secret, err := ParseToken(w.Secret)
	if err != nil {
		// ParseToken's error never contains its input.
		return ti, Token{}, fmt.Errorf(`token %s: "secret": %w`, ti.ID, err)
	}
	return ti, secret, nil
}

// DELETE /v1/account/tokens/{id} -> 200 {"revoked":true}. The body is not
// needed: any 2xx means revoked, 404 means already gone.

// decodeJSON decodes one JSON value. Its errors come from encoding/json,
// which names types and offsets but never echoes string values.
func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	return nil
}
