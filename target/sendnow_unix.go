//go:build unix

package target

import (
	"net"
	"os"
	"syscall"
)

// sendNow is one send() on a non-blocking socket, as eMule's: it writes
// what the socket's buffer takes now, and is blocked (EWOULDBLOCK) when it
// takes nothing. A connection without a descriptor (a pipe in a test) is
// written a slice at a time.
func sendNow(c net.Conn, p []byte) (n int, blocked bool, err error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return sendSliced(c, p)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return sendSliced(c, p)
	}
	var errno error
	err = rc.Write(func(fd uintptr) bool {
		for {
			n, errno = syscall.Write(int(fd), p)
			if errno != syscall.EINTR {
				return true // never wait in the runtime's poller
			}
		}
	})
	if n < 0 {
		n = 0
	}
	switch {
	case err != nil:
	case errno == syscall.EAGAIN:
		return 0, true, nil
	case errno != nil:
		err = os.NewSyscallError("write", errno)
	default:
		return n, false, nil
	}
	return n, false, &net.OpError{Op: "write", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
