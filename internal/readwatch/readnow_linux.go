package readwatch

import (
	"io"
	"net"
	"os"
	"syscall"
)

// ReadNow reads what c has without waiting for more: after a watch's f,
// there is something (bytes, the end of stream or an error). It returns
// ErrNotReady if there is nothing after all, and errors as c.Read would
// (a reset wraps syscall.ECONNRESET; the end of stream is io.EOF). A
// connection without a descriptor is read with c.Read, which may wait:
// its watch runs f on a goroutine of its own.
func ReadNow(c net.Conn, b []byte) (int, error) {
	rc := rawConn(c)
	if rc == nil {
		return c.Read(b)
	}
	var n int
	var errno error
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, errno = syscall.Read(int(fd), b)
			if errno != syscall.EINTR {
				return true // never wait in the runtime's poller
			}
		}
	})
	if err == nil && errno == syscall.EAGAIN {
		return 0, ErrNotReady
	}
	if err == nil {
		err = errno
		if err != nil {
			err = os.NewSyscallError("read", err)
		}
	}
	switch {
	case err != nil:
		return 0, &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// CanReadNow reports whether ReadNow on c never waits: c has a descriptor.
func CanReadNow(c net.Conn) bool { return rawConn(c) != nil }
