package load

// A test shared by runners on several machines (issue 13, "beyond one
// machine"): every runner holds its clients against one external target
// until an agreed wall-clock instant (External.TriggerAt); one runner
// triggers then, the others (TriggerNone) only observe. Each runner's
// times are then relative to that instant, so that their reports share
// one time axis and can be merged.

import (
	"net/http"
	"time"
)

// TriggerNone is a runner that does not trigger: another runner of a
// shared test does, at External.TriggerAt, and this one only observes.
const TriggerNone TriggerKind = "none"

// Bounds of the clock estimate: a few samples of the server's Date header
// spread over a little more than a second, so that one of them is likely
// to fall just past a second boundary of the server's clock.
const (
	clockSamples = 12
	clockEvery   = 100 * time.Millisecond
	// clockMargin is kept free before the trigger instant: sampling must
	// never delay the trigger.
	clockMargin = 150 * time.Millisecond
)

// SyncRecord is what a runner of a shared test recorded of the
// agreement: who it is, the agreed instant and how its clock compared
// with the server's.
type SyncRecord struct {
	RunnerID string
	// TriggerAt is the agreed instant (zero without --trigger-at); the
	// iteration's Trigger is this instant on the runner's clock.
	TriggerAt time.Time
	// Fired is when, on the iteration's clock, this runner carried out
	// its trigger (0: it did not trigger, or there was no agreed instant).
	Fired time.Duration
	Clock ClockEstimate
}

// ClockEstimate bounds the server's clock minus this runner's: the true
// offset is within [Low, High] when Known. The server's Date header has a
// resolution of one second, so each sample only says the offset lies in
// a window a second plus the round trip wide; the windows of samples taken
// at different fractions of a second intersect to a narrower one.
type ClockEstimate struct {
	Known     bool
	Low, High time.Duration
	Samples   int
	// Why says, when not Known, why no estimate could be made.
	Why string
}

// estimateClock samples the server's Date header on x's ready path until
// clockSamples answered or clockMargin before until, whichever is first.
func estimateClock(x *External, addr string, until time.Time) ClockEstimate {
	var est ClockEstimate
	why := "no sample could be taken before the trigger instant"
	for i := 0; i < clockSamples && time.Until(until) > clockMargin; i++ {
		if i > 0 {
			<-time.After(clockEvery)
		}
		req := externalRequest(x, addr, x.ReadyPath, KindHTTP)
		req.Close = true
		sent := time.Now()
		resp, _, _, err := roundTrip(addr, nil, req, time.Second)
		got := time.Now()
		if err != nil {
			why = "the server did not answer: " + err.Error()
			continue
		}
		date, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			// A server without a Date header will not start sending one.
			est.Why = "the server sent no Date header"
			return est
		}
		// The server's clock read date..date+1s at some instant between
		// sent and got on ours.
		lo, hi := date.Sub(got), date.Add(time.Second).Sub(sent)
		if !est.Known {
			est.Low, est.High = lo, hi
		}
		est.Known, est.Samples = true, est.Samples+1
		est.Low, est.High = max(est.Low, lo), min(est.High, hi)
	}
	switch {
	case !est.Known:
		est.Why = why
	case est.Low > est.High:
		est = ClockEstimate{Samples: est.Samples, Why: "the samples disagree (the server's clock stepped while sampled)"}
	}
	return est
}

// newSync is the record of x's part in a shared test; nil when x is not
// in one.
func newSync(x *External) *SyncRecord {
	if x.TriggerAt.IsZero() && x.RunnerID == "" {
		return nil
	}
	return &SyncRecord{RunnerID: x.RunnerID, TriggerAt: x.TriggerAt}
}

// startClock starts the clock estimate of a shared test, alongside the
// clients' start; takeClock collects it.
func (e *extIteration) startClock() {
	if e.x.TriggerAt.IsZero() {
		return
	}
	e.clockEst = make(chan ClockEstimate, 1)
	e.wg.Add(1)
	// Ends after clockSamples requests, each bounded, or clockMargin
	// before the trigger instant.
	go func() {
		defer e.wg.Done()
		e.clockEst <- estimateClock(e.x, e.addr, e.x.TriggerAt)
	}()
}

// takeClock records the clock estimate once the iteration's goroutines
// have ended.
func (e *extIteration) takeClock() {
	if e.clockEst == nil {
		return
	}
	select {
	case est := <-e.clockEst:
		e.rec.Sync.Clock = est
	default:
		e.rec.Sync.Clock.Why = "the estimate did not end in time"
	}
}

// readyWait bounds the wait for the clients to be ready: the ready
// timeout, and in a shared test no later than the trigger instant.
func (e *extIteration) readyWait() time.Duration {
	if e.x.TriggerAt.IsZero() {
		return e.cfg.ReadyTimeout
	}
	return min(e.cfg.ReadyTimeout, time.Until(e.x.TriggerAt))
}

// triggerInstant is the trigger's time on the iteration's clock: now, or
// in a shared test the agreed instant, so that every runner's times are
// relative to the same instant (each read on its own wall clock: the
// runners' clock skew is the error of that axis, which SyncRecord.Clock
// bounds against the server's clock). An interrupt before the instant
// triggers now.
func (e *extIteration) triggerInstant() time.Duration {
	now := e.now()
	if at := e.x.TriggerAt; !at.IsZero() && e.clock(at) <= now {
		return e.clock(at)
	}
	return now
}
