package load

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// TestPacerPace is vegeta's table for its constant pacer: how long to
// wait, elapsed after the start with hits sent, before the next is due.
func TestPacerPace(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		perSecond float64
		elapsed   time.Duration
		hits      int64
		wait      time.Duration
	}{
		{1, 0, 0, 0},                           // the first is due at once
		{1, 0, 1, s},                           // one sent: the next in a second
		{1, 500 * time.Millisecond, 1, s / 2},  // half way there
		{1, s, 1, 0},                           // due now
		{1, 2 * s, 1, 0},                       // overdue: at once, never negative
		{10, s, 10, 0},                         // on schedule
		{10, s, 5, 0},                          // behind: catch up at once
		{10, s, 11, 100 * time.Millisecond},    // ahead: wait
		{3, 0, 1, 333333333 * time.Nanosecond}, // rounded to the nanosecond
		{1000, 0, 1, time.Millisecond},         // fast
		{0.5, 0, 1, 2 * s},                     // slower than one a second
		{100_000, 0, 100_000, s},               // the bound
	} {
		if got := (pacer{tc.perSecond}).pace(tc.elapsed, tc.hits); got != tc.wait {
			t.Errorf("%g/s, %v elapsed, %d hits: wait %v, want %v", tc.perSecond, tc.elapsed, tc.hits, got, tc.wait)
		}
	}
}

// fakeClock is a clock that moves only when told: a sleep jumps to its
// end, plus any stall set for that hit, as a paused process would.
type fakeClock struct {
	t      time.Time
	stalls map[int]time.Duration // sleep n (from 0) wakes this much late
	sleeps int
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleepUntil(t time.Time, stop <-chan struct{}) bool {
	if t.After(c.t) {
		c.t = t
	}
	c.t = c.t.Add(c.stalls[c.sleeps])
	c.sleeps++
	return !closed(stop)
}

// TestSchedule runs the pacer on a fake clock: every hit keeps its own
// due time, one sent late (the scheduler stalled) included, and the
// overdue ones go out at once, not spread over later ticks.
func TestSchedule(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name      string
		perSecond float64
		hits      int
		stalls    map[int]time.Duration
		wantDue   []time.Duration // due times, after the start
		wantSent  []time.Duration // when each went out
	}{
		{"steady", 10, 4, nil, []time.Duration{0, 100 * ms, 200 * ms, 300 * ms}, []time.Duration{0, 100 * ms, 200 * ms, 300 * ms}},
		{"stall", 10, 6, map[int]time.Duration{0: 350 * ms},
			// The first sleep (before hit 1) wakes 350ms late: hits 1 to 4
			// are overdue and go out at once, each with its own due time.
			[]time.Duration{0, 100 * ms, 200 * ms, 300 * ms, 400 * ms, 500 * ms},
			[]time.Duration{0, 450 * ms, 450 * ms, 450 * ms, 450 * ms, 500 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Unix(1000, 0)
			clk := &fakeClock{t: start, stalls: tc.stalls}
			stop := make(chan struct{})
			var due, sent []time.Duration
			schedule(clk, pacer{tc.perSecond}, stop, func(d time.Time) {
				due, sent = append(due, d.Sub(start)), append(sent, clk.now().Sub(start))
				if len(due) == tc.hits {
					close(stop)
				}
			})
			if !equalDurations(due, tc.wantDue) || !equalDurations(sent, tc.wantSent) {
				t.Errorf("due %v, sent %v; want due %v, sent %v", due, sent, tc.wantDue, tc.wantSent)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCoordinatedOmission: the scheduler stalls for half a second while
// every answer takes a millisecond. The requests due during the stall
// went out late; measured from when they were due, their latencies carry
// the stall, so the tail shows it, where a sender that measured from the
// send would see a millisecond throughout.
func TestCoordinatedOmission(t *testing.T) {
	ms := time.Millisecond
	start := time.Unix(1000, 0)
	clk := &fakeClock{t: start, stalls: map[int]time.Duration{10: 500 * ms}}
	stop := make(chan struct{})
	rec := &RateRecord{Trigger: time.Hour, Drained: time.Hour}
	schedule(clk, pacer{100}, stop, func(d time.Time) {
		sent := clk.now().Sub(start)
		rec.Requests = append(rec.Requests, RateRequest{Intended: d.Sub(start), Sent: sent, Done: sent + ms, Outcome: RateOK})
		if len(rec.Requests) == 200 {
			close(stop)
		}
	})
	rec.Summarise()
	h := rec.Phases[0]
	if h.Requests != 200 {
		t.Fatalf("%d requests in holding, want 200", h.Requests)
	}
	late := 0
	for _, q := range rec.Requests {
		if q.Done-q.Sent != ms {
			t.Fatalf("service time %v, want 1ms", q.Done-q.Sent)
		}
		if q.Latency() > 100*ms {
			late++
		}
	}
	// Hits 11 to 60 were due during the stall: the one due first waited
	// the whole of it.
	if late < 40 || h.Max < 500*ms || h.P99 < 400*ms || h.P50 > 2*ms {
		t.Errorf("%d late; p50 %v p99 %v max %v: want the stall in the tail and not the median", late, h.P50, h.P99, h.Max)
	}
}

// TestRateDoMeasuresFromDue: a real request due a second ago on a server
// that answers at once: its latency is the second, its send just now.
func TestRateDoMeasuresFromDue(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })}
	done := make(chan struct{})
	go func() { // ends with Close below
		defer close(done)
		_ = srv.Serve(l)
	}()
	defer func() { srv.Close(); <-done }()
	origin := time.Now()
	addr := l.Addr().String()
	get := func() *http.Request { req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil); return req }
	rr := &rateRun{cfg: Rate{Workers: 1}, addr: addr, clock: func(t time.Time) time.Duration { return t.Sub(origin) },
		once: newWireRequest(get(), true), keep: newWireRequest(get(), false),
		stopCh: make(chan struct{}), pool: make(chan *rateConn, 1), open: map[net.Conn]bool{}}
	defer rr.halt(true)
	for _, reuse := range []bool{false, true, true} {
		q := rr.do(origin.Add(-time.Second), reuse)
		if q.Outcome != RateOK || q.Status != 200 || !q.Wrote {
			t.Fatalf("reuse %v: %+v", reuse, q)
		}
		if q.Latency() < time.Second || q.Done-q.Sent > 900*time.Millisecond {
			t.Errorf("reuse %v: latency %v, service %v: want the second since due, and a quick answer", reuse, q.Latency(), q.Done-q.Sent)
		}
	}
}

// TestRateThroughEmbedded runs steady traffic through the embedded
// server's shutdown, in each mode: requests before the trigger are
// answered, the traffic stops by itself once the server refuses, and its
// connections are neither foreign nor keep readiness up.
func TestRateThroughEmbedded(t *testing.T) {
	for _, mode := range RateModes {
		t.Run(string(mode), func(t *testing.T) {
			cfg := small(target.PolicyFixed)
			cfg.Rate = &Rate{PerSecond: 400, Workers: 16, Mode: mode}
			res, err := Run(context.Background(), cfg, Observer{})
			if err != nil {
				t.Fatal(err)
			}
			it := res.Iterations[0]
			r := it.Rate
			if r == nil || len(r.Requests) == 0 {
				t.Fatal("no traffic recorded")
			}
			if h := r.Phases[0]; h.ByOutcome[RateOK] < 20 {
				t.Errorf("holding: %v, want at least the lead's 20 answered", h.ByOutcome)
			}
			if len(it.Foreign) != 0 {
				t.Errorf("foreign connections %v: the traffic's threads were not told apart", it.Foreign)
			}
			if r.Stopped == "" || r.Stopped == "observation ended" {
				t.Errorf("stopped: %q, want the traffic to have stopped by itself", r.Stopped)
			}
			threads := map[string]bool{}
			for _, th := range it.Server.ClientThreads() {
				threads[th.Peer] = true
			}
			for _, q := range r.Requests {
				if q.Outcome == RateOK && !threads[q.Local] {
					t.Errorf("request due at %v answered, yet no server thread served %s", q.Intended, q.Local)
				}
			}
		})
	}
}

// TestRateThroughGoServer: against a Go server that shuts down with
// http.Server.Shutdown, the traffic's requests taken on complete, and it
// stops once the listener refuses.
func TestRateThroughGoServer(t *testing.T) {
	cfg := externalConfig(t, Mix{HTTPIdle: 1, HTTPInflight: 1})
	cfg.Rate = &Rate{PerSecond: 300, Workers: 16, Mode: RateBoth}
	res, err := Run(context.Background(), cfg, Observer{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Iterations[0].Rate
	if r == nil || r.Phases[0].ByOutcome[RateOK] < 20 {
		t.Fatalf("traffic %+v: want at least the lead's 20 answered", r)
	}
	if f := r.Failed(); len(f) > 0 {
		t.Errorf("%d failed, first %+v", len(f), f[0])
	}
	if r.Stopped == "" || r.Stopped == "observation ended" {
		t.Errorf("stopped: %q, want the traffic to have stopped by itself", r.Stopped)
	}
}

// TestRateHaltWaitsForInFlight: at the end of observation a request in
// flight is waited for and ends as the server answers it; only an abort
// cuts it, and it is then a timeout, not what the cut looks like.
func TestRateHaltWaitsForInFlight(t *testing.T) {
	for _, abort := range []bool{false, true} {
		arrived, gate := make(chan struct{}, 1), make(chan struct{})
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case arrived <- struct{}{}:
				<-gate // the first request waits for the test
			default:
			}
			_, _ = w.Write([]byte("ok"))
		})}
		done := make(chan struct{})
		go func() { // ends with Close below
			defer close(done)
			_ = srv.Serve(l)
		}()
		origin := time.Now()
		addr := l.Addr().String()
		rr := startRate(Rate{PerSecond: 50, Workers: 1, Mode: RateNew}, addr, nil, func(t time.Time) time.Duration { return t.Sub(origin) },
			func() *http.Request { req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil); return req })
		select {
		case <-arrived:
		case <-time.After(5 * time.Second):
			t.Fatal("no request arrived")
		}
		halted := make(chan struct{})
		go func() { // ends when halt returns
			defer close(halted)
			rr.halt(abort)
		}()
		if !abort {
			close(gate) // answered while halt waits
		}
		<-halted // bounded by halt's own waits
		if abort {
			close(gate)
		}
		rec := rr.finish(time.Hour, time.Hour, nil, false)
		srv.Close()
		<-done
		want := RateOK
		if abort {
			want = RateTimeout
		}
		if len(rec.Requests) == 0 || rec.Requests[0].Outcome != want {
			t.Errorf("abort %v: %+v, want the first %s", abort, rec.Requests, want)
		}
	}
}

// TestTakenOnNeedsTheRequestWrittenBeforeTheTrigger: a request is taken on
// before the trigger only if it was written before it and, where threads
// are seen, its server thread had begun; one written after the trigger on
// a connection whose thread had begun was turned away, not cut.
func TestTakenOnNeedsTheRequestWrittenBeforeTheTrigger(t *testing.T) {
	const trig = time.Second
	began := func(peer string, at time.Duration) kernel.ThreadRecord {
		return kernel.ThreadRecord{Peer: peer, Client: true, States: []kernel.StateRecord{{State: "spawning", At: at}}}
	}
	threads := []kernel.ThreadRecord{began("before", trig/2), began("late", trig/2), began("after", trig+time.Millisecond)}
	closed := func(local string, sent time.Duration) RateRequest {
		return RateRequest{Local: local, Wrote: true, Sent: sent, Intended: trig - time.Millisecond, Done: trig + 5*time.Millisecond, Outcome: RateClosed}
	}
	for _, seen := range []bool{true, false} {
		rr := &rateRun{reqs: []RateRequest{
			closed("before", trig-time.Millisecond),
			closed("late", trig+time.Millisecond),
			closed("after", trig-time.Millisecond),
		}}
		want := map[string]bool{"before": true, "late": false, "after": !seen}
		for _, q := range rr.finish(trig, 2*trig, threads, seen).Requests {
			if q.TakenOn != want[q.Local] {
				t.Errorf("threads seen %v, request on %q written at %v: taken on %v, want %v", seen, q.Local, q.Sent, q.TakenOn, want[q.Local])
			}
		}
	}
}
