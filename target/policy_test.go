package target

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"shutdowntest/target/kernel"
)

// terminateClose is the close of the terminate event in a server's record.
func terminateClose(t *testing.T, rec Record) kernel.CloseRecord {
	t.Helper()
	for _, c := range rec.Kernel.Closes {
		if c.Name == EventTerminate {
			return c
		}
	}
	t.Fatalf("terminate was never closed: closes %+v", rec.Kernel.Closes)
	return kernel.CloseRecord{}
}

// waitExited waits until the thread serving peer has exited and returns
// its id.
func waitExited(t *testing.T, s *Server, peer string) int {
	t.Helper()
	return waitStates(t, s, map[string]State{peer: StateExited})[peer].ID
}

// TestUnjoinedAtTerminateClose: the close of terminate is judged by what
// the closer joined, not by what happened to have exited. Two clients are
// served and leave before the trigger, one after the other (under the fix
// the listener reaps the first when it accepts the second, and the second
// when it accepts the third); a third lingers until the trigger.
func TestUnjoinedAtTerminateClose(t *testing.T) {
	for _, policy := range []Policy{PolicyLegacy, PolicyFixed} {
		t.Run(string(policy), func(t *testing.T) {
			s := startServer(t, Config{Policy: policy})
			var gone []int
			for range 2 {
				c := dialClient(t, s.Addr())
				c.send(webGet("/?w=password&p="+DefaultPassword, false))
				c.response()
				_ = c.c.Close()
				gone = append(gone, waitExited(t, s, c.local()))
			}
			idle := dialClient(t, s.Addr())
			idle.send(restGet("/api/v1/status", false))
			idle.response()
			idleID := waitStates(t, s, map[string]State{idle.local(): StateLinger})[idle.local()].ID

			s.Shutdown()
			waitAllExited(t, s, 3)
			rec := s.Close()
			c := terminateClose(t, rec)
			alive := rec.Kernel.AliveAt(c)
			for _, id := range gone {
				if slices.Contains(alive, id) {
					t.Errorf("thread %d, gone before the trigger, alive at the close: %v", id, alive)
				}
			}
			unjoined := rec.Kernel.UnjoinedAt(c)
			switch policy {
			case PolicyLegacy:
				// Legacy joins only the listener, which knows nothing:
				// every client thread is unjoined, those that had all
				// gone by luck too.
				if want := []int{gone[0], gone[1], idleID}; !slices.Equal(unjoined, want) {
					t.Errorf("legacy: unjoined %v, want every client thread %v", unjoined, want)
				}
			case PolicyFixed:
				if len(unjoined) != 0 {
					t.Errorf("fixed: unjoined %v, want none (joined %v)", unjoined, c.Joined)
				}
				// The gone threads were joined through the listener's
				// reap, not by the client join: their handles were
				// closed by the listener.
				for _, id := range gone {
					name := fmt.Sprintf("thread %d", id)
					i := slices.IndexFunc(rec.Kernel.Closes, func(c kernel.CloseRecord) bool { return c.Name == name })
					if i < 0 || rec.Kernel.Closes[i].Closer != s.lt.ID() {
						t.Errorf("fixed: %s not reaped by the listener %d: %+v", name, s.lt.ID(), rec.Kernel.Closes)
					}
				}
			}
		})
	}
}

// gatedConn is an accepted connection whose first RemoteAddr call, which
// the listener makes while it builds the SocketData, waits for gate: it
// holds the listener in the middle of a spawn, outside its wait.
type gatedConn struct {
	net.Conn
	once    sync.Once
	entered chan struct{}
	gate    chan struct{}
}

func (c *gatedConn) RemoteAddr() net.Addr {
	c.once.Do(func() {
		close(c.entered)
		select {
		case <-c.gate:
		case <-time.After(pollLimit):
		}
	})
	return c.Conn.RemoteAddr()
}

// TestFixedJoinsThreadSpawnedDuringShutdown: a connection accepted as
// shutdown begins gets its thread during shutdown; the fix tracks it
// before the listener can exit, so the client join covers it and the
// close of terminate is still fully joined.
func TestFixedJoinsThreadSpawnedDuringShutdown(t *testing.T) {
	s := startServer(t, Config{Policy: PolicyFixed})
	openGate := holdListener(t, s)

	// Shutdown joins the listener, which runs on once the gate opens.
	shutdownDone := shutdownSignalled(t, s)
	openGate()
	if srec := shutdownDone(); !srec.Completed() {
		t.Errorf("shutdown not completed: %+v", srec.Steps)
	}
	rec := s.Close()
	threads := rec.ClientThreads()
	if len(threads) != 1 {
		t.Fatalf("%d client threads, want the gated connection's", len(threads))
	}
	th, c := threads[0], terminateClose(t, rec)
	if born := th.States[0].At; born < rec.Terminate.SignaledAt {
		t.Fatalf("thread %d born at %v, before terminate was signalled at %v: not spawned during shutdown",
			th.ID, born, rec.Terminate.SignaledAt)
	}
	if th.Forced || !th.Exited || th.ExitStamp > c.Stamp {
		t.Errorf("thread %d: exited %v, forced %v, exit after the close %v", th.ID, th.Exited, th.Forced, th.ExitStamp > c.Stamp)
	}
	if got := rec.Kernel.UnjoinedAt(c); len(got) != 0 {
		t.Errorf("unjoined at the close of terminate %v, want none: the thread spawned during shutdown was not joined", got)
	}
}

// holdListener hands the listener one connection that holds it in the
// middle of its spawn, outside its wait, until the returned function is
// called (the test's cleanup calls it too).
func holdListener(t *testing.T, s *Server) (openGate func()) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { _ = client.Close() })
	g := &gatedConn{Conn: server, entered: make(chan struct{}), gate: make(chan struct{})}
	openGate = sync.OnceFunc(func() { close(g.gate) })
	t.Cleanup(openGate)
	// Play the accept pump for this one connection.
	s.openSockets.Add(1)
	s.accepted.Add(1)
	s.mu.Lock()
	s.queue = append(s.queue, g)
	s.mu.Unlock()
	if err := s.k.SetEvent(s.accept); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.entered:
	case <-time.After(pollLimit):
		t.Fatal("the listener never took the connection")
	}
	return openGate
}
