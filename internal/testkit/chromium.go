package testkit

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"
)

// Chromium finds Debian's headless browser; without it the test fails
// (never skips) with what to install.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: the status page's browser tests need it; " +
		"install it with `apt-get install -y chromium` (Debian's package; .ci/run and make test-deps install it)")
	return ""
}

// RunChromium runs one headless Chromium command (--dump-dom,
// --screenshot=FILE, ...) on url with a fresh profile and the flags that
// keep it off the network, and returns its standard output.
func RunChromium(t testing.TB, bin, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}
