package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runExternal is the client's life against an external target. HTTP and
// REST clients speak HTTP/1.1 with keep-alive on a connection of their
// own (written and read with net/http's wire format, so the client sees
// exactly when the server closes); WebSocket and silent clients are the
// embedded target's, with the external routes and headers.
func (c *client) runExternal() {
	defer c.close()
	switch c.Kind {
	case KindHTTP, KindREST:
		c.runExternalHTTP()
	case KindWS:
		c.runWS()
	case KindTCP:
		c.runTCP()
	}
}

// addHeaders puts copies of h's values (the -H headers) on req.
func addHeaders(req *http.Request, h http.Header) {
	for name, vs := range h {
		req.Header[name] = append([]string(nil), vs...)
	}
}

// externalRequest is what an HTTP or REST client of an external target
// sends: path with the -H headers, and Accept: application/json for REST.
func externalRequest(x *External, addr, path string, k Kind) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	addHeaders(req, x.Header)
	if k == KindREST && req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	return req
}

func (c *client) runExternalHTTP() {
	x := c.env.ext
	path := x.Page
	switch {
	case c.Role == RoleInflight:
		path = x.Slow
	case c.Kind == KindREST:
		path = x.REST
	}
	conn := c.dial()
	if conn == nil {
		return
	}
	// An in-flight client is ready once sent: the server's side is not
	// visible. One answered before the trigger makes the run an error
	// (the slow path is too fast).
	req := externalRequest(x, c.env.addr, path, c.Kind)
	resp, body, br := c.exchange(conn, req)
	if resp == nil {
		return
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.end(OutcomeError, fmt.Sprintf("status %s (%d bytes)", resp.Status, len(body)))
		return
	}
	c.enter(csResponse)
	if c.Role == RoleInflight {
		c.end(OutcomeCompleted, fmt.Sprintf("%d, %d bytes", resp.StatusCode, len(body)))
		return
	}
	// Idle: hold the connection open and say nothing; how it ends is the
	// server's doing.
	c.enter(csHolding)
	c.setReady()
	how := "not announced: no Connection: close on the response"
	if resp.Close {
		how = "announced: Connection: close on the response"
	}
	n, err := br.Read(make([]byte, 1))
	switch {
	case n > 0:
		c.end(OutcomeError, "the server sent data to an idle client")
	case errors.Is(err, io.EOF) && !c.isHalted():
		c.end(OutcomeClosed, "closed by the server (clean FIN; "+how+")")
	default:
		c.fail(err, "idle connection")
	}
}

// keepAlive is a connection of the tool's own, opened and used before the
// trigger, for one request after it: what a server does with a request on
// a connection it had kept alive. It is never an idle client's, whose
// closing it would race.
type keepAlive struct {
	conn net.Conn
	br   *bufio.Reader
}

// openKeepAlive opens the keep-alive connection and sends its first
// request; why says why there is none (the server closes connections
// after each response, or did not answer).
func openKeepAlive(x *External, addr string) (k *keepAlive, why string) {
	conn, err := dial(addr, nil)
	if err != nil {
		return nil, "keep-alive connection: " + err.Error()
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := externalRequest(x, addr, x.Page, KindHTTP)
	br := bufio.NewReader(conn)
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, "keep-alive connection: " + err.Error()
	}
	resp, _, err := readResponse(br, req)
	switch {
	case err != nil:
		conn.Close()
		return nil, "keep-alive connection: " + err.Error()
	case resp.Close:
		conn.Close()
		return nil, "the server closes its connections after each response (Connection: close): none is kept alive"
	}
	_ = conn.SetDeadline(time.Time{})
	return &keepAlive{conn: conn, br: br}, ""
}

// probe sends one request on the kept-alive connection after the trigger
// and closes it: served, 503, or closed.
func (k *keepAlive) probe(x *External, addr string, clock func(time.Time) time.Duration) AdmissionProbe {
	defer k.conn.Close()
	p := AdmissionProbe{When: WhenKeepAlive, At: clock(time.Now()), Local: k.conn.LocalAddr().String()}
	_ = k.conn.SetDeadline(time.Now().Add(3 * time.Second))
	req := externalRequest(x, addr, x.Page, KindHTTP)
	if err := req.Write(k.conn); err != nil {
		p.Outcome, p.Detail = AdmissionClosed, "closed before the request was sent: "+err.Error()
		return p
	}
	p.Outcome, p.Detail = admissionOf(readerConn{k.conn, k.br}, req)
	return p
}

// readerConn reads through a bufio.Reader that may already hold bytes of
// the connection.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(b []byte) (int, error) { return c.r.Read(b) }
