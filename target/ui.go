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
	trig        chan time.Time
	quit        chan struct{}
	stopped     chan struct{}
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
	var parked []*uiMsg
	var release <-chan time.Time
	released := false
	answer := func(m *uiMsg) {
		m.fn()
		m.ran = true
		if m.hold {
			u.s.setHeld(m.tid, false)
		}
		close(m.done)
	}
	for {
		select {
		case m := <-u.msgs:
			if m.hold && !released {
				parked = append(parked, m)
				u.s.setHeld(m.tid, true)
				continue
			}
			answer(m)
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
		case <-u.quit:
			for _, m := range parked {
				u.s.setHeld(m.tid, false)
				close(m.done) // not ran: the handler answers 503
			}
			return
		}
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
