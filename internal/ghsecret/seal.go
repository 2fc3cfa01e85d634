package ghsecret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/nacl/box"
)

// MaxValueSize is the largest secret value GitHub stores (48 KB).
const MaxValueSize = 48 * 1024

// Seal encrypts plaintext for key the way GitHub expects: a libsodium sealed
// box (crypto_box_seal: an ephemeral X25519 key, XSalsa20-Poly1305, 48 bytes
// of overhead) in standard base64. Only the holder of the key's private half
// (GitHub) can open it; the sender keeps nothing that could.
func Seal(key PublicKey, plaintext []byte) (string, error) {
	if key.KeyID == "" || key.Key == ([32]byte{}) {
		return "", errors.New("seal value: public key is empty; fetch the scope's key first")
	}
	pk := key.Key
	// Sized up front so SealAnonymous appends without growing the slice.
	out := make([]byte, 0, len(plaintext)+box.AnonymousOverhead)
	out, err := box.SealAnonymous(out, plaintext, &pk, rand.Reader)
	if err != nil {
		// Only the random source can fail; the error never holds the value.
		return "", fmt.Errorf("seal value with key %s: %w", key.KeyID, err)
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// ParsePublicKey turns GitHub's {key_id, key} answer into a PublicKey. The
// key must be the standard base64 of 32 bytes.
func ParsePublicKey(keyID, b64 string) (PublicKey, error) {
	if strings.TrimSpace(keyID) == "" {
		return PublicKey{}, errors.New("parse public key: key_id is empty")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return PublicKey{}, fmt.Errorf("parse public key %s: not standard base64: %w", keyID, err)
	}
	if len(raw) != 32 {
		return PublicKey{}, fmt.Errorf("parse public key %s: %d bytes, want 32 (a Curve25519 key)", keyID, len(raw))
	}
	pk := PublicKey{KeyID: keyID}
	copy(pk.Key[:], raw)
	if pk.Key == ([32]byte{}) {
		// Sealing to the all-zero point would give a value anyone can open.
		return PublicKey{}, fmt.Errorf("parse public key %s: key is all zeros", keyID)
	}
	return pk, nil
}
