package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"shutdowntest/state"
	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// StatePortPlaceholder is replaced by a second free loopback port in
// External's StateURL and Command.
const StatePortPlaceholder = "{state-port}"

// Bounds of the state stream.
const (
	// stateConnectEvery paces the attempts to open the stream while the
	// server brings its endpoint up.
	stateConnectEvery = 20 * time.Millisecond
	// stateEndWait bounds the wait for the stream's end once the process
	// has ended (or observation has): its final record was written before
	// the exit, so only the bytes in flight are left.
	stateEndWait = 2 * time.Second
)

// StateRecord is what an external server's state endpoint (package
// state) told of one iteration.
type StateRecord struct {
	URL   string
	State state.State
	// Offset puts the server's clock on the iteration's: an instant of the
	// stream is at state.Duration(ms) + Offset. It is taken as the hello
	// arrives, so it is early by the hello's time on the wire (loopback:
	// microseconds).
	Offset time.Duration
	// Err says why the stream did not end with its final record ("": it
	// did).
	Err string
}

// stateStream reads a state endpoint while the iteration runs.
type stateStream struct {
	cancel context.CancelFunc
	ended  chan struct{} // closed when the reader returns

	mu  sync.Mutex
	rec StateRecord
}

// openState opens the stream at url, retrying until it answers 200 or
// within runs out, and starts reading it on a goroutine counted in wg
// that ends with the stream or at halt. clock is the iteration's.
func openState(url string, within time.Duration, clock func(time.Time) time.Duration, wg *sync.WaitGroup) (*stateStream, error) {
	ctx, cancel := context.WithCancel(context.Background())
	deadline := time.Now().Add(within)
	var resp *http.Response
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("state url: %w", err)
		}
		resp, err = stateClient.Do(req)
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		last := ""
		if err != nil {
			last = err.Error()
		} else {
			last = "status " + resp.Status
			resp.Body.Close()
		}
		if time.Now().After(deadline) {
			cancel()
			return nil, fmt.Errorf("the state endpoint %s did not answer 200 within --ready-timeout %v (last: %s)", url, within, last)
		}
		<-time.After(stateConnectEvery)
	}
	s := &stateStream{cancel: cancel, ended: make(chan struct{}), rec: StateRecord{URL: url}}
	wg.Add(1)
	// Reads until the final record, the end of the stream, or halt
	// (cancel closes the body under it).
	go func() {
		defer wg.Done()
		defer close(s.ended)
		defer resp.Body.Close()
		err := state.Read(resp.Body, func(r state.Record) error {
			now := clock(time.Now())
			s.mu.Lock()
			defer s.mu.Unlock()
			if r.Type == state.TypeHello && r.Hello != nil {
				s.rec.Offset = now - state.Duration(r.Hello.NowMS)
			}
			return s.rec.State.Apply(r)
		})
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case s.rec.State.Final:
		case errors.Is(err, io.ErrUnexpectedEOF):
			s.rec.Err = "the stream ended before its final record"
		case ctx.Err() != nil:
			s.rec.Err = "no final record by the end of observation"
		default:
			s.rec.Err = err.Error()
		}
	}()
	return s, nil
}

// stateClient opens state streams: no overall timeout (a stream lasts
// the whole iteration), but a bounded wait for the answer's header.
var stateClient = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 5 * time.Second, DisableKeepAlives: true}}

// done reports whether the stream has ended.
func (s *stateStream) done() bool { return closed(s.ended) }

// end waits, at most d, for the stream to end, then ends it and returns
// what it said.
func (s *stateStream) end(d time.Duration) StateRecord {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ended:
	case <-t.C:
	}
	s.cancel()
	<-s.ended
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec
}

// live fills the server part of a snapshot from what the stream has said
// so far: the threads, the signal and the steps, on the iteration's clock.
func (s *stateStream) live(srv *target.Snapshot) {
	s.mu.Lock()
	rec := s.rec
	threads := s.rec.State.SortedThreads()
	s.mu.Unlock()
	at := rec.at
	for _, t := range threads {
		srv.Threads = append(srv.Threads, target.ThreadState{ID: t.ID, Peer: t.Peer, State: target.State(t.State),
			Since: at(t.SinceMS), OnTerm: t.OnSignal})
		if !t.Exited {
			srv.Terminate.AliveClients++
		}
	}
	if sig := rec.State.Signal; sig != nil {
		srv.Terminate.TerminateTimes = rec.terminateTimes()
		srv.Terminate.Waiters = sig.Waiters
	}
	for _, st := range rec.State.Steps {
		srv.Steps = append(srv.Steps, rec.step(st))
	}
}

// at is an instant of the stream on the iteration's clock.
func (r *StateRecord) at(ms float64) time.Duration { return state.Duration(ms) + r.Offset }

func (r *StateRecord) terminateTimes() target.TerminateTimes {
	sig := r.State.Signal
	return target.TerminateTimes{Signaled: sig.Signalled, SignaledAt: r.at(sig.SignalledMS),
		Closed: sig.Closed, ClosedAt: r.at(sig.ClosedMS), KeptOpen: sig.KeptOpen}
}

func (r *StateRecord) step(st state.Step) target.Step {
	return target.Step{Name: target.StepName(st.Name), Start: r.at(st.StartMS), End: r.at(st.EndMS),
		Budget: state.Duration(st.BudgetMS), Outcome: target.StepOutcome(st.Outcome), Detail: st.Detail}
}

// Record is what the endpoint said, as the embedded model's record on the
// iteration's clock, so that the server-side checks and every report read
// an external server's threads, signal and steps as they read the
// model's; returned says its shutdown returned.
func (r *StateRecord) Record() (rec target.Record, returned bool) {
	for _, t := range r.State.SortedThreads() {
		th := kernel.ThreadRecord{ID: t.ID, Name: target.ThreadClient, Client: true, Peer: t.Peer,
			Exited: t.Exited, ExitedAt: r.at(t.ExitedMS), Forced: t.Forced}
		for _, h := range t.History {
			th.States = append(th.States, kernel.StateRecord{State: kernel.State(h.State), At: r.at(h.AtMS)})
		}
		rec.Kernel.Threads = append(rec.Kernel.Threads, th)
	}
	if sig := r.State.Signal; sig != nil {
		rec.Terminate = target.TerminateRecord{TerminateTimes: r.terminateTimes(),
			AliveAtClose: sig.AliveAtClose, BlockedAtClose: sig.BlockedAtClose}
		for _, w := range sig.WaitsAfterClose {
			rec.Terminate.WaitsAfterClose = append(rec.Terminate.WaitsAfterClose,
				kernel.WaitFailure{At: r.at(w.AtMS), Thread: w.Thread, Recycled: w.Recycled})
		}
	}
	for _, st := range r.State.Steps {
		rec.Shutdown.Steps = append(rec.Shutdown.Steps, r.step(st))
	}
	if sh := r.State.Shutdown; sh != nil {
		rec.Shutdown.Trigger = r.at(sh.TriggerMS)
		if sh.Returned {
			rec.Shutdown.Returned, returned = r.at(sh.ReturnedMS), true
		}
	}
	return rec, returned
}
