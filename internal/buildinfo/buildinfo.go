// Package buildinfo is what --version prints: the module version and the
// commit the binary was built from, read from the build information Go
// embeds (runtime/debug), so that no linker flag is needed.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version is one line: "NAME VERSION (commit REV, TIME[, modified]) GOVERSION".
// What the build information lacks is left out; a binary built without
// module support prints "NAME unknown".
func Version(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return name + " unknown"
	}
	return format(name, bi)
}

func format(name string, bi *debug.BuildInfo) string {
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var vcs []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		vcs = append(vcs, "commit "+rev)
	}
	if at != "" {
		vcs = append(vcs, at)
	}
	if modified {
		vcs = append(vcs, "modified")
	}
	s := name + " " + version
	if len(vcs) > 0 {
		s += " (" + strings.Join(vcs, ", ") + ")"
	}
	if bi.GoVersion != "" {
		s += fmt.Sprintf(" %s", bi.GoVersion)
	}
	return s
}
