package testkit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// NoTokenValues fails t for each of values found in one of texts (keyed by
// what each is: a log, an error) or in a file matching one of globs (a
// store and its journal files). It names where, and never the whole value.
func NoTokenValues(t testing.TB, values []string, texts map[string]string, globs ...string) {
	t.Helper()
	all := make(map[string]string, len(texts))
	for k, v := range texts {
		all[k] = v
	}
	for _, g := range globs {
		files, _ := filepath.Glob(g)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if errors.Is(err, fs.ErrNotExist) {
				continue // a journal file that went away meanwhile
			}
			if err != nil {
				t.Errorf("read %s: %v", f, err)
				continue
			}
			all[filepath.Base(f)] = string(b)
		}
	}
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range values {
			if v != "" && strings.Contains(all[name], v) {
				t.Errorf("%s holds a token value (%s…)", name, v[:min(11, len(v))])
			}
		}
	}
}
