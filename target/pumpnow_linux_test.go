package target

import (
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"shutdowntest/target/kernel"
)

// unpumped is a socketData over an accepted loopback socket whose pump has
// not run (no watch armed: as in the moment between bytes reaching the
// socket and the watcher's callback), with its connection event, and the
// client's end.
func unpumped(t *testing.T) (*Server, *socketData, kernel.Handle, net.Conn) {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sd := s.newSocketData(srv)
	ev := s.k.CreateEvent("conn event", false, false)
	sd.mu.Lock()
	sd.ev = ev
	sd.mu.Unlock()
	t.Cleanup(func() { _ = sd.Close(); _ = s.k.CloseHandle(ev); sd.free() })
	return s, sd, ev, c
}

// arrived waits until n bytes sent by the client sit unread in sd's socket.
func arrived(t *testing.T, sd *socketData, n int) {
	t.Helper()
	rc, err := sd.conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(pollLimit)
	for {
		got := 0
		_ = rc.Control(func(fd uintptr) {
			b := make([]byte, n)
			got, _, _ = syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		})
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes did not reach the socket within %v", n, pollLimit)
		}
		runtime.Gosched()
	}
}

// TestPumpNowTakesWhatArrived: bytes that reached the socket before the
// pump ran are buffered by pumpNow, and the connection event is set: the
// thread's wait then sees its connection win over terminate, as FD_READ,
// set on arrival, wins at the lower index.
func TestPumpNowTakesWhatArrived(t *testing.T) {
	s, sd, ev, c := unpumped(t)
	const req = "GET / HTTP/1.1\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	arrived(t, sd, len(req))
	term := s.k.CreateEvent("terminate", true, true)
	defer func() { _ = s.k.CloseHandle(term) }()
	if r := s.k.WaitAny(nil, 0, ev, term); r != 1 {
		t.Fatalf("before pumpNow: wait %v, want terminate (the pump has not run)", r)
	}
	if !sd.pumpNow() {
		t.Fatal("pumpNow found nothing")
	}
	if r := s.k.WaitAny(nil, 0, ev, term); r != 0 {
		t.Errorf("after pumpNow: wait %v, want the connection event", r)
	}
	if data, eof, _ := sd.take(); string(data) != req || eof {
		t.Errorf("take: %q, eof %v; want the request, no EOF", data, eof)
	}
	if sd.pumpNow() {
		t.Error("a second pumpNow found something with nothing sent")
	}
}

// TestCloseWithUnreadBytesSendsFIN: a socket closed with bytes the pump
// had not yet read ends with a FIN, as when the pump read them on
// arrival; unread, they would make the close a reset.
func TestCloseWithUnreadBytesSendsFIN(t *testing.T) {
	_, sd, _, c := unpumped(t)
	const half = "GET / HT"
	if _, err := io.WriteString(c, half); err != nil {
		t.Fatal(err)
	}
	arrived(t, sd, len(half))
	_ = sd.Close()
	_ = c.SetReadDeadline(time.Now().Add(pollLimit))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("client read %d, %v; want EOF (a FIN), not %v", n, err, syscall.ECONNRESET)
	}
}
