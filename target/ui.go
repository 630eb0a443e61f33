package target

import (
	"net/http"
	"time"
)

// threadKey carries the serving thread's id in a request's context, so the
// UI thread can say whose request it holds.
type threadKey struct{}

// uiThread is eMule's UI thread: Web UI and REST handlers marshal their
// work to it with a blocking SendMessage and wait for the answer. A request
// marked with HoldHeader is parked and answered at trigger + InflightFor,
// so any number of requests are in process together at the trigger.
type uiThread struct {
	s           *Server
	inflightFor time.Duration
	msgs        chan *uiMsg
	quit        chan struct{}
	stopped     chan struct{}

	// Owned by the UI goroutine: its loop, or StopSockets running on it
	// and pumping.
	parked   []*uiMsg
	release  <-chan time.Time
	relTimer *time.Timer
	released bool
}

type uiMsg struct {
	tid  int // the client thread waiting in SendMessage
	fn   func()
	hold bool
	done chan struct{}
	ran  bool // set by the UI goroutine before done is closed
}

func startUI(s *Server, inflightFor time.Duration) *uiThread {
	u := &uiThread{s: s, inflightFor: inflightFor, msgs: make(chan *uiMsg),
		quit: make(chan struct{}), stopped: make(chan struct{})}
	s.wg.Add(1)
	// The UI goroutine ends when the server's Close calls stop.
	go func() {
		defer s.wg.Done()
		defer close(u.stopped)
		u.loop()
	}()
	return u
}

func (u *uiThread) loop() {
	defer func() {
		if u.relTimer != nil {
			u.relTimer.Stop()
		}
	}()
	for {
		select {
		case m := <-u.msgs:
			u.dispatch(m)
		case <-u.release:
			u.releaseParked()
		case <-u.quit:
			for _, m := range u.parked {
				u.s.setHeld(m.tid, false)
				close(m.done) // not ran: the handler answers 503
			}
			return
		}
	}
}

// pump is PeekMessage in a loop: it handles every message already waiting
// for the UI thread, and the release of the held requests if it is due,
// and returns without blocking. StopSockets calls it between the slices of
// a join; it runs on the UI goroutine.
func (u *uiThread) pump() {
	for {
		select {
		case m := <-u.msgs:
			u.dispatch(m)
		case <-u.release:
			u.releaseParked()
		default:
			return
		}
	}
}

func (u *uiThread) dispatch(m *uiMsg) {
	if m.hold && !u.released {
		u.parked = append(u.parked, m)
		u.s.setHeld(m.tid, true)
		return
	}
	u.answer(m)
}

func (u *uiThread) answer(m *uiMsg) {
	m.fn()
	m.ran = true
	if m.hold {
		u.s.setHeld(m.tid, false)
	}
	close(m.done)
}

func (u *uiThread) releaseParked() {
	u.released, u.release = true, nil
	for _, m := range u.parked {
		u.answer(m)
	}
	u.parked = nil
}

// shutdown runs StopSockets on the UI thread, as eMule does, and waits for
// it: the held requests are released at trigger + inflightFor by the UI
// thread's own clock, which StopSockets starts, and answered only when the
// UI thread gets to them. If the UI thread has stopped (the run was closed
// first), StopSockets runs on the caller.
func (u *uiThread) shutdown(trigger time.Time, stopSockets func()) {
	m := &uiMsg{done: make(chan struct{}), fn: func() {
		if u.relTimer == nil {
			u.relTimer = time.NewTimer(time.Until(trigger.Add(u.inflightFor)))
			u.release = u.relTimer.C
		}
		stopSockets()
	}}
	select {
	case u.msgs <- m:
		<-m.done
	case <-u.stopped:
		stopSockets()
	}
}

// send is SendMessage: it runs fn on the UI goroutine and waits for it;
// a request carrying HoldHeader is held until trigger + InflightFor. It
// reports false if the UI thread stopped first.
func (u *uiThread) send(req *http.Request, fn func()) bool {
	tid, _ := req.Context().Value(threadKey{}).(int)
	m := &uiMsg{tid: tid, fn: fn, hold: req.Header.Get(HoldHeader) != "", done: make(chan struct{})}
	select {
	case u.msgs <- m:
	case <-u.stopped:
		return false
	}
	select {
	case <-m.done:
		return m.ran
	case <-u.stopped:
		// done may have been closed at the same moment
		select {
		case <-m.done:
			return m.ran
		default:
			return false
		}
	}
}

// stop ends the UI goroutine and waits for it.
func (u *uiThread) stop() {
	select {
	case <-u.quit:
	default:
		close(u.quit)
	}
	<-u.stopped
}
