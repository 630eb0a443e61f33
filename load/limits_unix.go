//go:build unix

package load

import "syscall"

// fileLimit is the hard RLIMIT_NOFILE: the Go runtime raises the soft
// limit to it at start, so it is what the process can open.
func fileLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	if rl.Cur > rl.Max {
		return rl.Cur, true
	}
	return rl.Max, true
}
