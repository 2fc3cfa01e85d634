package action

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/groo/pat-action/internal/safetext"
)

// The runner's file commands (GITHUB_OUTPUT, GITHUB_ENV) are written here
// rather than with go-githubactions v1.4.0's SetOutput and SetEnv, which use
// one fixed, public delimiter: a value holding it would end the heredoc and
// set any output or variable it likes. Each value gets a fresh delimiter
// ghadelimiter_<32 random hex characters> (as the runner's toolkit does), and
// a value that still holds it, or a line break where one line is expected,
// is refused rather than written.

// errUnsafeValue is a value refused by writeFileCommand.
var errUnsafeValue = errors.New("refused")

// newDelimiter is a heredoc delimiter no value can guess.
func newDelimiter() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random delimiter: %w", err)
	}
	return "ghadelimiter_" + hex.EncodeToString(b[:]), nil
}

// fileCommandEntry is name<<delim, the value and delim, checked. multiLine
// allows line breaks in the value.
func fileCommandEntry(name, value string, multiLine bool) (string, error) {
	if name == "" || strings.ContainsAny(name, "=<\r\n") || safetext.CheckLine(name) != nil {
		return "", fmt.Errorf("%w: the name %q is empty or holds '=', '<', a line break or a control character", errUnsafeValue, safetext.Line(name))
	}
	if !multiLine && strings.ContainsAny(value, "\r\n") {
		return "", fmt.Errorf("%w: %s holds a line break, and it is a single-line value", errUnsafeValue, name)
	}
	delim, err := newDelimiter()
	if err != nil {
		return "", err
	}
	if strings.Contains(value, delim) || strings.Contains(value, "ghadelimiter_") {
		return "", fmt.Errorf("%w: the value of %s holds a heredoc delimiter", errUnsafeValue, name)
	}
	return name + "<<" + delim + "\n" + value + "\n" + delim + "\n", nil
}

// writeFileCommand appends name=value to the runner file that the variable
// file (GITHUB_OUTPUT, GITHUB_ENV) names.
func writeFileCommand(a *githubactions.Action, file, name, value string, multiLine bool) error {
	path := a.Getenv(file)
	if path == "" {
		return fmt.Errorf("%s is not set", file)
	}
	entry, err := fileCommandEntry(name, value, multiLine)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	if _, err := f.WriteString(entry); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
