package ghsecret

import (
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/nacl/box"
)

// BenchmarkSeal seals a 73-byte token (the size of a Groo PAT), the work
// of one secret write besides the HTTP round trips.
func BenchmarkSeal(b *testing.B) {
	pub, _, err := box.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	key := PublicKey{KeyID: "bench", Key: *pub}
	token := []byte(testValue[:73])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(key, token); err != nil {
			b.Fatal(err)
		}
	}
}
