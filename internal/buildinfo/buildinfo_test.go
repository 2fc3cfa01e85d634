package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			"pat-rotator v1.2.3 go1.26.8"},
		{"checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.4-0.20260301120000-0123456789ab+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-03-01T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			"pat-rotator v1.2.4-0.20260301120000-0123456789ab+dirty (commit 0123456789ab, 2026-03-01T12:00:00Z, modified) go1.26.8"},
		{"no version", debug.BuildInfo{}, "pat-rotator (devel)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := format("pat-rotator", &tt.bi); got != tt.want {
				t.Errorf("format = %q\nwant      %q", got, tt.want)
			}
		})
	}
}
