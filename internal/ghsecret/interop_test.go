package ghsecret_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/nacl/box"

	"github.com/groo/pat-action/internal/emulator/emulatortest"
	"github.com/groo/pat-action/internal/ghconform"
	"github.com/groo/pat-action/internal/ghsecret"
)

// The interop tests check Seal against implementations written by others:
// libsodium itself (libsodium-wrappers, the library GitHub's docs use,
// testdata/interop) and PyNaCl (Debian's python3-nacl, also libsodium
// underneath but reached through another binding). They fail, never skip,
// when the tools are missing: `make test-deps` installs them.

var interopDir = filepath.Join("testdata", "interop")

const depsHint = "run `make test-deps` (npm ci --prefix internal/ghsecret/testdata/interop; apt-get install nodejs python3-nacl)"

func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): %s", err, depsHint)
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "libsodium-wrappers", "package.json")); err != nil {
		t.Fatalf("libsodium-wrappers is not installed in %s: %s", interopDir, depsHint)
	}
	return node
}

// runTool feeds input as JSON on stdin (never in argv, where other
// processes could read it) and returns stdout.
func runTool(t *testing.T, dir string, input any, name string, args ...string) (string, error) {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", &toolError{err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

type toolError struct {
	err    error
	stderr string
}

func (e *toolError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.stderr) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func interopValues() map[string][]byte {
	big := make([]byte, ghsecret.MaxValueSize)
	if _, err := rand.Read(big); err != nil {
		panic(err)
	}
	return map[string][]byte{
		"empty":   {},
		"token":   []byte(value),
		"unicode": []byte("clé ✓ 鍵"),
		"binary":  {0, 1, 2, 255, 254, 0},
		"48KB":    big,
	}
}

// TestInteropLibsodiumOpensSeal: what Seal produces, libsodium's
// crypto_box_seal_open opens.
func TestInteropLibsodiumOpensSeal(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	pub, sec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := ghsecret.PublicKey{KeyID: "interop", Key: *pub}
	for name, v := range interopValues() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sealed, err := ghsecret.Seal(key, v)
			if err != nil {
				t.Fatal(err)
			}
			out, err := runTool(t, interopDir, map[string]string{"publicKey": b64(pub[:]), "secretKey": b64(sec[:]), "sealed": sealed}, node, "open.js")
			if err != nil {
				t.Fatalf("libsodium could not open Seal's output: %v", err)
			}
			if out != b64(v) {
				t.Fatalf("libsodium opened %d bytes into something else", len(v))
			}
		})
	}
	t.Run("tampered box is refused", func(t *testing.T) {
		t.Parallel()
		sealed, _ := ghsecret.Seal(key, []byte(value))
		raw, _ := base64.StdEncoding.DecodeString(sealed)
		raw[len(raw)-1] ^= 1
		if _, err := runTool(t, interopDir, map[string]string{"publicKey": b64(pub[:]), "secretKey": b64(sec[:]), "sealed": b64(raw)}, node, "open.js"); err == nil {
			t.Fatal("open.js opened a tampered box: it does not check anything")
		}
	})
}

// TestInteropSealOpensInGo: what libsodium's crypto_box_seal produces,
// box.OpenAnonymous opens.
func TestInteropSealOpensInGo(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	pub, sec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range interopValues() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, err := runTool(t, interopDir, map[string]string{"publicKey": b64(pub[:]), "message": b64(v)}, node, "seal.js")
			if err != nil {
				t.Fatalf("seal.js: %v", err)
			}
			raw, err := base64.StdEncoding.Strict().DecodeString(out)
			if err != nil {
				t.Fatalf("libsodium's output is not standard base64: %v", err)
			}
			if len(raw) != len(v)+box.AnonymousOverhead {
				t.Fatalf("sealed %d bytes into %d, want %d overhead", len(v), len(raw), box.AnonymousOverhead)
			}
			got, ok := box.OpenAnonymous(nil, raw, pub, sec)
			if !ok || !bytes.Equal(got, v) {
				t.Fatalf("box.OpenAnonymous could not open libsodium's box (ok=%v)", ok)
			}
		})
	}
}

// TestInteropEmulatorAcceptsLibsodium: a value sealed by libsodium and PUT
// as raw JSON, the way GitHub's docs show it, is what the emulator stores;
// the request conforms to GitHub's description.
func TestInteropEmulatorAcceptsLibsodium(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	e, srv := emulatortest.NewServer(t, seed())
	chk := ghconform.New(t, nil)
	hc := chk.Client()
	for _, tg := range allScopes {
		t.Run(string(tg.Scope), func(t *testing.T) {
			keyID, key := e.PublicKey(tg.Key())
			sealed, err := runTool(t, interopDir, map[string]string{"publicKey": b64(key[:]), "message": b64([]byte(value))}, node, "seal.js")
			if err != nil {
				t.Fatalf("seal.js: %v", err)
			}
			body := map[string]any{"encrypted_value": sealed, "key_id": keyID}
			var path string
			switch tg.Scope {
			case ghsecret.ScopeRepository:
				path = "/repos/octo/app/actions/secrets/GROO_PAT"
			case ghsecret.ScopeEnvironment:
				path = "/repos/octo/app/environments/prod%2Feu/secrets/GROO_PAT"
			case ghsecret.ScopeOrganization:
				path, body["visibility"] = "/orgs/octo/actions/secrets/GROO_PAT", "private"
			case ghsecret.ScopeDependabot:
				path = "/repos/octo/app/dependabot/secrets/GROO_PAT"
			case ghsecret.ScopeDependabotOrganization:
				path, body["visibility"] = "/orgs/octo/dependabot/secrets/GROO_PAT", "private"
			}
			raw, _ := json.Marshal(body)
			req, _ := http.NewRequestWithContext(context.Background(), "PUT", srv+path, bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bearer "+fullToken)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/vnd.github+json")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT %s: %d, want 201", path, resp.StatusCode)
			}
			if s := stored(t, e, tg); s.Value != value {
				t.Fatalf("emulator holds %q", s.Value)
			}
		})
	}
}

// pynacl is Debian's python3; /usr/local/bin/python3 may be another
// interpreter without the nacl module.
const pynacl = "/usr/bin/python3"

const pyOpen = `
import base64, json, sys
from nacl.public import PrivateKey, SealedBox
d = json.load(sys.stdin)
box = SealedBox(PrivateKey(base64.b64decode(d["secretKey"])))
sys.stdout.write(base64.b64encode(box.decrypt(base64.b64decode(d["sealed"]))).decode())
`

const pySeal = `
import base64, json, sys
from nacl.public import PublicKey, SealedBox
d = json.load(sys.stdin)
box = SealedBox(PublicKey(base64.b64decode(d["publicKey"])))
sys.stdout.write(base64.b64encode(box.encrypt(base64.b64decode(d["message"]))).decode())
`

// TestInteropPyNaCl cross-checks both directions with PyNaCl.
func TestInteropPyNaCl(t *testing.T) {
	t.Parallel()
	if _, err := runTool(t, ".", nil, pynacl, "-c", "import nacl.public"); err != nil {
		t.Fatalf("%s cannot import nacl (%v): %s", pynacl, err, depsHint)
	}
	pub, sec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v := []byte(value)

	sealed, err := ghsecret.Seal(ghsecret.PublicKey{KeyID: "py", Key: *pub}, v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runTool(t, ".", map[string]string{"secretKey": b64(sec[:]), "sealed": sealed}, pynacl, "-c", pyOpen)
	if err != nil || out != b64(v) {
		t.Fatalf("PyNaCl could not open Seal's output: %q, %v", out, err)
	}

	out, err = runTool(t, ".", map[string]string{"publicKey": b64(pub[:]), "message": b64(v)}, pynacl, "-c", pySeal)
	if err != nil {
		t.Fatalf("PyNaCl seal: %v", err)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := box.OpenAnonymous(nil, raw, pub, sec); !ok || !bytes.Equal(got, v) {
		t.Fatalf("box.OpenAnonymous could not open PyNaCl's box")
	}
}
