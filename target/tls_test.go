package target

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// tlsDial connects a normal TLS client, verifying the server's generated
// certificate with its pool.
func tlsDial(t *testing.T, s *Server) *tls.Conn {
	t.Helper()
	if s.RootCAs() == nil {
		t.Fatal("a TLS server has no root pool")
	}
	d := &net.Dialer{Timeout: clientIO}
	c, err := tls.DialWithDialer(d, "tcp", s.Addr(), &tls.Config{RootCAs: s.RootCAs(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("tls dial %s: %v", s.Addr(), err)
	}
	_ = c.SetDeadline(time.Now().Add(clientIO))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestTLSClientGetsPage: a normal TLS client logs in to the Web UI over
// TLS under every policy, reads the whole page and then the server's end
// of the session; a plain-text request to the same port gets no page.
// Hardened never spins, whatever the client does.
func TestTLSClientGetsPage(t *testing.T) {
	for _, policy := range Policies {
		t.Run(string(policy), func(t *testing.T) {
			s := startServer(t, Config{Policy: policy, TLS: true})
			c := tlsDial(t, s)
			if _, err := io.WriteString(c, webGet("/?w=password&p="+DefaultPassword, false)); err != nil {
				t.Fatalf("write request: %v", err)
			}
			raw, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read response: %v (got %q)", err, raw)
			}
			resp, body := parseResponse(t, raw)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), DefaultSession) {
				t.Fatalf("login over TLS: %d %q", resp.StatusCode, body)
			}
			checkClose(t, raw)

			plain := dialClient(t, s.Addr())
			plain.send(webGet("/?w=password&p="+DefaultPassword, false))
			if raw, _ := plain.readAll(); strings.Contains(string(raw), DefaultSession) {
				t.Errorf("a plain-text request to a TLS server got the page: %q", raw)
			}
			_ = c.Close()
			rec := s.Close()
			if !rec.TLS {
				t.Errorf("record says the server did not speak TLS")
			}
			t.Logf("max spin %+v", rec.MaxSpin())
			if policy == PolicyHardened && len(rec.Spins) > 0 {
				t.Errorf("hardened spun: %+v", rec.Spins)
			}
		})
	}
}

// TestSlowTLSNeedsTLS: the fault is refused on a server without TLS.
func TestSlowTLSNeedsTLS(t *testing.T) {
	if _, err := New(Config{Faults: []Fault{FaultSlowTLS}}); err == nil || !strings.Contains(err.Error(), "slow-tls") {
		t.Errorf("slow-tls without TLS: err %v, want one naming the fault", err)
	}
}

// slowTLS starts SlowTLSClient against s, dribbling its hello over d, and
// returns the client's address and a stop that ends it and waits for it.
func slowTLS(t *testing.T, s *Server, d time.Duration) (peer string, stop func()) {
	t.Helper()
	quit := make(chan struct{})
	local := make(chan string, 1)
	done := make(chan struct{})
	var sent int
	var err error
	// The client ends when its hello is sent or stop closes quit.
	go func() {
		defer close(done)
		sent, err = SlowTLSClient(s.Addr(), d, quit, func(l string) { local <- l })
	}()
	select {
	case peer = <-local:
	case <-done:
		t.Fatalf("slow tls client ended before it connected: %v", err)
	case <-time.After(pollLimit):
		t.Fatalf("slow tls client not connected after %v", pollLimit)
	}
	stop = sync.OnceFunc(func() {
		close(quit)
		select {
		case <-done:
			t.Logf("slow tls client sent %d bytes (%v)", sent, err)
		case <-time.After(pollLimit):
			t.Errorf("slow tls client did not stop within %v", pollLimit)
		}
	})
	t.Cleanup(stop)
	return peer, stop
}

// waitHandshake waits until the thread serving peer is in its TLS
// handshake, with at least spins turns spun, and returns it.
func waitHandshake(t *testing.T, s *Server, peer string, spins int64) ThreadState {
	t.Helper()
	var snap Snapshot
	var th ThreadState
	waitFor(t, "a thread in its TLS handshake", func() error {
		s.Snapshot(&snap)
		var ok bool
		if th, ok = threadOf(&snap, peer); !ok || !th.Handshake || th.Spins < spins {
			return fmt.Errorf("thread %+v", th)
		}
		return nil
	})
	return th
}

// slowSpinTurns is more turns than a handshake with a client that keeps
// up costs, and far fewer than a hello dribbled over slowHello.
const (
	slowSpinTurns = 30
	slowHello     = 3 * time.Second
)

// TestSlowTLSSpinsBeforeHardened: a hello sent a byte at a time keeps the
// pre-hardened handshake loop spinning on WANT_READ, with no wait, so
// terminate cannot interrupt it: the thread outlives the shutdown (fixed's
// join times out on it) and ends only when the bytes stop.
func TestSlowTLSSpinsBeforeHardened(t *testing.T) {
	for _, policy := range []Policy{PolicyLegacy, PolicyFixed, PolicyFixedNoPump} {
		t.Run(string(policy), func(t *testing.T) {
			s := startServer(t, Config{Policy: policy, TLS: true, Faults: []Fault{FaultSlowTLS},
				DrainTimeout: 200 * time.Millisecond})
			peer, stop := slowTLS(t, s, slowHello)
			th := waitHandshake(t, s, peer, slowSpinTurns)
			srec, _ := s.Shutdown()
			if policy != PolicyLegacy {
				st, _ := stepNamed(srec, StepJoinClients)
				if st.Outcome != StepTimeout || len(srec.Stragglers) != 1 || srec.Stragglers[0] != th.ID {
					t.Errorf("join-clients %+v, stragglers %v; want a timeout on thread %d", st, srec.Stragglers, th.ID)
				}
			}
			// Still spinning after shutdown returned: terminate did not reach it.
			after := waitHandshake(t, s, peer, th.Spins+slowSpinTurns)
			if after.State == StateExited {
				t.Fatalf("thread %d exited before the bytes stopped", th.ID)
			}
			stop()
			waitFor(t, "the spinning thread to exit once the bytes stopped", func() error {
				var snap Snapshot
				s.Snapshot(&snap)
				if th, _ := threadOf(&snap, peer); th.State != StateExited {
					return fmt.Errorf("thread %d in %s", th.ID, th.State)
				}
				return nil
			})
			rec := s.Close()
			max := rec.MaxSpin()
			if max.Thread != th.ID || max.Turns < 2*slowSpinTurns || max.Last <= max.First {
				t.Errorf("record's max spin %+v, want thread %d with at least %d turns", max, th.ID, 2*slowSpinTurns)
			}
			if tr := threadRecord(t, rec, th.ID); tr.Forced {
				t.Errorf("thread %d was forced: it should have ended when the bytes stopped", th.ID)
			}
		})
	}
}

// TestSlowTLSHardenedWaits: hardened waits for a slow hello's bytes in
// {connEvent, terminate}: it never spins, and terminate ends the thread at
// once, so every client thread is joined and terminate is closed before
// the TLS state is freed.
func TestSlowTLSHardenedWaits(t *testing.T) {
	s := startServer(t, Config{Policy: PolicyHardened, TLS: true, Faults: []Fault{FaultSlowTLS},
		DrainTimeout: 2 * time.Second})
	peer, _ := slowTLS(t, s, slowHello)
	th := waitHandshake(t, s, peer, 0)
	// Several bytes in, the thread has waited for each (wait ⇄ read), and
	// is in the wait, on terminate, not in a loop.
	waitFor(t, "the handshake waiting for bytes with terminate in its set", func() error {
		var snap Snapshot
		s.Snapshot(&snap)
		th, _ := threadOf(&snap, peer)
		reads := 0
		for _, kt := range s.k.Record().Threads {
			for _, st := range kt.States {
				if kt.ID == th.ID && st.State == StateRead {
					reads += 1 + st.Repeats
				}
			}
		}
		if !th.Handshake || !th.OnTerm || th.Spins != 0 || reads < 4 {
			return fmt.Errorf("thread %+v after %d reads", th, reads)
		}
		return nil
	})
	srec, _ := s.Shutdown()
	join, _ := stepNamed(srec, StepJoinClients)
	if !srec.Completed() || join.End-join.Start > time.Second {
		t.Errorf("shutdown steps %+v; want all ok, the join well within its budget", srec.Steps)
	}
	var names []StepName
	for _, st := range srec.Steps {
		names = append(names, st.Name)
	}
	if want := []StepName{StepSignalTerminate, StepJoinListener, StepJoinClients, StepCloseTerminate, StepFreeTLS}; fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("steps %v, want %v: TLS freed only after the joins", names, want)
	}
	rec := s.Close()
	if len(rec.Spins) != 0 {
		t.Errorf("hardened spun: %+v", rec.Spins)
	}
	if tr := threadRecord(t, rec, th.ID); tr.Forced || !tr.Exited {
		t.Errorf("thread %d: %+v, want it exited at terminate", th.ID, tr)
	}
}

// dribbleConn writes a byte at a time, every 2 ms, once slow is set: a
// client whose records arrive piecemeal.
type dribbleConn struct {
	net.Conn
	slow bool
}

func (d *dribbleConn) Write(p []byte) (int, error) {
	if !d.slow {
		return d.Conn.Write(p)
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for i := range p {
		if _, err := d.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		<-tick.C
	}
	return len(p), nil
}

// TestTLSSlowRequest: after a normal handshake the request's record comes
// a byte at a time. Before hardened the read loop spins on WANT_READ until
// the record is whole; hardened waits for each byte. Both answer it.
func TestTLSSlowRequest(t *testing.T) {
	for _, policy := range []Policy{PolicyFixed, PolicyHardened} {
		t.Run(string(policy), func(t *testing.T) {
			s := startServer(t, Config{Policy: policy, TLS: true})
			raw, err := net.DialTimeout("tcp", s.Addr(), clientIO)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			_ = raw.SetDeadline(time.Now().Add(clientIO))
			dc := &dribbleConn{Conn: raw}
			c := tls.Client(dc, &tls.Config{RootCAs: s.RootCAs(), ServerName: "localhost"})
			t.Cleanup(func() { _ = c.Close() })
			if err := c.Handshake(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
			// The handshake's own spin (one round trip) is over once the
			// server has read the client's Finished.
			var snap Snapshot
			waitFor(t, "the handshake over on the server", func() error {
				s.Snapshot(&snap)
				if th, ok := threadOf(&snap, raw.LocalAddr().String()); !ok || th.Handshake || th.State != StateWait {
					return fmt.Errorf("thread %+v", th)
				}
				return nil
			})
			th, _ := threadOf(&snap, raw.LocalAddr().String())
			dc.slow = true
			if _, err := io.WriteString(c, restGet("/api/v1/status", false)); err != nil {
				t.Fatalf("write request: %v", err)
			}
			resp, err := io.ReadAll(c)
			if err != nil || !strings.HasPrefix(string(resp), "HTTP/1.1 200") {
				t.Fatalf("response %q, %v", resp, err)
			}
			_ = c.Close()
			s.Snapshot(&snap)
			after, _ := threadOf(&snap, raw.LocalAddr().String())
			spun := after.Spins - th.Spins
			t.Logf("%d turns while the request dribbled in", spun)
			switch {
			case policy == PolicyHardened && after.Spins != 0:
				t.Errorf("hardened spun %d turns", after.Spins)
			case policy != PolicyHardened && spun < slowSpinTurns:
				t.Errorf("%d turns while the record dribbled in, want at least %d", spun, slowSpinTurns)
			}
		})
	}
}
