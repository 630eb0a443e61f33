package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"shutdowntest/internal/buffered"
	"shutdowntest/internal/readwatch"
	"shutdowntest/target"
)

// Client-side states, in the order a client passes them.
const (
	csConnecting = "connecting"
	csConnected  = "connected"
	csSent       = "request sent"
	csResponse   = "response ok"
	csHolding    = "holding"
	csOpen       = "open"
	csEnded      = "ended"
)

// client is one configured client. Its goroutine is started by the engine
// and ends when the connection ends or the engine halts it.
type client struct {
	Spec
	env *env

	halted chan struct{}
	once   sync.Once
	ctx    context.Context // cancelled by halt, for the WebSocket dial
	cancel context.CancelFunc

	mu      sync.Mutex
	conn    net.Conn
	local   string
	states  []ClientState
	ready   bool // the client side of readiness
	ended   bool
	frozen  bool // observation is over: later endings are not outcomes
	outcome Outcome
	detail  string
	endedAt time.Duration
	msgs    int

	// released: the client closed its own socket (a hostile role's close
	// or reset), so no descriptor of its is open any more.
	released bool
	// blockedIn is the state its server thread was last seen blocked on
	// terminate in, while every look since found it there (Hostile.OnTerm).
	blockedIn target.State
	// parked: the client holds its connection with no goroutine of its
	// own (an idle one after its response); halt closes it.
	parked bool
	// stopWatch stops the watch of a silent client's connection, which
	// holds no goroutine while it waits (see runTCP).
	stopWatch func() bool
	// settled: the client's own side is done getting ready (it is ready,
	// or it ended); counted once in env.settled.
	settled bool
}

// env is what every client of one iteration shares.
type env struct {
	addr    string
	session string
	apiKey  string
	clock   func(time.Time) time.Duration
	// seed is the iteration's seed for random bytes (Config.Seed).
	seed uint64
	// dialSem lets at most 64 clients connect at once, so a large run
	// does not overflow the listen backlog.
	dialSem chan struct{}
	// ext is the external target the clients speak to; nil for the
	// embedded one.
	ext *External
	// tls is the trust the clients dial the server with (nil: plain TCP).
	tls *tls.Config
	// ended is poked (never closed) when a client ends, for a wait on the
	// last of them; nil when nobody waits that way.
	ended chan struct{}
	// started counts the clients made, settled those whose own side is
	// done getting ready, and settle is poked (never closed) at each: the
	// wait for readiness looks at the server only once every client's
	// own side is done, and each look holds the kernel lock that the
	// server's threads getting ready need. nil settle: nobody waits.
	started, settled atomic.Int64
	settle           chan struct{}
	// watch tells a silent client that its connection has something: the
	// server's close, its reset or bytes. The iteration closes it after
	// every client has ended or halted.
	watch *readwatch.Watcher
}

// clientsSettled reports whether every client made so far is done getting
// ready on its own side.
func (e *env) clientsSettled() bool { return e.settled.Load() >= e.started.Load() }

func newClient(sp Spec, e *env) *client {
	c := &client{Spec: sp, env: e, halted: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.enter(csConnecting)
	e.started.Add(1)
	return c
}

func (c *client) enter(state string) {
	now := c.env.clock(time.Now())
	c.mu.Lock()
	c.states = append(c.states, ClientState{State: state, At: now})
	c.mu.Unlock()
}

func (c *client) setConn(conn net.Conn) {
	c.mu.Lock()
	c.conn, c.local = conn, conn.LocalAddr().String()
	c.mu.Unlock()
	c.enter(csConnected)
}

func (c *client) setReady() {
	c.mu.Lock()
	c.readyLocked()
	c.mu.Unlock()
}

// readyLocked marks the client ready on its own side, and settled: every
// way a client becomes ready goes through it, or the wait for readiness
// would wait its whole bound for the client. Called with mu held.
func (c *client) readyLocked() {
	c.ready = true
	c.settleLocked()
}

// settleLocked counts the client settled, once, and pokes the wait for
// readiness. Called with mu held.
func (c *client) settleLocked() {
	if c.settled {
		return
	}
	c.settled = true
	c.env.settled.Add(1)
	select {
	case c.env.settle <- struct{}{}:
	default: // a poke is already pending, or nobody waits
	}
}

// end records how the client ended. Only the first call counts.
func (c *client) end(o Outcome, detail string) {
	now := c.env.clock(time.Now())
	c.mu.Lock()
	if c.ended || c.frozen {
		c.mu.Unlock()
		return
	}
	c.ended, c.outcome, c.detail, c.endedAt = true, o, detail, now
	c.settleLocked()
	c.states = append(c.states, ClientState{State: csEnded, At: now})
	c.mu.Unlock()
	select {
	case c.env.ended <- struct{}{}:
	default: // a poke is already pending, or nobody waits
	}
}

// done reports whether the drain need not wait for the client any more:
// it has ended, or it is idle, whose ending is its server thread's.
func (c *client) done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended || outcomeFromThread(c.Role)
}

// freeze ends observation of the client: one that has not ended by now
// ends as timeout, and what happens to its connection later is not an
// outcome. An idle client stays pending: its outcome is its server
// thread's, read from the record.
func (c *client) freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = true
	if c.ended || (outcomeFromThread(c.Role) && c.ready) {
		return
	}
	c.ended, c.outcome, c.endedAt = true, OutcomeTimeout, 0
	c.detail = fmt.Sprintf("not ended by the deadline (last: %s)", c.states[len(c.states)-1].State)
}

// halt stops the client at the deadline: a blocked read returns and the
// client ends as timeout if it had not ended.
func (c *client) halt() {
	c.once.Do(func() {
		close(c.halted)
		c.cancel()
		c.mu.Lock()
		stop := c.stopWatch
		c.mu.Unlock()
		if stop != nil && stop() {
			c.fail(os.ErrDeadlineExceeded, "silent connection")
		}
		c.mu.Lock()
		switch {
		case c.parked:
			_ = c.conn.Close()
		case c.conn != nil:
			_ = c.conn.SetDeadline(time.Now())
		}
		c.mu.Unlock()
	})
}

func (c *client) isHalted() bool {
	select {
	case <-c.halted:
		return true
	default:
		return false
	}
}

// fail classifies a read or write error into an outcome.
func (c *client) fail(err error, what string) {
	switch {
	case c.isHalted() || errors.Is(err, os.ErrDeadlineExceeded):
		c.end(OutcomeTimeout, what+": not ended by the deadline")
	case isReset(err):
		c.end(OutcomeReset, what+": connection reset")
	case errors.Is(err, io.EOF):
		c.end(OutcomeClosed, what+": closed by the server")
	default:
		c.end(OutcomeError, what+": "+err.Error())
	}
}

// close closes the client's connection when its goroutine ends, unless
// the client parked it for halt.
func (c *client) close() {
	c.mu.Lock()
	conn := c.conn
	if c.parked {
		conn = nil
	}
	c.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}

// park hands the connection to halt and lets the client's goroutine end:
// a client that only holds its connection needs none, and thousands of
// them each parked in a goroutine held its stack. Halted already, the
// client does not park, and its goroutine's end closes the connection.
func (c *client) park() {
	c.mu.Lock()
	c.parked = !c.isHalted()
	c.mu.Unlock()
}

func (c *client) run() {
	defer c.close()
	if h := hostileByRole[c.Role]; h != nil {
		h.run(c)
		return
	}
	switch c.Kind {
	case KindHTTP, KindREST:
		c.runHTTP()
	case KindWS:
		c.runWS()
	case KindTCP:
		c.runTCP()
	}
}

// dial is how every client and probe of the tool connects: plain TCP, or,
// with tc, TLS verified against the server's certificate, handshake
// included in the bound.
func dial(addr string, tc *tls.Config) (conn net.Conn, err error) {
	onFreshStack(func() { conn, err = dialHere(addr, tc, 5*time.Second) })
	return conn, err
}

// onFreshStack runs f on a goroutine of its own and waits for it. A
// dial or a handshake grows its goroutine's stack to 8 KiB, which a
// client's goroutine would keep for as long as it holds its connection:
// 4 KiB a client more at 9,900 clients. A goroutine that ends gives its
// stack back for the next one, so only the dials in progress hold one.
func onFreshStack(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done // f is bounded: dials and handshakes have timeouts
}

// dialHere dials on the caller's goroutine, bounded by timeout (the TLS
// handshake included).
func dialHere(addr string, tc *tls.Config, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	if tc != nil {
		return tls.DialWithDialer(d, "tcp", addr, tc)
	}
	return d.Dial("tcp", addr)
}

// netDial is a WebSocket dialer's connect for c: nd's dial, in a dial
// slot, and the connection taken as the client's.
func (c *client) netDial(nd *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.env.dialSem <- struct{}{}
		conn, err := nd.DialContext(ctx, network, addr)
		<-c.env.dialSem
		if err == nil {
			c.setConn(conn)
		}
		return conn, err
	}
}

func (c *client) dial() net.Conn {
	c.env.dialSem <- struct{}{}
	conn, err := dial(c.env.addr, c.env.tls)
	<-c.env.dialSem
	if err != nil {
		if isRefused(err) {
			c.end(OutcomeRefused, "connect refused")
		} else {
			c.end(OutcomeError, "connect: "+err.Error())
		}
		return nil
	}
	c.setConn(conn)
	if c.isHalted() { // halted while dialling: the deadline was not set
		_ = conn.SetDeadline(time.Now())
	}
	return conn
}

// request builds what a client of this kind and role asks for.
func (c *client) request() *http.Request {
	var req *http.Request
	if c.Kind == KindHTTP {
		page := "shared"
		if c.Role == RoleInflight {
			page = "transfer"
		}
		req, _ = http.NewRequest(http.MethodGet, "http://"+c.env.addr+"/?ses="+c.env.session+"&w="+page, nil)
	} else {
		path := "/api/v1/status"
		if c.Role == RoleInflight {
			path = "/api/v1/transfers"
		}
		req, _ = http.NewRequest(http.MethodGet, "http://"+c.env.addr+path, nil)
		req.Header.Set("X-API-Key", c.env.apiKey)
	}
	if c.Role == RoleInflight {
		req.Header.Set(target.HoldHeader, "1")
	}
	return req
}

func (c *client) runHTTP() {
	conn := c.dial()
	if conn == nil {
		return
	}
	req := c.request()
	resp, body, br := c.exchange(conn, req)
	if resp == nil {
		return
	}
	if err := checkResponse(c.Kind, resp, body); err != nil {
		c.end(OutcomeError, err.Error())
		return
	}
	c.enter(csResponse)
	if c.Role == RoleInflight {
		c.end(OutcomeCompleted, fmt.Sprintf("%d, %d bytes", resp.StatusCode, len(body)))
		return
	}
	// Idle: the server half-closed after its response; the client keeps
	// the connection open and says nothing. Its outcome is its server
	// thread leaving linger, which the engine reads from the record.
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		c.end(OutcomeError, fmt.Sprintf("expected EOF after the response, got %v", err))
		return
	}
	c.enter(csHolding)
	c.setReady()
	c.park()
}

// exchange sends req on conn and reads the whole response. An in-flight
// client is ready once its request is sent (its thread is then on its
// way to process). When the exchange fails it ends the client and
// returns a nil response.
func (c *client) exchange(conn net.Conn, req *http.Request) (*http.Response, []byte, *bufio.Reader) {
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := buffered.Write(conn, req.Write); err != nil {
		c.fail(err, "send request")
		return nil, nil, nil
	}
	c.enter(csSent)
	if c.Role == RoleInflight {
		c.setReady()
	}
	cr := &countReader{r: conn}
	// 512 bytes, not bufio's 4 KiB: an in-flight client holds its reader
	// through the hold (1,000 of them at 9,900 clients), and the response
	// parser reads a longer line in pieces.
	br := bufio.NewReaderSize(cr, 512)
	resp, body, err := readResponse(br, req)
	if err != nil {
		if cr.n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			c.end(OutcomeClosed, "closed without a response")
		} else {
			c.fail(err, "read response")
		}
		return nil, nil, nil
	}
	return resp, body, br
}

// readResponse reads one whole response. A body shorter than its
// Content-Length is an error (io.ErrUnexpectedEOF), never a success.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, []byte, error) {
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, body, fmt.Errorf("body after %d bytes: %w", len(body), err)
	}
	return resp, body, nil
}

// checkResponse checks a client's answer: status 200, the content type of
// its kind, and a body of the right shape.
func checkResponse(k Kind, resp *http.Response, body []byte) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if !resp.Close {
		return errors.New("response lacks Connection: close")
	}
	ct := resp.Header.Get("Content-Type")
	switch k {
	case KindREST:
		var env struct {
			Data json.RawMessage `json:"data"`
			Meta struct {
				APIVersion string `json:"apiVersion"`
			} `json:"meta"`
		}
		if !strings.HasPrefix(ct, "application/json") {
			return fmt.Errorf("content type %q", ct)
		}
		if err := json.Unmarshal(body, &env); err != nil || len(env.Data) == 0 || env.Meta.APIVersion != "v1" {
			return fmt.Errorf("body is not a v1 data envelope (%d bytes)", len(body))
		}
	default:
		if !strings.HasPrefix(ct, "text/html") {
			return fmt.Errorf("content type %q", ct)
		}
		if !bytes.Contains(body, []byte("</html>")) {
			return fmt.Errorf("body is not a whole HTML page (%d bytes)", len(body))
		}
	}
	return nil
}

// wsWriteBufs holds the WebSocket clients' write buffers between writes.
var wsWriteBufs sync.Pool

func (c *client) runWS() {
	// A client only reads its stream's short messages and writes at most
	// a close: small read buffers and a write buffer held only while
	// writing keep thousands of streams from holding 8 KiB each.
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, TLSClientConfig: c.env.tls,
		ReadBufferSize: 512, WriteBufferPool: &wsWriteBufs,
		NetDialContext: c.netDial(&net.Dialer{Timeout: 5 * time.Second})}
	h, path := http.Header{"X-API-Key": {c.env.apiKey}}, "/api/v1/events"
	if x := c.env.ext; x != nil {
		h, path = x.Header.Clone(), x.WSPath
	}
	scheme := "ws://"
	if c.env.tls != nil {
		scheme = "wss://"
	}
	var ws *websocket.Conn
	var resp *http.Response
	var err error
	onFreshStack(func() { ws, resp, err = d.DialContext(c.ctx, scheme+c.env.addr+path, h) })
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if isRefused(err) {
			c.end(OutcomeRefused, "connect refused")
		} else {
			c.fail(err, "websocket handshake")
		}
		return
	}
	c.enter(csOpen)
	if c.env.ext != nil {
		// An external server's state is not visible, and its stream may
		// send nothing until it has news: the handshake is the readiness.
		c.setReady()
	}
	for {
		// Only the messages are counted, so each is read into nothing:
		// ReadMessage made a buffer for each of 30,000 a second.
		_, r, err := ws.NextReader()
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if err == nil {
			c.mu.Lock()
			c.msgs++
			first := c.msgs == 1
			c.mu.Unlock()
			if first {
				c.setReady()
			}
			continue
		}
		var ce *websocket.CloseError
		switch {
		case c.isHalted():
			c.end(OutcomeTimeout, "stream still open at the deadline")
		case errors.As(err, &ce):
			c.end(WSClose(ce.Code), fmt.Sprintf("close %d %q", ce.Code, ce.Text))
		default:
			c.end(WSClose(websocket.CloseAbnormalClosure), "no close frame: "+err.Error())
		}
		return
	}
}

func (c *client) runTCP() {
	conn := c.dial()
	if conn == nil {
		return
	}
	c.setReady() // ready once its thread waits
	// Thousands of silent clients each blocked in a read held a
	// goroutine's stack: the watcher calls back when the server closes,
	// resets or writes, and halt closes the connection if it never does.
	if !c.watchSilent(conn) {
		_ = conn.SetDeadline(time.Now())
		c.fail(os.ErrDeadlineExceeded, "silent connection")
	}
}

// watchSilent parks a silent client's connection in the watcher, unless
// the client is halted; it reports whether it did.
func (c *client) watchSilent(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isHalted() {
		return false
	}
	c.parked = true
	c.stopWatch = c.env.watch.Watch(conn, c.silentReadable)
	return true
}

// silentReadable is a silent client's turn when its connection has
// something: it reads it without waiting and ends, or, if there was
// nothing after all, watches again.
func (c *client) silentReadable() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	var b [1]byte
	n, err := readwatch.ReadNow(conn, b[:])
	if errors.Is(err, readwatch.ErrNotReady) {
		if c.watchSilent(conn) {
			return
		}
		err = os.ErrDeadlineExceeded // halted: its stop came too late
	}
	if n > 0 {
		c.end(OutcomeError, "the server sent data to a silent client")
	} else {
		c.fail(err, "silent connection")
	}
	_ = conn.Close()
}

// localAddr is the client's socket address, empty until it connects.
func (c *client) localAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// view is a copy of the client's state.
func (c *client) view() ClientResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.outcome
	if !c.ended {
		o = OutcomePending
	}
	return ClientResult{Spec: c.Spec, Local: c.local, States: append([]ClientState(nil), c.states...),
		Outcome: o, Detail: c.detail, EndedAt: c.endedAt, Messages: c.msgs}
}
