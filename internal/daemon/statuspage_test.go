package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/testkit"
)

// TestStatusPageInABrowser: the daemon on a seeded emulator with a failing
// target (GitHub answers its write with a text that holds a script tag), a
// target whose replaced token waits out its grace, and one whose token
// expires in two hours. A real headless Chromium loads the daemon's page:
// the failing target comes first, the server's text is shown as text (no
// script ran: the title is unchanged, no element was injected), the pending
// revoke and the expiring token are shown. The screenshot is kept in the
// test's artefacts (testdata/out, ignored by git).
func TestStatusPageInABrowser(t *testing.T) {
	t.Parallel()
	bin := testkit.Chromium(t)
	const r0, r1, r2 = "GitHub Actions - octo/r0 GROO_PAT", "GitHub Actions - octo/r1 GROO_PAT", "GitHub Actions - octo/r2 GROO_PAT"
	f := newFleet(t, 3, []string{r1})
	f.emu.SetFaults([]emulator.Fault{{Route: emulator.RouteSecretPut, Scope: "repo:octo/r0", Status: 403,
		Message: `<script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">`}})
	cfg := f.config(t, `daemon: {retry-min: 1h, retry-max: 1h}
defaults: {ttl: 72h, revoke-grace: 0s, schedule: "@every 1h", jitter: 0s}
targets:
  - repository: octo/r0
  - {repository: octo/r1, revoke-grace: 1h}
  - {repository: octo/r2, ttl: 2h}
`)
	d, addr := f.listening(t, cfg)
	// One pass first (r1 keeps a token of its own, so the start-up check
	// would leave it to its schedule): r0 fails, r1's replaced token waits
	// out its grace, r2's new token lives two hours.
	if _, err := d.RotateOnce(context.Background(), nil); err == nil {
		t.Fatal("the first pass did not fail for r0")
	}
	running(t, d)
	// Run's start-up check tries r0 again (it has no live token): wait
	// until that attempt failed too and nothing of r0 runs, so that the
	// page shows a settled state.
	r0t := d.byName["repo:octo/r0 GROO_PAT"]
	waitFor(t, "r0's start-up attempt to fail", func() bool {
		evs, err := d.store.History(context.Background(), audit.HistoryQuery{UseCase: r0})
		if err != nil {
			return false
		}
		failed := 0
		for _, e := range evs {
			if e.Outcome == audit.OutcomeFailed {
				failed++
			}
		}
		return failed >= 2 && !r0t.running.Load()
	})

	url := "http://" + addr + "/"
	dom := string(testkit.RunChromium(t, bin, url, "--dump-dom", "--virtual-time-budget=2000"))
	if strings.Contains(dom, "pwned") && !strings.Contains(dom, "&lt;script&gt;") {
		t.Fatalf("the server's text reached the page unescaped:\n%s", dom)
	}
	if strings.Contains(dom, "<title>pwned") || strings.Contains(dom, "<img src=\"x\"") || strings.Contains(dom, "<script>document") {
		t.Fatalf("a script or an element from the server's text is in the DOM:\n%s", dom)
	}
	i0, i1, i2 := strings.Index(dom, "repo:octo/r0 GROO_PAT"), strings.Index(dom, "repo:octo/r1 GROO_PAT"), strings.Index(dom, "repo:octo/r2 GROO_PAT")
	if i0 < 0 || i1 < 0 || i2 < 0 || i0 > i1 || i0 > i2 {
		t.Errorf("targets at %d, %d, %d: want all three, the failing r0 first", i0, i1, i2)
	}
	for _, want := range []string{"&lt;script&gt;", "failed", "expires in", "Pending revokes"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	out := filepath.Join("testdata", "out")
	testkit.RunChromium(t, bin, url, "--screenshot="+filepath.Join(mustAbs(t, out), "status-page-daemon.png"), "--window-size=1280,900")
	if st := f.emu.State(); len(st.Violations) != 0 {
		t.Errorf("I1: %v", st.Violations)
	}
}

func mustAbs(t *testing.T, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := mkdirAll(abs); err != nil {
		t.Fatal(err)
	}
	return abs
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }
