// Package nethttp exposes a net/http server's state endpoint (package
// state), so that shutdowntest judges a Go server's shutdown from the
// inside as it judges the eMule model's. A few lines do it:
//
//	srv := &http.Server{Handler: mux}
//	st := nethttp.Wrap(srv)                   // before Serve
//	sl, _ := net.Listen("tcp", "127.0.0.1:9091")
//	go st.Serve(sl)                           // GET /state, on a side listener
//	...
//	err := st.Shutdown(ctx)                   // in place of srv.Shutdown(ctx)
//	st.Close()                                // the final record, before exiting
//
// A Go server has no threads per connection, so the format's words are
// mapped, and what has no Go counterpart is named in the hello's "na":
//
//   - a thread is a connection, from its accept until it is closed; a
//     hijacked connection (a WebSocket) until its handler returns, since
//     Shutdown neither closes nor waits for it (golang/go#17721). Its
//     state is the ConnState (new, active, idle, hijacked), exited at the
//     end. on_signal is n/a: no goroutine waits on a shutdown signal.
//   - the shutdown signal is Shutdown itself: signalled when it is
//     called, closed when it returns, the point after which a server
//     exits under whatever still runs. alive_at_close are the
//     connections not yet ended then; unjoined_at_close the same (Shutdown
//     waits for a connection only by polling it to idle and closing it, so
//     a connection the endpoint did not see end was not joined). waiters,
//     kept_open, blocked_at_close and waits_after_close are n/a.
//   - the one shutdown step is "shutdown": Shutdown's call to its return;
//     timeout when its context ran out first, failed on another error.
package nethttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"shutdowntest/state"
)

// Signal and step names of a Go server.
const (
	SignalName = "http.Server.Shutdown"
	StepName   = "shutdown"
)

// na are the format's fields a Go server cannot know.
var na = []string{"thread.on_signal", "signal.waiters", "signal.kept_open", "signal.blocked_at_close", "signal.waits_after_close"}

// Endpoint is one server's state endpoint. Wrap makes it.
type Endpoint struct {
	srv   *http.Server
	hub   *state.Hub
	start time.Time
	side  *http.Server

	mu    sync.Mutex
	next  int
	conns map[net.Conn]*state.Thread // live connections
	// ended are the connections that ended after the shutdown began.
	ended []*state.Thread
	// signal is Shutdown's story so far; steps and shut its step and
	// shutdown record, for the final record.
	signal state.Signal
	steps  []state.Step
	shut   *state.Shutdown

	once        sync.Once
	shutdownErr error
}

type connKey struct{}

// Wrap installs the endpoint's hooks on srv: its ConnState and ConnContext
// hooks and its Handler are wrapped (those already set still run). Call it
// before srv serves.
func Wrap(srv *http.Server) *Endpoint {
	e := &Endpoint{srv: srv, start: time.Now(), conns: map[net.Conn]*state.Thread{},
		signal: state.Signal{Name: SignalName}}
	e.hub = state.NewHub(state.Hello{Server: "net/http server",
		Threads: "connections (a hijacked one until its handler returns)", NA: na}, e.now)
	e.side = state.NewServer(e.hub)

	prevState, prevCtx, h := srv.ConnState, srv.ConnContext, srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.ConnState = func(c net.Conn, cs http.ConnState) {
		e.connState(c, cs)
		if prevState != nil {
			prevState(c, cs)
		}
	}
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		return context.WithValue(ctx, connKey{}, c)
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer e.handlerReturned(r)
		h.ServeHTTP(w, r)
	})
	return e
}

func (e *Endpoint) now() time.Duration { return time.Since(e.start) }

// connState follows a connection through net/http's states.
func (e *Endpoint) connState(c net.Conn, cs http.ConnState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.conns[c]
	if t == nil {
		e.next++
		t = &state.Thread{ID: e.next, Peer: c.RemoteAddr().String()}
		e.conns[c] = t
	}
	if cs == http.StateClosed {
		e.exit(c, t)
		return
	}
	e.enter(t, cs.String())
}

// handlerReturned ends a hijacked connection's thread: its handler was
// what served it.
func (e *Endpoint) handlerReturned(r *http.Request) {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.conns[c]; t != nil && t.State == http.StateHijacked.String() {
		e.exit(c, t)
	}
}

// enter publishes t's new state. Called with e.mu held.
func (e *Endpoint) enter(t *state.Thread, s string) {
	at := state.MS(e.now())
	t.State, t.SinceMS = s, at
	t.History = append(t.History, state.StateAt{State: s, AtMS: at})
	e.publish(t)
}

// exit publishes t's end and forgets its connection, keeping the thread
// for the final record if the shutdown has begun. Called with e.mu held.
func (e *Endpoint) exit(c net.Conn, t *state.Thread) { e.exitAt(c, t, state.MS(e.now())) }

// exitAt is exit at a given instant. Called with e.mu held.
func (e *Endpoint) exitAt(c net.Conn, t *state.Thread, at float64) {
	delete(e.conns, c)
	t.State, t.SinceMS, t.Exited, t.ExitedMS = "exited", at, true, at
	t.History = append(t.History, state.StateAt{State: t.State, AtMS: at})
	e.publish(t)
	if e.shut != nil {
		e.ended = append(e.ended, t)
	}
}

// publish sends t's state, without its history (the final record has
// it).
func (e *Endpoint) publish(t *state.Thread) {
	live := *t
	live.History = nil
	e.hub.Thread(live)
}

// ServeHTTP is the endpoint itself, for a server that mounts it on a side
// listener of its own (Serve does that). It must not be mounted on the
// server under test: its Shutdown would wait for the stream, and count it
// as a connection.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.hub.ServeHTTP(w, r) }

// Serve serves GET /state on l until Close; it returns nil then.
func (e *Endpoint) Serve(l net.Listener) error {
	if err := e.side.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown runs the server's Shutdown(ctx), streaming it as the shutdown
// signal and step. Later calls wait for the first and return its error.
func (e *Endpoint) Shutdown(ctx context.Context) error {
	e.once.Do(func() {
		trig := state.MS(e.now())
		e.mu.Lock()
		e.shut = &state.Shutdown{TriggerMS: trig}
		e.signal.Signalled, e.signal.SignalledMS = true, trig
		e.hub.Shutdown(*e.shut)
		e.hub.Signal(e.signal)
		e.mu.Unlock()

		err := e.srv.Shutdown(ctx)

		ret := state.MS(e.now())
		step := state.Step{Name: StepName, StartMS: trig, EndMS: ret, Outcome: state.StepOK}
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			step.Outcome, step.Detail = "timeout", err.Error()
		case err != nil:
			step.Outcome, step.Detail = "failed", err.Error()
		}
		e.mu.Lock()
		if err == nil {
			// A nil return means Shutdown closed every connection it
			// tracks; net/http reports StateClosed for the idle ones it
			// closed from their own goroutines, possibly later. They
			// ended here, by Shutdown's hand: only hijacked ones live on.
			for c, t := range e.conns {
				if t.State != http.StateHijacked.String() {
					e.exitAt(c, t, ret)
				}
			}
		}
		var alive []int
		for _, t := range e.conns {
			alive = append(alive, t.ID)
		}
		sort.Ints(alive)
		e.signal.Closed, e.signal.ClosedMS = true, ret
		e.signal.AliveAtClose, e.signal.UnjoinedAtClose = alive, alive
		e.steps = append(e.steps, step)
		e.shut.Returned, e.shut.ReturnedMS = true, ret
		e.hub.Signal(e.signal)
		e.hub.Step(step)
		e.hub.Shutdown(*e.shut)
		e.mu.Unlock()
		e.shutdownErr = err
	})
	return e.shutdownErr
}

// Close publishes the final record (every connection still known, the
// signal, the step), waits at most 2 s for the readers to take it, and
// closes the side listener. Call it last, before the process exits: a
// connection not ended by then is reported so.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	f := state.Final{AtMS: state.MS(e.now()), Threads: []state.Thread{}, Steps: append([]state.Step{}, e.steps...)}
	for _, t := range e.conns {
		f.Threads = append(f.Threads, *t)
	}
	for _, t := range e.ended {
		f.Threads = append(f.Threads, *t)
	}
	sort.Slice(f.Threads, func(i, j int) bool { return f.Threads[i].ID < f.Threads[j].ID })
	sig := e.signal
	f.Signal = &sig
	if e.shut != nil {
		sh := *e.shut
		f.Shutdown = &sh
	}
	e.mu.Unlock()
	ended := e.hub.End(f)
	if err := e.side.Close(); err != nil {
		return err
	}
	return ended
}
