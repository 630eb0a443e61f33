package readwatch

import (
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Bytes that arrive after a watch fired and before the next watch is
// armed are seen by the next watch: the kernel checks readiness on arming.
func TestRewatchSeesWhatArrivedBetween(t *testing.T) {
	w := newWatcher(t)
	c, peer := pair(t, listen(t))
	f, ch := fired(c)
	w.Watch(c, f)
	_, _ = peer.Write([]byte("a"))
	if r := wait(t, ch); r.data != "a" {
		t.Fatalf("first read %q, %v", r.data, r.err)
	}
	_, _ = peer.Write([]byte("b"))
	// Wait until "b" is in c's receive buffer before the new watch.
	deadline := time.Now().Add(5 * time.Second)
	for !hasBytes(t, c) {
		if time.Now().After(deadline) {
			t.Fatal("b never reached the socket")
		}
		runtime.Gosched()
	}
	w.Watch(c, f)
	if r := wait(t, ch); r.data != "b" {
		t.Fatalf("second read %q, %v", r.data, r.err)
	}
}

func hasBytes(t *testing.T, c net.Conn) bool {
	t.Helper()
	var has bool
	rc := rawConn(c)
	if rc == nil {
		t.Fatal("no descriptor")
	}
	_ = rc.Control(func(fd uintptr) { has = peek(fd) })
	return has
}

// peek reports whether fd has bytes to read, without waiting.
func peek(fd uintptr) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err == nil && n > 0
}
