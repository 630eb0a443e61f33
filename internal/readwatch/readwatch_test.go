package readwatch

import (
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair is a connected loopback TCP pair: the watched end and its peer.
func pair(t *testing.T, ln net.Listener) (watched, peer net.Conn) {
	t.Helper()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	watched, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watched.Close(); _ = peer.Close() })
	return watched, peer
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

func newWatcher(t *testing.T) *Watcher {
	t.Helper()
	w := New()
	t.Cleanup(func() {
		if !w.Close() {
			t.Error("Close: a goroutine did not end")
		}
	})
	return w
}

// fired returns a callback that reads once with ReadNow and reports what
// it read, and the channel it reports on.
func fired(c net.Conn) (func(), chan result) {
	ch := make(chan result, 1)
	return func() {
		b := make([]byte, 64)
		n, err := ReadNow(c, b)
		ch <- result{string(b[:n]), err}
	}, ch
}

type result struct {
	data string
	err  error
}

func wait(t *testing.T, ch chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not fire within 5s")
		return result{}
	}
}

func TestWatchFiresOnData(t *testing.T) {
	w := newWatcher(t)
	ln := listen(t)
	c, peer := pair(t, ln)
	f, ch := fired(c)
	w.Watch(c, f)
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, ch); r.err != nil || r.data != "hello" {
		t.Fatalf("read %q, %v; want hello", r.data, r.err)
	}
}

func TestWatchFiresOnEOFAndReset(t *testing.T) {
	w := newWatcher(t)
	ln := listen(t)

	c, peer := pair(t, ln)
	f, ch := fired(c)
	w.Watch(c, f)
	_ = peer.Close()
	if r := wait(t, ch); !errors.Is(r.err, io.EOF) {
		t.Errorf("after the peer's close: %q, %v; want io.EOF", r.data, r.err)
	}

	c, peer = pair(t, ln)
	f, ch = fired(c)
	w.Watch(c, f)
	_ = peer.(*net.TCPConn).SetLinger(0)
	_ = peer.Close()
	if r := wait(t, ch); !errors.Is(r.err, syscall.ECONNRESET) {
		t.Errorf("after the peer's reset: %q, %v; want ECONNRESET", r.data, r.err)
	}
}

func TestStopKeepsFFromRunning(t *testing.T) {
	w := newWatcher(t)
	c, peer := pair(t, listen(t))
	ran := make(chan struct{}, 1)
	stop := w.Watch(c, func() { ran <- struct{}{} })
	if !stop() {
		t.Fatal("stop of a watch with nothing to read reported that f ran")
	}
	if stop() {
		t.Error("a second stop reported that it stopped f")
	}
	// A later watch of the same socket fires; the stopped one does not.
	f, ch := fired(c)
	w.Watch(c, f)
	_, _ = peer.Write([]byte("x"))
	if r := wait(t, ch); r.data != "x" {
		t.Fatalf("read %q, %v", r.data, r.err)
	}
	select {
	case <-ran:
		t.Error("the stopped watch's f ran")
	default:
	}
}

// A watch that fired reports so to stop.
func TestStopAfterFire(t *testing.T) {
	w := newWatcher(t)
	c, peer := pair(t, listen(t))
	f, ch := fired(c)
	stop := w.Watch(c, f)
	_, _ = peer.Write([]byte("x"))
	wait(t, ch)
	if stop() {
		t.Error("stop after f ran reported true")
	}
}

// Thousands of pending watches hold no goroutine each where the watcher
// polls: that is what it is for.
func TestManyWatchesOneGoroutine(t *testing.T) {
	w := newWatcher(t)
	if !w.Polls() {
		t.Skip("no poller on " + runtime.GOOS)
	}
	ln := listen(t)
	const n = 500
	before := runtime.NumGoroutine()
	chs := make([]chan result, n)
	peers := make([]net.Conn, n)
	for i := range n {
		c, peer := pair(t, ln)
		f, ch := fired(c)
		w.Watch(c, f)
		chs[i], peers[i] = ch, peer
	}
	if g := runtime.NumGoroutine(); g > before+5 {
		t.Errorf("%d goroutines with %d watches pending, %d before", g, n, before)
	}
	for i := range n {
		_, _ = peers[i].Write([]byte("z"))
	}
	for i := range n {
		if r := wait(t, chs[i]); r.data != "z" {
			t.Fatalf("watch %d read %q, %v", i, r.data, r.err)
		}
	}
}

// A connection without a descriptor is watched by a goroutine, and its f
// may block in the read.
func TestPipeFallsBackToGoroutine(t *testing.T) {
	w := newWatcher(t)
	a, b := net.Pipe()
	defer func() { _ = a.Close(); _ = b.Close() }()
	f, ch := fired(a)
	w.Watch(a, f)
	go func() { _, _ = b.Write([]byte("pipe")) }()
	if r := wait(t, ch); r.data != "pipe" {
		t.Fatalf("read %q, %v", r.data, r.err)
	}
}

// Watching a closed connection does not hang: f runs and the read fails.
func TestWatchClosedConn(t *testing.T) {
	w := newWatcher(t)
	c, _ := pair(t, listen(t))
	_ = c.Close()
	f, ch := fired(c)
	w.Watch(c, f)
	if r := wait(t, ch); !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("read of a closed conn: %q, %v; want net.ErrClosed", r.data, r.err)
	}
}

func TestWatchAfterCloseStartsNothing(t *testing.T) {
	w := New()
	if !w.Close() {
		t.Fatal("Close of an idle watcher did not end")
	}
	c, peer := pair(t, listen(t))
	ran := make(chan struct{}, 1)
	stop := w.Watch(c, func() { ran <- struct{}{} })
	_, _ = peer.Write([]byte("x"))
	if !stop() {
		t.Error("the stop of a watch after Close reported that f ran")
	}
	select {
	case <-ran:
		t.Error("f ran after Close")
	default:
	}
}
