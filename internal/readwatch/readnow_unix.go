//go:build unix

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
	n, err := now(c, rc.Read, "read", syscall.Read, b)
	if err == nil && n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, err
}

// WriteNow is one send() on c's non-blocking socket: it writes what the
// socket's buffer takes now, and returns ErrNotReady when it takes
// nothing (EWOULDBLOCK). A connection without a descriptor is written
// with c.Write, which may wait.
func WriteNow(c net.Conn, b []byte) (int, error) {
	rc := rawConn(c)
	if rc == nil {
		return c.Write(b)
	}
	return now(c, rc.Write, "write", syscall.Write, b)
}

// now runs one call of op on c's descriptor through do (the RawConn's
// Read or Write) without ever waiting in the runtime's poller, and gives
// its error as c.Read or c.Write would.
func now(c net.Conn, do func(func(uintptr) bool) error, op string, call func(int, []byte) (int, error), b []byte) (int, error) {
	var n int
	var errno error
	err := do(func(fd uintptr) bool {
		for {
			n, errno = call(int(fd), b)
			if errno != syscall.EINTR {
				return true
			}
		}
	})
	if err == nil && errno == syscall.EAGAIN {
		return 0, ErrNotReady
	}
	if err == nil && errno != nil {
		err = os.NewSyscallError(op, errno)
	}
	if err != nil {
		return 0, &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, nil
}

// NonBlocking reports whether ReadNow and WriteNow on c never wait: c has
// a descriptor.
func NonBlocking(c net.Conn) bool { return rawConn(c) != nil }
