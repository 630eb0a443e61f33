package target

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// threadKey carries the serving thread's id in a request's context, so the
// UI thread can say whose request it holds.
type threadKey struct{}

// uiThread is eMule's UI thread: Web UI and REST handlers marshal their
// work to it with a blocking SendMessage and wait for the answer. A request
// marked with HoldHeader is parked and answered at trigger + InflightFor,
// so any number of requests are in process together at the trigger. A
// slow request (GET /slow?ms=N) is parked for its N ms: the UI thread
// keeps serving others meanwhile, so N slow clients are all answered after
// N ms, not one after another.
type uiThread struct {
	s           *Server
	inflightFor time.Duration
	msgs        chan *uiMsg
	quit        chan struct{}
	stopped     chan struct{}

	// Owned by the UI goroutine: its loop, or StopSockets running on it
	// and pumping.
	parked    []*uiMsg // held until the release
	release   <-chan time.Time
	relTimer  *time.Timer
	releaseAt time.Time // when release fires
	released  bool
	slow      []*uiMsg // slow requests, by due time
	wake      *time.Timer
}

type uiMsg struct {
	tid  int // the client thread waiting in SendMessage
	fn   func()
	hold bool
	// slow is how long the UI thread keeps the message before answering
	// it; due is when, set as the UI thread takes it.
	slow time.Duration
	due  time.Time
	// what names the request for Config.Log ("" when there is no log).
	what string
	done chan struct{}
	ran  bool // set by the UI goroutine before done is closed
}

func startUI(s *Server, inflightFor time.Duration) *uiThread {
	u := &uiThread{s: s, inflightFor: inflightFor, msgs: make(chan *uiMsg),
		quit: make(chan struct{}), stopped: make(chan struct{}), wake: time.NewTimer(time.Hour)}
	u.wake.Stop()
	// The UI goroutine ends when the server's Close calls stop.
	if !s.goHelper(func() {
		defer close(u.stopped)
		u.loop()
	}) {
		close(u.stopped) // closed before it started: SendMessage fails at once
	}
	return u
}

func (u *uiThread) loop() {
	defer func() {
		if u.relTimer != nil {
			u.relTimer.Stop()
		}
		u.wake.Stop()
	}()
	for {
		select {
		case m := <-u.msgs:
			u.dispatch(m)
		case <-u.release:
			u.releaseParked()
		case <-u.wake.C:
			u.answerDue()
		case <-u.quit:
			for _, m := range slices.Concat(u.parked, u.slow) {
				u.s.setHeld(m.tid, false)
				close(m.done) // not ran: the handler answers 503
			}
			return
		}
	}
}

// pump is PeekMessage in a loop: it handles every message already waiting
// for the UI thread, the release of the held requests if it is due and the
// slow requests that are due, and returns without blocking. StopSockets
// calls it between the slices of a join; it runs on the UI goroutine.
func (u *uiThread) pump() {
	for {
		select {
		case m := <-u.msgs:
			u.dispatch(m)
		case <-u.release:
			u.releaseParked()
		case <-u.wake.C:
			u.answerDue()
		default:
			return
		}
	}
}

// dispatch takes one message: a held request is parked until the release,
// a slow one until its due time, anything else is answered at once. Held
// first, logged second: whoever reads the log line can rely on the request
// being held.
func (u *uiThread) dispatch(m *uiMsg) {
	switch {
	case m.hold && !u.released:
		u.parked = append(u.parked, m)
		u.s.setHeld(m.tid, true)
		u.log(m, fmt.Sprintf("held until the trigger + %v", u.inflightFor))
	case m.slow > 0:
		m.due = time.Now().Add(m.slow)
		i, _ := slices.BinarySearchFunc(u.slow, m.due, func(e *uiMsg, due time.Time) int { return e.due.Compare(due) })
		u.slow = slices.Insert(u.slow, i, m)
		u.s.setHeld(m.tid, true)
		u.wake.Reset(time.Until(u.slow[0].due))
		u.log(m, fmt.Sprintf("held %v", m.slow))
	default:
		u.log(m, "answered")
		u.answer(m)
	}
}

func (u *uiThread) answer(m *uiMsg) {
	m.fn()
	m.ran = true
	if m.hold || m.slow > 0 {
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

// answerDue answers the slow requests whose time has come and sets the
// wake-up for the next.
func (u *uiThread) answerDue() {
	for len(u.slow) > 0 && !u.slow[0].due.After(time.Now()) {
		u.answer(u.slow[0])
		u.slow = u.slow[1:]
	}
	if len(u.slow) > 0 {
		u.wake.Reset(time.Until(u.slow[0].due))
	}
}

// untilDue is how long until the UI thread's own next piece of work: the
// release of the held requests or the next slow request's answer; at most
// d. These are its timers (WM_TIMER in eMule), which wake a pumping wait
// as MsgWaitForMultipleObjects does. It runs on the UI goroutine.
func (u *uiThread) untilDue(d time.Duration) time.Duration {
	if u.release != nil {
		d = min(d, time.Until(u.releaseAt))
	}
	if len(u.slow) > 0 {
		d = min(d, time.Until(u.slow[0].due))
	}
	return max(d, 0)
}

// log writes one line to Config.Log as the UI thread takes a request.
func (u *uiThread) log(m *uiMsg, what string) {
	if u.s.cfg.Log != nil {
		fmt.Fprintf(u.s.cfg.Log, "ui thread: thread %d %s: %s\n", m.tid, m.what, what)
	}
}

// shutdown runs StopSockets on the UI thread, as eMule does, and waits for
// it: the held requests are released at trigger + inflightFor by the UI
// thread's own clock, which StopSockets starts, and answered only when the
// UI thread gets to them. If the UI thread has stopped (the run was closed
// first), StopSockets runs on the caller.
func (u *uiThread) shutdown(trigger time.Time, stopSockets func()) {
	m := &uiMsg{done: make(chan struct{}), fn: func() {
		if u.relTimer == nil {
			u.releaseAt = trigger.Add(u.inflightFor)
			u.relTimer = time.NewTimer(time.Until(u.releaseAt))
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
// a request carrying HoldHeader is held until trigger + InflightFor, and
// fn runs slow after the UI thread took it. It reports false if the UI
// thread stopped first.
func (u *uiThread) send(req *http.Request, slow time.Duration, fn func()) bool {
	tid, _ := req.Context().Value(threadKey{}).(int)
	m := &uiMsg{tid: tid, fn: fn, hold: req.Header.Get(HoldHeader) != "", slow: slow, done: make(chan struct{})}
	if u.s.cfg.Log != nil {
		// A log line is not a reply, but it stays one line of bounded
		// length: the parser already refused control characters.
		m.what = fmt.Sprintf("%.16s %.200s", req.Method, req.URL.RequestURI())
	}
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
