package config

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/safetext"
)

// credentialKeys are keys people write when they paste a credential into the
// file. Only *-env and *-file keys may point at one.
var credentialKeys = map[string]string{
	"token":         "token-env (an environment variable) or token-file",
	"pat":           "token-env (an environment variable) or token-file",
	"password":      "token-env (an environment variable) or token-file",
	"api-key":       "token-env (an environment variable) or token-file",
	"client-secret": "token-env (an environment variable) or token-file",
	"private-key":   "private-key-file (the path of the PEM file)",
	"key":           "private-key-file (the path of the PEM file)",
}

// credentialSuffixes catch github-token, groo-pat, app-password and the like.
var credentialSuffixes = []string{"-token", "-pat", "-password", "-private-key", "_token"}

// credentialValue matches the formats of the credentials this tool handles.
// A Groo PAT in any letter case (an upper-cased one is as much a
// credential; hex after the prefix, so that GROO_PAT_PROD stays a name).
var credentialValue = regexp.MustCompile(`groo_pat_[0-9a-zA-Z]|(?i:groo_pat_)[0-9a-fA-F]{8}|github_pat_[0-9A-Za-z_]|\bgh[pousr]_[A-Za-z0-9]{16,}|-----BEGIN [A-Z ]*(PRIVATE )?KEY`)

// scanCredentials walks the whole document before anything else reads it and
// reports credentials written inline, naming where without echoing them.
func (p *parser) scanCredentials(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if fix, ok := credentialKey(k.Value); ok {
				p.skip[k] = true
				p.errorf(k, kp, "a credential written inline in the configuration; credentials are read only from *-env and *-file keys: remove it, rotate it if this file was shared, and use %s", fix)
				continue
			}
			p.scanCredentials(k, kp)
			p.scanCredentials(v, kp)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p.scanCredentials(c, fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.ScalarNode:
		if err := safetext.CheckLine(n.Value); err != nil {
			// Reported once here, for keys and values alike, without the value.
			p.errorf(n, path, "%v in a configuration string; every value is single-line text: remove it "+
				"(a quoted \"\\n\" or \"\\t\" escape, a | or > block, or a stray control character in the file writes one)", err)
			p.flagged[n] = true
			return
		}
		if m := credentialValue.FindString(n.Value); m != "" {
			p.errorf(n, path, "this value looks like a credential (%s…); credentials never go in the configuration: remove it, rotate it if this file was shared, and name an environment variable with token-env or a file with token-file",
				credentialKind(m))
			p.flagged[n] = true
		}
	}
}

func credentialKey(key string) (string, bool) {
	k := strings.ToLower(key)
	if fix, ok := credentialKeys[k]; ok {
		return fix, true
	}
	for _, s := range credentialSuffixes {
		if strings.HasSuffix(k, s) {
			return credentialKeys["token"], true
		}
	}
	return "", false
}

// credentialKind names a match by its public prefix only.
func credentialKind(m string) string {
	m = strings.ToLower(m)
	switch {
	case strings.HasPrefix(m, "-----begin"):
		return "a PEM private key"
	case strings.HasPrefix(m, "groo_pat_"):
		return "a Groo PAT, groo_pat_"
	case strings.HasPrefix(m, "github_pat_"):
		return "a GitHub fine-grained PAT, github_pat_"
	default:
		return "a GitHub token, " + m[:4]
	}
}

// credentialWord is a whole token-shaped word, for redacting messages
// (safetext.Redact catches an upper-cased PAT too).
var credentialWord = regexp.MustCompile(`(groo_pat_|github_pat_|gh[pousr]_)[A-Za-z0-9_]+`)

// redactCredentials keeps a message that quotes a value from echoing a
// credential: only its public prefix is left, and every other secret the
// process holds is redacted (safetext.Redact).
func redactCredentials(s string) string {
	return safetext.Redact(credentialWord.ReplaceAllString(s, "${1}…"))
}
