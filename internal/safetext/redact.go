package safetext

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// tokenShape finds token values: a Groo PAT in any letter case (groo_pat_
// and at least 8 hex characters, so not the redacted form groo_pat_ab…c183
// nor a secret name such as GROO_PAT_PROD), a near-miss written with the
// lower-case prefix (groo_pat_ and 8 letters or digits), GitHub fine-grained
// PATs and the gh?_ tokens (classic PATs, OAuth, user-to-server,
// installation, refresh). GitHub's prefixes are matched as GitHub writes
// them: an upper-case GITHUB_PAT_... is an environment variable's name far
// more often than a token; the GitHub credential the process holds is
// registered, and redacted in any case, all the same.
var tokenShape = regexp.MustCompile(`(?i:groo_pat_)[0-9a-fA-F]{8,}|groo_pat_[0-9a-zA-Z]{8,}|github_pat_[0-9A-Za-z_]{8,}|gh[pousr]_[0-9A-Za-z]{8,}`)

// knownPrefixes are the public starts of the token formats; AddSecret also
// registers what follows them, which a server may echo alone.
var knownPrefixes = []string{"groo_pat_", "github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"}

// minSecret is the shortest value AddSecret registers: shorter ones would
// redact ordinary words.
const minSecret = 8

// registry holds every secret value the process has seen, lower-cased,
// indexed by its first minSecret bytes so that Redact scans a text once
// however many there are.
type registry struct {
	mu    sync.RWMutex
	byKey map[[minSecret]byte][]string
	seen  map[string]bool
	order []string // oldest first, for the bound
	limit int
}

// maxSecrets bounds the registry of a long-running daemon, which mints a
// token per rotation: past it the oldest values are forgotten. Anything in a
// token format is still redacted by its shape.
const maxSecrets = 20000

var secrets = newRegistry(maxSecrets)

func newRegistry(limit int) *registry {
	return &registry{byKey: map[[minSecret]byte][]string{}, seen: map[string]bool{}, limit: limit}
}

// lowerASCII lower-cases ASCII letters only, so byte offsets stay the same.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// AddSecret registers a value that Redact must replace wherever it appears,
// in any letter case: a credential, a minted token, an installation token.
// For a value in a known token format, the part after the prefix is
// registered as well. Values shorter than 8 bytes are ignored. It is safe
// for concurrent use; registering a value twice costs a map lookup.
func AddSecret(v string) {
	v = strings.TrimSpace(v)
	secrets.add(v)
	for _, p := range knownPrefixes {
		if len(v) > len(p) && strings.EqualFold(v[:len(p)], p) {
			secrets.add(v[len(p):])
		}
	}
}

func (r *registry) add(v string) {
	if len(v) < minSecret {
		return
	}
	v = lowerASCII(v)
	r.mu.RLock()
	ok := r.seen[v]
	r.mu.RUnlock()
	if ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[v] {
		return
	}
	r.seen[v] = true
	r.byKey[keyOf(v)] = append(r.byKey[keyOf(v)], v)
	r.order = append(r.order, v)
	for len(r.order) > r.limit {
		old := r.order[0]
		r.order = r.order[1:]
		delete(r.seen, old)
		k := keyOf(old)
		vs := r.byKey[k]
		for i, x := range vs {
			if x == old {
				vs = append(vs[:i:i], vs[i+1:]...)
				break
			}
		}
		if len(vs) == 0 {
			delete(r.byKey, k)
		} else {
			r.byKey[k] = vs
		}
	}
}

func keyOf(v string) [minSecret]byte {
	var k [minSecret]byte
	copy(k[:], v)
	return k
}

// redact replaces every registered value in s by "[redacted]".
func (r *registry) redact(s string) string {
	if len(s) < minSecret {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.byKey) == 0 {
		return s
	}
	low := lowerASCII(s)
	var b strings.Builder
	last := 0
	var k [minSecret]byte
	for i := 0; i+minSecret <= len(low); {
		copy(k[:], low[i:i+minSecret])
		best := 0
		for _, v := range r.byKey[k] {
			if len(v) > best && strings.HasPrefix(low[i:], v) {
				best = len(v)
			}
		}
		if best == 0 {
			i++
			continue
		}
		b.WriteString(s[last:i])
		for _, p := range knownPrefixes {
			if best > len(p) && strings.HasPrefix(low[i:], p) {
				b.WriteString(s[i : i+len(p)]) // the public part, as found
				break
			}
		}
		b.WriteString("[redacted]")
		i += best
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Redact returns s with every registered secret replaced by "[redacted]"
// (after its public prefix, groo_pat_[redacted], when it has one) and
// anything else shaped like a token by its prefix and last four
// (groo_pat_…c183), whatever the letter case.
func Redact(s string) string {
	s = secrets.redact(s)
	return tokenShape.ReplaceAllStringFunc(s, func(m string) string {
		head := m[:4] // ghp_, ghs_, ...
		for _, p := range []string{"groo_pat_", "github_pat_"} {
			if len(m) > len(p) && strings.EqualFold(m[:len(p)], p) {
				head = m[:len(p)]
			}
		}
		return head + "…" + m[len(m)-4:]
	})
}

// RedactURL returns a URL fit to print: without user info (a password, or a
// token written as the user name), then redacted. Text that does not parse
// as a URL is redacted and has anything before an "@" in its authority cut.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if u.User != nil {
			u.User = nil
			raw = u.String()
		}
		return Redact(raw)
	}
	if scheme, rest, ok := strings.Cut(raw, "://"); ok {
		auth, path, _ := strings.Cut(rest, "/")
		if i := strings.LastIndex(auth, "@"); i >= 0 {
			raw = scheme + "://" + auth[i+1:]
			if path != "" || strings.Contains(rest, "/") {
				raw += "/" + path
			}
		}
	}
	return Redact(raw)
}

// Clean is Redact then Line: server or user text made fit for one line of
// a terminal, a log, an annotation or an error.
func Clean(s string) string { return Line(Redact(s)) }
