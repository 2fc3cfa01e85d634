// Package safetext is the one place that makes text from outside (Groo's and
// GitHub's answers, token names, configuration and inputs) safe to print, and
// that redacts every token value the process holds, wherever it is printed.
//
//   - Line makes a string one inert line for a terminal, a log, an annotation
//     or a table cell: control characters (C0, DEL, C1), line and paragraph
//     separators and bidirectional controls are escaped (\n, \x1b, \u202e),
//     and "::" and "##[" are broken up so that no line can start a runner
//     workflow command.
//   - Markdown and MarkdownCode are Line plus the escaping GitHub Markdown
//     needs inside a table cell or a list item.
//   - CheckLine reports the first character Line would escape, for refusing
//     configuration and inputs.
//   - Redact replaces anything shaped like a Groo or GitHub token, in any
//     letter case, and every value registered with AddSecret, by its prefix
//     and last four at most.
//   - RedactURL drops a URL's user info; NewHandler wraps a slog.Handler so
//     that every message and attribute is redacted.
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// IsUnsafe reports whether r is a character that Line escapes: a control
// character (C0, DEL, C1), U+2028/U+2029, a bidirectional control
// (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) or U+FEFF.
func IsUnsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, 0x80 <= r && r <= 0x9f:
		return true
	case r == '\u2028', r == '\u2029', r == '\u061c', r == '\u200e', r == '\u200f', r == '\ufeff':
		return true
	case '\u202a' <= r && r <= '\u202e', '\u2066' <= r && r <= '\u2069':
		return true
	}
	return false
}

// escape is the printable form of an unsafe rune.
func escape(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	if r < 0x100 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r)
}

// Line returns s as one inert line of text: see the package comment. Invalid
// UTF-8 bytes are escaped as \xNN. Text that needs none of this is returned
// unchanged.
func Line(s string) string {
	if CheckLine(s) == nil && !strings.Contains(s, "::") && !strings.Contains(s, "##[") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case IsUnsafe(r):
			b.WriteString(escape(r))
		case r == ':' && strings.HasPrefix(s[i+1:], ":"):
			// "::" starts a workflow command (::error::, ::add-mask::,
			// ::stop-commands::) at the start of a line.
			b.WriteString(`:\`)
		case r == '#' && strings.HasPrefix(s[i+1:], "#["):
			// "##[" is the runner's legacy command prefix, anywhere in a line.
			b.WriteString(`#\`)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Cut is Line cut to at most limit characters, with "…" when it was cut.
func Cut(s string, limit int) string {
	s = Line(s)
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	return s
}

// UnsafeError is what CheckLine returns: the first character that is not
// allowed in single-line text, and where it is.
type UnsafeError struct {
	Char rune // utf8.RuneError for invalid UTF-8
	Pos  int  // 1-based character position
}

func (e *UnsafeError) Error() string {
	if e.Char == utf8.RuneError {
		return fmt.Sprintf("invalid UTF-8 at character %d", e.Pos)
	}
	what := "a control character"
	switch {
	case e.Char == '\n' || e.Char == '\r' || e.Char == '\u2028' || e.Char == '\u2029':
		what = "a line break"
	case '\u202a' <= e.Char && e.Char <= '\u202e', '\u2066' <= e.Char && e.Char <= '\u2069',
		e.Char == '\u061c', e.Char == '\u200e', e.Char == '\u200f':
		what = "a bidirectional control character"
	}
	return fmt.Sprintf("%s (%s, U+%04X) at character %d", what, escape(e.Char), e.Char, e.Pos)
}

// CheckLine returns an *UnsafeError for the first character of s that Line
// would escape (a line break, a control or bidi character, invalid UTF-8),
// nil when there is none.
func CheckLine(s string) error {
	pos := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		pos++
		if r == utf8.RuneError && size == 1 {
			return &UnsafeError{Char: utf8.RuneError, Pos: pos}
		}
		if IsUnsafe(r) {
			return &UnsafeError{Char: r, Pos: pos}
		}
		i += size
	}
	return nil
}

// Markdown is s as text for a GitHub Markdown table cell or list item: Line,
// then Markdown punctuation backslash-escaped (the pipe and the backtick
// included) and HTML neutralised (<, >, & as entities).
func Markdown(s string) string {
	var b strings.Builder
	for _, r := range Line(s) {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\\', '`', '*', '_', '[', ']', '|', '~', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MarkdownCode is s as an inline code span safe in a table cell: Line, the
// pipe escaped (it ends a cell even inside a span in GitHub's tables), and
// a string holding a backtick, which a span cannot hold, written as Markdown
// text instead. "" becomes "-".
func MarkdownCode(s string) string {
	s = Line(s)
	if s == "" {
		return "-"
	}
	if strings.Contains(s, "`") {
		return Markdown(s)
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// Text is Line applied to each line of s, the line breaks ("\n") kept: for
// multi-line output such as joined errors on a terminal.
func Text(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Line(l)
	}
	return strings.Join(lines, "\n")
}
