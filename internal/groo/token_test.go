package groo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

// patRE is the one format ParseToken accepts.
var patRE = regexp.MustCompile(`^groo_pat_[0-9a-f]{64}$`)

const testSecret = "groo_pat_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abc183"

func mustToken(t testing.TB, s string) Token {
	t.Helper()
	tok, err := ParseToken(s)
	if err != nil {
		t.Fatalf("ParseToken: %v", err)
	}
	return tok
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	hex64 := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"valid", "groo_pat_" + hex64, true},
		{"valid digits", "groo_pat_" + strings.Repeat("0", 64), true},
		{"empty", "", false},
		{"prefix only", "groo_pat_", false},
		{"short", "groo_pat_" + hex64[:63], false},
		{"long", "groo_pat_" + hex64 + "0", false},
		{"uppercase hex", "groo_pat_" + strings.ToUpper(hex64), false},
		{"non-hex", "groo_pat_" + hex64[:63] + "g", false},
		{"wrong prefix", "groo_pax_" + hex64, false},
		{"uppercase prefix", "GROO_PAT_" + hex64, false},
		{"github token", "ghs_" + hex64[:36], false},
		{"trailing newline", "groo_pat_" + hex64[:63] + "\n", false},
		{"leading space", " groo_pat_" + hex64[:63], false},
		{"multibyte", "groo_pat_" + hex64[:62] + "é", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := ParseToken(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ParseToken: %v", err)
				}
				if tok.Reveal() != tc.in || tok.IsZero() {
					t.Fatalf("Reveal = %q, IsZero %v", tok.Reveal(), tok.IsZero())
				}
				if got, want := tok.TokenPrefix(), tc.in[:11]; got != want {
					t.Errorf("TokenPrefix = %q, want %q", got, want)
				}
				if got, want := tok.LastFour(), tc.in[len(tc.in)-4:]; got != want {
					t.Errorf("LastFour = %q, want %q", got, want)
				}
				return
			}
			if !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("err = %v, want ErrMalformedToken", err)
			}
			if !tok.IsZero() {
				t.Errorf("rejected input gave a non-zero token")
			}
			if len(tc.in) > len(Prefix) && strings.Contains(err.Error(), tc.in) {
				t.Errorf("error %q contains the input", err)
			}
		})
	}
}

func TestTokenZero(t *testing.T) {
	t.Parallel()
	var z Token
	if !z.IsZero() || z.Reveal() != "" || z.TokenPrefix() != "" || z.LastFour() != "" {
		t.Fatalf("zero token: IsZero %v Reveal %q prefix %q last four %q", z.IsZero(), z.Reveal(), z.TokenPrefix(), z.LastFour())
	}
	if got := fmt.Sprint(z); got != "<no token>" {
		t.Errorf("Sprint(zero) = %q", got)
	}
	if !z.Equal(Token{}) {
		t.Error("zero tokens are not Equal")
	}
}

func TestTokenEqual(t *testing.T) {
	t.Parallel()
	a, b := mustToken(t, testSecret), mustToken(t, testSecret)
	c := mustToken(t, strings.Replace(testSecret, "c183", "c184", 1))
	if !a.Equal(b) || a.Equal(c) || a.Equal(Token{}) {
		t.Fatalf("Equal: a~b %v a~c %v a~zero %v", a.Equal(b), a.Equal(c), a.Equal(Token{}))
	}
}

// TestTokenRedaction prints a token every way a program might by accident,
// and checks that the value never comes out but the redacted form does.
func TestTokenRedaction(t *testing.T) {
	t.Parallel()
	tok := mustToken(t, testSecret)
	const redacted = "groo_pat_01…c183"
	hex := testSecret[len(Prefix):]

	type exported struct {
		Name string
		Tok  Token
		Ptr  *Token
	}
	type unexported struct {
		name string
		tok  Token
		list []Token
	}
	exp := exported{"x", tok, &tok}
	unexp := unexported{"x", tok, []Token{tok}}

	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		return string(b)
	}
	slogOf := func(newH func(*bytes.Buffer) slog.Handler, args ...any) string {
		var buf bytes.Buffer
		slog.New(newH(&buf)).Info("msg", args...)
		return buf.String()
	}
	text := func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }
	jsonH := func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }

	tests := []struct {
		name       string
		out        string
		wantRedact bool // the redacted form must appear
	}{
		{"%s", fmt.Sprintf("%s", tok), true},
		{"%v", fmt.Sprintf("%v", tok), true},
		{"%+v", fmt.Sprintf("%+v", tok), true},
		{"%#v", fmt.Sprintf("%#v", tok), true},
		{"%q", fmt.Sprintf("%q", tok), true},
		{"%x", fmt.Sprintf("%x", tok), true},
		{"%d", fmt.Sprintf("%d", tok), true},
		{"%10.3s", fmt.Sprintf("%10.3s", tok), true},
		{"pointer %v", fmt.Sprintf("%v", &tok), true},
		{"Sprint", fmt.Sprint(tok), true},
		{"String", tok.String(), true},
		{"GoString", tok.GoString(), true},
		{"Errorf %v", fmt.Errorf("rotate: %v", tok).Error(), true},
		{"struct %v", fmt.Sprintf("%v", exp), true},
		{"struct %+v", fmt.Sprintf("%+v", exp), true},
		{"struct %#v", fmt.Sprintf("%#v", exp), true},
		{"unexported struct %v", fmt.Sprintf("%v", unexp), false},
		{"unexported struct %+v", fmt.Sprintf("%+v", unexp), false},
		{"unexported struct %#v", fmt.Sprintf("%#v", unexp), false},
		{"slice %v", fmt.Sprintf("%v", []Token{tok}), true},
		{"map %v", fmt.Sprintf("%v", map[string]Token{"k": tok}), true},
		{"json value", jsonOf(tok), true},
		{"json struct", jsonOf(exp), true},
		{"json map key", jsonOf(map[Token]int{tok: 1}), true},
		{"MarshalText", func() string { b, _ := tok.MarshalText(); return string(b) }(), true},
		{"slog text", slogOf(text, "token", tok), true},
		{"slog json", slogOf(jsonH, "token", tok), true},
		{"slog text pointer", slogOf(text, "token", &tok), true},
		{"slog json struct", slogOf(jsonH, "req", exp), true},
		{"slog text struct", slogOf(text, "req", exp), true},
		{"slog text unexported struct", slogOf(text, "req", unexp), false},
		{"slog json unexported struct", slogOf(jsonH, "req", unexp), false},
		{"slog group", slogOf(jsonH, slog.Group("g", slog.Any("token", tok))), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if strings.Contains(tc.out, hex) || strings.Contains(tc.out, testSecret) {
				t.Fatalf("output leaks the token: %s", tc.out)
			}
			if tc.wantRedact && !strings.Contains(tc.out, redacted) && !strings.Contains(tc.out, "groo_pat_01") {
				t.Errorf("output %q lacks the redacted form %q", tc.out, redacted)
			}
		})
	}
}

// FuzzParseToken: never panics; accepts exactly the PAT format; an error
// never quotes a long input (a near-miss is usually a real secret).
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{
		"", Prefix, testSecret, strings.ToUpper(testSecret), testSecret + "0", testSecret[:len(testSecret)-1],
		"ghs_0123456789abcdef0123456789abcdef0123", "groo_pat_" + strings.Repeat("g", 64),
		"Bearer " + testSecret, "malformed Groo token",
	} {
		f.Add(s)
	}
	// Every error is one of two fixed sentences with numbers in them. An
	// input that is a piece of those sentences is found in the error without
	// anything having been quoted, so it is set aside by comparing with the
	// sentences' shapes (digits normalised).
	digits := regexp.MustCompile(`[0-9]+`)
	shape := func(s string) string { return digits.ReplaceAllString(s, "#") }
	_, lenErr := ParseToken("")
	_, charErr := ParseToken(Prefix + "G" + strings.Repeat("0", 63))
	shapes := shape(lenErr.Error()) + "\x00" + shape(charErr.Error())

	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err == nil {
			if !patRE.MatchString(s) {
				t.Fatalf("accepted %q, which is not a PAT", s)
			}
			if tok.Reveal() != s || tok.IsZero() {
				t.Fatalf("accepted %q but Reveal = %q", s, tok.Reveal())
			}
			if strings.Contains(tok.String(), s) || strings.Contains(fmt.Sprintf("%#v", tok), s) {
				t.Fatalf("printed form of %q holds the value", s)
			}
			return
		}
		if patRE.MatchString(s) {
			t.Fatalf("rejected a PAT: %v", err)
		}
		if !errors.Is(err, ErrMalformedToken) || !tok.IsZero() {
			t.Fatalf("rejection: err %v, token zero %v", err, tok.IsZero())
		}
		if len(s) >= 12 && strings.Contains(err.Error(), s) && !strings.Contains(shapes, shape(s)) {
			t.Fatalf("error %q contains the input", err)
		}
	})
}

func BenchmarkParseToken(b *testing.B) {
	inputs := []struct{ name, s string }{
		{"valid", testSecret},
		{"bad length", testSecret[:40]},
		{"bad char", strings.ToUpper(testSecret)},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = ParseToken(in.s)
			}
		})
	}
}
