package target

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"shutdowntest/target/kernel"
)

// storm runs Storm against s, up to stormLimit connections, until the
// returned stop is called; stop waits for it to end and returns how many
// connections it made. At stormAcceptCost each, stormLimit connections keep
// the listener busy well past legacy's 1300 ms join.
const stormLimit = 1000

func storm(t *testing.T, s *Server) (stop func() int64) {
	t.Helper()
	quit := make(chan struct{})
	made := make(chan int64, 1)
	// The storm ends when stop (or the test's cleanup) closes quit.
	go func() { made <- Storm(s.Addr(), 2, stormLimit, quit) }()
	var n int64
	stop = sync.OnceValue(func() int64 {
		close(quit)
		select {
		case n = <-made:
		case <-time.After(pollLimit):
			t.Errorf("storm did not stop within %v", pollLimit)
		}
		return n
	})
	t.Cleanup(func() { stop() })
	return stop
}

// waitAccepted waits until the server has accepted at least n connections.
func waitAccepted(t *testing.T, s *Server, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d connections accepted", n), func() error {
		if got := s.accepted.Load(); got < n {
			return fmt.Errorf("%d accepted", got)
		}
		return nil
	})
}

// TestAcceptStorm: connections keep arriving through the shutdown. The
// accept event wins at index 0, so legacy's listener never sees terminate:
// its 1300 ms join times out, TerminateThread runs, and what the listener
// held is leaked. Hardened checks terminate between accepts and exits.
func TestAcceptStorm(t *testing.T) {
	for _, policy := range []Policy{PolicyLegacy, PolicyHardened} {
		t.Run(string(policy), func(t *testing.T) {
			s := startServer(t, Config{Policy: policy, DrainTimeout: time.Second, Faults: []Fault{FaultAcceptStorm}})
			stop := storm(t, s)
			waitAccepted(t, s, 50)
			srec, _ := s.Shutdown()
			made := stop()
			st, _ := stepNamed(srec, StepJoinListener)
			rec := s.Close()
			t.Logf("%d connections made, %d accepted; join-listener %s in %v", made, rec.Accepted, st.Outcome, st.End-st.Start)
			switch policy {
			case PolicyLegacy:
				if st.Outcome != StepKilled {
					t.Fatalf("join-listener %+v, want %s", st, StepKilled)
				}
				if len(rec.Leaks) != 1 || rec.Leaks[0].Thread != s.lt.ID() || !slices.Contains(rec.Leaks[0].Held, "listening socket") {
					t.Errorf("leaks %+v, want the listener's", rec.Leaks)
				}
			case PolicyHardened:
				if st.Outcome != StepOK || !srec.Completed() {
					t.Errorf("shutdown steps %+v, want every one ok", srec.Steps)
				}
				// The storm's backlog alone would keep a listener that
				// does not look at terminate busy for longer than this.
				if took := st.End - st.Start; took >= legacyListenerJoin {
					t.Errorf("hardened listener took %v to exit under the storm, want less than %v", took, legacyListenerJoin)
				}
				if len(rec.Leaks) != 0 || !slices.Contains(stepNames(srec.Steps), "free-tls") {
					t.Errorf("leaks %+v, steps %v", rec.Leaks, stepNames(srec.Steps))
				}
			}
			if !rec.ThreadsEnded || !rec.GoroutinesEnded {
				t.Errorf("threads ended %v, goroutines ended %v", rec.ThreadsEnded, rec.GoroutinesEnded)
			}
		})
	}
}

// TestKilledListenerRunsNoCleanup: TerminateThread runs none of the
// thread's cleanup. The listener is held outside its wait (in the middle
// of a spawn) past legacy's 1300 ms join; killed, it ends at its next wait
// without closing its listening socket or its accept event, and the record
// says what it held.
func TestKilledListenerRunsNoCleanup(t *testing.T) {
	s := startServer(t, Config{Policy: PolicyLegacy})
	openGate := holdListener(t, s)
	srec, _ := s.Shutdown()
	if st, _ := stepNamed(srec, StepJoinListener); st.Outcome != StepKilled {
		t.Fatalf("join-listener %+v, want %s", st, StepKilled)
	}
	openGate()
	select {
	case <-s.lt.Done():
	case <-time.After(pollLimit):
		t.Fatal("the killed listener did not end at its next wait")
	}
	rec := s.Close()
	if len(rec.Leaks) != 1 {
		t.Fatalf("leaks %+v, want the listener's", rec.Leaks)
	}
	l := rec.Leaks[0]
	if l.Thread != s.lt.ID() || l.Name != "listener" || !slices.Contains(l.Held, "listening socket") || !slices.Contains(l.Held, "accept event") {
		t.Errorf("leak %+v, want the listener holding its socket and accept event", l)
	}
	if !slices.Contains(rec.Left.Handles, "accept event") || rec.Left.OpenSockets < 1 {
		t.Errorf("left %+v: want the accept event and the listening socket still held", rec.Left)
	}
	for _, th := range rec.Kernel.Threads {
		if th.ID == s.lt.ID() && (!th.Killed || statesOf(th.States)[len(th.States)-2] == StateCleanup) {
			t.Errorf("listener killed %v, states %v: want killed, no cleanup", th.Killed, statesOf(th.States))
		}
	}
	if !rec.ThreadsEnded || !rec.GoroutinesEnded {
		t.Errorf("threads ended %v, goroutines ended %v", rec.ThreadsEnded, rec.GoroutinesEnded)
	}
}

// TestSendBlockedSeesTerminate: a WebSocket client that never reads, with
// small buffers at both ends, backs the server's stream up. The thread
// sits in send, blocked in a wait that includes terminate, and a shutdown
// ends it at once, long before its 30 s write bound.
func TestSendBlockedSeesTerminate(t *testing.T) {
	s := startServer(t, Config{StreamEvery: time.Millisecond, IOTimeout: 30 * time.Second, DrainTimeout: 3 * time.Second})
	c := dialClient(t, s.Addr())
	if err := c.c.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	c.send("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + DefaultAPIKey +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	waitFor(t, "the server's socket for the client", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for sd := range s.socks {
			if sd.peer == c.local() {
				return sd.conn.(*net.TCPConn).SetWriteBuffer(4096)
			}
		}
		return errors.New("not accepted yet")
	})
	var snap Snapshot
	var id int
	waitFor(t, "the stream thread blocked in send on terminate", func() error {
		s.Snapshot(&snap)
		th, ok := threadOf(&snap, c.local())
		if !ok || th.State != StateSend || !th.OnTerm {
			return fmt.Errorf("thread %+v", th)
		}
		id = th.ID
		return nil
	})
	srec, _ := s.Shutdown()
	if !srec.Completed() {
		t.Errorf("shutdown %+v, want every step ok", srec.Steps)
	}
	rec := s.Close()
	th := threadRecord(t, rec, id)
	if !th.Exited || th.Forced {
		t.Fatalf("thread %d: exited %v forced %v", id, th.Exited, th.Forced)
	}
	if took := th.ExitedAt - srec.Trigger; took > time.Second {
		t.Errorf("thread %d exited %v after the trigger, want at once", id, took)
	}
}

// TestRestartReusesTerminate: a restart in one process shares the handle
// table. Legacy's gen 1 closes terminate under a busy thread; gen 2's
// terminate takes the freed value, and gen 1's thread, done at last, waits
// on gen 2's event through its stale copy (BUG-088). Hardened refuses to
// start over a shutdown that failed.
func TestRestartReusesTerminate(t *testing.T) {
	t.Run("legacy", func(t *testing.T) {
		s1 := startServer(t, Config{Policy: PolicyLegacy, InflightFor: 200 * time.Millisecond})
		busy := dialClient(t, s1.Addr())
		busy.send(restGet("/api/v1/status", true))
		waitParked(t, s1, 1)
		s1.Shutdown()
		s2 := startServer(t, Config{Policy: PolicyLegacy, Kernel: s1.Kernel()})
		if s2.Terminate().Value() != s1.Terminate().Value() {
			t.Fatalf("gen 2 terminate %v, want gen 1's freed value %v", s2.Terminate(), s1.Terminate())
		}
		if resp, _, _ := busy.response(); resp.StatusCode != http.StatusOK {
			t.Errorf("busy client got %d, want its answer", resp.StatusCode)
		}
		var v kernel.View
		waitFor(t, "a stale wait on gen 2's terminate", func() error {
			s2.k.View(&v)
			for _, vi := range v.Violations {
				if vi.Kind == kernel.ViolationStaleHandle && strings.Contains(vi.Detail, "terminate (closed)") &&
					strings.Contains(vi.Detail, "waited on terminate") {
					return nil
				}
			}
			return fmt.Errorf("violations %+v", v.Violations)
		})
	})
	t.Run("hardened", func(t *testing.T) {
		s1 := startServer(t, Config{Policy: PolicyHardened, InflightFor: 2 * time.Second, DrainTimeout: 100 * time.Millisecond})
		busy := dialClient(t, s1.Addr())
		busy.send(restGet("/api/v1/status", true))
		waitParked(t, s1, 1)
		if srec, _ := s1.Shutdown(); srec.Completed() {
			t.Fatalf("gen 1 shutdown completed with a held request: %+v", srec.Steps)
		}
		s2, err := New(Config{Policy: PolicyHardened, Kernel: s1.Kernel()})
		if err != nil {
			t.Fatal(err)
		}
		err = s2.Start()
		if err == nil || !strings.Contains(err.Error(), "start refused") {
			t.Errorf("gen 2 start: %v, want refused", err)
		}
		s2.Shutdown()
		s2.Close()
	})
}

// TestNoPumpDeadlocksJoin: StopSockets runs on the UI thread. Without the
// pumping (aa66699 as shipped) a held request, answered by the UI thread,
// cannot finish while the join waits for it: the budget runs out, the
// thread is a straggler and terminate is kept open. With the pumping
// (fixed) the same request is answered and joined.
func TestNoPumpDeadlocksJoin(t *testing.T) {
	for _, policy := range []Policy{PolicyFixedNoPump, PolicyFixed} {
		t.Run(string(policy), func(t *testing.T) {
			s := startServer(t, Config{Policy: policy, InflightFor: 50 * time.Millisecond, DrainTimeout: 500 * time.Millisecond})
			c := dialClient(t, s.Addr())
			c.send(restGet("/api/v1/status", true))
			id := waitStates(t, s, map[string]State{c.local(): StateProcess})[c.local()].ID
			waitParked(t, s, 1)
			srec, _ := s.Shutdown()
			joinStep, _ := stepNamed(srec, StepJoinClients)
			closeStep, _ := stepNamed(srec, StepCloseTerminate)
			switch policy {
			case PolicyFixedNoPump:
				if joinStep.Outcome != StepTimeout || !slices.Equal(srec.Stragglers, []int{id}) || closeStep.Outcome != StepKeptOpen {
					t.Errorf("join %+v, stragglers %v, close %+v: want a timeout, [%d], kept open", joinStep, srec.Stragglers, closeStep, id)
				}
			case PolicyFixed:
				if !srec.Completed() {
					t.Errorf("steps %+v, want every one ok", srec.Steps)
				}
			}
		})
	}
}

// TestSpawnFaults: thread creation fails, or tracking fails after (before
// hardened) or before (hardened) the thread can run.
func TestSpawnFaults(t *testing.T) {
	cases := []struct {
		policy Policy
		fault  Fault
		// leaked: the socket and SocketData are still held at the end;
		// untracked: a thread runs that no join covers.
		leaked, untracked bool
	}{
		{PolicyLegacy, FaultSpawnFail, true, false},
		{PolicyFixed, FaultSpawnFail, false, false},
		{PolicyHardened, FaultSpawnFail, false, false},
		{PolicyFixed, FaultSpawnWindow, false, true},
		{PolicyHardened, FaultSpawnWindow, false, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.policy)+"/"+string(tc.fault), func(t *testing.T) {
			s := startServer(t, Config{Policy: tc.policy, Faults: []Fault{tc.fault}, DrainTimeout: 200 * time.Millisecond})
			c := dialClient(t, s.Addr())
			c.send(restGet("/api/v1/status", false))
			var snap Snapshot
			waitFor(t, "the fault recorded", func() error {
				s.mu.Lock()
				defer s.mu.Unlock()
				if len(s.faults) != 1 {
					return fmt.Errorf("faults %+v", s.faults)
				}
				return nil
			})
			if tc.untracked {
				// The untracked thread answers and lingers.
				c.response()
				waitStates(t, s, map[string]State{c.local(): StateLinger})
			}
			srec, _ := s.Shutdown()
			s.Snapshot(&snap)
			rec := s.Close()
			if ev := rec.Faults[0]; ev.Fault != tc.fault || ev.Peer != c.local() {
				t.Errorf("fault event %+v", ev)
			}
			// An untracked thread may still hold its socket at the end:
			// nothing waited for it.
			if held := rec.Left.SocketData == 1 && rec.Left.OpenSockets == 1; !tc.untracked && held != tc.leaked {
				t.Errorf("left %d SocketData and %d sockets, want leaked %v", rec.Left.SocketData, rec.Left.OpenSockets, tc.leaked)
			}
			if !tc.leaked && !tc.untracked && (rec.Left.SocketData != 0 || rec.Left.OpenSockets != 0) {
				t.Errorf("left %+v, want nothing", rec.Left)
			}
			if !srec.Completed() {
				t.Errorf("shutdown steps %+v, want every one ok", srec.Steps)
			}
			if unjoined := rec.Kernel.UnjoinedAt(terminateClose(t, rec)); (len(unjoined) == 1) != tc.untracked {
				t.Errorf("unjoined at the close of terminate %v, want an untracked thread %v", unjoined, tc.untracked)
			}
		})
	}
}

// TestStuckHandler: a handler that never returns keeps its thread in
// process, where terminate cannot reach it. Legacy closes terminate under
// it; the fix and hardened keep terminate open and report it.
func TestStuckHandler(t *testing.T) {
	for _, policy := range []Policy{PolicyLegacy, PolicyFixed, PolicyHardened} {
		t.Run(string(policy), func(t *testing.T) {
			s := startServer(t, Config{Policy: policy, Faults: []Fault{FaultStuckHandler},
				InflightFor: 10 * time.Millisecond, DrainTimeout: 200 * time.Millisecond})
			c := dialClient(t, s.Addr())
			c.send(restGet("/api/v1/status", true))
			id := waitStates(t, s, map[string]State{c.local(): StateProcess})[c.local()].ID
			waitParked(t, s, 1)
			srec, _ := s.Shutdown()
			rec := s.Close()
			tr := rec.Terminate
			switch policy {
			case PolicyLegacy:
				if !tr.Closed || !slices.Contains(tr.AliveAtClose, id) {
					t.Errorf("terminate closed %v, alive at close %v: want closed under thread %d", tr.Closed, tr.AliveAtClose, id)
				}
			default:
				if tr.Closed || !tr.KeptOpen || !slices.Equal(srec.Stragglers, []int{id}) {
					t.Errorf("terminate closed %v kept %v, stragglers %v: want kept open for [%d]", tr.Closed, tr.KeptOpen, srec.Stragglers, id)
				}
			}
			if th := threadRecord(t, rec, id); !th.Forced || th.States[len(th.States)-3] != StateProcess {
				t.Errorf("stuck thread: forced %v, states %v", th.Forced, th.States)
			}
		})
	}
}

// TestHardenedLimits: the client timeout ends an idle thread's linger, and
// a connection over the thread cap gets 503 with Retry-After.
func TestHardenedLimits(t *testing.T) {
	s := startServer(t, Config{Policy: PolicyHardened, ClientTimeout: 300 * time.Millisecond, MaxThreads: 1})
	idle := dialClient(t, s.Addr())
	idle.send(restGet("/api/v1/status", false))
	idle.response()
	waitStates(t, s, map[string]State{idle.local(): StateLinger})
	over := dialClient(t, s.Addr())
	resp, _, _ := over.response()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the cap: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// No shutdown: only the timeout can end the linger.
	waitStates(t, s, map[string]State{idle.local(): StateExited})
	if rec := s.Close(); rec.Refused != 1 {
		t.Errorf("refused %d, want 1", rec.Refused)
	}
}

func TestParseNames(t *testing.T) {
	if _, err := ParsePolicy("nope"); err == nil || err.Error() != `unknown policy "nope" (want fixed, legacy, fixed-nopump or hardened)` {
		t.Errorf("ParsePolicy: %v", err)
	}
	for _, p := range Policies {
		if got, err := ParsePolicy(string(p)); got != p || err != nil {
			t.Errorf("ParsePolicy(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := ParseFault("nope"); err == nil || !strings.Contains(err.Error(), "accept-storm, restart, spawn-window, spawn-fail, stuck-handler or slow-tls") {
		t.Errorf("ParseFault: %v", err)
	}
	for _, f := range Faults {
		if got, err := ParseFault(string(f)); got != f || err != nil {
			t.Errorf("ParseFault(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := New(Config{Faults: []Fault{"nope"}}); err == nil {
		t.Error("New with an unknown fault: want an error")
	}
}
