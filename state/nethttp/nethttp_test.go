package nethttp

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"shutdowntest/internal/await"
	"shutdowntest/state"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A served connection and a hijacked one whose handler outlives Shutdown:
// the stream shows the first ended before the close and the second alive
// at it, then ended when its handler returned; the step is ok and the
// final record carries both.
func TestEndpointMapsConnectionsAndShutdown(t *testing.T) {
	release := make(chan struct{})
	hijacked := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		close(hijacked)
		<-release
	})
	srv := &http.Server{Handler: mux}
	st := Wrap(srv)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	go func() { served <- srv.Serve(l) }() // ends with Shutdown
	go func() { served <- st.Serve(sl) }() // ends with Close

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+sl.Addr().String()+"/state", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s state.State
	read := make(chan error, 1)
	go func() { read <- state.Read(resp.Body, s.Apply) }() // ends with the final record

	get, err := http.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	hc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	if _, err := hc.Write([]byte("GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hijacked:
	case <-ctx.Done():
		t.Fatal("the hijacking handler never ran")
	}
	if err := st.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(release)
	// The handler's return is the hijacked thread's end: wait for it
	// before the final record, as a server that joins its handlers would.
	_, _ = bufio.NewReader(hc).ReadByte()
	await.Until(t, 5*time.Second, "the hijacked connection's end", func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.conns) == 0
	})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-served; err != nil && err != http.ErrServerClosed {
			t.Error(err)
		}
	}
	if len(s.Hello.NA) == 0 || s.Hello.Server != "net/http server" {
		t.Errorf("hello %+v", s.Hello)
	}
	sig := s.Signal
	if sig == nil || !sig.Signalled || !sig.Closed || len(sig.AliveAtClose) != 1 {
		t.Fatalf("signal %+v, want closed with the hijacked connection alive", sig)
	}
	th := s.Threads[sig.AliveAtClose[0]]
	if th == nil || !th.Exited || th.ExitedMS < sig.ClosedMS || th.History[len(th.History)-2].State != "hijacked" {
		t.Errorf("hijacked thread %+v", th)
	}
	if len(s.Steps) != 1 || s.Steps[0].Outcome != state.StepOK || s.Shutdown == nil || !s.Shutdown.Returned {
		t.Errorf("steps %+v, shutdown %+v", s.Steps, s.Shutdown)
	}
}
