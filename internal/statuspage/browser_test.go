package statuspage_test

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/groo/pat-action/internal/statuspage"
	"github.com/groo/pat-action/internal/testkit"
)

// A real headless Chromium loads the page: what a person sees, with the
// browser's own parser and script engine, not a string search of the HTML.

var updateScreenshot = flag.Bool("update-screenshot", false, "also write the page's screenshot to docs/status-page.png (the README's)")

func chromium(t *testing.T) string { return testkit.Chromium(t) }

func runChromium(t *testing.T, bin, url string, args ...string) []byte {
	t.Helper()
	return testkit.RunChromium(t, bin, url, args...)
}

func TestBrowser(t *testing.T) {
	bin := chromium(t)

	// The harness can see a script run: a page whose script changes its
	// title shows the new title in the dumped DOM. Without this, "the title
	// is unchanged" below would prove nothing.
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><title>before</title><script>document.title='after'</script>`))
	}))
	defer canary.Close()
	if dom := string(runChromium(t, bin, canary.URL, "--dump-dom")); !strings.Contains(dom, "<title>after</title>") {
		t.Fatalf("scripts do not run in this headless Chromium, so the test cannot tell that the page's do not:\n%s", dom)
	}

	srv := newServer(t, newFake(), statuspage.Options{})
	dom := string(runChromium(t, bin, srv.URL+"/", "--dump-dom", "--virtual-time-budget=2000"))

	// No script ran and no element was injected: the title is the page's,
	// and the payloads are text.
	if !strings.Contains(dom, "<title>pat-rotator status</title>") {
		t.Errorf("the title changed: a script ran\n%s", dom)
	}
	for _, el := range []string{"<script", "<img"} {
		if strings.Contains(dom, el) {
			t.Errorf("the DOM holds an injected %s element\n%s", el, dom)
		}
	}
	// As text, serialised back: the script tag and the line break shown.
	if !strings.Contains(dom, `&lt;script&gt;alert(1)&lt;/script&gt;\nsecond line`) {
		t.Errorf("the failing target's error is not shown as text\n%s", dom)
	}
	if !strings.Contains(dom, `written by &lt;img src=x onerror="document.title='pwned'"&gt;`) {
		t.Errorf("the finding's message is not shown as text\n%s", dom)
	}

	// What needs attention first: the failing target, then the stuck
	// revoke, then the token expiring soon, then the fine one.
	order := targetOrder(dom)
	want := []string{"repo:octo/fail GROO_PAT", "env:octo/app:prod GROO_PAT", "repo:octo/soon GROO_PAT", "repo:octo/ok GROO_PAT"}
	if !slices.Equal(order, want) {
		t.Errorf("targets in the order %q, want %q", order, want)
	}
	for _, text := range []string{
		"expires in 5 h", "Last rotation failed 5 min ago", "Revoke of tok_prod_2 is stuck", "retry in 10 min",
		"3 of 4 target(s) need attention", "2026-03-10 17:10 UTC",
	} {
		if !strings.Contains(dom, text) {
			t.Errorf("the page does not say %q\n%s", text, dom)
		}
	}
	// The row links to its history, and the link works.
	link := `href="history?use_case=GitHub%20Actions%20-%20octo%2Ffail%20GROO_PAT"`
	if !strings.Contains(dom, link) {
		t.Errorf("no link %s\n%s", link, dom)
	}
	hist := string(runChromium(t, bin, srv.URL+"/history?use_case=GitHub%20Actions%20-%20octo%2Ffail%20GROO_PAT", "--dump-dom"))
	if !strings.Contains(hist, "<title>pat-rotator history</title>") || strings.Count(hist, `class="event"`) != 2 ||
		strings.Contains(hist, "<script") || !strings.Contains(hist, "&lt;script&gt;alert(1)") {
		t.Errorf("the history view:\n%s", hist)
	}

	// A screenshot as the test's artefact (testdata/out, ignored by git).
	out, err := filepath.Abs(filepath.Join("testdata", "out"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(out, "status-page.png")
	_ = os.Remove(shot)
	runChromium(t, bin, srv.URL+"/", "--screenshot="+shot, "--window-size=1280,900", "--virtual-time-budget=2000")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Fatalf("the screenshot is not a PNG of the page (%d bytes)", len(png))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "status-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
