//go:build !unix

package target

import "net"

// sendNow is one send attempt: without a non-blocking send at hand, a
// write bounded by one slice.
func sendNow(c net.Conn, p []byte) (n int, blocked bool, err error) { return sendSliced(c, p) }
