package target

// The fuzz targets of the server's input paths. Two run the server's own
// functions in process, for speed: FuzzRequest (the parser and the routes)
// and FuzzRESTBody (the REST body contract). Two drive a real server over
// loopback, end to end: FuzzServe (raw bytes as one client's whole input)
// and FuzzWebSocketHandshake. Their seed corpora, with the eMule REST
// suite's raw-socket probes, are in testdata/fuzz/<name>; `go test` runs
// them, `go test -fuzz` explores from them.

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// modelStatuses are the statuses the model may send (emule-model.md §6);
// 101 only on the WebSocket route. Anything else, a 500 above all, is a
// bug.
var modelStatuses = map[int]bool{
	http.StatusSwitchingProtocols: true, http.StatusOK: true, http.StatusCreated: true,
	http.StatusBadRequest: true, http.StatusUnauthorized: true, http.StatusNotFound: true,
	http.StatusMethodNotAllowed: true, http.StatusConflict: true, http.StatusServiceUnavailable: true,
}

// restCodes are the REST error codes of each status (the contract's table).
var restCodes = map[int][]string{
	http.StatusBadRequest: {"INVALID_ARGUMENT"}, http.StatusUnauthorized: {"UNAUTHORIZED"},
	http.StatusNotFound: {"NOT_FOUND"}, http.StatusMethodNotAllowed: {"METHOD_NOT_ALLOWED"},
	http.StatusConflict: {"INVALID_STATE"}, http.StatusServiceUnavailable: {"EMULE_UNAVAILABLE", "SERVICE_BUSY"},
}

// echoMin is the shortest run of input counted as repeated when an error
// body contains it: shorter runs turn up in the server's fixed words by
// chance.
const echoMin = 16

// FuzzRequest hands raw bytes, one connection's whole input, to the
// server's parser in pieces of a size the fuzzer picks, as the pump hands
// them to the thread, then routes a whole request as serve does.
//
// The decision must not depend on how TCP split the bytes (it must equal
// the decision on the input in one piece), and the routes' reply must be
// one the model may send: a status from the contract, a short error body
// that repeats nothing of the input, the REST error envelope, a correct
// WebSocket accept.
func FuzzRequest(f *testing.F) {
	s := startServer(f, Config{})
	f.Fuzz(func(t *testing.T, raw []byte, split uint32) {
		var req, whole *http.Request
		var body, wholeBody []byte
		var step, wholeStep readStep
		bounded(t, "parse", func() {
			req, body, step = parseInPieces(raw, split)
			whole, wholeBody, wholeStep = parseWhole(raw, false)
		})
		if step != wholeStep {
			t.Fatalf("in pieces the parser says %v, on the whole input %v", step, wholeStep)
		}
		if step != readDone {
			return
		}
		if req.Method != whole.Method || req.RequestURI != whole.RequestURI || !bytes.Equal(body, wholeBody) {
			t.Fatalf("in pieces the request is %s %q with %d body bytes, on the whole input %s %q with %d",
				req.Method, req.RequestURI, len(body), whole.Method, whole.RequestURI, len(wholeBody))
		}
		skipHeld(t, req)
		rw, sent := routeBounded(t, s, req, body)
		status, h, rbody := rw.status, rw.header, rw.body.Bytes()
		if rw.ws != nil {
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(sent)), req)
			if err != nil {
				t.Fatalf("the upgrade's reply %q: %v", sent, err)
			}
			status, h, rbody = resp.StatusCode, resp.Header, nil
		}
		checkReply(t, raw, req, status, h, rbody)
	})
}

// FuzzRESTBody sends one JSON body to a REST route through the parser and
// the routes. Whatever the body, the reply is a success or the documented
// 400 envelope, never a 500; invalid UTF-8, anything but one JSON object
// and unknown fields are rejected; the run is bounded in time and in the
// memory it allocates.
func FuzzRESTBody(f *testing.F) {
	s := startServer(f, Config{})
	type route struct {
		method, path string
		fields       []string // the fields the route takes; nil: no body
	}
	routes := []route{
		{http.MethodPost, "/api/v1/searches", []string{"query", "type"}},
		{http.MethodPost, "/api/v1/transfers", []string{"link"}},
		{http.MethodPost, "/api/v1/app/shutdown", []string{"confirmShutdown"}},
		{http.MethodGet, "/api/v1/app", nil},
	}
	f.Fuzz(func(t *testing.T, pick uint8, body []byte) {
		rt := routes[int(pick)%len(routes)]
		raw := []byte(request(rt.method, rt.path, DefaultAPIKey, false, string(body)))
		var req *http.Request
		var got []byte
		var step readStep
		var rw *responseBuffer
		alloc := allocated(func() {
			bounded(t, "parse", func() { req, got, step = parseWhole(raw, false) })
			if step == readDone {
				rw, _ = routeBounded(t, s, req, got)
			}
		})
		if step != readDone || !bytes.Equal(got, body) {
			t.Fatalf("a well-formed request with a %d-byte body: parser says %v with %d body bytes", len(body), step, len(got))
		}
		if limit := 4<<20 + 128*uint64(len(raw)); alloc > limit {
			t.Errorf("%d bytes allocated for a %d-byte request, over %d", alloc, len(raw), limit)
		}
		checkReply(t, raw, req, rw.status, rw.header, rw.body.Bytes())
		var want string
		switch {
		case rt.fields == nil && len(body) > 0:
			want = "a body on " + rt.method
		case rt.fields == nil:
		case !utf8.Valid(body):
			want = "invalid UTF-8"
		case !isObject(body):
			want = "not one JSON object"
		default:
			want = unknownField(body, rt.fields)
		}
		switch {
		case want != "" && rw.status != http.StatusBadRequest:
			t.Errorf("%s %s with %s: status %d, want 400", rt.method, rt.path, want, rw.status)
		case rw.status < 300:
			checkData(t, rw.header, rw.body.Bytes())
		}
	})
}

// FuzzServe sends raw bytes as one loopback client's whole input to a real
// server, half-closing after them if told to (or if the server could only
// wait for more), and reads what comes back. The server must answer as its
// parser decided (a drop sends nothing, a malformed request gets the fixed
// 400, a whole one a reply) with one well-formed HTTP/1.1 response with
// Connection: close and nothing after it, and the thread that served the
// connection must exit.
func FuzzServe(f *testing.F) {
	lb := newLoopback(f)
	f.Fuzz(func(t *testing.T, raw []byte, halfClose bool) {
		serveOnce(t, lb.server(t), raw, halfClose)
	})
}

// FuzzWebSocketHandshake sends an upgrade request to the WebSocket route of
// a real server, with the handshake's headers and extra header lines from
// the fuzzer, as FuzzServe does. A whole request gets a 101 with the right
// Sec-WebSocket-Accept (a valid handshake must) or a 4xx, never a hang,
// and the thread serving the connection exits once the client closes.
func FuzzWebSocketHandshake(f *testing.F) {
	lb := newLoopback(f)
	f.Fuzz(func(t *testing.T, key, version, upgrade, connection, origin, extra string) {
		raw := []byte("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + DefaultAPIKey +
			"\r\nUpgrade: " + upgrade + "\r\nConnection: " + connection + "\r\nSec-WebSocket-Key: " + key +
			"\r\nSec-WebSocket-Version: " + version + "\r\nOrigin: " + origin + "\r\n" + extra + "\r\n")
		req, rep := serveOnce(t, lb.server(t), raw, false)
		if req == nil {
			return // refused or dropped: serveOnce checked that
		}
		if got := rep.resp.StatusCode; got != http.StatusSwitchingProtocols && got/100 != 4 {
			t.Errorf("status %d, want 101 or a 4xx", got)
		}
		if cleanHandshake(req) && rep.resp.StatusCode != http.StatusSwitchingProtocols {
			t.Errorf("a valid handshake got %d, want 101", rep.resp.StatusCode)
		}
	})
}

// serveOnce sends raw to s as one loopback client, half-closing after it
// if told to or if the server could only wait for more, and checks that
// the server did what its parser decides: a drop sends nothing, a
// malformed request gets the fixed 400, a whole one a reply the model may
// send (checkWire). It returns the whole request as parsed (nil if
// refused or dropped) and the reply.
func serveOnce(t *testing.T, s *Server, raw []byte, halfClose bool) (*http.Request, reply) {
	t.Helper()
	var req *http.Request
	var step readStep
	bounded(t, "parse", func() {
		req, _, step = parseRequest(raw, halfClose)
		if step == readMore {
			// The server would wait for the rest until terminate;
			// the FIN ends its wait.
			halfClose = true
			req, _, step = parseRequest(raw, true)
		}
	})
	if step == readDone {
		skipHeld(t, req)
	}
	rep := exchange(t, s, raw, halfClose, req)
	switch step {
	case readDrop:
		if len(rep.raw) > 0 {
			t.Fatalf("the parser drops this input, but the server sent %.300q", rep.raw)
		}
		return nil, rep
	case readBad:
		checkWire(t, raw, nil, rep)
		if rep.resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("the parser refuses this input, but the server answered %d", rep.resp.StatusCode)
		}
		return nil, rep
	}
	checkWire(t, raw, req, rep)
	return req, rep
}

// parseWhole is the parser's decision on the whole input at once: with
// eof false, as a client that sent it and waits; the rest of a request
// that needs more never comes, so a FIN decides it.
func parseWhole(raw []byte, eof bool) (*http.Request, []byte, readStep) {
	req, body, step := parseRequest(raw, eof)
	if step == readMore {
		return parseRequest(raw, true)
	}
	return req, body, step
}

// parseInPieces runs the parser as readRequest does: on each longer prefix
// of raw, then, if it still needs more, with the FIN. The pieces are at
// least 1/64 of the input, so an input costs at most 65 parses.
func parseInPieces(raw []byte, split uint32) (*http.Request, []byte, readStep) {
	n := len(raw)
	piece := max(1, n/64)
	if n > 0 {
		piece += int(split % uint32(n))
	}
	for end := min(piece, n); ; end = min(end+piece, n) {
		if req, body, step := parseRequest(raw[:end], false); step != readMore {
			return req, body, step
		}
		if end == n {
			return parseRequest(raw, true)
		}
	}
}

func (st readStep) String() string {
	return [...]string{"wait for more", "a whole request", "bad request", "drop"}[st]
}

// skipHeld skips the requests the UI thread holds on purpose: one carrying
// HoldHeader (the test harness's own control, held until a shutdown
// trigger that never comes here) and the slow routes, which hold for as
// long as their query says, up to a minute.
func skipHeld(t *testing.T, req *http.Request) {
	t.Helper()
	if req.Header.Get(HoldHeader) != "" {
		t.Skip("carries " + HoldHeader + ", held until a trigger")
	}
	if req.URL.Path == "/slow" || req.URL.Path == "/api/v1/slow" {
		t.Skip("a slow route, held as long as it is told")
	}
}

// bounded runs fn on its own goroutine, which ends when fn returns, and
// fails the test if it takes longer than pollLimit.
func bounded(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	timer := time.NewTimer(pollLimit)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%s did not end within %v", what, pollLimit)
	}
}

// routeBounded routes a parsed request as serve does, bounded, on a socket
// that only keeps what is written to it (the WebSocket handshake's reply).
func routeBounded(t *testing.T, s *Server, req *http.Request, body []byte) (*responseBuffer, []byte) {
	t.Helper()
	var out memConn
	rw := newResponseBuffer(&socketData{s: s, conn: &out})
	req.Body = io.NopCloser(bytes.NewReader(body))
	bounded(t, "the handler", func() { s.routes.ServeHTTP(rw, req) })
	return rw, out.Bytes()
}

// allocated returns the bytes the process allocated while fn ran.
func allocated(fn func()) uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	before := sample[0].Value.Uint64()
	fn()
	metrics.Read(sample)
	return sample[0].Value.Uint64() - before
}

// memConn is a socket that keeps what is written to it and has nothing to
// read.
type memConn struct{ bytes.Buffer }

func (*memConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (*memConn) Close() error                     { return nil }
func (*memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (*memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (*memConn) SetDeadline(time.Time) error      { return nil }
func (*memConn) SetReadDeadline(time.Time) error  { return nil }
func (*memConn) SetWriteDeadline(time.Time) error { return nil }

// checkReply checks a reply the model may send to req (nil: the parser
// refused raw).
func checkReply(t *testing.T, raw []byte, req *http.Request, status int, h http.Header, body []byte) {
	t.Helper()
	if !modelStatuses[status] {
		t.Fatalf("status %d is not one the model sends", status)
	}
	if status == http.StatusSwitchingProtocols {
		checkUpgrade(t, req, h)
		return
	}
	if status < 400 {
		return
	}
	if len(body) > maxErrorBody {
		t.Errorf("error body of %d bytes, want at most %d: %.200q…", len(body), maxErrorBody, body)
	}
	if run := echo(raw, body); run != "" {
		t.Errorf("error body repeats the input %q: %.300q", run, body)
	}
	// The WebSocket route's handshake errors are gorilla's plain text;
	// every other REST error is the envelope.
	if req != nil && strings.HasPrefix(req.URL.Path, "/api/v1/") &&
		(req.URL.Path != "/api/v1/events" || status != http.StatusBadRequest) {
		checkEnvelope(t, status, h, body)
	}
}

// checkUpgrade checks a 101: only a GET on the WebSocket route with a
// valid key and version 13 gets one, with the key's accept value.
func checkUpgrade(t *testing.T, req *http.Request, h http.Header) {
	t.Helper()
	key := req.Header.Get("Sec-WebSocket-Key")
	switch {
	case req.Method != http.MethodGet || req.URL.Path != "/api/v1/events":
		t.Errorf("101 to %s %s", req.Method, req.URL.Path)
	case !validKey(key):
		t.Errorf("101 to the invalid key %q", key)
	case !hasToken(req.Header, "Sec-WebSocket-Version", "13"):
		t.Errorf("101 to versions %q", req.Header.Values("Sec-WebSocket-Version"))
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := h.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("Sec-WebSocket-Accept %q for key %q, want %q", got, key, want)
	}
}

// cleanHandshake reports whether req is a textbook handshake (RFC 6455
// §4.1), which must be accepted.
func cleanHandshake(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/api/v1/events" &&
		req.Header.Get("X-API-Key") == DefaultAPIKey &&
		strings.EqualFold(req.Header.Get("Upgrade"), "websocket") &&
		strings.EqualFold(req.Header.Get("Connection"), "upgrade") &&
		req.Header.Get("Sec-WebSocket-Version") == "13" && validKey(req.Header.Get("Sec-WebSocket-Key"))
}

func validKey(key string) bool {
	b, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(b) == 16
}

func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), token) {
				return true
			}
		}
	}
	return false
}

// echo returns a run of at least echoMin letters, digits, '-', '_' or '.'
// of raw that body contains. HTML and JSON escaping leave such runs as
// they are, so an echo quoted or escaped is found too.
func echo(raw, body []byte) string {
	inRun := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	for i := 0; i < len(raw); {
		j := i
		for j < len(raw) && inRun(raw[j]) {
			j++
		}
		if j-i >= echoMin && bytes.Contains(body, raw[i:j]) {
			return string(raw[i:j])
		}
		i = j + 1
	}
	return ""
}

// checkEnvelope checks the REST error envelope:
// {"error":{"code","message","details":{}}} with the status's code.
func checkEnvelope(t *testing.T, status int, h http.Header, body []byte) {
	t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("REST error %d with Content-Type %q", status, ct)
	}
	var env struct {
		Error *struct {
			Code    string         `json:"code"`
			Message string         `json:"message"`
			Details map[string]any `json:"details"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Error == nil {
		t.Fatalf("REST error %d is not the envelope (%v): %q", status, err, body)
	}
	e := env.Error
	if !slices.Contains(restCodes[status], e.Code) {
		t.Errorf("REST error %d with code %q, want one of %q", status, e.Code, restCodes[status])
	}
	if e.Message == "" || e.Details == nil || len(e.Details) > 0 {
		t.Errorf("REST error %d: message %q, details %v; want a message and empty details", status, e.Message, e.Details)
	}
	if status == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
		t.Errorf("405 without an Allow header")
	}
}

// checkData checks the REST success envelope: {"data", "meta":{"apiVersion":"v1","generatedAt"}}.
func checkData(t *testing.T, h http.Header, body []byte) {
	t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
		Meta struct {
			APIVersion  string `json:"apiVersion"`
			GeneratedAt string `json:"generatedAt"`
		} `json:"meta"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || len(env.Data) == 0 || env.Meta.APIVersion != "v1" || env.Meta.GeneratedAt == "" {
		t.Errorf("REST success is not the envelope (%v): %q", err, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("REST success with Content-Type %q", ct)
	}
}

// isObject reports whether body is one valid JSON value and an object.
func isObject(body []byte) bool {
	return json.Valid(body) && bytes.TrimLeft(body, " \t\r\n")[0] == '{'
}

// unknownField names a field of the object body that is not in fields, or
// returns "". The fields' values are kept raw, so a value the route cannot
// decode does not hide a name.
func unknownField(body []byte, fields []string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	for k := range m {
		if !slices.Contains(fields, k) {
			return fmt.Sprintf("the unknown field %.40q", k)
		}
	}
	return ""
}

// loopbackRuns is how many connections one loopback server serves before
// it is replaced: the kernel records every thread, and a fuzz run of a
// million connections must not grow one record without bound.
const loopbackRuns = 256

// loopback hands out a running server, replaced every loopbackRuns
// connections.
type loopback struct {
	s    *Server
	runs int
}

// newLoopback returns a loopback whose last server f's cleanup closes.
func newLoopback(f *testing.F) *loopback {
	lb := &loopback{}
	f.Cleanup(func() {
		if err := lb.close(); err != nil {
			f.Error(err)
		}
	})
	return lb
}

func (l *loopback) server(t *testing.T) *Server {
	t.Helper()
	if l.s != nil && l.runs < loopbackRuns {
		l.runs++
		return l.s
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	l.s, l.runs = s, 1
	return s
}

// close shuts the server down and reports a thread or goroutine it
// started that did not end.
func (l *loopback) close() error {
	if l.s == nil {
		return nil
	}
	s := l.s
	l.s = nil
	s.Shutdown()
	if rec := s.Close(); !rec.ThreadsEnded || !rec.GoroutinesEnded {
		return fmt.Errorf("server %s left threads (ended %v) or goroutines (ended %v)", rec.Addr, rec.ThreadsEnded, rec.GoroutinesEnded)
	}
	return nil
}

// reply is what a loopback client got.
type reply struct {
	raw  []byte         // every byte the server sent
	resp *http.Response // nil when the server sent nothing
	body []byte
	rest []byte // bytes after the response, until the server's FIN (none after a 101)
}

// exchange is one loopback client. It sends raw (the server may drop the
// connection while it does), half-closes if told to, and reads one
// response to req and what follows it until the server's FIN; after a 101
// it stops at the response's head. Then it closes and waits for the
// server thread that served it to exit.
func exchange(t *testing.T, s *Server, raw []byte, halfClose bool, req *http.Request) reply {
	t.Helper()
	c := dialClient(t, s.Addr())
	_, _ = c.c.Write(raw) // a drop shows in the reply
	if halfClose {
		_ = c.c.CloseWrite()
	}
	var rep reply
	var got bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c.c, &got))
	fail := func(what string, err error) {
		t.Helper()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: the server neither answered nor closed within %v (got %.300q)", what, clientIO, got.Bytes())
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
			t.Fatalf("%s: %v (got %.300q)", what, err, got.Bytes())
		}
	}
	resp, err := http.ReadResponse(br, req)
	switch {
	case err != nil:
		fail("read the response", err)
		if got.Len() > 0 {
			t.Fatalf("a malformed or cut-short response (%v): %.300q", err, got.Bytes())
		}
	case resp.StatusCode == http.StatusSwitchingProtocols:
		rep.resp = resp
	default:
		rep.resp = resp
		if rep.body, err = io.ReadAll(resp.Body); err != nil {
			fail("read the response body", err)
			t.Fatalf("response body cut short (%v): %.300q", err, got.Bytes())
		}
		rep.rest, err = io.ReadAll(br)
		if err != nil {
			fail("read to the server's FIN", err)
		}
	}
	_ = c.c.Close()
	rep.raw = got.Bytes()
	pollExited(t, s, c.local())
	return rep
}

// pollExited waits until the thread serving peer has exited. It polls
// finer than waitExited: a fuzz run makes thousands of connections a second.
func pollExited(t *testing.T, s *Server, peer string) {
	t.Helper()
	var snap Snapshot
	deadline := time.Now().Add(pollLimit)
	tick := time.NewTicker(50 * time.Microsecond)
	defer tick.Stop()
	for {
		s.Snapshot(&snap)
		th, ok := threadOf(&snap, peer)
		if ok && th.State == StateExited {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the thread serving %s did not exit within %v (found %v, state %s)", peer, pollLimit, ok, th.State)
		}
		<-tick.C
	}
}

// checkWire checks a loopback reply to raw (req nil: the parser refused
// raw): one HTTP/1.1 response the model may send, with Server: eMule and
// Connection: close and nothing after it, except a 101, which keeps the
// connection.
func checkWire(t *testing.T, raw []byte, req *http.Request, rep reply) {
	t.Helper()
	if rep.resp == nil {
		t.Fatalf("no response to %.200q", raw)
	}
	resp := rep.resp
	if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
		t.Errorf("response in %s, want HTTP/1.1", resp.Proto)
	}
	checkReply(t, raw, req, resp.StatusCode, resp.Header, rep.body)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return
	}
	checkClose(t, rep.raw)
	if got := resp.Header.Get("Server"); got != "eMule" {
		t.Errorf("Server %q, want eMule", got)
	}
	if len(rep.rest) > 0 {
		t.Errorf("%d bytes after the response: %.200q", len(rep.rest), rep.rest)
	}
}
