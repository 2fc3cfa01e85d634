package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryRotatesWithClosedStdout: the step's stdout is a pipe nobody
// reads any more. Every write to it fails; none may end the rotation
// (SIGPIPE killed the process at its first line): the secret holds a new
// live token, the old one is revoked, and both audit events reach stderr.
func TestBinaryRotatesWithClosedStdout(t *testing.T) {
	t.Parallel()
	uc := "GitHub Actions - octo/app GROO_PAT"
	old := newPAT(t)
	emu, url := conformingServer(t, seed(uc, "repo:octo/app", old))

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close() // the reader is gone before the first write
	defer pw.Close()

	dir := t.TempDir()
	out := filepath.Join(dir, "output")
	cmd := exec.Command(binary)
	cmd.Env = []string{
		"GITHUB_ACTIONS=true", "GITHUB_REPOSITORY=octo/app", "GITHUB_RUN_ID=99", "GITHUB_SERVER_URL=https://github.com",
		"GITHUB_OUTPUT=" + out, "GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary"),
		"INPUT_GROO-TOKEN=" + old, "INPUT_GITHUB-TOKEN=" + writer, "INPUT_GROO-API-URL=" + url, "INPUT_GITHUB-API-URL=" + url,
		"INPUT_REVOKE-GRACE=0s",
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = pw, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Errorf("pat-action ended with %v, want exit 0\nstderr:\n%s", ee.ProcessState, stderr.String())
	} else if err != nil {
		t.Fatal(err)
	}

	st := emu.State()
	sec, ok := st.Secret("repo:octo/app", "GROO_PAT")
	if !ok || sec.Value == old {
		t.Fatalf("secret not rotated\nstderr:\n%s", stderr.String())
	}
	newTok, ok := st.TokenBySecret(sec.Value)
	if !ok || !newTok.Live(st.Now) || newTok.Name != uc {
		t.Errorf("the secret holds %+v, want a live token of %q", newTok, uc)
	}
	if oldTok, _ := st.TokenBySecret(old); !oldTok.Revoked {
		t.Error("the old token is still live")
	}
	if len(st.Violations) > 0 {
		t.Errorf("emulator violations: %v", st.Violations)
	}

	outcomes := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(stderr.Bytes()))
	for sc.Scan() {
		var ev struct {
			ID         string `json:"id"`
			Outcome    string `json:"outcome"`
			NewTokenID string `json:"new_token_id"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Outcome != "" {
			outcomes[ev.Outcome] = ev.NewTokenID
		}
	}
	if _, ok := outcomes["started"]; !ok {
		t.Errorf("no started event on stderr:\n%s", stderr.String())
	}
	if id, ok := outcomes["succeeded"]; !ok || id != newTok.ID {
		t.Errorf("no succeeded event for %s on stderr:\n%s", newTok.ID, stderr.String())
	}
	if !strings.Contains(stderr.String(), "writing the step's log failed") {
		t.Errorf("stderr does not say that stdout was lost:\n%s", stderr.String())
	}
	for _, s := range []string{old, sec.Value, writer} {
		if strings.Contains(stderr.String(), s) {
			t.Error("a secret reached stderr")
		}
	}
	if o := fileCommands(t, out); o["rotated"] != "true" || o["token-id"] != newTok.ID {
		t.Errorf("outputs %v", o)
	}
}
