package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/nacl/box"
)

const (
	patAlice  = "groo_pat_a11ce00000000000000000000000000000000000000000000000000001"
	patBob    = "groo_pat_b0b0000000000000000000000000000000000000000000000000000002"
	patForbid = "groo_pat_f0000000000000000000000000000000000000000000000000000003"
	patOld    = "groo_pat_01d0000000000000000000000000000000000000000000000000000004"
	ghFull    = "ghs_fullAccessToken000000000000000000001"
	ghRO      = "ghs_readOnlyToken0000000000000000000002"
)

func testSeed() Seed {
	return Seed{
		Groo: GrooSeed{
			Users: []SeedUser{{ID: "usr_alice", Email: "alice@example.test"}, {ID: "usr_bob", Email: "bob@example.test"}},
			Tokens: []SeedToken{
				{ID: "tok_alice", Name: "alice bootstrap", Secret: patAlice},
				{ID: "tok_bob", Name: "bob bootstrap", Secret: patBob, User: "usr_bob"},
				{ID: "tok_forbid", Name: "no scope", Secret: patForbid, Forbidden: true},
				{ID: "tok_old", Name: "GitHub Actions - octo/app GROO_PAT", Secret: patOld},
			},
		},
		GitHub: GitHubSeed{
			Tokens:         []string{ghFull},
			ReadOnlyTokens: []string{ghRO},
			Repositories:   []string{"octo/app", "octo/web", "other/lib"},
			Environments:   []string{"octo/app:prod/eu"},
			Apps:           []SeedApp{{ID: 123, Installations: []SeedInstallation{{ID: 456, Account: "octo"}}}},
		},
	}
}

// newTestServer is emulatortest.NewServer, which the package's own tests
// cannot import (emulatortest imports this package).
func newTestServer(t testing.TB, seed Seed, opts ...Option) (*Emulator, string) {
	t.Helper()
	e := New(opts...)
	if err := e.Seed(seed); err != nil {
		t.Fatalf("emulator seed: %v", err)
	}
	url, shutdown, err := Start("127.0.0.1:0", e)
	if err != nil {
		t.Fatalf("emulator start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = shutdown(ctx)
	})
	return e, url
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// call sends one request; auth is a full Authorization header value, or
// "cookie:<PAT>" for Groo's session cookie, or "".
func call(t testing.TB, method, url, auth string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := strings.CutPrefix(auth, "cookie:"); ok {
		req.AddCookie(&http.Cookie{Name: "session", Value: c})
	} else if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, url, raw, err)
		}
	}
	return out
}

func (r resp) want(t testing.TB, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	return r
}

func (r resp) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func bearer(tok string) string { return "Bearer " + tok }

// seal encrypts value for a base64 public key like a GitHub client does.
func seal(t testing.TB, keyB64, value string) string {
	t.Helper()
	kb, err := base64.StdEncoding.DecodeString(keyB64)
	if err != nil || len(kb) != 32 {
		t.Fatalf("public key %q: %v", keyB64, err)
	}
	var pk [32]byte
	copy(pk[:], kb)
	ct, err := box.SealAnonymous(nil, []byte(value), &pk, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(ct)
}

// putSecret fetches the key at base+"/public-key" and PUTs value at
// base+"/"+name, returning the PUT's answer.
func putSecret(t testing.TB, base, auth, name, value string, extra map[string]any) resp {
	t.Helper()
	k := call(t, "GET", base+"/public-key", auth, nil).want(t, 200)
	body := map[string]any{"encrypted_value": seal(t, k.str("key"), value), "key_id": k.str("key_id")}
	for key, v := range extra {
		body[key] = v
	}
	return call(t, "PUT", base+"/"+name, auth, body)
}
