package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

const seedJSON = `{"groo":{"tokens":[{"id":"tok_boot","name":"boot","secret":"groo_pat_0000000000000000000000000000000000000000000000000000000000000001"}]},
 "github":{"tokens":["ghs_test"],"repositories":["octo/app"]}}`

func writeSeed(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(p, []byte(seedJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkState(t *testing.T, url string) {
	t.Helper()
	res, err := http.Get(url + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct {
		Tokens []struct{ ID string } `json:"tokens"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || res.StatusCode != 200 {
		t.Fatalf("state: %d %v", res.StatusCode, err)
	}
	if len(st.Tokens) != 1 || st.Tokens[0].ID != "tok_boot" {
		t.Fatalf("state tokens %+v, want the seeded one", st.Tokens)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// emulatorBinary builds pat-emulator once for the tests that run it.
func emulatorBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pat-emulator-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pat-emulator")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestBinary(t *testing.T) {
	t.Parallel()
	bin := emulatorBinary(t)
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--seed", writeSeed(t))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read address: %v (stderr %s)", err, stderr.String())
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "pat-emulator listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	checkState(t, url)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v (stderr %s)", err, stderr.String())
	}
}

// syncBuffer lets the test read what realMain writes from another goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	ch chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if bytes.Contains(s.b.Bytes(), []byte("\n")) && s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	return n, err
}

func TestRealMain(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{ch: make(chan struct{})}
	printed := out.ch
	done := make(chan error, 1)
	seed := writeSeed(t)
	go func() {
		done <- realMain(ctx, []string{"--listen", "127.0.0.1:0", "--seed", seed}, out, io.Discard)
	}()
	select {
	case <-printed:
	case err := <-done:
		t.Fatalf("realMain returned early: %v", err)
	}
	out.mu.Lock()
	url := strings.TrimPrefix(strings.TrimSpace(out.b.String()), "pat-emulator listening on ")
	out.mu.Unlock()
	checkState(t, url)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("realMain: %v", err)
	}
}

// TestRealMainChaos: --chaos and --chaos-seed set the emulator's random
// faults, which the admin API reads back.
func TestRealMainChaos(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{ch: make(chan struct{})}
	printed := out.ch
	done := make(chan error, 1)
	go func() {
		done <- realMain(ctx, []string{"--listen", "127.0.0.1:0", "--chaos", "0.25", "--chaos-seed", "9"}, out, io.Discard)
	}()
	select {
	case <-printed:
	case err := <-done:
		t.Fatalf("realMain returned early: %v", err)
	}
	out.mu.Lock()
	url := strings.TrimPrefix(strings.TrimSpace(out.b.String()), "pat-emulator listening on ")
	out.mu.Unlock()
	res, err := http.Get(url + "/_emulator/chaos")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Rate float64 `json:"rate"`
		Seed uint64  `json:"seed"`
	}
	err = json.NewDecoder(res.Body).Decode(&c)
	res.Body.Close()
	if err != nil || c.Rate != 0.25 || c.Seed != 9 {
		t.Errorf("chaos %+v %v, want rate 0.25 seed 9", c, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("realMain: %v", err)
	}
}

func TestRealMainErrors(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"github":{"repositories":["noslash"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing seed", []string{"--seed", filepath.Join(t.TempDir(), "none.json")}, "read seed"},
		{"invalid seed", []string{"--seed", bad}, "seed from"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"bad address", []string{"--listen", "127.0.0.1:notaport"}, "listen"},
		{"chaos out of range", []string{"--listen", "127.0.0.1:0", "--chaos", "2"}, "--chaos: chaos rate 2 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := realMain(context.Background(), tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// -h and --version exit 0 with their text on stdout; a bad command line
// exits 2 with the usage, a seed that cannot be used 2, an address that
// cannot be listened on 3.
func TestBinaryCommandLine(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"github":{"repositories":["noslash"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"-h", []string{"-h"}, 0, "usage: pat-emulator [--listen ADDR]", ""},
		{"--help", []string{"--help"}, 0, "\n  --seed FILE\n", ""},
		{"--version", []string{"--version"}, 0, "pat-emulator ", ""},
		{"unknown flag", []string{"--nope"}, 2, "", "usage: pat-emulator"},
		{"stray argument", []string{"extra"}, 2, "", "unexpected arguments"},
		{"invalid seed", []string{"--seed", bad}, 2, "", "seed from"},
		{"bad address", []string{"--listen", "127.0.0.1:notaport"}, 3, "", "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(emulatorBinary(t), tt.args...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tt.code, tt.stdout, out.String(), tt.stderr, errb.String())
			}
			if strings.Contains(out.String()+errb.String(), "  -listen") {
				t.Error("the help writes a flag with one dash")
			}
		})
	}
}
