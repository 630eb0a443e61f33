package target

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"shutdowntest/internal/buffered"
	"shutdowntest/target/kernel"
)

// Request limits of the real server: over either, the connection is
// dropped with no reply.
const (
	maxHeader = 64 << 10
	maxBody   = 16 << 20
)

// serve is the accepted-client thread: one request per connection.
//
//	spawning → init → wait ⇄ {read → process → send} → linger → cleanup → exited
func (s *Server) serve(t *kernel.Thread, sd *socketData) {
	t.Enter(StateInit)
	// The thread copies the terminate handle's value once, as eMule does;
	// if the handle is closed later, this copy is what goes stale.
	term := s.term
	// A thread started during shutdown still does one pass: its connection
	// event starts signalled.
	ev := s.k.CreateEvent("conn event", false, s.Lifecycle() >= ShuttingDown)
	sd.attach(t, ev, term)
	defer s.cleanup(t, func() []string { return []string{"socket", "SocketData", "conn event"} }, func() {
		_ = sd.Close()
		_ = s.k.CloseHandle(ev)
		sd.free()
	})

	var w wire = sd
	if s.tlsConfig != nil {
		w = s.newTLSConn(t, sd, ev, term)
	}
	req, body, ok := s.readRequest(t, w, ev, term)
	if !ok {
		return
	}
	t.Enter(StateProcess)
	if s.stuckHandler(t, req) {
		return
	}
	rw := newResponseBuffer(w)
	req.Body = io.NopCloser(bytes.NewReader(body))
	req = req.WithContext(context.WithValue(req.Context(), threadKey{}, t.ID()))
	s.routes.ServeHTTP(rw, req)
	s.served.Add(1)
	if rw.ws != nil {
		s.stream(t, w, rw, ev, term)
		return
	}
	t.Enter(StateSend)
	if err := s.writeResponse(w, req, rw); err != nil {
		return
	}
	s.linger(t, w, ev, term)
}

// readRequest waits for a whole request. It returns ok false when the
// thread should clean up: terminate, a failed or released wait, EOF before
// a whole request, or a request over the limits (dropped with no reply).
// Under TLS the bytes taken are the session's plaintext.
func (s *Server) readRequest(t *kernel.Thread, w wire, ev, term kernel.Handle) (*http.Request, []byte, bool) {
	var acc []byte
	dl := s.clientDeadline()
	for {
		t.Enter(StateWait)
		if s.waitClient(t, w, dl, ev, term) != 0 {
			return nil, nil, false
		}
		t.Enter(StateRead)
		data, eof, _ := w.take()
		acc = append(acc, data...)
		req, body, step := parseRequest(acc, eof)
		switch step {
		case readMore:
			continue
		case readBad:
			s.badRequest(t, w, ev, term)
			return nil, nil, false
		case readDrop:
			return nil, nil, false
		}
		return req, body, true
	}
}

// readStep is what the thread does with the bytes a connection has sent
// so far.
type readStep int

const (
	readMore readStep = iota // no whole request yet: wait for more
	readDone                 // a whole request: process it
	readBad                  // malformed: answer a fixed 400
	readDrop                 // over a limit, or cut short by EOF: drop with no reply
)

// parseRequest decides on acc, everything the connection has sent so far;
// eof says the peer has finished sending. It is the server's whole request
// parser, kept free of the thread and the socket so that it can be fuzzed
// on its own.
func parseRequest(acc []byte, eof bool) (*http.Request, []byte, readStep) {
	const crlf2 = "\r\n\r\n"
	end := bytes.Index(acc, []byte(crlf2))
	if end < 0 {
		// A header of maxHeader bytes can still end here: up to three
		// bytes of its terminator may have arrived already. Dropping
		// at maxHeader made the verdict depend on how TCP split it.
		if eof || len(acc) > maxHeader+len(crlf2)-1 {
			return nil, nil, readDrop
		}
		return nil, nil, readMore
	}
	if end > maxHeader {
		return nil, nil, readDrop
	}
	in := &drainReader{r: bytes.NewReader(acc)}
	// The request is parsed again each time more of it arrives: a reader
	// of 4 KiB made for each parse was a good part of the run's garbage.
	br := readers.Get().(*bufio.Reader)
	br.Reset(in)
	defer func() { br.Reset(nil); readers.Put(br) }() // the body is read below; nothing keeps br
	req, err := http.ReadRequest(br)
	if err != nil {
		// A malformed request (for example two conflicting
		// Content-Length headers) gets a plain 400.
		return nil, nil, readBad
	}
	if req.ContentLength > maxBody {
		return nil, nil, readDrop
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	switch {
	case err != nil && in.drained:
		// The body needs bytes that have not arrived. net/http says so
		// in more than one way (io.ErrUnexpectedEOF for a short
		// Content-Length, its own error for a chunked trailer cut
		// short), so the input is asked, not the error.
		if eof {
			return nil, nil, readDrop
		}
		return nil, nil, readMore // the body is still arriving
	case err != nil:
		return nil, nil, readBad
	case len(body) > maxBody:
		return nil, nil, readDrop
	}
	return req, body, readDone
}

// drainReader notes when its reader has run dry.
type drainReader struct {
	r       io.Reader
	drained bool
}

func (d *drainReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.drained = d.drained || errors.Is(err, io.EOF)
	return n, err
}

// badRequest answers a request the parser refused with a fixed 400. The
// parser's error is not in it: it quotes the offending input, which can be
// as long as the header limit (10 KB of NUL bytes came back as 40 KB).
func (s *Server) badRequest(t *kernel.Thread, w wire, ev, term kernel.Handle) {
	t.Enter(StateSend)
	rw := newResponseBuffer(w)
	http.Error(rw, "400 Bad Request", http.StatusBadRequest)
	if s.writeResponse(w, nil, rw) == nil {
		s.linger(t, w, ev, term)
	}
}

// writeResponse writes rw as one HTTP/1.1 response with Connection: close,
// through the standard library.
func (s *Server) writeResponse(w wire, req *http.Request, rw *responseBuffer) error {
	h := rw.header.Clone()
	h.Set("Server", "eMule")
	// HTTP requires a Date of a server that has a clock, and the runners
	// of a shared test read it to put their clocks on the server's
	// (shutdowntest serve as the target of several machines).
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	body := rw.body.Bytes()
	resp := &http.Response{
		StatusCode: rw.status, ProtoMajor: 1, ProtoMinor: 1, Request: req,
		Header: h, ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader(body)),
		Close: true,
	}
	if req != nil && req.Method == http.MethodHead {
		resp.Body = nil
	}
	_ = w.SetWriteDeadline(time.Now().Add(s.cfg.IOTimeout))
	return buffered.Write(w, resp.Write)
}

// readers are the threads' request parsers, one held only for a parse.
var readers = sync.Pool{New: func() any { return bufio.NewReader(nil) }}

// clientDeadline is when hardened's client I/O timeout, started now, runs
// out; zero for the other policies, which wait for a client forever.
func (s *Server) clientDeadline() time.Time {
	if s.cfg.Policy != PolicyHardened {
		return time.Time{}
	}
	return time.Now().Add(s.cfg.ClientTimeout)
}

// waitClient is a client thread's wait for its connection w or terminate,
// bounded by dl if it is set: WaitTimeout once it has passed. When
// terminate wins, what had reached the socket is pumped first: with it,
// the connection's event, at the lower index, wins (see pumpNow).
func (s *Server) waitClient(t *kernel.Thread, w wire, dl time.Time, ev, term kernel.Handle) kernel.WaitResult {
	d := kernel.Infinite
	if !dl.IsZero() {
		if d = time.Until(dl); d <= 0 {
			return kernel.WaitTimeout
		}
	}
	r := s.k.WaitAny(t, d, ev, term)
	if r == 1 && w.pumpNow() {
		r = s.k.WaitAny(t, 0, ev, term)
	}
	return r
}

// stuckHandler is the stuck-handler fault: the first held request's
// handler never returns. Its thread stays in process, outside any wait,
// where no terminate can reach it, until Close; the request counts as held
// (in process past the shutdown check), as a held one would. It reports
// whether it took the request.
func (s *Server) stuckHandler(t *kernel.Thread, req *http.Request) bool {
	if !s.hasFault(FaultStuckHandler) || req.Header.Get(HoldHeader) == "" || !s.stuck.CompareAndSwap(false, true) {
		return false
	}
	s.recordFault(FaultEvent{Fault: FaultStuckHandler, Thread: t.ID(), Peer: req.RemoteAddr,
		Detail: fmt.Sprintf("thread %d's handler never returns", t.ID())})
	s.setHeld(t.ID(), true)
	<-s.closing
	s.setHeld(t.ID(), false)
	return true
}

// linger half-closes and waits for the peer's FIN or terminate, as eMule
// does after answering. A client that never closes parks the thread here.
func (s *Server) linger(t *kernel.Thread, w wire, ev, term kernel.Handle) {
	w.closeWrite()
	t.Enter(StateLinger)
	dl := s.clientDeadline()
	for {
		if s.waitClient(t, w, dl, ev, term) != 0 {
			return
		}
		if _, eof, _ := w.take(); eof {
			return
		}
	}
}

// stream is the WebSocket route's loop: it sends live stats after
// StreamDelay (by default at once) and then every StreamEvery and, when it
// sees terminate, sends close 1001 (going away) and waits a bounded time
// for the client's close. The first message does not wait a period: a
// client knows the stream is live as soon as it is, and a run's clients
// are ready without waiting StreamEvery.
//
// A message the client does not take blocks its send, which waits in
// {connEvent, terminate} (socketData.Write) for as long as the thread
// waits for a client anywhere: without a bound but hardened's client
// timeout, as eMule's INFINITE waits. Terminate abandons it, and the
// thread ends without a close 1001: the message was cut mid-frame, so no
// frame after it could be read, and a full window would not take it.
func (s *Server) stream(t *kernel.Thread, w wire, rw *responseBuffer, ev, term kernel.Handle) {
	ws, br := rw.ws, rw.br
	var pad string
	if rw.pad > 0 {
		pad = filler()[:rw.pad]
	}
	seq := 0
	for {
		t.Enter(StateWait)
		period := s.cfg.StreamEvery
		if seq == 0 {
			period = s.cfg.StreamDelay // 0 is a poll: terminate and the client's frames still come first
		}
		switch r := s.k.WaitAny(t, period, ev, term); r {
		case kernel.WaitTimeout:
			t.Enter(StateSend)
			seq++
			msg := s.streamEvent(seq, pad)
			_ = ws.SetWriteDeadline(s.clientDeadline())
			if err := ws.WriteJSON(msg); err != nil {
				return
			}
		case 0:
			t.Enter(StateRead)
			if s.readFrames(w, ws, br) {
				return // the client closed or the socket failed
			}
		case 1:
			t.Enter(StateSend)
			msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
			if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.cfg.IOTimeout)); err != nil {
				return
			}
			t.Enter(StateLinger)
			deadline := time.Now().Add(s.cfg.CloseWait)
			for {
				rem := time.Until(deadline)
				if rem <= 0 || s.k.WaitAny(t, rem, ev) != 0 {
					return
				}
				if s.readFrames(w, ws, br) {
					return
				}
			}
		default:
			return
		}
	}
}

// filler is the events route's pad, made once and shared by every stream:
// a thread blocked in a send holds a copy of one message already.
var filler = sync.OnceValue(func() string { return strings.Repeat("x", maxPad) })

// readFrames reads the frames that are pending, in the pump's buffer or in
// the reader gorilla uses, and reports whether the connection is finished.
// It never reads when nothing is pending, so it cannot block on an idle
// socket.
func (s *Server) readFrames(w wire, ws *websocket.Conn, br *bufio.Reader) (done bool) {
	for w.pending() || br.Buffered() > 0 {
		_ = ws.SetReadDeadline(time.Now().Add(s.cfg.IOTimeout))
		if _, _, err := ws.ReadMessage(); err != nil {
			return true
		}
	}
	return false
}

// responseBuffer is the http.ResponseWriter handed to handlers: it keeps
// the response for the thread to write, and hijacks the connection for the
// WebSocket upgrade.
type responseBuffer struct {
	w      wire
	header http.Header
	status int
	body   bytes.Buffer
	ws     *websocket.Conn
	br     *bufio.Reader
	pad    int // filler bytes per stream message (the events route's pad)
}

func newResponseBuffer(w wire) *responseBuffer {
	return &responseBuffer{w: w, header: make(http.Header), status: http.StatusOK}
}

func (rw *responseBuffer) Header() http.Header { return rw.header }

func (rw *responseBuffer) WriteHeader(code int) { rw.status = code }

func (rw *responseBuffer) Write(p []byte) (int, error) { return rw.body.Write(p) }

// wsWriteBufs holds the streams' write buffers between messages: a
// stream sends a message of about 100 bytes a period, and thousands of
// them each holding a 4 KiB buffer were most of their memory.
var wsWriteBufs sync.Pool

// Hijack hands gorilla the pump-aware connection. The reader returned is
// the one gorilla reuses for frames (its ReadBufferSize is left 0), so
// readFrames can see what it holds; 512 bytes is over the 256 gorilla
// needs to reuse it, and a client sends the stream little more than its
// close frame. The writer is not used: the upgrader writes from
// wsWriteBufs.
func (rw *responseBuffer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rw.br = bufio.NewReaderSize(rw.w, 512)
	return rw.w, bufio.NewReadWriter(rw.br, bufio.NewWriterSize(rw.w, 16)), nil
}
