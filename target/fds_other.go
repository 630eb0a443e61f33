//go:build !linux

package target

import "runtime"

// SocketFDs counts this process's open socket file descriptors; only
// Linux offers the view (/proc/self/fd), elsewhere ok is false.
func SocketFDs() (n int, ok bool, why string) {
	return 0, false, "no /proc/self/fd on " + runtime.GOOS
}
