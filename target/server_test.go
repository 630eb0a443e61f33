package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestNewRejectsUnknownPolicy(t *testing.T) {
	if _, err := New(Config{Policy: "optimistic"}); err == nil || !strings.Contains(err.Error(), "optimistic") {
		t.Errorf("New with an unknown policy: err %v, want one naming it", err)
	}
	s := startServer(t, Config{})
	if err := s.Start(); err == nil {
		t.Errorf("second Start: want an error")
	}
	if s.Policy() != PolicyFixed {
		t.Errorf("default policy %q, want %q", s.Policy(), PolicyFixed)
	}
}

// TestShutdownWithClients holds an idle connection in linger, a silent one
// in wait and a held request in process at the trigger, under each policy.
func TestShutdownWithClients(t *testing.T) {
	for _, policy := range []Policy{PolicyFixed, PolicyLegacy} {
		t.Run(string(policy), func(t *testing.T) {
			// InflightFor is long enough that legacy surely closes terminate
			// while the held request is still in process.
			s := startServer(t, Config{Policy: policy, InflightFor: 100 * time.Millisecond})

			idle := dialClient(t, s.Addr())
			idle.send(webGet("/?w=password&p="+DefaultPassword, false))
			resp, body, raw := idle.response()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), DefaultSession) {
				t.Fatalf("idle login: %d %q", resp.StatusCode, body)
			}
			checkClose(t, raw)
			silent := dialClient(t, s.Addr())
			inflight := dialClient(t, s.Addr())
			inflight.send(restGet("/api/v1/status", true))

			threads := waitStates(t, s, map[string]State{
				idle.local(): StateLinger, silent.local(): StateWait, inflight.local(): StateProcess})
			waitParked(t, s, 1)
			idleID, silentID, inflightID := threads[idle.local()].ID, threads[silent.local()].ID, threads[inflight.local()].ID

			srec, ok := s.Shutdown()
			if !ok {
				t.Fatalf("first Shutdown returned ok=false")
			}

			// The held request is answered in full, with Connection: close.
			resp, body, raw = inflight.response()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("in-flight request: status %d, want 200: %s", resp.StatusCode, body)
			}
			if int64(len(body)) != resp.ContentLength {
				t.Errorf("in-flight body %d bytes, Content-Length %d", len(body), resp.ContentLength)
			}
			checkClose(t, raw)
			silent.readEOF(false)
			idle.readEOF(false)

			if policy == PolicyLegacy {
				// Legacy returns without joining: wait for the threads
				// before Close, which would force them.
				waitAllExited(t, s, 3)
			}
			rec := s.Close()
			checkStatesListed(t, rec)
			if !rec.ThreadsEnded || !rec.GoroutinesEnded {
				t.Errorf("threads ended %v, goroutines ended %v", rec.ThreadsEnded, rec.GoroutinesEnded)
			}
			if !reflect.DeepEqual(rec.Shutdown, srec) {
				t.Errorf("record's shutdown %+v differs from Shutdown's %+v", rec.Shutdown, srec)
			}
			clients := rec.ClientThreads()
			if len(clients) != 3 {
				t.Fatalf("%d client threads recorded, want 3", len(clients))
			}
			tr := rec.Terminate
			if !tr.Signaled || !tr.Closed || tr.KeptOpen || tr.SignaledAt > tr.ClosedAt {
				t.Errorf("terminate signalled %v at %v, closed %v at %v, kept open %v",
					tr.Signaled, tr.SignaledAt, tr.Closed, tr.ClosedAt, tr.KeptOpen)
			}
			switch policy {
			case PolicyFixed:
				if len(tr.AliveAtClose) != 0 || len(tr.WaitsAfterClose) != 0 || len(tr.BlockedAtClose) != 0 {
					t.Errorf("fixed closed terminate under threads: alive %v, blocked %v, waits after %+v",
						tr.AliveAtClose, tr.BlockedAtClose, tr.WaitsAfterClose)
				}
				for _, th := range clients {
					if !th.Exited || th.Forced || th.ExitedAt > tr.ClosedAt {
						t.Errorf("client thread %d: exited %v at %v, forced %v; terminate closed at %v",
							th.ID, th.Exited, th.ExitedAt, th.Forced, tr.ClosedAt)
					}
				}
				if !srec.Completed() || len(srec.Stragglers) != 0 {
					t.Errorf("fixed shutdown not complete: stragglers %v, steps %+v", srec.Stragglers, srec.Steps)
				}
				if st, _ := stepNamed(srec, StepJoinClients); st.Outcome != StepOK {
					t.Errorf("join-clients: %+v", st)
				}
				if rec.Left.OpenSockets != 0 || rec.Left.SocketData != 0 {
					t.Errorf("fixed left %d sockets, %d SocketData", rec.Left.OpenSockets, rec.Left.SocketData)
				}
				if len(rec.Kernel.Violations) != 0 {
					t.Errorf("fixed: kernel violations %+v", rec.Kernel.Violations)
				}
			case PolicyLegacy:
				if !slices.Contains(tr.AliveAtClose, inflightID) {
					t.Errorf("legacy: in-flight thread %d not alive at close: %v", inflightID, tr.AliveAtClose)
				}
				var late bool
				for _, w := range tr.WaitsAfterClose {
					late = late || (w.Thread == inflightID && !w.Recycled)
				}
				if !late {
					t.Errorf("legacy: no failed wait of thread %d on the closed terminate: %+v", inflightID, tr.WaitsAfterClose)
				}
				var names []StepName
				for _, st := range srec.Steps {
					names = append(names, st.Name)
				}
				for _, want := range []StepName{StepSignalTerminate, StepJoinListener, StepCloseTerminate} {
					if !slices.Contains(names, want) {
						t.Errorf("legacy steps %v lack %s", names, want)
					}
				}
				if slices.Contains(names, StepJoinClients) {
					t.Errorf("legacy joined clients: %v", names)
				}
				in := threadRecord(t, rec, inflightID)
				if !in.Exited || in.ExitedAt <= tr.ClosedAt {
					t.Errorf("legacy: in-flight thread exited %v at %v, want after the close at %v", in.Exited, in.ExitedAt, tr.ClosedAt)
				}
				if !slices.Contains(in.States, StateLinger) {
					t.Errorf("legacy: in-flight thread never lingered: %v", in.States)
				}
			}
			for _, id := range []int{idleID, silentID} {
				if th := threadRecord(t, rec, id); !th.Exited || th.Forced {
					t.Errorf("thread %d: exited %v forced %v", id, th.Exited, th.Forced)
				}
			}
		})
	}
}

// TestFixedKeepsTerminateOpenForStraggler runs the fix with a held request
// that outlives the join budget.
func TestFixedKeepsTerminateOpenForStraggler(t *testing.T) {
	s := startServer(t, Config{Policy: PolicyFixed, InflightFor: 2 * time.Second, DrainTimeout: 200 * time.Millisecond})
	inflight := dialClient(t, s.Addr())
	inflight.send(webGet("/?ses="+DefaultSession+"&w=transfer", true))
	id := waitStates(t, s, map[string]State{inflight.local(): StateProcess})[inflight.local()].ID
	waitParked(t, s, 1)

	srec, ok := s.Shutdown()
	if !ok {
		t.Fatalf("Shutdown returned ok=false")
	}
	if srec.Completed() {
		t.Errorf("shutdown completed with a straggler: %+v", srec.Steps)
	}
	if !reflect.DeepEqual(srec.Stragglers, []int{id}) {
		t.Errorf("stragglers %v, want [%d]", srec.Stragglers, id)
	}
	if st, ok := stepNamed(srec, StepJoinClients); !ok || st.Outcome != StepTimeout || st.Budget != 200*time.Millisecond {
		t.Errorf("join-clients step %+v, want outcome %s with budget 200ms", st, StepTimeout)
	}
	if st, ok := stepNamed(srec, StepCloseTerminate); !ok || st.Outcome != StepKeptOpen {
		t.Errorf("close-terminate step %+v, want %s", st, StepKeptOpen)
	}
	var snap Snapshot
	s.Snapshot(&snap)
	if !snap.Terminate.KeptOpen || snap.Terminate.Closed || snap.Terminate.AliveClients != 1 {
		t.Errorf("live terminate after shutdown: %+v", snap.Terminate)
	}
	if th, _ := threadOf(&snap, inflight.local()); th.State != StateProcess {
		t.Errorf("straggler in %q, want still in process", th.State)
	}

	rec := s.Close()
	tr := rec.Terminate
	if !tr.KeptOpen || tr.Closed || len(tr.WaitsAfterClose) != 0 {
		t.Errorf("terminate: kept open %v, closed %v, waits after close %v", tr.KeptOpen, tr.Closed, tr.WaitsAfterClose)
	}
	if th := threadRecord(t, rec, id); !th.Forced || !th.Exited {
		t.Errorf("straggler %d: forced %v exited %v, want both", id, th.Forced, th.Exited)
	}
	if !rec.ThreadsEnded || !rec.GoroutinesEnded {
		t.Errorf("threads ended %v, goroutines ended %v", rec.ThreadsEnded, rec.GoroutinesEnded)
	}
	if rec.Left.OpenSockets != 1 || rec.Left.SocketData != 1 {
		t.Errorf("left %d sockets and %d SocketData, want the straggler's 1 and 1", rec.Left.OpenSockets, rec.Left.SocketData)
	}
	if !slices.Contains(rec.Left.Handles, EventTerminate) {
		t.Errorf("left handles %v lack the kept terminate", rec.Left.Handles)
	}
	// The straggler never got the UI's answer: a 503 or nothing, never 200.
	raw, _ := inflight.readAll()
	if len(raw) > 0 {
		if resp, _ := parseResponse(t, raw); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("straggler's client got %d, want 503 or no reply", resp.StatusCode)
		}
	}
}

func TestShutdownIdempotent(t *testing.T) {
	s := startServer(t, Config{})
	var wg sync.WaitGroup
	oks := make([]bool, 4)
	for i := range oks {
		wg.Go(func() { _, oks[i] = s.Shutdown() })
	}
	wg.Wait()
	if n := len(slices.DeleteFunc(oks, func(ok bool) bool { return !ok })); n != 1 {
		t.Errorf("%d of 4 concurrent Shutdown calls returned ok, want 1", n)
	}
	select {
	case <-s.ShutdownDone():
	default:
		t.Errorf("ShutdownDone open after the first Shutdown returned")
	}
	rec, ok := s.Shutdown()
	if ok || !reflect.DeepEqual(rec, ShutdownRecord{}) {
		t.Errorf("later Shutdown: ok %v, record %+v; want false and empty", ok, rec)
	}
	if s.Lifecycle() != Done {
		t.Errorf("lifecycle %v, want done", s.Lifecycle())
	}
	r1 := s.Close()
	r2 := s.Close()
	if !r1.Shutdown.Completed() {
		t.Errorf("shutdown with no clients not completed: %+v", r1.Shutdown.Steps)
	}
	if !reflect.DeepEqual(r1, r2) {
		t.Errorf("second Close returned a different record")
	}
}

// dialStream opens the stats stream, closed when the test ends, with a
// read deadline of clientIO.
func dialStream(t *testing.T, s *Server) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: clientIO}
	ws, resp, err := d.Dial("ws://"+s.Addr()+"/api/v1/events", http.Header{"X-API-Key": {DefaultAPIKey}})
	if err != nil {
		t.Fatalf("dial websocket: %v", err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	if err := ws.SetReadDeadline(time.Now().Add(clientIO)); err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestWebSocketGoingAway(t *testing.T) {
	const closeWait = 3 * time.Second
	s := startServer(t, Config{StreamEvery: 10 * time.Millisecond, CloseWait: closeWait})
	ws := dialStream(t, s)
	_, msg, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("first stats message: %v", err)
	}
	var ev struct {
		Type string         `json:"type"`
		Seq  int            `json:"seq"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(msg, &ev); err != nil || ev.Type != "stats" || ev.Seq < 1 || ev.Data["lifecycle"] != "running" {
		t.Fatalf("stats message %s: %+v, %v", msg, ev, err)
	}
	peer := ws.NetConn().LocalAddr().String()
	var snap Snapshot
	s.Snapshot(&snap)
	th, ok := threadOf(&snap, peer)
	if !ok {
		t.Fatalf("no thread for websocket peer %s", peer)
	}

	// The reader ends at the close frame or at the read deadline.
	errc := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				errc <- err
				return
			}
		}
	}()
	srec, _ := s.Shutdown()
	err = <-errc
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("client read ended with %v, want close 1001", err)
	}
	if !srec.Completed() {
		t.Errorf("shutdown not completed: %+v", srec.Steps)
	}
	rec := s.Close()
	checkStatesListed(t, rec)
	tr := rec.Terminate
	got := threadRecord(t, rec, th.ID)
	if !got.Exited || got.Forced || got.ExitedAt > tr.ClosedAt {
		t.Errorf("websocket thread %d: exited %v at %v forced %v; terminate closed at %v", th.ID, got.Exited, got.ExitedAt, got.Forced, tr.ClosedAt)
	}
	// It left on the client's close reply, not on running out of CloseWait.
	if got.ExitedAt-tr.SignaledAt >= closeWait {
		t.Errorf("websocket thread exited %v after the signal: it waited out CloseWait", got.ExitedAt-tr.SignaledAt)
	}
	if !slices.Contains(got.States, StateLinger) {
		t.Errorf("websocket thread never waited for the close reply: %v", got.States)
	}
}

// TestBadInput throws the eMule REST suite's raw-socket probes at the
// server: each must end in a clean error or close, and its thread must
// exit before shutdown.
func TestBadInput(t *testing.T) {
	bigHeader := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
	bigHeader += strings.Repeat("a", 70000-len(bigHeader)-4) + "\r\n\r\n"
	cases := []struct {
		name string
		run  func(t *testing.T, s *Server, c *rawClient)
	}{
		{"partial header then close", func(t *testing.T, s *Server, c *rawClient) {
			c.send("GET /api/v1/app HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-")
			closeWrite(t, c)
			c.readEOF(false)
		}},
		{"partial header then reset", func(t *testing.T, s *Server, c *rawClient) {
			c.send("GET /api/v1/app HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-")
			resetAfterRead(t, s, c)
		}},
		{"declared body cut short then close", func(t *testing.T, s *Server, c *rawClient) {
			c.send("POST /api/v1/searches HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + DefaultAPIKey +
				"\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{\"query\":\"deb")
			closeWrite(t, c)
			c.readEOF(false)
		}},
		{"declared body cut short then reset", func(t *testing.T, s *Server, c *rawClient) {
			c.send("POST /api/v1/searches HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + DefaultAPIKey +
				"\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{\"query\":\"deb")
			resetAfterRead(t, s, c)
		}},
		{"conflicting content-length", func(t *testing.T, s *Server, c *rawClient) {
			c.send("POST /api/v1/searches HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + DefaultAPIKey +
				"\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
			resp, _, raw := c.response()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			checkClose(t, raw)
		}},
		{"70000-byte header", func(t *testing.T, s *Server, c *rawClient) {
			// The write may fail once the server drops the connection.
			_, _ = c.c.Write([]byte(bigHeader))
			c.readEOF(true)
			waitAllExited(t, s, 1)
			if h := history(s, c.local()); slices.Contains(h, StateSend) || slices.Contains(h, StateProcess) {
				t.Errorf("oversized header was processed: %v", h)
			}
		}},
		{"invalid utf-8 json body", func(t *testing.T, s *Server, c *rawClient) {
			c.send(request("POST", "/api/v1/searches", DefaultAPIKey, false, "{\"query\":\"\xff\xfe\"}"))
			checkAPIError(t, c, http.StatusBadRequest, "INVALID_ARGUMENT")
		}},
		{"lowercase method", func(t *testing.T, s *Server, c *rawClient) {
			c.send("get / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			resp, _, raw := c.response()
			if resp.StatusCode < 400 || resp.StatusCode > 499 {
				t.Errorf("status %d, want 4xx", resp.StatusCode)
			}
			checkClose(t, raw)
		}},
		{"bad escape in path", func(t *testing.T, s *Server, c *rawClient) {
			c.send(restGet("/api/v1/app%2x", false))
			resp, _, _ := c.response()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
		}},
		{"duplicate query parameters", func(t *testing.T, s *Server, c *rawClient) {
			c.send(restGet("/api/v1/app?x=1&x=2", false))
			checkAPIError(t, c, http.StatusBadRequest, "INVALID_ARGUMENT")
		}},
		{"request then reset", func(t *testing.T, s *Server, c *rawClient) {
			c.send(webGet("/?ses="+DefaultSession+"&w=transfer", false))
			reset(t, c)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Config{})
			c := dialClient(t, s.Addr())
			tc.run(t, s, c)
			// A thread that answered lingers for the client's FIN.
			_ = c.c.Close()
			waitAllExited(t, s, 1)
			srec, _ := s.Shutdown()
			rec := s.Close()
			if !srec.Completed() || rec.Left.OpenSockets != 0 || rec.Left.SocketData != 0 {
				t.Errorf("shutdown completed %v, left %+v", srec.Completed(), rec.Left)
			}
			for _, th := range rec.ClientThreads() {
				if th.Forced {
					t.Errorf("thread %d was forced", th.ID)
				}
			}
		})
	}
}

func closeWrite(t *testing.T, c *rawClient) {
	t.Helper()
	if err := c.c.CloseWrite(); err != nil {
		t.Fatalf("close write: %v", err)
	}
}

// resetAfterRead resets the connection once the server thread has read
// what was sent, so the reset, not lost bytes, is what the thread meets.
func resetAfterRead(t *testing.T, s *Server, c *rawClient) {
	t.Helper()
	waitFor(t, "the thread to read the partial request", func() error {
		if h := history(s, c.local()); !slices.Contains(h, StateRead) || h[len(h)-1] != StateWait {
			return fmt.Errorf("states %v", h)
		}
		return nil
	})
	reset(t, c)
}

func reset(t *testing.T, c *rawClient) {
	t.Helper()
	if err := c.c.SetLinger(0); err != nil {
		t.Fatalf("set linger: %v", err)
	}
	_ = c.c.Close()
}

func checkAPIError(t *testing.T, c *rawClient, status int, code string) {
	t.Helper()
	resp, body, raw := c.response()
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("error envelope %q: %v", body, err)
	}
	if resp.StatusCode != status || env.Error.Code != code {
		t.Errorf("got %d %s (%s), want %d %s", resp.StatusCode, env.Error.Code, env.Error.Message, status, code)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	checkClose(t, raw)
}

// TestRequestsAfterTrigger probes the server while the fix is still
// joining a held request: a new connection is refused, closed unserved or
// answered 503, never served.
func TestRequestsAfterTrigger(t *testing.T) {
	s := startServer(t, Config{Policy: PolicyFixed, InflightFor: 300 * time.Millisecond})
	inflight := dialClient(t, s.Addr())
	inflight.send(restGet("/api/v1/app", true))
	waitStates(t, s, map[string]State{inflight.local(): StateProcess})
	waitParked(t, s, 1)

	// Shutdown returns at InflightFor after the trigger.
	shutdownDone := shutdownSignalled(t, s)
	for i, req := range []string{restGet("/api/v1/status", false), webGet("/?w=password&p="+DefaultPassword, false),
		restGet("/api/v1/app", false)} {
		outcome := probe(t, s.Addr(), req)
		t.Logf("probe %d: %s", i, outcome)
	}
	// The listener stops at the signal, so the probes above rarely reach
	// a handler; every handler, asked directly, refuses with 503.
	for _, tc := range []struct{ target, key string }{
		{"/api/v1/status", DefaultAPIKey}, {"/api/v1/events", DefaultAPIKey}, {"/?w=password&p=" + DefaultPassword, ""}} {
		req := httptest.NewRequest(http.MethodGet, tc.target, nil)
		if tc.key != "" {
			req.Header.Set("X-API-Key", tc.key)
		}
		w := httptest.NewRecorder()
		s.routes.ServeHTTP(w, req)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s during shutdown: %d, want 503", tc.target, w.Code)
		}
		if tc.key != "" && !strings.Contains(w.Body.String(), `"EMULE_UNAVAILABLE"`) {
			t.Errorf("GET %s during shutdown: body %s", tc.target, w.Body)
		}
	}
	var snap Snapshot
	s.Snapshot(&snap)
	if th, _ := threadOf(&snap, inflight.local()); th.State != StateProcess {
		t.Fatalf("held request's thread in %q after the probes: the probes did not run during the join", th.State)
	}
	if rec := shutdownDone(); !rec.Completed() {
		t.Errorf("shutdown not completed: %+v", rec.Steps)
	}
	resp, _, _ := inflight.response()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("held request: %d, want 200", resp.StatusCode)
	}
}

// probe sends one request on a new connection and checks it is not served.
func probe(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, clientIO)
	if err != nil {
		return "refused: " + err.Error()
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(clientIO))
	rc := &rawClient{t: t, c: c.(*net.TCPConn)}
	if _, err := c.Write([]byte(req)); err != nil {
		return "write failed: " + err.Error()
	}
	raw, err := rc.readAll()
	if len(raw) == 0 {
		if err != nil && !isReset(err) {
			t.Errorf("probe read: %v", err)
		}
		return "closed unserved"
	}
	resp, _ := parseResponse(t, raw)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("request after the trigger answered %d, want 503 or no service", resp.StatusCode)
	}
	return resp.Status
}

func TestSnapshot(t *testing.T) {
	s := startServer(t, Config{})
	var snap Snapshot
	s.Snapshot(&snap)
	if snap.Lifecycle != Running || snap.Addr != s.Addr() || len(snap.Threads) != 0 || snap.Resources.OpenSockets != 1 {
		t.Errorf("fresh server: %+v", snap)
	}

	silent := dialClient(t, s.Addr())
	waitFor(t, "silent thread waiting on terminate", func() error {
		s.Snapshot(&snap)
		if th, ok := threadOf(&snap, silent.local()); !ok || th.State != StateWait || !th.OnTerm {
			return errors.New("not yet")
		}
		return nil
	})
	tm := snap.Terminate
	if tm.Waiters != 1 || tm.AliveClients != 1 || tm.Signaled || tm.Closed || tm.KeptOpen || tm.Handle != s.Terminate().Value() {
		t.Errorf("terminate with one silent client: %+v", tm)
	}
	if r := snap.Resources; r.OpenSockets != 2 || r.SocketData != 1 {
		t.Errorf("snapshot resources %+v, want listener + 1 accepted socket, 1 SocketData", r)
	}
	if r := s.Resources(); r.OpenSockets != 2 || r.SocketData != 1 || r.OpenHandles < 5 {
		t.Errorf("resources %+v, want 2 sockets, 1 SocketData, at least 5 handles", r)
	}

	idle := dialClient(t, s.Addr())
	idle.send(restGet("/api/v1/stats", false))
	if resp, _, _ := idle.response(); resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: %d", resp.StatusCode)
	}
	waitStates(t, s, map[string]State{idle.local(): StateLinger})
	s.Snapshot(&snap) // the buffer is reused
	if len(snap.Threads) != 2 || snap.Accepted != 2 || snap.Served != 1 {
		t.Errorf("threads %d, accepted %d, served %d; want 2, 2, 1", len(snap.Threads), snap.Accepted, snap.Served)
	}
	if th, _ := threadOf(&snap, idle.local()); !th.OnTerm {
		t.Errorf("lingering thread not waiting on terminate: %+v", th)
	}
	if snap.Terminate.Waiters != 2 || snap.Resources.OpenSockets != 3 || snap.Resources.SocketData != 2 {
		t.Errorf("two clients: waiters %d, resources %+v", snap.Terminate.Waiters, snap.Resources)
	}

	s.Shutdown()
	s.Snapshot(&snap)
	tm = snap.Terminate
	if snap.Lifecycle != Done || !tm.Signaled || !tm.Closed || tm.Waiters != 0 || tm.AliveClients != 0 {
		t.Errorf("after shutdown: lifecycle %v, terminate %+v", snap.Lifecycle, tm)
	}
	for _, th := range snap.Threads {
		if th.State != StateExited || th.OnTerm {
			t.Errorf("thread %d after shutdown: %+v", th.ID, th)
		}
	}
	if r := snap.Resources; r.OpenSockets != 0 || r.SocketData != 0 {
		t.Errorf("after shutdown: resources %+v", r)
	}
}

// TestBindFailure starts a server on a port that is taken: Start reports
// the bind error and Close still ends the run cleanly.
func TestBindFailure(t *testing.T) {
	busy := startServer(t, Config{})
	s, err := New(Config{Addr: busy.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "bind") {
		t.Fatalf("Start on a busy port: %v, want a bind error", err)
	}
	rec := s.Close()
	if !rec.ThreadsEnded || !rec.GoroutinesEnded || rec.Left.OpenSockets != 0 || rec.Accepted != 0 {
		t.Errorf("record after a failed start: %+v", rec)
	}
}

// TestShutdownWithoutStart calls Shutdown on servers that never listened.
// Close copes with that case; Shutdown should too (stop is idempotent and
// safe, like net/http's Server.Shutdown).
func TestShutdownWithoutStart(t *testing.T) {
	busy := startServer(t, Config{})
	for name, start := range map[string]bool{"never started": false, "bind failed": true} {
		t.Run(name, func(t *testing.T) {
			s, err := New(Config{Addr: busy.Addr()})
			if err != nil {
				t.Fatal(err)
			}
			if start && s.Start() == nil {
				t.Fatalf("Start on a busy port succeeded")
			}
			s.Shutdown()
			select {
			case <-s.ShutdownDone():
			case <-time.After(pollLimit):
				t.Fatalf("Shutdown did not finish")
			}
			if _, ok := s.Shutdown(); ok {
				t.Errorf("second Shutdown returned ok")
			}
			if rec := s.Close(); !rec.ThreadsEnded || !rec.GoroutinesEnded || rec.Left.OpenSockets != 0 {
				t.Errorf("record: %+v", rec)
			}
		})
	}
}

// TestCloseWhileThreadsStart runs legacy, which does not join client
// threads, with connections arriving right before the trigger, and closes
// at once: Close must not race a client thread that is still starting.
// The race detector is the check.
func TestCloseWhileThreadsStart(t *testing.T) {
	for range 100 {
		s := startServer(t, Config{Policy: PolicyLegacy})
		for range 8 {
			dialClient(t, s.Addr())
		}
		s.Shutdown()
		rec := s.Close()
		if !rec.ThreadsEnded || !rec.GoroutinesEnded {
			t.Fatalf("threads ended %v, goroutines ended %v", rec.ThreadsEnded, rec.GoroutinesEnded)
		}
		for _, th := range rec.ClientThreads() {
			if !th.Exited {
				t.Fatalf("client thread %d did not exit", th.ID)
			}
		}
	}
}

// TestStreamSendsItsFirstMessageAtOnce: the first stats message does not
// wait a period (here an hour): a client knows at once that the stream is
// live, and a run's stream clients are ready without waiting StreamEvery.
func TestStreamSendsItsFirstMessageAtOnce(t *testing.T) {
	s := startServer(t, Config{StreamEvery: time.Hour})
	ws := dialStream(t, s)
	if _, msg, err := ws.ReadMessage(); err != nil {
		t.Fatalf("first stats message with a period of an hour: %v", err)
	} else if !strings.Contains(string(msg), `"seq":1`) {
		t.Errorf("first message %s, want seq 1", msg)
	}
}

// TestTriggerStamped: the stamp's channel closes when Shutdown has stamped
// the trigger, which Triggered then reports.
func TestTriggerStamped(t *testing.T) {
	s := startServer(t, Config{})
	select {
	case <-s.TriggerStamped():
		t.Fatal("stamped before Shutdown")
	default:
	}
	s.Shutdown()
	select {
	case <-s.TriggerStamped():
	default:
		t.Fatal("not stamped after Shutdown returned")
	}
	if _, ok := s.Triggered(); !ok {
		t.Error("stamped, but Triggered reports no trigger")
	}
}
