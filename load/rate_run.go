package load

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"shutdowntest/internal/join"
	"shutdowntest/target/kernel"
)

// RateTally is the traffic so far, for a live view.
type RateTally struct {
	Sent, OK, NotOK, NotSent int64
	// Window is the disruption window so far (RateRecord.Window).
	Window RateWindow
}

// rateClock is the scheduler's time: the real one, or a test's.
type rateClock interface {
	now() time.Time
	// sleepUntil waits until t, or stop; it reports false for stop.
	sleepUntil(t time.Time, stop <-chan struct{}) bool
}

type realClock struct{}

func (realClock) now() time.Time { return time.Now() }

func (realClock) sleepUntil(t time.Time, stop <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		return !closed(stop)
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-stop:
		return false
	}
}

// schedule runs the pacer p on clk until stop is closed: each hit, when
// due, goes to send (which counts it when the cap keeps it from going
// out, rather than wait: the schedule does not slip).
//
// A scheduler that wakes late (the process paused, the machine busy)
// sends every overdue hit at once, each with its own due time: the
// lateness is then in their latencies, not hidden.
func schedule(clk rateClock, p pacer, stop <-chan struct{}, send func(due time.Time)) {
	start := clk.now()
	for n := int64(0); ; n++ {
		if w := p.pace(clk.now().Sub(start), n); w > 0 && !clk.sleepUntil(clk.now().Add(w), stop) {
			return
		}
		if closed(stop) {
			return
		}
		send(start.Add(p.due(n)))
	}
}

// rateRun is one iteration's traffic under way. Its goroutines (the
// scheduler, one per request in flight, or Workers with Max) belong to
// it: they end once stop is closed and the requests in flight have
// ended, which halt bounds.
type rateRun struct {
	cfg  Rate
	addr string
	tls  *tls.Config
	// once and keep are the request on a connection of its own and on a
	// kept-alive one.
	once, keep wireRequest
	clock      func(time.Time) time.Duration

	stopCh   chan struct{}
	stopOnce sync.Once
	halted   atomic.Bool
	inflight atomic.Int64
	// pool holds the kept-alive connections not in use.
	pool chan *rateConn
	wg   sync.WaitGroup

	sent, ok, notOK atomic.Int64

	mu        sync.Mutex
	why       string
	triggered bool
	trigger   time.Duration
	deadline  *time.Timer
	open      map[net.Conn]bool
	reqs      []RateRequest
	notSent   []time.Duration
	window    RateWindow
}

// rateConn is a connection of the traffic with its reader.
type rateConn struct {
	conn net.Conn
	cr   *countReader
	br   *bufio.Reader
}

// wireRequest is a request with its bytes on the wire, written once: the
// traffic sends the same request every time, and encoding it anew for
// each one (headers sorted, the URL written out) costs the sender at its
// maximum rate.
type wireRequest struct {
	req  *http.Request // read only: http.ReadResponse asks its method
	wire []byte
}

// newWireRequest encodes req, closing its connection after it or not.
func newWireRequest(req *http.Request, close bool) wireRequest {
	req.Close = close
	var b bytes.Buffer
	_ = req.Write(&b) // a bytes.Buffer takes every write
	return wireRequest{req: req, wire: b.Bytes()}
}

// startRate starts cfg's traffic to addr; request builds the request.
func startRate(cfg Rate, addr string, tc *tls.Config, clock func(time.Time) time.Duration, request func() *http.Request) *rateRun {
	rr := &rateRun{cfg: cfg, addr: addr, tls: tc, clock: clock, stopCh: make(chan struct{}),
		once: newWireRequest(request(), true), keep: newWireRequest(request(), false),
		pool: make(chan *rateConn, cfg.Workers), open: map[net.Conn]bool{}}
	if cfg.Max {
		for i := range cfg.Workers {
			reuse := cfg.Mode == RateReuse || (cfg.Mode == RateBoth && i%2 == 1)
			rr.wg.Add(1)
			// A worker sends one request after another until stop.
			go func() {
				defer rr.wg.Done()
				for !closed(rr.stopCh) {
					rr.record(rr.do(time.Now(), reuse))
				}
			}()
		}
		return rr
	}
	rr.wg.Add(1)
	// The scheduler ends at stop; each request it starts ends within
	// rateTimeout, or at halt.
	go func() {
		defer rr.wg.Done()
		var n int64
		schedule(realClock{}, pacer{cfg.PerSecond}, rr.stopCh, func(due time.Time) {
			if rr.inflight.Add(1) > int64(cfg.Workers) {
				rr.inflight.Add(-1)
				rr.mu.Lock()
				rr.notSent = append(rr.notSent, clock(due))
				rr.mu.Unlock()
				return
			}
			reuse := cfg.Mode == RateReuse || (cfg.Mode == RateBoth && n%2 == 1)
			n++
			rr.wg.Add(1)
			go func() {
				defer rr.wg.Done()
				defer rr.inflight.Add(-1)
				rr.record(rr.do(due, reuse))
			}()
		})
	}()
	return rr
}

// triggerAt tells the traffic the trigger came at at: it stops by itself
// once the server refuses a connection due after it, or budget later.
func (rr *rateRun) triggerAt(at, budget time.Duration) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.triggered, rr.trigger = true, at
	rr.deadline = time.AfterFunc(budget, func() { rr.stop(fmt.Sprintf("--drain-timeout (%v) after the trigger", budget)) })
}

// stop ends the schedule (the requests in flight go on); the first
// reason given is the one kept.
func (rr *rateRun) stop(why string) {
	rr.stopOnce.Do(func() {
		rr.mu.Lock()
		rr.why = why
		rr.mu.Unlock()
		close(rr.stopCh)
	})
}

// halt stops the traffic and waits for the requests in flight, each
// bounded by its own deadline, to end. With abort it ends them at once:
// they are recorded as timeouts, not as what cutting them makes them
// look like.
func (rr *rateRun) halt(abort bool) {
	rr.stop("observation ended")
	rr.mu.Lock()
	if rr.deadline != nil {
		rr.deadline.Stop()
	}
	rr.mu.Unlock()
	if abort || !join.Within(&rr.wg, rateTimeout+rateDialTimeout) {
		rr.halted.Store(true)
		rr.mu.Lock()
		for c := range rr.open {
			_ = c.SetDeadline(time.Now())
		}
		rr.mu.Unlock()
		join.Within(&rr.wg, 10*time.Second)
	}
	for {
		select {
		case rc := <-rr.pool:
			rr.drop(rc)
		default:
			return
		}
	}
}

// record keeps q, and stops the traffic once the server refuses a
// connection due after the trigger: it no longer answers.
func (rr *rateRun) record(q RateRequest) {
	rr.sent.Add(1)
	if q.Outcome == RateOK {
		rr.ok.Add(1)
	} else {
		rr.notOK.Add(1)
	}
	rr.mu.Lock()
	rr.reqs = append(rr.reqs, q)
	if rr.triggered && q.Outcome != RateOK && q.Done >= rr.trigger {
		rr.window.add(q.Intended)
	}
	refused := q.Outcome == RateRefused && rr.triggered && q.Intended >= rr.trigger
	at := q.Intended - rr.trigger
	rr.mu.Unlock()
	if refused {
		rr.stop(fmt.Sprintf("a connection due at t+%.3fs was refused: the server stopped answering", at.Seconds()))
	}
}

// tally is the traffic so far.
func (rr *rateRun) tally() RateTally {
	t := RateTally{Sent: rr.sent.Load(), OK: rr.ok.Load(), NotOK: rr.notOK.Load()}
	rr.mu.Lock()
	t.NotSent, t.Window = int64(len(rr.notSent)), rr.window
	rr.mu.Unlock()
	return t
}

// do sends one request due at due, on a kept-alive connection from the
// pool when reuse and one is free, else on a new one, and reads the
// whole answer.
func (rr *rateRun) do(due time.Time, reuse bool) RateRequest {
	q := RateRequest{Intended: rr.clock(due)}
	var rc *rateConn
	if reuse {
		select {
		case rc = <-rr.pool:
			q.Reused = true
		default:
		}
	}
	if rc == nil {
		conn, err := rr.dial()
		if err != nil {
			q.Done = rr.clock(time.Now())
			q.Outcome, q.Detail = rr.failure(err, 0)
			return q
		}
		cr := &countReader{r: conn}
		rc = &rateConn{conn: conn, cr: cr, br: bufio.NewReader(cr)}
	}
	q.Local = rc.conn.LocalAddr().String()
	_ = rc.conn.SetDeadline(time.Now().Add(rateTimeout))
	if rr.halted.Load() {
		_ = rc.conn.SetDeadline(time.Now())
	}
	req := rr.once
	if reuse {
		req = rr.keep
	}
	rc.cr.n = 0
	if _, err := rc.conn.Write(req.wire); err != nil {
		q.Done = rr.clock(time.Now())
		q.Outcome, q.Detail = rr.failure(err, 0)
		rr.drop(rc)
		return q
	}
	q.Wrote, q.Sent = true, rr.clock(time.Now())
	resp, err := http.ReadResponse(rc.br, req.req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		q.Status = resp.StatusCode
	}
	q.Done, q.Read = rr.clock(time.Now()), rc.cr.n
	switch {
	case err != nil:
		q.Outcome, q.Detail = rr.failure(err, q.Read)
	case resp.StatusCode == http.StatusServiceUnavailable:
		q.Outcome = RateUnavailable
	case resp.StatusCode >= 500:
		q.Outcome, q.Detail = RateServerError, resp.Status
	default:
		q.Outcome = RateOK
	}
	if err == nil && reuse && !resp.Close && !closed(rr.stopCh) {
		select {
		case rr.pool <- rc:
			return q
		default:
		}
	}
	rr.drop(rc)
	return q
}

// dial connects, and tracks the connection for halt.
func (rr *rateRun) dial() (net.Conn, error) {
	conn, err := dialHere(rr.addr, rr.tls, rateDialTimeout)
	if err != nil {
		return nil, err
	}
	rr.mu.Lock()
	rr.open[conn] = true
	rr.mu.Unlock()
	return conn, nil
}

func (rr *rateRun) drop(rc *rateConn) {
	rc.conn.Close()
	rr.mu.Lock()
	delete(rr.open, rc.conn)
	rr.mu.Unlock()
}

// failure names how a request that got read bytes of an answer failed
// with err.
func (rr *rateRun) failure(err error, read int64) (RateOutcome, string) {
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	var ne net.Error
	switch {
	case rr.halted.Load():
		return RateTimeout, "not answered by the end of observation"
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return RateTimeout, fmt.Sprintf("no whole answer within %v (%d bytes)", rateTimeout, read)
	case isRefused(err):
		return RateRefused, ""
	case isReset(err):
		return RateReset, fmt.Sprintf("after %d bytes of the answer", read)
	case eof && read == 0:
		return RateClosed, "closed with no answer"
	case eof:
		return RateCut, fmt.Sprintf("closed after %d bytes of the answer", read)
	}
	return RateError, err.Error()
}

// finish returns the halted traffic's record, phases bounded by the
// trigger and drained. threads are the server's client threads, when it
// shows them (seen): a request was taken on before the trigger when its
// connection's thread began before it; without them, when it was written
// before it.
func (rr *rateRun) finish(trigger, drained time.Duration, threads []kernel.ThreadRecord, seen bool) *RateRecord {
	began := make(map[string]time.Duration, len(threads))
	for _, th := range threads {
		if len(th.States) > 0 {
			began[th.Peer] = th.States[0].At
		}
	}
	rr.mu.Lock()
	rec := &RateRecord{Rate: rr.cfg, Trigger: trigger, Drained: max(drained, trigger), Stopped: rr.why,
		Requests: rr.reqs, NotSent: rr.notSent}
	rr.mu.Unlock()
	slices.SortFunc(rec.Requests, func(a, b RateRequest) int { return cmp.Compare(a.Intended, b.Intended) })
	for i := range rec.Requests {
		q := &rec.Requests[i]
		// A request written after the trigger was not taken on before
		// it, even on a connection whose thread had begun: closed
		// unanswered, it was turned away.
		q.TakenOn = q.Wrote && q.Sent < trigger
		if seen {
			at, ok := began[q.Local]
			q.TakenOn = q.TakenOn && ok && q.Local != "" && at < trigger
		}
	}
	rec.Summarise()
	return rec
}

// Locals are the traffic's connections' local addresses, to tell their
// server threads from a foreign connection's.
func (r *RateRecord) Locals() map[string]bool {
	m := map[string]bool{}
	if r == nil {
		return m
	}
	for _, q := range r.Requests {
		if q.Local != "" {
			m[q.Local] = true
		}
	}
	return m
}

// startRate starts the embedded target's traffic: a Web UI page with the
// session by default, the API key on every request so that a REST path
// works too.
func (r *iteration) startRate() {
	path, addr, key := r.cfg.Rate.Path, r.env.addr, r.env.apiKey
	if path == "" {
		path = "/?ses=" + r.env.session + "&w=shared"
	}
	r.rate = startRate(*r.cfg.Rate, addr, r.env.tls, r.env.clock, func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		req.Header.Set("X-API-Key", key)
		return req
	})
}

// startRate starts an external target's traffic: the page route by
// default, with the -H headers.
func (e *extIteration) startRate() {
	path := e.cfg.Rate.Path
	if path == "" {
		path = e.x.Page
	}
	e.rate = startRate(*e.cfg.Rate, e.addr, nil, e.clock, func() *http.Request {
		return externalRequest(e.x, e.addr, path, KindHTTP)
	})
}
