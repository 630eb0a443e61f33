package main

// `shutdowntest serve --state-addr` exposes the model's state endpoint
// (package state): what the model's kernel knows of its accepted-client
// threads, its terminate event and its shutdown steps, so that a run
// against serve as an external target is judged by the same server-side
// checks as the embedded model.

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"shutdowntest/state"
	"shutdowntest/target"
)

// Bounds of serve's state endpoint.
const (
	// statePollEvery is how often the model's live state is copied into
	// the stream. A change that comes and goes between two copies is not
	// streamed; the final record, from the kernel's record, has it.
	statePollEvery = 5 * time.Millisecond
)

// stateEndpoint is serve's side listener and what feeds it. The listener
// is its own, not the model's, so the shutdown under test does not close
// it, and its connections are served by net/http's goroutines, not by
// model threads.
type stateEndpoint struct {
	srv  *target.Server
	hub  *state.Hub
	http *http.Server
	ln   net.Listener
	stop chan struct{}
	// polled is closed when the poller returns; wg waits for the HTTP
	// server.
	polled chan struct{}
	wg     sync.WaitGroup
	// mu orders the shutdown records: the poller sees the trigger late,
	// after the shutdown may have returned, and must not say "not
	// returned" after serve said it had.
	mu       sync.Mutex
	shutdown int // 0 nothing sent, 1 the trigger, 2 the return
	serveErr error
}

// startStateEndpoint listens on addr and starts streaming srv's state.
func startStateEndpoint(srv *target.Server, addr string) (*stateEndpoint, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--state-addr: %w", err)
	}
	hub := state.NewHub(state.Hello{Server: "shutdowntest serve, policy " + string(srv.Policy()),
		Threads: "accepted-client threads, one per connection"}, srv.Now)
	se := &stateEndpoint{srv: srv, hub: hub, ln: ln, stop: make(chan struct{}), polled: make(chan struct{}),
		http: state.NewServer(hub)}
	se.wg.Add(1)
	// Serves until finish closes the server.
	go func() {
		defer se.wg.Done()
		if err := se.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			se.mu.Lock()
			se.serveErr = err
			se.mu.Unlock()
		}
	}()
	// Copies the live state until finish closes stop.
	go func() {
		defer close(se.polled)
		se.poll()
	}()
	return se, nil
}

// Addr is where the endpoint listens.
func (se *stateEndpoint) Addr() string { return se.ln.Addr().String() }

// poll publishes what changed in the model's live state every
// statePollEvery, until stop.
func (se *stateEndpoint) poll() {
	var snap target.Snapshot
	last := map[int]target.ThreadState{}
	var lastTerm target.TerminateState
	steps := 0
	tick := time.NewTicker(statePollEvery)
	defer tick.Stop()
	for {
		se.srv.Snapshot(&snap)
		for _, th := range snap.Threads {
			if old, ok := last[th.ID]; ok && old.State == th.State && old.OnTerm == th.OnTerm && old.Since == th.Since {
				continue
			}
			last[th.ID] = th
			se.hub.Thread(liveThread(th))
		}
		if at, ok := se.srv.Triggered(); ok {
			se.shutdownRecord(1, state.Shutdown{TriggerMS: state.MS(at)})
		}
		if t := snap.Terminate; t.TerminateTimes != lastTerm.TerminateTimes || t.Waiters != lastTerm.Waiters {
			lastTerm = t
			se.hub.Signal(state.Signal{Name: target.EventTerminate, Signalled: t.Signaled, SignalledMS: state.MS(t.SignaledAt),
				Closed: t.Closed, ClosedMS: state.MS(t.ClosedAt), KeptOpen: t.KeptOpen, Waiters: t.Waiters})
		}
		for ; steps < len(snap.Steps); steps++ {
			se.hub.Step(stepOf(snap.Steps[steps]))
		}
		select {
		case <-se.stop:
			return
		case <-tick.C:
		}
	}
}

// shutdownRecord publishes the shutdown's stage n (1 begun, 2 returned)
// unless a later one was published already.
func (se *stateEndpoint) shutdownRecord(n int, s state.Shutdown) {
	se.mu.Lock()
	defer se.mu.Unlock()
	if n > se.shutdown {
		se.shutdown = n
		se.hub.Shutdown(s)
	}
}

// returned publishes the shutdown's return, as soon as Shutdown returned.
func (se *stateEndpoint) returned(rec target.ShutdownRecord) {
	se.shutdownRecord(2, state.Shutdown{TriggerMS: state.MS(rec.Trigger), Returned: true, ReturnedMS: state.MS(rec.Returned)})
}

// liveThread is a thread of the live snapshot in the format.
func liveThread(th target.ThreadState) state.Thread {
	t := state.Thread{ID: th.ID, State: string(th.State), Peer: th.Peer, OnSignal: th.OnTerm, SinceMS: state.MS(th.Since)}
	if th.State == target.StateExited {
		t.Exited, t.ExitedMS = true, t.SinceMS
	}
	return t
}

func stepOf(st target.Step) state.Step {
	return state.Step{Name: string(st.Name), StartMS: state.MS(st.Start), EndMS: state.MS(st.End),
		BudgetMS: state.MS(st.Budget), Outcome: string(st.Outcome), Detail: st.Detail}
}

// finish publishes the final record from the model's whole record (exact
// where the live copies were sampled: who was alive and who was joined at
// the close, every exit), waits, bounded, for the readers to take it, and
// closes the endpoint. The error says why the endpoint could not serve,
// or its readers did not take the final record in time.
func (se *stateEndpoint) finish(rec target.ShutdownRecord, returned bool, r target.Record) error {
	close(se.stop)
	<-se.polled
	ended := se.hub.End(finalOf(rec, returned, r, se.srv.Now()))
	_ = se.http.Close()
	se.wg.Wait()
	se.mu.Lock()
	defer se.mu.Unlock()
	if se.serveErr != nil {
		return fmt.Errorf("state endpoint: %w", se.serveErr)
	}
	return ended
}

// finalOf is the final record of a model run: rec is what the Shutdown
// call returned (returned: it did), r the record Close took.
func finalOf(rec target.ShutdownRecord, returned bool, r target.Record, now time.Duration) state.Final {
	f := state.Final{AtMS: state.MS(now), Threads: []state.Thread{}, Steps: []state.Step{}}
	for _, th := range r.ClientThreads() {
		t := state.Thread{ID: th.ID, Peer: th.Peer, Exited: th.Exited, ExitedMS: state.MS(th.ExitedAt), Forced: th.Forced}
		for _, s := range th.States {
			t.History = append(t.History, state.StateAt{State: string(s.State), AtMS: state.MS(s.At)})
		}
		if n := len(th.States); n > 0 {
			t.State, t.SinceMS = string(th.States[n-1].State), state.MS(th.States[n-1].At)
		}
		f.Threads = append(f.Threads, t)
	}
	tr := r.Terminate
	sig := &state.Signal{Name: target.EventTerminate, Signalled: tr.Signaled, SignalledMS: state.MS(tr.SignaledAt),
		Closed: tr.Closed, ClosedMS: state.MS(tr.ClosedAt), KeptOpen: tr.KeptOpen,
		AliveAtClose: tr.AliveAtClose, BlockedAtClose: tr.BlockedAtClose, UnjoinedAtClose: tr.Unjoined}
	for _, w := range tr.WaitsAfterClose {
		sig.WaitsAfterClose = append(sig.WaitsAfterClose, state.Wait{Thread: w.Thread, AtMS: state.MS(w.At), Recycled: w.Recycled})
	}
	f.Signal = sig
	for _, st := range rec.Steps {
		f.Steps = append(f.Steps, stepOf(st))
	}
	if returned {
		f.Shutdown = &state.Shutdown{TriggerMS: state.MS(rec.Trigger), Returned: returned, ReturnedMS: state.MS(rec.Returned)}
	}
	return f
}
