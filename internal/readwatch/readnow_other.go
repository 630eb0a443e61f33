//go:build !linux

package readwatch

import "net"

// ReadNow reads c: without a poller every watch's f runs on a goroutine
// of its own, after the socket became readable, so a read does not wait
// (and one without a descriptor may).
func ReadNow(c net.Conn, b []byte) (int, error) { return c.Read(b) }

// CanReadNow reports whether ReadNow on c never waits: never here.
func CanReadNow(net.Conn) bool { return false }
