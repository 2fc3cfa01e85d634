package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/groo/pat-action/internal/testkit"
)

// TestLogHandler: JSON or text, durations in the one grammar, never as
// nanoseconds.
func TestLogHandler(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ format, want string }{
		{"json", `"wait":"1d12h"`},
		{"text", `wait=1d12h`},
	} {
		var b bytes.Buffer
		slog.New(logHandler(&b, tt.format, nil)).Info("retry", "wait", 36*time.Hour)
		if !strings.Contains(b.String(), tt.want) || strings.Contains(b.String(), "129600000000000") {
			t.Errorf("%s: %q, want %s", tt.format, b.String(), tt.want)
		}
		if tt.format == "json" && !json.Valid(b.Bytes()) {
			t.Errorf("json log line does not parse: %q", b.String())
		}
	}
}

// TestRunListenAndLogFormat: `run --listen ADDR` serves on ADDR whatever the
// file's listen says, and `--log-format text` writes key=value lines.
func TestRunListenAndLogFormat(t *testing.T) {
	t.Parallel()
	bin := rotatorBinary(t)
	s := newChildSetup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	stderr := &testkit.Buffer{}
	cmd := exec.Command(bin, "run", "--config", s.config, "--listen", addr, "--log-format", "text")
	cmd.Env, cmd.Stderr = s.env, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("nothing answered /healthz on --listen %s:\n%s", addr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// One scheduled rotation (@every 1s) before the daemon stops.
	for {
		if _, ok := s.emu.State().Secret("repo:octo/app", "GROO_PAT"); ok {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("no rotation:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, "level=INFO") || !strings.Contains(out, `msg="pat-rotator running"`) || strings.Contains(out, `{"time"`) {
		t.Errorf("want text log lines:\n%s", out)
	}
	for _, v := range s.values {
		if strings.Contains(out, v) {
			t.Error("a token value reached the log")
		}
	}
}
