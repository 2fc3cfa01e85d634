package soak

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/pgtest"
	"github.com/groo/pat-action/internal/testkit"
)

// TestMain stops the throwaway PostgreSQL cluster the tests start.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// rotatorBinary builds cmd/pat-rotator once per test binary into a
// temporary directory.
func rotatorBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pat-rotator-soak-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pat-rotator")
		goTool := "go"
		if _, err := exec.LookPath(goTool); err != nil {
			goTool = "/usr/local/go/bin/go"
		}
		out, err := exec.Command(goTool, "build", "-o", binPath, "github.com/groo/pat-action/cmd/pat-rotator").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/pat-rotator: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is one run of `pat-rotator run`, its stderr kept for the report.
type proc struct {
	cmd    *exec.Cmd
	stderr *testkit.Buffer
	done   chan error
	exited error // set once done delivered
	waited bool
}

// startRun starts `pat-rotator run --config cfg` with env added to the
// test's environment. The process is killed at the test's end if it still
// runs.
func startRun(t testing.TB, bin, cfg string, env []string) *proc {
	t.Helper()
	p := &proc{stderr: &testkit.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "run", "--config", cfg, "--log-format", "text")
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start pat-rotator: %v", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill SIGKILLs the process and reaps it (a zombie's pid still answers
// kill(pid, 0): its lease would not count as gone).
func (p *proc) kill() {
	if p.waited {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.exited, p.waited = <-p.done, true
}

// stop sends SIGTERM and waits up to within for the exit.
func (p *proc) stop(within time.Duration) error {
	if p.waited {
		return p.exited
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.exited, p.waited = err, true
		return err
	case <-time.After(within):
		p.kill()
		return fmt.Errorf("no exit within %s of SIGTERM; killed", within)
	}
}

// tail is the last n lines of the process's stderr with every value in
// secrets replaced (the daemon redacts its logs; this is belt and braces).
func (p *proc) tail(n int, secrets []string) string {
	s := p.stderr.String()
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[token]")
		}
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
