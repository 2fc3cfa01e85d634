package safetext

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain text, tok_1: ok", "plain text, tok_1: ok"},
		{"a\nb\r\tc", `a\nb\r\tc`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"del\x7f c1\u0085", `del\x7f c1\x85`},
		{"evil\u202egnp.exe \u2066x\u2069", `evil\u202egnp.exe \u2066x\u2069`},
		{"ls\u2028ps\u2029", `ls\u2028ps\u2029`},
		{"::error::pwned", `:\:error:\:pwned`},
		{"x ##[error]legacy", `x #\#[error]legacy`},
		{"bad \xff utf8", `bad \xff utf8`},
		{"émoji ✅ ok", "émoji ✅ ok"},
	}
	for _, tc := range tests {
		if got := Line(tc.in); got != tc.want {
			t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Line(tc.in); strings.ContainsAny(got, "\n\r\t\x1b\u202e") || strings.Contains(got, "::") {
			t.Errorf("Line(%q) = %q is not inert", tc.in, got)
		}
	}
}

func TestCheckLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" for nil
	}{
		{"prod/eu", ""},
		{"prod\n::error::x", `a line break (\n, U+000A) at character 5`},
		{"a\tb", `a control character (\t, U+0009) at character 2`},
		{"a\u202eb", `a bidirectional control character (\u202e, U+202E) at character 2`},
		{"a\xffb", "invalid UTF-8 at character 2"},
	}
	for _, tc := range tests {
		err := CheckLine(tc.in)
		got := ""
		if err != nil {
			got = err.Error()
			var ue *UnsafeError
			if !errors.As(err, &ue) {
				t.Errorf("CheckLine(%q) = %T, want *UnsafeError", tc.in, err)
			}
		}
		if got != tc.want {
			t.Errorf("CheckLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, text, code string }{
		{"a|b", `a\|b`, "`a\\|b`"},
		{"<script>x</script>", "&lt;script&gt;x&lt;/script&gt;", "`<script>x</script>`"},
		{"tick`s", "tick\\`s", "tick\\`s"},
		{"line\nbreak", `line\\nbreak`, "`line\\nbreak`"},
		{"", "", "-"},
	}
	for _, tc := range tests {
		if got := Markdown(tc.in); got != tc.text {
			t.Errorf("Markdown(%q) = %q, want %q", tc.in, got, tc.text)
		}
		if got := MarkdownCode(tc.in); got != tc.code {
			t.Errorf("MarkdownCode(%q) = %q, want %q", tc.in, got, tc.code)
		}
	}
}

const pat = "groo_pat_0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"

func TestRedactShapesAnyCase(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"bad token " + pat + " here", "bad token groo_pat_…89ab here"},
		{"upper " + strings.ToUpper(pat), "upper GROO_PAT_…89AB"},
		{"near miss groo_pat_SECRETNEARMISS!", "near miss groo_pat_…MISS!"},
		{"ghs_" + strings.Repeat("Z", 36), "ghs_…ZZZZ"},
		{"secret names stay GROO_PAT_PRODUCTION GROO_PAT_STAGING", "secret names stay GROO_PAT_PRODUCTION GROO_PAT_STAGING"},
		{"env names stay GITHUB_PAT_WRITER GHS_APP_TOKEN_NAME", "env names stay GITHUB_PAT_WRITER GHS_APP_TOKEN_NAME"},
		{"github_pat_11ABCDEFG_" + strings.Repeat("x", 40), "github_pat_…xxxx"},
		{"already groo_pat_ab…c183 tok_123", "already groo_pat_ab…c183 tok_123"},
	}
	for _, tc := range tests {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactRegisteredSecrets(t *testing.T) {
	t.Parallel()
	secret := "opaque-Secret-Value-4711"
	AddSecret(secret)
	AddSecret("groo_pat_" + strings.Repeat("5a", 32))
	hexOnly := strings.Repeat("5a", 32)
	for _, in := range []string{
		"echo " + secret + " end",
		"echo " + strings.ToUpper(secret) + " end",
		"echo " + strings.ToLower(secret) + " end",
	} {
		if got := Redact(in); got != "echo [redacted] end" {
			t.Errorf("Redact(%q) = %q, want the secret redacted", in, got)
		}
	}
	if got := Redact("hex alone " + strings.ToUpper(hexOnly)); strings.Contains(strings.ToLower(got), hexOnly) {
		t.Errorf("Redact kept the hex part of a registered PAT: %q", got)
	}
	if got := Redact("short ab ok"); got != "short ab ok" {
		t.Errorf("Redact changed text without a secret: %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://user:pass@host:8080/v1", "http://host:8080/v1"},
		{"https://" + pat + "@groo.example", "https://groo.example"},
		{"https://groo.example/x", "https://groo.example/x"},
		{"http://user:pa ss@[::1/x", "http://[::1/x"},
	}
	for _, tc := range tests {
		got := RedactURL(tc.in)
		if got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "pass") || strings.Contains(got, "pa ss") {
			t.Errorf("RedactURL(%q) = %q shows the password", tc.in, got)
		}
	}
}

type leaky struct{ Token string }

func TestHandlerRedacts(t *testing.T) {
	t.Parallel()
	secret := "handler-secret-9f8e7d"
	AddSecret(secret)
	for _, name := range []string{"text", "json"} {
		var buf bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&buf, nil)
		if name == "json" {
			h = slog.NewJSONHandler(&buf, nil)
		}
		log := slog.New(NewHandler(h)).With("cred", strings.ToUpper(pat))
		log.Info("groo said "+pat,
			"error", errors.New("echo "+secret),
			"body", "upper "+strings.ToUpper(secret),
			slog.Group("g", "inner", pat),
			"struct", leaky{Token: pat},
			"n", 3)
		out := buf.String()
		for _, s := range []string{pat, strings.ToUpper(pat), secret, strings.ToUpper(secret), pat[len("groo_pat_"):]} {
			if strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
				t.Errorf("%s log holds a secret:\n%s", name, out)
			}
		}
		if !strings.Contains(out, "groo_pat_…89ab") || !strings.Contains(out, "[redacted]") || !strings.Contains(out, "3") {
			t.Errorf("%s log lost its redacted content:\n%s", name, out)
		}
	}
}

func TestRegistryIsBounded(t *testing.T) {
	t.Parallel()
	r := newRegistry(3)
	for _, v := range []string{"secret-aaaa-1", "secret-aaaa-2", "secret-aaaa-3", "secret-aaaa-4"} {
		r.add(v)
	}
	if got := r.redact("x secret-aaaa-1 y"); got != "x secret-aaaa-1 y" {
		t.Errorf("the oldest value is still registered: %q", got)
	}
	if got := r.redact("x SECRET-AAAA-4 secret-aaaa-2 y"); got != "x [redacted] [redacted] y" {
		t.Errorf("redact = %q", got)
	}
	if len(r.order) != 3 || len(r.seen) != 3 {
		t.Errorf("registry holds %d/%d values, want 3", len(r.order), len(r.seen))
	}
}
