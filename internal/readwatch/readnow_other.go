//go:build !unix

package readwatch

import "net"

// ReadNow reads c: without a poller every watch's f runs on a goroutine
// of its own, after the socket became readable, so a read does not wait
// (and one without a descriptor may).
func ReadNow(c net.Conn, b []byte) (int, error) { return c.Read(b) }

// WriteNow writes c, which may wait: there is no non-blocking send at
// hand here (NonBlocking is false).
func WriteNow(c net.Conn, b []byte) (int, error) { return c.Write(b) }

// NonBlocking reports whether ReadNow and WriteNow on c never wait: never
// here.
func NonBlocking(net.Conn) bool { return false }
