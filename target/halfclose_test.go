package target

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"shutdowntest/target/kernel"
)

// TestHalfCloseLeavesLinger: a client that sends its request and
// half-closes gets its answer, and its server thread leaves linger on the
// FIN it already sent, with no shutdown to wake it, however that FIN
// reached the server: read together with the end of a large body, right
// after a small request, or while the request was in process.
func TestHalfCloseLeavesLinger(t *testing.T) {
	cases := []struct {
		name  string
		query int // length of the search query: the body is a little longer
		// inProcess: the UI thread is kept busy, so the FIN arrives while
		// the request's handler waits for it.
		inProcess bool
	}{
		{"8 MB body", 8 << 20, false},
		{"2 MB body", 2 << 20, false},
		{"small body", 16, false},
		{"FIN while in process", 16, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Config{})
			var release func()
			if tc.inProcess {
				release = occupyUI(t, s)
			}
			c := dialClient(t, s.Addr())
			c.send(request("POST", "/api/v1/searches", DefaultAPIKey, false, `{"query":"`+strings.Repeat("x", tc.query)+`"}`))
			if tc.inProcess {
				waitStates(t, s, map[string]State{c.local(): StateProcess})
			}
			closeWrite(t, c)
			if tc.inProcess {
				waitFor(t, "the server to read the FIN", func() error {
					if !peerClosed(s, c.local()) {
						return errors.New("no EOF read yet")
					}
					return nil
				})
				release()
			}
			resp, body, raw := c.response()
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("status %d, want 201: %s", resp.StatusCode, body)
			}
			checkClose(t, raw)
			waitAllExited(t, s, 1)
			if lc := s.Lifecycle(); lc != Running {
				t.Errorf("lifecycle %v: the thread should have left before any shutdown", lc)
			}
			if h := history(s, c.local()); !slices.Contains(h, StateLinger) {
				t.Errorf("thread never lingered: %v", h)
			}
		})
	}
}

// TestHalfCloseEndsStream: a WebSocket client that half-closes right after
// its upgrade request ends its stream at once: the thread sees the FIN it
// read with the request instead of streaming until shutdown.
func TestHalfCloseEndsStream(t *testing.T) {
	s := startServer(t, Config{StreamEvery: 10 * time.Millisecond})
	c := dialClient(t, s.Addr())
	c.send("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + DefaultAPIKey +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	closeWrite(t, c)
	raw, err := c.readAll()
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v (got %q)", err, raw)
	}
	if !bytes.HasPrefix(raw, []byte("HTTP/1.1 101 ")) {
		t.Fatalf("no upgrade: %q", raw)
	}
	waitAllExited(t, s, 1)
	if lc := s.Lifecycle(); lc != Running {
		t.Errorf("lifecycle %v: the thread should have left before any shutdown", lc)
	}
}

// occupyUI keeps the UI thread busy until release is called (at the
// latest when the test ends, before the server's own cleanup), so a
// handler waits in SendMessage and its thread stays in process.
func occupyUI(t *testing.T, s *Server) (release func()) {
	t.Helper()
	busy, free, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		s.ui.send(httptest.NewRequest(http.MethodGet, "/", nil), 0, func() {
			close(busy)
			<-free
		})
	}()
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(free)
			<-done
		})
	}
	t.Cleanup(release)
	select {
	case <-busy:
	case <-time.After(pollLimit):
		t.Fatalf("the UI thread did not take the message within %v", pollLimit)
	}
	return release
}

// peerClosed reports whether the pump of the socket serving peer has read
// its end of stream.
func peerClosed(s *Server, peer string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sd := range s.socks {
		if sd.peer == peer {
			sd.mu.Lock()
			defer sd.mu.Unlock()
			return sd.eof
		}
	}
	return false
}

// TestEOFKeepsEventSet: once the pump has read the peer's FIN, the
// connection event stays signalled after a wait consumes it and the thread
// takes what was buffered, as FD_CLOSE stays reported: the pump has ended
// and will not set the event again, so a later wait must not block.
func TestEOFKeepsEventSet(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() // ends the watcher the pump reads through
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	c := dialClient(t, ln.Addr().String())
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sd := s.newSocketData(srv)
	ev := s.k.CreateEvent("conn event", false, false)
	sd.attach(nil, ev, kernel.Handle{})
	defer func() {
		_ = sd.Close()
		_ = s.k.CloseHandle(ev)
		sd.free()
	}()
	c.send("hello")
	closeWrite(t, c)
	select {
	case <-sd.pumpDone: // the pump read the bytes and the FIN, and ended
	case <-time.After(pollLimit):
		t.Fatalf("the pump did not read the FIN within %v", pollLimit)
	}
	if r := s.k.WaitAny(nil, 0, ev); r != 0 {
		t.Fatalf("wait with bytes and EOF pending: %v, want the event", r)
	}
	if data, eof, _ := sd.take(); string(data) != "hello" || !eof {
		t.Fatalf("take: %q, eof %v", data, eof)
	}
	// Both readers, the thread's take and the Read gorilla uses, leave the
	// EOF pending and the event set.
	readers := []struct {
		name string
		eof  func() bool
	}{
		{"take", func() bool { _, eof, _ := sd.take(); return eof }},
		{"Read", func() bool {
			_ = sd.SetReadDeadline(time.Now().Add(clientIO))
			n, err := sd.Read(make([]byte, 1))
			return n == 0 && err == io.EOF
		}},
		{"take", func() bool { _, eof, _ := sd.take(); return eof }},
	}
	for _, rd := range readers {
		if r := s.k.WaitAny(nil, 0, ev); r != 0 {
			t.Fatalf("wait before %s, after the EOF was read: %v, want the event still set", rd.name, r)
		}
		if !rd.eof() {
			t.Fatalf("%s: EOF forgotten", rd.name)
		}
	}
}
