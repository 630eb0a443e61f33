//go:build unix

package readwatch

import "syscall"

// awaitReadable blocks until rc has bytes, the peer's EOF or an error to
// report, without a buffer to read into. Go's sockets are non-blocking, so
// the peek never blocks; it must look before the poller waits, because the
// poller's readiness from before the wait is cleared when it starts.
func awaitReadable(rc syscall.RawConn) {
	var b [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		return err != syscall.EAGAIN
	})
}
