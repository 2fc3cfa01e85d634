package groo

import "testing"

// One precedence for both programs: explicit > GROO_ACCOUNTS_URL > default.
func TestResolveBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		explicit, env, want, from string
	}{
		{"https://groo.internal", "http://127.0.0.1:9", "https://groo.internal", FromExplicit},
		{DefaultBaseURL, "http://127.0.0.1:9", DefaultBaseURL, FromExplicit},
		{" https://groo.internal ", "", "https://groo.internal", FromExplicit},
		{"", "http://127.0.0.1:9", "http://127.0.0.1:9", FromEnv},
		{"  ", " http://127.0.0.1:9 ", "http://127.0.0.1:9", FromEnv},
		{"", "", DefaultBaseURL, FromDefault},
		{"", "  ", DefaultBaseURL, FromDefault},
	}
	for _, tt := range tests {
		env := func(k string) string {
			if k != EnvBaseURL {
				t.Errorf("read %s", k)
			}
			return tt.env
		}
		if got, from := ResolveBaseURL(tt.explicit, env); got != tt.want || from != tt.from {
			t.Errorf("ResolveBaseURL(%q) with %s=%q = %q, %q; want %q, %q", tt.explicit, EnvBaseURL, tt.env, got, from, tt.want, tt.from)
		}
	}
}
