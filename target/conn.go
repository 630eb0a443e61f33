package target

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"shutdowntest/internal/readwatch"
	"shutdowntest/target/kernel"
)

// maxBuffered bounds what a pump holds for its thread: the largest request
// the server accepts (64 KiB of header, 16 MiB of body) and a little more.
const maxBuffered = 64<<10 + 16<<20 + 4<<10

var errOverflow = errors.New("peer sent more than the server buffers")

// socketData is eMule's SocketData: one accepted socket and its peer, owned
// by one client thread. Its pump goroutine owns the socket's reads and plays
// the part of WSAEventSelect: it buffers what arrives and sets the
// connection's auto-reset event; a reader that leaves unread bytes or the
// EOF pending sets it again after the wait that consumed it. So the event
// is signalled whenever either is pending, and the thread's view of
// readiness is exact.
//
// socketData is also the net.Conn handed to gorilla/websocket on upgrade:
// its Read serves the pump's buffer, so no bytes hide in a reader the
// thread's event does not know about.
type socketData struct {
	s    *Server
	conn net.Conn
	peer string

	pumpDone chan struct{}

	mu      sync.Mutex
	th      *kernel.Thread // the client thread, which alone writes; set once in attach
	ev      kernel.Handle  // the connection event; set once in attach
	term    kernel.Handle  // the thread's copy of terminate; set once in attach
	pumping bool           // attach started the pump
	// stopWatch stops the pump's pending watch; pumpClosing, set by
	// Close, keeps the pump from watching again.
	stopWatch   func() bool
	pumpClosing bool
	pumpEnd     sync.Once
	// readMu makes the socket's readers (the watcher's callback, a
	// thread's pumpNow, Close's drain) take turns, so bytes are buffered
	// in the order they came.
	readMu    sync.Mutex
	buf       []byte
	eof       bool
	rerr      error
	rdeadline time.Time
	wdeadline time.Time

	avail     chan struct{} // poked (never closed) when bytes or EOF arrive
	closed    chan struct{}
	closeOnce sync.Once
	freeOnce  sync.Once
}

func (s *Server) newSocketData(c net.Conn) *socketData {
	sd := &socketData{s: s, conn: c, peer: c.RemoteAddr().String(),
		pumpDone: make(chan struct{}), avail: make(chan struct{}, 1), closed: make(chan struct{})}
	s.mu.Lock()
	s.socks[sd] = struct{}{}
	s.mu.Unlock()
	return sd
}

// attach binds the socket to its thread, its connection event and its
// copy of terminate, and starts the pump.
func (sd *socketData) attach(t *kernel.Thread, ev, term kernel.Handle) {
	sd.mu.Lock()
	sd.th, sd.ev, sd.term, sd.pumping = t, ev, term, true
	armed := sd.arm()
	sd.mu.Unlock()
	if !armed {
		// The server is closing: the socket is never read, and the
		// thread finds it at its end.
		sd.endPump(net.ErrClosed)
	}
}

// pumpBufs holds the pumps' read buffers. A pump takes one only once its
// socket is readable and gives it back after the read, so the thousands of
// sockets that sit idle (a lingering or silent client) hold none: with a
// buffer each they held 4 KiB a socket.
var pumpBufs = sync.Pool{New: func() any { return new([4 << 10]byte) }}

// pumpReads bounds the reads of one readable socket before the pump
// watches it again, so one busy peer cannot hold the server's other
// sockets waiting on the shared watcher.
const pumpReads = 16

// arm watches the socket for the pump's next read, unless Close has
// begun; it reports whether it did. Called with mu held.
//
// The pump has no goroutine of its own: the server's watcher runs
// readable when bytes, the peer's EOF or an error arrive. A goroutine
// blocked in each socket's read held 9,900 stacks at 9,900 clients.
func (sd *socketData) arm() bool {
	if sd.pumpClosing {
		return false
	}
	w := sd.s.watcher()
	if w == nil {
		return false
	}
	sd.stopWatch = w.Watch(sd.conn, sd.readable)
	return true
}

// readable is the pump's turn when the socket has something: it buffers
// what arrived and sets the connection's event, then watches again; a
// read that fails (which Close guarantees) ends the pump.
func (sd *socketData) readable() {
	got, err := sd.readNow()
	if err == nil {
		sd.mu.Lock()
		armed := sd.arm()
		sd.mu.Unlock()
		if !armed {
			err = net.ErrClosed
		}
	}
	if err != nil {
		sd.endPump(err)
		return
	}
	if got {
		sd.signal()
	}
}

// readNow buffers what the socket holds now, without waiting: got says
// bytes came, err is the read's end (nil: nothing more for now).
func (sd *socketData) readNow() (got bool, err error) {
	sd.readMu.Lock()
	defer sd.readMu.Unlock()
	b := pumpBufs.Get().(*[4 << 10]byte)
	defer pumpBufs.Put(b)
	for range pumpReads {
		var n int
		n, err = readwatch.ReadNow(sd.conn, b[:])
		sd.mu.Lock()
		sd.buf = append(sd.buf, b[:n]...)
		if err == nil && len(sd.buf) > maxBuffered {
			err = errOverflow
		}
		sd.mu.Unlock()
		got = got || n > 0
		if err != nil || n < len(b) {
			break
		}
	}
	if errors.Is(err, readwatch.ErrNotReady) {
		err = nil
	}
	return got, err
}

// pumpNow is a thread's look at its socket when terminate has won its
// wait: bytes or the peer's end that reached the socket before are
// buffered now, and the connection's event set, as FD_READ would have been
// when they arrived. The watcher runs the pump a moment after the bytes
// arrive, and a trigger in that moment let terminate win over a request
// already sent (a rate request reset; a half header's socket closed with
// it unread, which resets it too). It reports whether anything came; it
// never waits, and does nothing where a read could wait.
func (sd *socketData) pumpNow() bool {
	sd.mu.Lock()
	ended := sd.eof
	sd.mu.Unlock()
	if ended || !readwatch.NonBlocking(sd.conn) {
		return false
	}
	got, err := sd.readNow()
	if err != nil {
		sd.endPump(err)
		return true
	}
	if got {
		sd.signal()
	}
	return got
}

// endPump records the pump's last error as the socket's end, raises it
// for the thread and marks the pump ended; it runs once.
func (sd *socketData) endPump(err error) {
	sd.pumpEnd.Do(func() {
		sd.mu.Lock()
		sd.eof, sd.rerr = true, err
		sd.mu.Unlock()
		sd.signal() // before pumpDone: the thread closes ev only after it
		close(sd.pumpDone)
	})
}

// signal raises readiness for the thread (its event) and for a blocked Read.
func (sd *socketData) signal() {
	sd.mu.Lock()
	ev := sd.ev
	sd.mu.Unlock()
	_ = sd.s.k.SetEvent(ev) // the thread closes ev only after the pump ended
	select {
	case sd.avail <- struct{}{}:
	default:
	}
}

// take hands the thread everything buffered, and whether the peer is done.
// The peer's end of stream stays pending after it is taken, as FD_CLOSE
// stays reported: the wait that led here consumed the event, and the pump,
// which ended at the EOF, will never set it again, so take sets it.
// Without that, a thread that read the FIN together with the last bytes of
// its request would wait for it again in linger until terminate.
func (sd *socketData) take() (data []byte, eof bool, err error) {
	sd.mu.Lock()
	data, sd.buf = sd.buf, nil
	eof, err = sd.eof, sd.rerr
	sd.mu.Unlock()
	if eof {
		sd.signal()
	}
	return data, eof, err
}

// pending reports whether unread bytes or EOF wait in the buffer.
func (sd *socketData) pending() bool {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return len(sd.buf) > 0 || sd.eof
}

// Read serves the pump's buffer. It blocks until data, EOF, the read
// deadline or close; every caller sets a deadline first.
func (sd *socketData) Read(p []byte) (int, error) {
	for {
		sd.mu.Lock()
		if len(sd.buf) > 0 {
			n := copy(p, sd.buf)
			sd.buf = sd.buf[n:]
			more := len(sd.buf) > 0 || sd.eof
			sd.mu.Unlock()
			if more {
				sd.signal() // bytes are still pending: keep the event set
			}
			return n, nil
		}
		if sd.eof {
			err := sd.rerr
			sd.mu.Unlock()
			sd.signal() // the EOF stays pending, as in take
			if err == nil || errors.Is(err, net.ErrClosed) {
				err = io.EOF
			}
			return 0, err
		}
		dl := sd.rdeadline
		sd.mu.Unlock()
		if err := sd.await(dl); err != nil {
			return 0, err
		}
	}
}

// await blocks until the pump pokes, the socket closes or dl passes.
func (sd *socketData) await(dl time.Time) error {
	var timeout <-chan time.Time
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-sd.avail:
		return nil
	case <-sd.closed:
		return net.ErrClosed
	case <-timeout:
		return os.ErrDeadlineExceeded
	}
}

// sendSlice is how long a thread whose send the peer's back-pressure
// blocks waits in {connEvent, terminate} before it tries again.
const sendSlice = 10 * time.Millisecond

var errSendAbandoned = errors.New("send abandoned: terminate signalled")

// Write is the thread's send. A send that the peer's back-pressure blocks
// sits, as in eMule, in the wait-any {connEvent, terminate}: the socket is
// written in non-blocking attempts and between them the thread waits in
// state send, where terminate (or a kill, or the end of the run) ends it
// and the send is abandoned. The write deadline bounds the whole send.
//
// Only a socket that takes nothing is blocked: the attempts had a 10 ms
// write deadline each, and a thread the scheduler kept off the CPU past it
// found its send "blocked" with the socket's buffer empty, and abandoned
// it at terminate, cutting a WebSocket close frame in two under load.
func (sd *socketData) Write(p []byte) (int, error) {
	sd.mu.Lock()
	dl := sd.wdeadline
	sd.mu.Unlock()
	if sd.th == nil {
		// Not attached to a thread: nothing to wait in.
		_ = sd.conn.SetWriteDeadline(dl)
		return sd.conn.Write(p)
	}
	n, consumed := 0, false
	// The connection event is consumed if it wins a wait below; unread
	// bytes or an EOF stay pending in the buffer, so it is set again after
	// the send, for the wait that comes next.
	defer func() {
		if consumed && sd.pending() {
			sd.signal()
		}
	}()
	for {
		m, blocked, err := sendNow(sd.conn, p[n:])
		n += m
		if err != nil || n == len(p) {
			return n, err
		}
		if !dl.IsZero() && !time.Now().Before(dl) {
			return n, os.ErrDeadlineExceeded
		}
		if !blocked {
			continue // the buffer took part of it: the rest at once
		}
		sd.th.Enter(StateSend)
		switch sd.s.k.WaitAny(sd.th, sendSlice, sd.ev, sd.term) {
		case kernel.WaitTimeout:
		case 0:
			consumed = true
		default:
			return n, errSendAbandoned
		}
	}
}

// sendNow is one send() on a non-blocking socket, as eMule's: it writes
// what the socket's buffer takes now, and is blocked (EWOULDBLOCK) when it
// takes nothing. Where there is no non-blocking send at hand (Windows, a
// pipe in a test) it is a write bounded by one slice, blocked if it took
// nothing by then.
func sendNow(c net.Conn, p []byte) (n int, blocked bool, err error) {
	if readwatch.NonBlocking(c) {
		n, err = readwatch.WriteNow(c, p)
		if errors.Is(err, readwatch.ErrNotReady) {
			return 0, true, nil
		}
		return n, false, err
	}
	_ = c.SetWriteDeadline(time.Now().Add(sendSlice))
	n, err = c.Write(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, n == 0, nil
	}
	return n, false, err
}

// Close closes the socket once and waits for the pump to end, so the
// connection event can be closed after it without a late SetEvent landing
// on a recycled handle value.
func (sd *socketData) Close() error {
	sd.closeOnce.Do(func() {
		close(sd.closed)
		sd.mu.Lock()
		sd.pumpClosing = true
		stop := sd.stopWatch
		sd.mu.Unlock()
		// A watch stopped here never runs, so the pump ends here; one
		// that fired is running, and ends at its read or its next arm.
		// Stopped before the close: a closed socket leaves epoll silently.
		if stop != nil && stop() {
			sd.endPump(net.ErrClosed)
		}
		// What reached the socket is read before it closes, as the pump
		// would have read it on arrival: unread, it makes the close a
		// reset instead of a FIN.
		if readwatch.NonBlocking(sd.conn) {
			_, _ = sd.readNow()
		}
		_ = sd.conn.Close()
		sd.s.openSockets.Add(-1)
	})
	sd.mu.Lock()
	pumping := sd.pumping
	sd.mu.Unlock()
	if !pumping {
		return nil // the thread's own cleanup waits for a pump started later
	}
	select {
	case <-sd.pumpDone:
	case <-time.After(5 * time.Second):
		// A read that does not return after close would be a runtime bug;
		// the bound keeps the thread from hanging on it.
	}
	return nil
}

// closeWrite half-closes the socket: shutdown(SD_SEND).
func (sd *socketData) closeWrite() {
	if tc, ok := sd.conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
}

// free releases the SocketData record; the socket must be closed.
func (sd *socketData) free() {
	sd.freeOnce.Do(func() {
		sd.s.mu.Lock()
		delete(sd.s.socks, sd)
		sd.s.mu.Unlock()
	})
}

func (sd *socketData) LocalAddr() net.Addr  { return sd.conn.LocalAddr() }
func (sd *socketData) RemoteAddr() net.Addr { return sd.conn.RemoteAddr() }

func (sd *socketData) SetDeadline(t time.Time) error {
	_ = sd.SetReadDeadline(t)
	return sd.SetWriteDeadline(t)
}

func (sd *socketData) SetReadDeadline(t time.Time) error {
	sd.mu.Lock()
	sd.rdeadline = t
	sd.mu.Unlock()
	return nil
}

// SetWriteDeadline bounds the sends that follow; Write applies it.
func (sd *socketData) SetWriteDeadline(t time.Time) error {
	sd.mu.Lock()
	sd.wdeadline = t
	sd.mu.Unlock()
	return nil
}
