package rotation_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/emulator"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/rotation"
)

// TestMain lets the test binary act as the child process that the
// process-death test kills.
func TestMain(m *testing.M) {
	if os.Getenv("ROTATION_CHILD") == "1" {
		if err := childRotate(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func childRotate() error {
	url := os.Getenv("ROT_URL")
	cred, err := groo.ParseToken(os.Getenv("ROT_CRED"))
	if err != nil {
		return err
	}
	out, err := os.OpenFile(os.Getenv("ROT_AUDIT"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	gc, err := groo.New(groo.WithBaseURL(url), groo.WithRequestTimeout(30*time.Second))
	if err != nil {
		return err
	}
	gh, err := github.NewClient(&http.Client{}).WithAuthToken(ghToken).WithEnterpriseURLs(url+"/", url+"/")
	if err != nil {
		return err
	}
	e := &rotation.Engine{
		Groo: gc, Secrets: ghsecret.NewClient(gh, ghsecret.WithMutationInterval(0)),
		Recorder: audit.NewJSONLines(out),
		Config:   rotation.Config{WriteWindow: testWindow, ClockMargin: testMargin, Logger: logger},
	}
	_, err = e.Rotate(context.Background(), rotation.Request{Target: defaultTarget(), Credential: cred, TTL: time.Hour, Tool: "pat-action"})
	return err
}

// TestProcessDeath kills a rotation (SIGKILL) while it waits on each step's
// request: I1 holds at once, and a second run settles the use case to I3.
func TestProcessDeath(t *testing.T) {
	t.Parallel()
	steps := []struct {
		name, route string
		hit         int // the request of that route to die in
	}{
		{"list", "groo.list", 1},
		{"public-key", "gh.public-key", 1},
		{"mint", "groo.create", 1},
		{"verify", "groo.me", 2},
		{"write", "gh.secret.put", 1},
		{"revoke", "groo.revoke", 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{})
			f.emu.SetFaults([]emulator.Fault{{Route: s.route, Latency: time.Minute}})
			auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "ROTATION_CHILD=1", "ROT_URL="+f.url, "ROT_CRED="+f.cred.Reveal(), "ROT_AUDIT="+auditFile)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for f.emu.Hits(s.route) < s.hit {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the child never reached %s: %s", s.route, stderr.String())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			f.emu.SetFaults(nil)

			f.checkI1(t)
			raw, err := os.ReadFile(auditFile)
			if err != nil || !strings.Contains(string(raw), `"outcome":"started"`) {
				t.Errorf("I7: the killed attempt left no started event (%v): %s", err, raw)
			}
			if strings.Contains(string(raw), f.cred.Reveal()) || strings.Contains(stderr.String(), f.cred.Reveal()) {
				t.Error("I5: the credential leaked into the child's audit or log")
			}

			// A second run after the window settles whatever the dead one left.
			time.Sleep(testWindow + testMargin)
			req := f.requestFromSecret(t)
			if _, err := f.engine(t, 0).Rotate(context.Background(), req); err != nil {
				t.Fatalf("second run: %v", err)
			}
			f.checkI3(t)
		})
	}
}
