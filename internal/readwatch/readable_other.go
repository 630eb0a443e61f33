//go:build !unix

package readwatch

import "syscall"

// awaitReadable blocks until rc has bytes, the peer's EOF or an error to
// report, without a buffer to read into. On Windows, RawConn.Read waits
// with a zero-byte read when its function reports not done, so the first
// call says not done and the second, after the wait, done. Where RawConn
// cannot wait it returns at once, and the caller's read does the waiting.
func awaitReadable(rc syscall.RawConn) {
	waited := false
	_ = rc.Read(func(uintptr) bool {
		done := waited
		waited = true
		return done
	})
}
