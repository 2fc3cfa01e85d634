//go:build unix

package audit

import (
	"errors"
	"syscall"
)

// processGone: signal 0 checks existence without signalling; EPERM means
// the process exists under another user.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
