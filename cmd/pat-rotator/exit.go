package main

import "errors"

// The exit codes, one contract for every command (README "Exit codes").
const (
	exitOK        = 0
	exitFailed    = 1 // the work failed: a target was not rotated, a finding at --fail-on
	exitUsage     = 2 // usage or configuration: bad flags, an invalid file, a missing credential; nothing was read
	exitCannotRun = 3 // could not run: the store, Groo or GitHub could not be reached or read, a prune's revoke failed
)

// usageError is a command line the command refuses: exit 2. help, when
// set, follows the message (the command's or the general usage).
type usageError struct {
	msg  string
	help string
}

func (e *usageError) Error() string {
	if e.help == "" {
		return e.msg
	}
	return e.msg + "\n\n" + e.help
}

// configError is a configuration the command refuses (an invalid file, a
// credential it names but the environment lacks): exit 2.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// workError is work done that failed (a target not rotated, a finding at
// --fail-on): exit 1.
type workError struct{ err error }

func (e *workError) Error() string { return e.err.Error() }
func (e *workError) Unwrap() error { return e.err }

// runError is a command that could not run (the store, Groo, GitHub, the
// listen address): exit 3.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// errReported marks an error whose details were printed already; wrapped
// in one of the types above it keeps its exit code.
var errReported = errors.New("failed")

// exitStatus is the one place an error becomes an exit code. A usage or
// configuration error anywhere in the chain is 2, then could-not-run 3, then
// work-failed 1; an error of no class is 1.
func exitStatus(err error) int {
	var (
		u *usageError
		c *configError
		r *runError
		w *workError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &u), errors.As(err, &c):
		return exitUsage
	case errors.As(err, &r):
		return exitCannotRun
	case errors.As(err, &w):
		return exitFailed
	}
	return exitFailed
}
