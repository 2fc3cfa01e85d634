package audit

import (
	"os"
	"strconv"
	"strings"
)

// HolderGone reports whether a lease holder named "host/pid/random" (as
// pat-rotator names itself) ran on this host in a process that no longer
// exists, so that its lease can be taken over at once rather than waited
// out. Anything else (another host, a name of another shape, a process that
// exists or cannot be told) is not gone. Replicas that share a host name
// must share a PID namespace for this to hold; a replica taken over wrongly
// is still fenced by the lease's term.
func HolderGone(holder string) bool {
	parts := strings.Split(holder, "/")
	if len(parts) < 2 {
		return false
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost" // as pat-rotator names itself without one
	}
	if parts[0] != host {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return processGone(pid)
}
