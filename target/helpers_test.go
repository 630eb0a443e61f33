package target

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"shutdowntest/target/kernel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Bounds of every wait in these tests: the poll step, the longest poll and
// the deadline of every client socket.
const (
	pollStep  = time.Millisecond
	pollLimit = 5 * time.Second
	clientIO  = 5 * time.Second
)

// waitFor polls cond every pollStep until it returns nil, and fails the
// test with cond's last complaint after pollLimit. Call it from the test
// goroutine only.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(pollLimit)
	tick := time.NewTicker(pollStep)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", pollLimit, what, err)
		}
		<-tick.C
	}
}

// startServer starts a server and registers its shutdown and close. The
// cleanup waits, bounded, for a Shutdown the test started elsewhere, so
// Close never runs under a live StopSockets.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		select {
		case <-s.ShutdownDone():
		case <-time.After(30 * time.Second):
			t.Errorf("shutdown did not return within 30s")
		}
		s.Close()
	})
	return s
}

// rawClient is one loopback client connection with a deadline.
type rawClient struct {
	t *testing.T
	c *net.TCPConn
}

func dialClient(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, clientIO)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	if err := c.SetDeadline(time.Now().Add(clientIO)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawClient{t: t, c: c.(*net.TCPConn)}
}

// local is the client's address, which is the server thread's Peer.
func (rc *rawClient) local() string { return rc.c.LocalAddr().String() }

func (rc *rawClient) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatalf("write to %s: %v", rc.local(), err)
	}
}

// readAll reads until the server's FIN (or an error) and returns what came.
func (rc *rawClient) readAll() ([]byte, error) { return io.ReadAll(rc.c) }

// response reads until the server's FIN and parses exactly one whole
// response from it.
func (rc *rawClient) response() (*http.Response, []byte, []byte) {
	rc.t.Helper()
	raw, err := rc.readAll()
	if err != nil {
		rc.t.Fatalf("read response on %s: %v (got %q)", rc.local(), err, raw)
	}
	resp, body := parseResponse(rc.t, raw)
	return resp, body, raw
}

func parseResponse(t *testing.T, raw []byte) (*http.Response, []byte) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(raw))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("parse response %q: %v", raw, err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("response body cut short (%v): %q", err, raw)
	}
	if rest, _ := io.ReadAll(br); len(rest) > 0 {
		t.Fatalf("%d bytes after the response: %q", len(rest), rest)
	}
	return resp, body
}

// checkClose asserts the raw response says Connection: close.
func checkClose(t *testing.T, raw []byte) {
	t.Helper()
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !bytes.Contains(head, []byte("\r\nConnection: close")) {
		t.Errorf("response header lacks Connection: close:\n%s", head)
	}
}

// readEOF asserts the server closed the connection without a byte: a
// clean EOF, or a reset when the server dropped unread input.
func (rc *rawClient) readEOF(allowReset bool) {
	rc.t.Helper()
	raw, err := rc.readAll()
	if len(raw) != 0 {
		rc.t.Errorf("%s: want no reply, got %q", rc.local(), raw)
	}
	if err != nil && !(allowReset && isReset(err)) {
		rc.t.Errorf("%s: want EOF, got %v", rc.local(), err)
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Requests.
func webGet(target string, hold bool) string {
	return request("GET", target, "", hold, "")
}

func restGet(path string, hold bool) string {
	return request("GET", path, DefaultAPIKey, hold, "")
}

func request(method, target, key string, hold bool, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, target)
	if key != "" {
		fmt.Fprintf(&b, "X-API-Key: %s\r\n", key)
	}
	if hold {
		fmt.Fprintf(&b, "%s: 1\r\n", HoldHeader)
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// threadOf finds the client thread serving peer in a snapshot.
func threadOf(snap *Snapshot, peer string) (ThreadState, bool) {
	for _, th := range snap.Threads {
		if th.Peer == peer {
			return th, true
		}
	}
	return ThreadState{}, false
}

// waitStates waits until the thread serving each peer is in the state
// wanted for it and returns those threads, by peer.
func waitStates(t *testing.T, s *Server, want map[string]State) map[string]ThreadState {
	t.Helper()
	var snap Snapshot
	got := map[string]ThreadState{}
	waitFor(t, "client threads in their states", func() error {
		s.Snapshot(&snap)
		var bad []string
		for peer, st := range want {
			th, ok := threadOf(&snap, peer)
			switch {
			case !ok:
				bad = append(bad, peer+": no thread")
			case th.State != st:
				bad = append(bad, fmt.Sprintf("%s: thread %d in %s, want %s", peer, th.ID, th.State, st))
			default:
				got[peer] = th
			}
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			return errors.New(strings.Join(bad, "; "))
		}
		return nil
	})
	return got
}

// waitAllExited waits until the server has accepted n connections and every
// client thread has exited.
func waitAllExited(t *testing.T, s *Server, n int) {
	t.Helper()
	var snap Snapshot
	waitFor(t, "every client thread exited", func() error {
		s.Snapshot(&snap)
		if snap.Accepted != int64(n) || len(snap.Threads) != n {
			return fmt.Errorf("accepted %d, %d threads, want %d", snap.Accepted, len(snap.Threads), n)
		}
		for _, th := range snap.Threads {
			if th.State != StateExited {
				return fmt.Errorf("thread %d (%s) in %s", th.ID, th.Peer, th.State)
			}
		}
		return nil
	})
}

// waitParked waits until n threads have their request held by the UI
// thread (ThreadState.Held): past the handler's shutting-down check. The
// "process" state alone does not say so: a thread enters it before the
// handler runs, and a handler that reaches its check after the trigger
// answers 503 instead of being held.
func waitParked(t *testing.T, s *Server, n int) {
	t.Helper()
	var snap Snapshot
	waitFor(t, fmt.Sprintf("%d held request(s) handed to the UI thread", n), func() error {
		s.Snapshot(&snap)
		got := 0
		for _, th := range snap.Threads {
			if th.Held {
				if th.State != StateProcess {
					return fmt.Errorf("thread %d held in %s", th.ID, th.State)
				}
				got++
			}
		}
		if got != n {
			return fmt.Errorf("%d held", got)
		}
		return nil
	})
}

// threadRecord finds a thread in a kernel record by id.
func threadRecord(t *testing.T, r Record, id int) threadSummary {
	t.Helper()
	for _, th := range r.Kernel.Threads {
		if th.ID == id {
			return threadSummary{th.Exited, th.ExitedAt, th.Forced, statesOf(th.States)}
		}
	}
	t.Fatalf("thread %d not in the kernel record", id)
	return threadSummary{}
}

// threadSummary is the part of a kernel thread record the tests check.
type threadSummary struct {
	Exited   bool
	ExitedAt time.Duration
	Forced   bool
	States   []State
}

// history returns the states a live server's thread for peer went through.
func history(s *Server, peer string) []State {
	for _, th := range s.k.Record().Threads {
		if th.Client && th.Peer == peer {
			return statesOf(th.States)
		}
	}
	return nil
}

func statesOf(recs []kernel.StateRecord) []State {
	out := make([]State, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.State)
	}
	return out
}

// shutdownSignalled starts Shutdown on its own goroutine, which ends when
// Shutdown returns, and waits until terminate is signalled. The function it
// returns waits, bounded, for Shutdown's record.
func shutdownSignalled(t *testing.T, s *Server) (wait func() ShutdownRecord) {
	t.Helper()
	done := make(chan ShutdownRecord, 1)
	go func() {
		rec, _ := s.Shutdown()
		done <- rec
	}()
	var snap Snapshot
	waitFor(t, "terminate signalled", func() error {
		if s.Snapshot(&snap); !snap.Terminate.Signaled {
			return errors.New("not yet")
		}
		return nil
	})
	return func() ShutdownRecord {
		t.Helper()
		select {
		case rec := <-done:
			return rec
		case <-time.After(pollLimit):
			t.Fatalf("shutdown did not return within %v", pollLimit)
			return ShutdownRecord{}
		}
	}
}

func stepNamed(rec ShutdownRecord, name StepName) (Step, bool) {
	for _, st := range rec.Steps {
		if st.Name == name {
			return st, true
		}
	}
	return Step{}, false
}
