package target

import (
	"net"
	"os"
	"testing"
)

// TestSocketFDsCountsSocketsOnly: a socket opened is counted and a file
// opened is not, and both leave the count as it was once closed.
func TestSocketFDsCountsSocketsOnly(t *testing.T) {
	count := func() int {
		t.Helper()
		n, ok, why := SocketFDs()
		if !ok {
			t.Fatalf("SocketFDs: %s", why)
		}
		return n
	}
	base := count()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got := count(); got != base+3 {
		t.Errorf("with a listener, two connected sockets and a file open: %d sockets, want %d", got, base+3)
	}
	for _, c := range []interface{ Close() error }{ln, f, c, s} {
		_ = c.Close()
	}
	if got := count(); got != base {
		t.Errorf("after closing them: %d sockets, want %d", got, base)
	}
}
