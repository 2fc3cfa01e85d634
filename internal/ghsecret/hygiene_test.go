package ghsecret

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestErrorsFromGitHubBodiesAreClean: a GitHub answer whose message echoes
// the value being written (in any letter case) or carries line breaks and
// a workflow command gives an error that holds neither, whether it is a
// refusal or a retried failure, and the types still match errors.As.
func TestErrorsFromGitHubBodiesAreClean(t *testing.T) {
	t.Parallel()
	hostile := "bad value " + strings.ToUpper(testValue) + " and " + testValue + "\n::error::pwned \x1b[31m"
	tests := []struct {
		name    string
		code    int
		refused bool
	}{
		{"refusal", 400, true},
		{"server error retried", 500, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k1 := newKeyPair(t, "k1")
			f := newFakeGitHub(t)
			f.handle("PUT "+repoSecretPath, status(tc.code, errBody(hostile)))
			ft := newFakeTime(true)
			logs := &logBuffer{}
			c := f.client(ft, WithMutationInterval(0), WithMaxRetries(1), WithLogger(logs.logger()))
			_, err := c.Put(context.Background(), repoTarget, k1.public(), []byte(testValue))
			if err == nil {
				t.Fatal("Put succeeded")
			}
			var refused *RefusedError
			if errors.As(err, &refused) != tc.refused {
				t.Fatalf("err = %v, refused %v, want %v", err, !tc.refused, tc.refused)
			}
			msg := err.Error()
			if tc.refused {
				msg = refused.Error() // what the Action prints of it
			}
			for _, s := range []string{msg, err.Error()} {
				if strings.Contains(strings.ToLower(s), strings.ToLower(testValue[len("groo_pat_"):])) {
					t.Errorf("error echoes the value: %q", s)
				}
				if strings.ContainsAny(s, "\n\x1b") || strings.Contains(s, "::error::") {
					t.Errorf("error holds a line break, an escape or a workflow command: %q", s)
				}
			}
			if !strings.Contains(err.Error(), "bad value") {
				t.Errorf("error lost GitHub's message: %q", err)
			}
			assertNoSecret(t, strings.ToUpper(testValue), logs.String())
		})
	}
}
