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
	trig        chan time.Time
	quit        chan struct{}
	stopped     chan struct{}
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
		trig: make(chan time.Time, 1), quit: make(chan struct{}), stopped: make(chan struct{})}
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
	var parked []*uiMsg // held until the release
	var slow []*uiMsg   // by due time
	var release <-chan time.Time
	released := false
	wake := time.NewTimer(time.Hour)
	wake.Stop()
	defer wake.Stop()
	answer := func(m *uiMsg) {
		m.fn()
		m.ran = true
		if m.hold || m.slow > 0 {
			u.s.setHeld(m.tid, false)
		}
		close(m.done)
	}
	for {
		select {
		case m := <-u.msgs:
			switch {
			// Held first, logged second: whoever reads the line can rely
			// on the request being held.
			case m.hold && !released:
				parked = append(parked, m)
				u.s.setHeld(m.tid, true)
				u.log(m, fmt.Sprintf("held until the trigger + %v", u.inflightFor))
			case m.slow > 0:
				m.due = time.Now().Add(m.slow)
				i, _ := slices.BinarySearchFunc(slow, m.due, func(e *uiMsg, due time.Time) int { return e.due.Compare(due) })
				slow = slices.Insert(slow, i, m)
				u.s.setHeld(m.tid, true)
				wake.Reset(time.Until(slow[0].due))
				u.log(m, fmt.Sprintf("held %v", m.slow))
			default:
				u.log(m, "answered")
				answer(m)
			}
		case at := <-u.trig:
			t := time.NewTimer(time.Until(at.Add(u.inflightFor)))
			defer t.Stop()
			release = t.C
		case <-release:
			released, release = true, nil
			for _, m := range parked {
				answer(m)
			}
			parked = nil
		case <-wake.C:
			for len(slow) > 0 && !slow[0].due.After(time.Now()) {
				answer(slow[0])
				slow = slow[1:]
			}
			if len(slow) > 0 {
				wake.Reset(time.Until(slow[0].due))
			}
		case <-u.quit:
			for _, m := range slices.Concat(parked, slow) {
				u.s.setHeld(m.tid, false)
				close(m.done) // not ran: the handler answers 503
			}
			return
		}
	}
}

// log writes one line to Config.Log as the UI thread takes a request.
func (u *uiThread) log(m *uiMsg, what string) {
	if u.s.cfg.Log != nil {
		fmt.Fprintf(u.s.cfg.Log, "ui thread: thread %d %s: %s\n", m.tid, m.what, what)
	}
}

// trigger starts the in-flight clock. Only the first call counts.
func (u *uiThread) trigger() {
	select {
	case u.trig <- time.Now():
	default:
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
