package groo

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/groo/pat-action/internal/safetext"
)

// Prefix starts every Groo Personal Access Token.
const Prefix = "groo_pat_"

// tokenHexLen is the number of lowercase hex characters after Prefix.
const tokenHexLen = 64

// ErrMalformedToken is returned by ParseToken for anything that is not a PAT.
var ErrMalformedToken = errors.New("malformed Groo token")

// Token is a Groo PAT value. The zero value is "no token". Its value leaves
// the type only through Reveal, so that formatting, logging or marshalling it
// by accident prints the redacted form (prefix and last four) instead.
//
// The value sits behind a pointer because fmt (and slog's text handler, which
// uses fmt) cannot call methods on an unexported struct field: a string field
// would be printed raw by %v of a struct holding an unexported Token, while a
// pointer prints as an address. As a consequence == compares identity, not
// value: compare tokens with Equal.
type Token struct {
	v *string
}

// ParseToken accepts only groo_pat_ followed by 64 lowercase hex characters.
// The error never contains the input: a near-miss is usually a real secret.
func ParseToken(s string) (Token, error) {
	if len(s) != len(Prefix)+tokenHexLen || s[:len(Prefix)] != Prefix {
		return Token{}, fmt.Errorf("%w: want %q followed by %d lowercase hex characters (got %d characters)",
			ErrMalformedToken, Prefix, tokenHexLen, len(s))
	}
	for i := len(Prefix); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return Token{}, fmt.Errorf("%w: character %d is not lowercase hex", ErrMalformedToken, i+1)
		}
	}
	// Every token value the process holds passes here: the redactor learns
	// it, so that an echo of it in any letter case is redacted everywhere.
	safetext.AddSecret(s)
	return Token{v: &s}, nil
}

// IsZero reports whether t holds no token.
func (t Token) IsZero() bool { return t.v == nil }

// Equal reports whether t and u hold the same value, in constant time.
func (t Token) Equal(u Token) bool {
	return subtle.ConstantTimeCompare([]byte(t.Reveal()), []byte(u.Reveal())) == 1
}

// Reveal returns the secret value. Call it only where the value must leave
// the process: an HTTP credential, the sealed box, a runner mask.
func (t Token) Reveal() string {
	if t.v == nil {
		return ""
	}
	return *t.v
}

// TokenPrefix is what Groo lists as tokenPrefix: "groo_pat_" and two characters.
func (t Token) TokenPrefix() string {
	if t.v == nil {
		return ""
	}
	return (*t.v)[:len(Prefix)+2]
}

// LastFour is the last four characters, the part the Groo UI shows.
func (t Token) LastFour() string {
	if t.v == nil {
		return ""
	}
	return (*t.v)[len(*t.v)-4:]
}

// Redacted is the only printable form: prefix, ellipsis, last four.
func (t Token) Redacted() string {
	if t.v == nil {
		return "<no token>"
	}
	return t.TokenPrefix() + "…" + t.LastFour()
}

// String implements fmt.Stringer with the redacted form.
func (t Token) String() string { return t.Redacted() }

// GoString keeps %#v redacted too.
func (t Token) GoString() string { return "groo.Token(" + t.Redacted() + ")" }

// Format makes every verb (%s, %v, %+v, %q, %x ...) print the redacted form.
func (t Token) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", t.Redacted())
	default:
		_, _ = f.Write([]byte(t.Redacted()))
	}
}

// LogValue implements slog.LogValuer.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.Redacted()) }

// MarshalJSON writes the redacted form; a token is never serialised whole.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.Redacted()) }

// MarshalText keeps encoders that prefer TextMarshaler redacted as well.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.Redacted()), nil }

var (
	_ fmt.Formatter  = Token{}
	_ slog.LogValuer = Token{}
	_ json.Marshaler = Token{}
	_ fmt.GoStringer = Token{}
	_ fmt.Stringer   = Token{}
)
