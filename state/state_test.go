package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a server clock a test moves by hand.
type fakeClock struct{ now time.Duration }

func (c *fakeClock) Now() time.Duration { return c.now }

// readAll folds a whole stream from url. It may run on a goroutine of
// its own, so it reports rather than fails.
func readAll(url string) (*State, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		return nil, fmt.Errorf("content type %q, want %q", ct, ContentType)
	}
	var s State
	return &s, Read(resp.Body, s.Apply)
}

// A reader that connects before the changes and one that connects after
// the final record fold the same story: the hub replays its log.
func TestHubStreamsAndReplays(t *testing.T) {
	clock := &fakeClock{now: 5 * time.Millisecond}
	h := NewHub(Hello{Server: "test", Threads: "threads"}, clock.Now)
	srv := httptest.NewServer(h)
	defer srv.Close()

	type result struct {
		s   *State
		err error
	}
	early := make(chan result, 1)
	// Ends with the stream: the final record, or the test's deadline.
	go func() {
		s, err := readAll(srv.URL)
		early <- result{s, err}
	}()
	h.Thread(Thread{ID: 7, State: "wait", Peer: "127.0.0.1:4000", OnSignal: true, SinceMS: 1})
	h.Thread(Thread{ID: 7, State: "process", Peer: "127.0.0.1:4000", SinceMS: 2})
	h.Thread(Thread{ID: 8, State: "linger", Peer: "127.0.0.1:4001", SinceMS: 3})
	h.Shutdown(Shutdown{TriggerMS: 10})
	h.Signal(Signal{Name: "terminate", Signalled: true, SignalledMS: 10, Waiters: 1})
	h.Step(Step{Name: "signal-terminate", StartMS: 10, EndMS: 10, Outcome: StepOK})
	h.Thread(Thread{ID: 8, State: "exited", Peer: "127.0.0.1:4001", SinceMS: 11, Exited: true, ExitedMS: 11})
	h.Signal(Signal{Name: "terminate", Signalled: true, SignalledMS: 10, Closed: true, ClosedMS: 12, AliveAtClose: []int{7}, UnjoinedAtClose: []int{7, 8}})
	h.Shutdown(Shutdown{TriggerMS: 10, Returned: true, ReturnedMS: 12})
	h.Final(Final{AtMS: 20, Threads: []Thread{
		{ID: 7, State: "exited", Peer: "127.0.0.1:4000", Exited: true, ExitedMS: 19, Forced: true,
			History: []StateAt{{"wait", 1}, {"process", 2}, {"exited", 19}}},
		{ID: 8, State: "exited", Peer: "127.0.0.1:4001", Exited: true, ExitedMS: 11}},
		Steps: []Step{{Name: "signal-terminate", StartMS: 10, EndMS: 10, Outcome: StepOK}}})
	if !h.Flushed(10 * time.Second) {
		t.Fatal("the early reader never took the final record")
	}
	e := <-early
	late, lateErr := readAll(srv.URL)
	for name, r := range map[string]result{"early": e, "late": {late, lateErr}} {
		s := r.s
		if r.err != nil {
			t.Fatalf("%s: %v", name, r.err)
		}
		if !s.Final || s.Hello.Version != Version || s.Hello.Server != "test" || s.Hello.NowMS != 5 {
			t.Errorf("%s: final %v, hello %+v", name, s.Final, s.Hello)
		}
		th := s.SortedThreads()
		if len(th) != 2 || !th[0].Forced || th[0].ExitedMS != 19 || len(th[0].History) != 3 || th[1].History[0].State != "exited" {
			t.Errorf("%s: threads %+v", name, th)
		}
		if s.Signal != nil || len(s.Steps) != 1 || s.Shutdown != nil {
			t.Errorf("%s: the final record's signal, steps, shutdown replace the streamed ones: %+v %+v %+v", name, s.Signal, s.Steps, s.Shutdown)
		}
	}
}

// Folding the records before the final one builds each thread's history
// and keeps the latest signal and shutdown.
func TestApplyFoldsRecords(t *testing.T) {
	var s State
	recs := []Record{
		{Type: TypeHello, Hello: &Hello{Version: Version}},
		{Type: TypeThread, Thread: &Thread{ID: 1, State: "wait", SinceMS: 1}},
		{Type: TypeThread, Thread: &Thread{ID: 1, State: "wait", SinceMS: 1, OnSignal: true}},
		{Type: TypeThread, Thread: &Thread{ID: 1, State: "process", SinceMS: 4}},
		{Type: TypeSignal, Signal: &Signal{Signalled: true}},
		{Type: TypeSignal, Signal: &Signal{Signalled: true, Closed: true, ClosedMS: 9}},
		{Type: "from-a-later-version"},
	}
	for _, r := range recs {
		if err := s.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	th := s.Threads[1]
	if len(th.History) != 2 || th.History[1] != (StateAt{"process", 4}) || th.OnSignal {
		t.Errorf("thread %+v", th)
	}
	if !s.Signal.Closed || s.Final || s.Records != len(recs) {
		t.Errorf("signal %+v, final %v, records %d", s.Signal, s.Final, s.Records)
	}
}

// A stream that does not start with a hello of this version, is not
// JSON, or ends before its final record is an error that says so.
func TestReadRefusesBadStreams(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"type":"thread","thread":{"id":1}}`, "want a \"hello\" record first"},
		{`{"type":"hello","hello":{"version":99}}`, "version 99"},
		{`{"type":"hello","hello":{"version":1}}` + "\nnot json", "record 2"},
		{`{"type":"hello","hello":{"version":1}}` + "\n" + `{"type":"final"}`, "no final part"},
	} {
		var s State
		err := Read(strings.NewReader(c.in), s.Apply)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want it to say %q", c.in, err, c.want)
		}
	}
	var s State
	if err := Read(strings.NewReader(`{"type":"hello","hello":{"version":1}}`+"\n"), s.Apply); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a stream without a final record: %v, want io.ErrUnexpectedEOF", err)
	}
}

// A long-running server's log is compacted to the threads still alive, so
// a reader that connects late gets those and not the thousands before.
func TestHubCompactsExitedThreads(t *testing.T) {
	h := NewHub(Hello{}, func() time.Duration { return 0 })
	for id := 1; id <= 3*compactAt; id++ {
		h.Thread(Thread{ID: id, State: "active"})
		h.Thread(Thread{ID: id, State: "closed", Exited: true})
	}
	h.Thread(Thread{ID: 0, State: "idle"})
	h.mu.Lock()
	n := len(h.log)
	h.mu.Unlock()
	if n > compactAt+1 {
		t.Fatalf("log of %d records, want it compacted", n)
	}
	h.Final(Final{Threads: []Thread{}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	s, err := readAll(srv.URL)
	if err != nil || !s.Final {
		t.Fatalf("%v, final %v", err, s.Final)
	}
	if s.Records > compactAt+3 {
		t.Errorf("a late reader got %d records", s.Records)
	}
}

// The endpoint answers only GET.
func TestHubGetOnly(t *testing.T) {
	h := NewHub(Hello{}, func() time.Duration { return 0 })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/state", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET" {
		t.Errorf("POST: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}
