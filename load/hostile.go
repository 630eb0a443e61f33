package load

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// Hostile is one hostile client role: a client that sends the server bad
// or abusive input (eMule's own raw-socket probes among them) and an
// expectation of how the server takes it. The table of them (HostileRoles)
// is the one place that says so: the clients run by it, the engine judges
// their readiness and outcomes by it, Role.Passes and the hostile-handled
// check read it, and the README's table is held to it by a test.
type Hostile struct {
	Role Role
	// Kind is the protocol the client speaks (the JSON's clients[].kind).
	Kind Kind
	// Sends and Expect are what the client sends and what the server must
	// do, in the README's words.
	Sends, Expect string
	// Lasting roles are held through the trigger: ready when their server
	// thread is in one of Want (and Held, when set: the request is parked
	// in the UI thread), and that thread must end by the end of the drain.
	// The others are rejected at once: ready when the server's answer or
	// drop has come and the thread serving them has exited, before the
	// trigger; they are judged at that moment.
	Lasting bool
	Want    []target.State
	Held    bool
	// OnTerm: the thread must also have been seen blocked in a wait that
	// includes terminate, as a send backed up by its client is, and be in
	// the same state since (stillBlocked).
	OnTerm bool
	// Passes are the outcomes the role passes with.
	Passes []Outcome
	// FromThread: the client gives its socket up (close, reset) or never
	// reads it, so it sees nothing of the server; its outcome is how its
	// server thread ended, read from the record, as an idle client's is.
	FromThread bool
	// Seeded: what the client sends is drawn from Config.Seed, so a run
	// with such clients is reproduced only with its seed (Randomized).
	Seeded bool

	run func(*client)
}

// Answered is the outcome of a hostile client that got an HTTP answer:
// "status-400", or with a REST error envelope's code
// "status-401-UNAUTHORIZED".
func Answered(status int, code string) Outcome {
	o := fmt.Sprintf("status-%d", status)
	if code != "" {
		o += "-" + code
	}
	return Outcome(o)
}

// Hostile clients' bounds: how long one waits for an answer, how often a
// slowloris client sends a byte and how many it sends at most, the
// receive buffer of a WebSocket client that never reads and the filler it
// asks for in every message.
const (
	hostileWait     = 5 * time.Second
	slowlorisEvery  = 100 * time.Millisecond
	slowlorisBytes  = 600 // a minute of bytes, far below the header limit
	noReadBuffer    = 4 << 10
	noReadPad       = 256 << 10 // a dozen periods fill loopback's send buffer (2.8 to 3.9 MB)
	oversizeHeader  = 70_000
	declaredBody    = 10_000
	garbageBytes    = 1024
	deepJSONNesting = 100_000
)

var (
	dropped   = []Outcome{OutcomeClosed, OutcomeReset}
	threadEnd = []Outcome{OutcomeClosed}
)

// hostileRoles is the table, in the order Mix.Specs opens them (after the
// six ordinary roles) and the flags, the README and --help list them.
var hostileRoles = [...]Hostile{
	{Role: "garbage", Kind: KindTCP, Sends: "1,024 random bytes (seeded: `Config.Seed`) ending in a blank line, then holds the connection until the answer",
		Expect: "answer 400 at once", Passes: []Outcome{Answered(400, "")}, Seeded: true, run: runGarbage},
	{Role: "oversize-header", Kind: KindHTTP, Sends: "a request whose header is 70,000 bytes (over the 64 KiB limit)",
		Expect: "drop the connection with no reply", Passes: dropped, run: runOversizeHeader},
	{Role: "oversize-body", Kind: KindREST, Sends: "`POST /api/v1/searches` declaring a body of 16 MiB + 1 byte",
		Expect: "drop the connection with no reply", Passes: dropped, run: runOversizeBody},
	{Role: "partial-header-hold", Kind: KindHTTP, Sends: "half a request header, then nothing", Lasting: true,
		Want:   []target.State{target.StateWait, target.StateRead},
		Expect: "keep waiting for the rest; on shutdown close the connection", Passes: []Outcome{OutcomeClosed}, run: runPartialHeader(endHold)},
	{Role: "partial-header-close", Kind: KindHTTP, Sends: "half a request header, then closes",
		Expect: "end the thread", Passes: threadEnd, FromThread: true, run: runPartialHeader(endClose)},
	{Role: "partial-header-reset", Kind: KindHTTP, Sends: "half a request header, then resets",
		Expect: "end the thread", Passes: threadEnd, FromThread: true, run: runPartialHeader(endReset)},
	{Role: "short-body-close", Kind: KindREST, Sends: "`POST /api/v1/searches` declaring 10,000 bytes, 5,000 of them, then closes",
		Expect: "end the thread", Passes: threadEnd, FromThread: true, run: runShortBody(endClose)},
	{Role: "short-body-halfclose", Kind: KindREST, Sends: "`POST /api/v1/searches` declaring 10,000 bytes, 5,000 of them, then half-closes",
		Expect: "drop the connection with no reply", Passes: []Outcome{OutcomeClosed}, run: runShortBody(endHalfClose)},
	{Role: "short-body-reset", Kind: KindREST, Sends: "`POST /api/v1/searches` declaring 10,000 bytes, 5,000 of them, then resets",
		Expect: "end the thread", Passes: threadEnd, FromThread: true, run: runShortBody(endReset)},
	{Role: "bad-escape", Kind: KindHTTP, Sends: "`GET /%2x`: a bad percent escape",
		Expect: "answer 400 at once", Passes: []Outcome{Answered(400, "")}, run: runRequest(badEscape)},
	{Role: "bad-json-utf8", Kind: KindREST, Sends: "`POST /api/v1/searches` whose JSON body is not valid UTF-8",
		Expect: "answer 400 `INVALID_ARGUMENT`", Passes: []Outcome{Answered(400, "INVALID_ARGUMENT")}, run: runRequest(badJSONUTF8)},
	{Role: "bad-json-deep", Kind: KindREST, Sends: "`POST /api/v1/searches` whose JSON body nests 100,000 arrays deep",
		Expect: "answer 400 `INVALID_ARGUMENT`", Passes: []Outcome{Answered(400, "INVALID_ARGUMENT")}, run: runRequest(badJSONDeep)},
	{Role: "bad-key-missing", Kind: KindREST, Sends: "`GET /api/v1/status` without `X-API-Key`",
		Expect: "answer 401 `UNAUTHORIZED`", Passes: []Outcome{Answered(401, "UNAUTHORIZED")}, run: runRequest(badKeyMissing)},
	{Role: "bad-key-wrong", Kind: KindREST, Sends: "`GET /api/v1/status` with a wrong `X-API-Key`",
		Expect: "answer 401 `UNAUTHORIZED`", Passes: []Outcome{Answered(401, "UNAUTHORIZED")}, run: runRequest(badKeyWrong)},
	{Role: "bad-upgrade-key", Kind: KindWS, Sends: "a WebSocket handshake on `/api/v1/events` whose `Sec-WebSocket-Key` is not 16 bytes of base64",
		Expect: "answer 400 at once", Passes: []Outcome{Answered(400, "")}, run: runRequest(badUpgrade("Sec-WebSocket-Key: not-a-key\r\n"))},
	{Role: "bad-upgrade-version", Kind: KindWS, Sends: "a WebSocket handshake on `/api/v1/events` with `Sec-WebSocket-Version: 8`",
		Expect: "answer 400 at once", Passes: []Outcome{Answered(400, "")}, run: runRequest(badUpgrade("Sec-WebSocket-Version: 8\r\n"))},
	{Role: "bad-upgrade-no-upgrade", Kind: KindWS, Sends: "a WebSocket handshake on `/api/v1/events` without the `Upgrade` header",
		Expect: "answer 400 at once", Passes: []Outcome{Answered(400, "")}, run: runRequest(badUpgrade(""))},
	{Role: "conflicting-length", Kind: KindHTTP, Sends: "`POST /` with two conflicting `Content-Length` headers",
		Expect: "answer 400 at once", Passes: []Outcome{Answered(400, "")}, run: runRequest(conflictingLength)},
	{Role: "duplicate-query", Kind: KindREST, Sends: "`GET /api/v1/slow?ms=1&ms=2`: a parameter twice",
		Expect: "answer 400 `INVALID_ARGUMENT`", Passes: []Outcome{Answered(400, "INVALID_ARGUMENT")}, run: runRequest(duplicateQuery)},
	{Role: "lowercase-method", Kind: KindREST, Sends: "`get /api/v1/status`: a lowercase method",
		Expect: "answer 405 `METHOD_NOT_ALLOWED`", Passes: []Outcome{Answered(405, "METHOD_NOT_ALLOWED")}, run: runRequest(lowercaseMethod)},
	{Role: "reset-while-sending", Kind: KindREST, Sends: "`GET /api/v1/transfers`, then resets as the first bytes of the response arrive",
		Expect: "end the thread", Passes: threadEnd, FromThread: true, run: runResetWhileSending},
	{Role: "slowloris", Kind: KindHTTP, Sends: "a request header one byte every 100 ms, never finishing it (at most 600 bytes, then it holds)", Lasting: true,
		Want:   []target.State{target.StateWait, target.StateRead},
		Expect: "keep waiting for the rest; on shutdown close the connection", Passes: dropped, run: runSlowloris},
	{Role: "ws-noread", Kind: KindWS, Sends: "a WebSocket handshake on `/api/v1/events?pad=262144` (256 KiB of filler a message), then never reads, with a 4 KiB receive buffer set before it connects", Lasting: true,
		Want: []target.State{target.StateSend}, OnTerm: true, FromThread: true,
		Expect: "keep streaming into it until its send blocks; on shutdown abandon the blocked send, with no close 1001, and end the thread", Passes: threadEnd, run: runWSNoRead},
	{Role: "halfclose", Kind: KindREST, Sends: "a held `GET /api/v1/status`, then half-closes", Lasting: true,
		Want: []target.State{target.StateProcess}, Held: true,
		Expect: "answer it in full (200) after the trigger, then end the thread", Passes: []Outcome{OutcomeCompleted}, run: runHeldRequest(endHalfClose)},
	{Role: "reset-mid-request", Kind: KindREST, Sends: "a held `GET /api/v1/status`, then resets while it is in process", Lasting: true,
		Want: []target.State{target.StateProcess}, Held: true, FromThread: true,
		Expect: "end the thread once its answer fails to go out", Passes: threadEnd, run: runHeldRequest(endReset)},
}

// hostileByRole indexes the table for Role.Passes, which a live view calls
// for every client of every snapshot.
var hostileByRole = func() map[Role]*Hostile {
	m := make(map[Role]*Hostile, len(hostileRoles))
	for i := range hostileRoles {
		m[hostileRoles[i].Role] = &hostileRoles[i]
	}
	return m
}()

// HostileRoles is the table of hostile roles, in client id order.
func HostileRoles() []Hostile { return slices.Clone(hostileRoles[:]) }

// HostileOf is role r's entry of the table; ok is false for the ordinary
// roles.
func HostileOf(r Role) (h Hostile, ok bool) {
	p := hostileByRole[r]
	if p == nil {
		return Hostile{}, false
	}
	return *p, true
}

// HostileCount is how many clients of hostile role r the mix opens.
func (m Mix) HostileCount(r Role) int {
	for i := range hostileRoles {
		if hostileRoles[i].Role == r {
			return m.Hostile[i]
		}
	}
	return 0
}

// SetHostile sets how many clients of hostile role r the mix opens; an
// ordinary role is ignored.
func (m *Mix) SetHostile(r Role, n int) {
	for i := range hostileRoles {
		if hostileRoles[i].Role == r {
			m.Hostile[i] = n
		}
	}
}

// judgedAtOnce reports whether role r's outcome comes before the trigger
// by design: a hostile role the server rejects at once.
func judgedAtOnce(r Role) bool {
	h := hostileByRole[r]
	return h != nil && !h.Lasting
}

// outcomeFromThread reports whether role r's client sees nothing of how
// it ends, so that its server thread's end is its outcome: an idle client
// and the hostile roles marked FromThread.
func outcomeFromThread(r Role) bool {
	h := hostileByRole[r]
	return r == RoleIdle || (h != nil && h.FromThread)
}

// hostileNotReady says what keeps a hostile client from its intended state
// ("" once it is there). th is its server thread, if seen.
func hostileNotReady(h *Hostile, c *client, th target.ThreadState, seen bool) string {
	c.mu.Lock()
	ready, ended, outcome, detail := c.ready, c.ended, c.outcome, c.detail
	blocked := h.OnTerm && seen && c.stillBlocked(th)
	c.mu.Unlock()
	switch {
	case !h.Lasting && !ended && !(h.FromThread && ready):
		return " waits for the server's answer or drop"
	case !h.Lasting && !seen:
		return fmt.Sprintf(" ended (%s) with no server thread seen", outcome)
	case !h.Lasting && th.State != target.StateExited:
		return fmt.Sprintf(": thread %d still in %s after the answer or drop", th.ID, th.State)
	case !h.Lasting:
		return ""
	case ended:
		return fmt.Sprintf(" ended: %s %s", outcome, detail)
	case !ready:
		return " not ready on the client side"
	case !seen:
		return " has no server thread"
	case !slices.Contains(h.Want, th.State):
		return fmt.Sprintf(": thread %d in %s, want %s", th.ID, th.State, joinStates(h.Want))
	case h.Held && !th.Held:
		return fmt.Sprintf(": thread %d in %s, request not yet held", th.ID, th.State)
	case h.OnTerm && !blocked:
		return fmt.Sprintf(": thread %d in %s, not yet seen blocked on terminate", th.ID, th.State)
	}
	return ""
}

// stillBlocked reports whether c's server thread th has been seen blocked
// in a wait that includes terminate, at this look or at an earlier one,
// and has been in the same state at every look since. A send its client
// backs up tries the socket again between two waits, outside them, and a
// look can fall there: with many such clients, no one look would find
// them all inside the wait. c.mu is held.
func (c *client) stillBlocked(th target.ThreadState) bool {
	switch {
	case th.OnTerm:
		c.blockedIn = th.State
	case th.State != c.blockedIn:
		c.blockedIn = ""
	}
	return c.blockedIn != "" && c.blockedIn == th.State
}

// threadOutcome is how a FromThread hostile client ended: its server
// thread exited by itself, before the trigger for a role rejected at once
// and after it for a lasting one (closed), at the wrong moment (error), or
// never (timeout).
func (h *Hostile) threadOutcome(t kernel.ThreadRecord, trigger time.Duration) (Outcome, string, time.Duration) {
	switch {
	case !t.Exited || t.Forced:
		return OutcomeTimeout, fmt.Sprintf("server thread %d still alive at the deadline", t.ID), 0
	case h.Lasting && t.ExitedAt < trigger:
		return OutcomeError, fmt.Sprintf("server thread %d exited %.3fs before the trigger", t.ID, (trigger - t.ExitedAt).Seconds()), t.ExitedAt
	case !h.Lasting && t.ExitedAt >= trigger:
		return OutcomeError, fmt.Sprintf("server thread %d exited only after the trigger", t.ID), t.ExitedAt
	}
	return OutcomeClosed, fmt.Sprintf("server thread %d exited at t%+.3fs", t.ID, (t.ExitedAt - trigger).Seconds()), t.ExitedAt
}

// seedFor is the seed of iteration n's random bytes: Config.Seed, moved by
// the iteration so iterations differ, each reproducible from the seed.
func seedFor(seed int64, n int) uint64 { return uint64(seed) + uint64(n) }

// How a hostile client lets go of its connection after what it sent.
type ending int

const (
	endHold      ending = iota // keep it open, say nothing
	endClose                   // close it
	endHalfClose               // shutdown(SD_SEND), then read what comes
	endReset                   // abort it: RST
)

// write sends b within hostileWait; a failure ends the client (a reset or
// broken pipe as the server dropping it) and returns false.
func (c *client) write(conn net.Conn, b []byte) bool {
	_ = conn.SetWriteDeadline(time.Now().Add(hostileWait))
	if _, err := conn.Write(b); err != nil {
		if errors.Is(err, syscall.EPIPE) {
			err = syscall.ECONNRESET // the peer closed under the write: it dropped us
		}
		_ = conn.Close() // before the outcome, as in awaitAnswer
		c.fail(err, "send")
		return false
	}
	c.enter(csSent)
	return true
}

// let ends the connection as e says. For endClose and endReset the client
// then sees nothing more: it is ready, and its server thread's end is its
// outcome.
func (c *client) let(conn net.Conn, e ending) {
	switch e {
	case endClose, endReset:
		if tc, ok := conn.(*net.TCPConn); ok && e == endReset {
			_ = tc.SetLinger(0) // close sends RST, not FIN
		}
		_ = conn.Close()
		c.mu.Lock()
		c.released = true
		c.readyLocked()
		c.mu.Unlock()
	case endHalfClose:
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
}

// awaitAnswer reads what the server does with what was sent: an answer
// (its status, and a REST error envelope's code) or a drop. The client
// closes its socket before it records the outcome, so a count of open
// sockets taken once it is ready never includes it.
func (c *client) awaitAnswer(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(hostileWait))
	if c.isHalted() {
		_ = conn.SetReadDeadline(time.Now())
	}
	cr := &countReader{r: conn}
	resp, body, err := readResponse(bufio.NewReader(cr), nil)
	_ = conn.Close()
	if err != nil {
		if cr.n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			c.end(OutcomeClosed, "dropped with no reply")
			return
		}
		c.fail(err, "read answer")
		return
	}
	var env struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(body, &env)
	}
	c.end(Answered(resp.StatusCode, env.Error.Code), fmt.Sprintf("%d, %d bytes", resp.StatusCode, len(body)))
}

// sendAndAwait is the shape of most hostile clients: connect, send b,
// read the answer or drop.
func (c *client) sendAndAwait(b []byte) {
	conn := c.dial()
	if conn == nil || !c.write(conn, b) {
		return
	}
	c.awaitAnswer(conn)
}

func (c *client) header(method, uri string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, uri, c.env.addr)
	for _, h := range extra {
		b.WriteString(h)
	}
	return []byte(b.String())
}

func (c *client) keyHeader() string { return "X-API-Key: " + c.env.apiKey + "\r\n" }

func runGarbage(c *client) {
	rng := rand.New(rand.NewPCG(c.env.seed, uint64(c.ID)))
	b := make([]byte, garbageBytes, garbageBytes+4)
	for i := range b {
		// No CR or LF: the blank line that ends the header is the last
		// four bytes, so the server judges all of it at once.
		for b[i] = byte(rng.UintN(256)); b[i] == '\r' || b[i] == '\n'; b[i] = byte(rng.UintN(256)) {
		}
	}
	c.sendAndAwait(append(b, "\r\n\r\n"...))
}

func runOversizeHeader(c *client) {
	b := c.header(http.MethodGet, "/", "X-Pad: ", strings.Repeat("a", oversizeHeader), "\r\n\r\n")
	c.sendAndAwait(b)
}

func runOversizeBody(c *client) {
	c.sendAndAwait(c.header(http.MethodPost, "/api/v1/searches", c.keyHeader(),
		fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", 16<<20+1)))
}

func runPartialHeader(e ending) func(*client) {
	return func(c *client) {
		conn := c.dial()
		if conn == nil || !c.write(conn, []byte("GET / HTTP/1.1\r\nHost: "+c.env.addr+"\r\nX-Partial: ")) {
			return
		}
		c.let(conn, e)
		if e == endHold {
			c.setReady()
			c.awaitEnd(conn)
		}
	}
}

func runShortBody(e ending) func(*client) {
	return func(c *client) {
		conn := c.dial()
		b := c.header(http.MethodPost, "/api/v1/searches", c.keyHeader(),
			fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", declaredBody))
		if conn == nil || !c.write(conn, append(b, strings.Repeat(" ", declaredBody/2)...)) {
			return
		}
		c.let(conn, e)
		if e == endHalfClose {
			c.awaitAnswer(conn)
		}
	}
}

// awaitEnd holds a connection until the server ends it (or the client is
// halted) and records how.
func (c *client) awaitEnd(conn net.Conn) {
	var b [512]byte
	for {
		n, err := conn.Read(b[:])
		if n > 0 {
			continue // an answer to a lasting client is not its end
		}
		c.fail(err, "held connection")
		return
	}
}

func runRequest(build func(c *client) []byte) func(*client) {
	return func(c *client) { c.sendAndAwait(build(c)) }
}

func badEscape(c *client) []byte { return c.header(http.MethodGet, "/%2x", "\r\n") }

func badJSONUTF8(c *client) []byte { return c.post("/api/v1/searches", "{\"query\":\"\xff\xfe\"}") }

func badJSONDeep(c *client) []byte {
	return c.post("/api/v1/searches", `{"query":`+strings.Repeat("[", deepJSONNesting)+strings.Repeat("]", deepJSONNesting)+"}")
}

func (c *client) post(path, body string) []byte {
	return append(c.header(http.MethodPost, path, c.keyHeader(),
		fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))), body...)
}

func badKeyMissing(c *client) []byte { return c.header(http.MethodGet, "/api/v1/status", "\r\n") }

func badKeyWrong(c *client) []byte {
	return c.header(http.MethodGet, "/api/v1/status", "X-API-Key: wrong-"+c.env.apiKey+"\r\n\r\n")
}

// badUpgrade is a handshake with one thing wrong: fault replaces the
// header it names, or, empty, stands for the Upgrade header left out.
func badUpgrade(fault string) func(c *client) []byte {
	return func(c *client) []byte {
		h := map[string]string{
			"Upgrade":               "Upgrade: websocket\r\n",
			"Sec-WebSocket-Version": "Sec-WebSocket-Version: 13\r\n",
			"Sec-WebSocket-Key":     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
		}
		if fault == "" {
			delete(h, "Upgrade")
		} else {
			name, _, _ := strings.Cut(fault, ":")
			h[name] = fault
		}
		return c.header(http.MethodGet, "/api/v1/events", c.keyHeader(), "Connection: Upgrade\r\n",
			h["Upgrade"], h["Sec-WebSocket-Version"], h["Sec-WebSocket-Key"], "\r\n")
	}
}

func conflictingLength(c *client) []byte {
	return c.header(http.MethodPost, "/", "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", "hello!")
}

func duplicateQuery(c *client) []byte {
	return c.header(http.MethodGet, "/api/v1/slow?ms=1&ms=2", c.keyHeader(), "\r\n")
}

func lowercaseMethod(c *client) []byte {
	return c.header("get", "/api/v1/status", c.keyHeader(), "\r\n")
}

func runResetWhileSending(c *client) {
	conn := c.dial()
	if conn == nil || !c.write(conn, c.header(http.MethodGet, "/api/v1/transfers", c.keyHeader(), "\r\n")) {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(hostileWait))
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		_ = conn.Close()
		c.fail(err, "await the response")
		return
	}
	c.let(conn, endReset)
}

func runSlowloris(c *client) {
	conn := c.dial()
	if conn == nil || !c.write(conn, []byte("GET / HTTP/1.1\r\nHost: "+c.env.addr+"\r\nX-Slow: ")) {
		return
	}
	c.setReady()
	var b [512]byte
	for range slowlorisBytes {
		_ = conn.SetReadDeadline(time.Now().Add(slowlorisEvery))
		if c.isHalted() {
			_ = conn.SetDeadline(time.Now())
		}
		n, err := conn.Read(b[:])
		switch {
		case n > 0:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && !c.isHalted():
			_ = conn.SetWriteDeadline(time.Now().Add(hostileWait))
			if _, err := conn.Write([]byte("a")); err != nil {
				c.fail(err, "slow header")
				return
			}
			continue
		}
		c.fail(err, "slow header")
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	if c.isHalted() {
		_ = conn.SetDeadline(time.Now())
	}
	c.awaitEnd(conn)
}

// runWSNoRead backs the server's stream up: it asks for a heavy stream
// and never reads it. Its receive buffer is set before it connects, since
// the window is scaled at the handshake: set after, Linux still queued 8 to
// 32 KiB for it, set before 4 KiB. Most of what backs up is the server's
// send buffer (autotuned to 2.8 to 3.9 MB on loopback), which the pad fills.
func runWSNoRead(c *client) {
	nd := &net.Dialer{Timeout: hostileWait, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = setsockopt(syscall.SetsockoptInt, fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, noReadBuffer)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	d := websocket.Dialer{HandshakeTimeout: hostileWait, NetDialContext: c.netDial(nd)}
	ws, resp, err := d.DialContext(c.ctx, fmt.Sprintf("ws://%s/api/v1/events?pad=%d", c.env.addr, noReadPad),
		http.Header{"X-API-Key": {c.env.apiKey}})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		c.fail(err, "websocket handshake")
		return
	}
	c.enter(csOpen)
	c.setReady()
	<-c.halted
	_ = ws.NetConn().Close()
}

// setsockopt sets an int socket option on fd through set, which is
// syscall.SetsockoptInt: its socket is an int on Unix and a Handle on
// Windows.
func setsockopt[S ~int | ~uintptr](set func(S, int, int, int) error, fd uintptr, level, opt, v int) error {
	return set(S(fd), level, opt, v)
}

func runHeldRequest(e ending) func(*client) {
	return func(c *client) {
		conn := c.dial()
		if conn == nil || !c.write(conn, c.header(http.MethodGet, "/api/v1/status", c.keyHeader(), target.HoldHeader+": 1\r\n\r\n")) {
			return
		}
		c.let(conn, e)
		if e != endHalfClose {
			return
		}
		c.setReady()
		_ = conn.SetReadDeadline(time.Time{})
		resp, body, err := readResponse(bufio.NewReader(conn), nil)
		if err != nil {
			c.fail(err, "read response")
			return
		}
		if err := checkResponse(KindREST, resp, body); err != nil {
			c.end(OutcomeError, err.Error())
			return
		}
		c.end(OutcomeCompleted, fmt.Sprintf("%d, %d bytes after a half-close", resp.StatusCode, len(body)))
	}
}
