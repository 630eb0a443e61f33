package target

import (
	"os"
	"strings"
)

// SocketFDs counts this process's open socket file descriptors, to
// cross-check the server's own socket accounting. ok is false where the
// platform gives no such view.
func SocketFDs() (n int, ok bool, why string) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false, "cannot read /proc/self/fd: " + err.Error()
	}
	for _, e := range entries {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && strings.HasPrefix(link, "socket:") {
			n++
		}
	}
	return n, true, ""
}
