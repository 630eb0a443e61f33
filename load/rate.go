package load

import (
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"shutdowntest/target"
)

// Rate is steady traffic sent through the shutdown (--rate): requests on
// a schedule to one route of the target, from before the trigger until
// the server stops answering, each one's outcome and latency recorded.
//
// It is an open model, as vegeta's pacer is: a request is sent when it is
// due whether or not earlier ones have been answered, so a server that
// stalls is seen stalling rather than slowing the sender down with it
// (coordinated omission). Workers bounds the requests in flight; a
// request due while all of them are busy is not sent, and counted so.
type Rate struct {
	// PerSecond is the schedule's rate; 0 with Max.
	PerSecond float64
	// Max sends as fast as Workers workers can go, each one request after
	// another, for a benchmark: no schedule, so no correction either.
	Max bool
	// Workers caps the requests in flight (with Max: the workers).
	Workers int
	Mode    RateMode
	// Path is the route, with its query; "" is the page route (for the
	// embedded target a Web UI page with the session, for an external one
	// External.Page).
	Path string
	// MaxFailed is how many failed requests no-failed-requests allows.
	MaxFailed int
}

// RateMode is how the traffic's requests get their connections.
type RateMode string

// Rate modes.
const (
	RateNew   RateMode = "new"   // a connection per request (Connection: close)
	RateReuse RateMode = "reuse" // keep-alive connections, one per worker
	RateBoth  RateMode = "both"  // every other request (or worker) of each
)

// RateModes are the modes, in the order of --help.
var RateModes = []RateMode{RateNew, RateReuse, RateBoth}

// Bounds of --rate and --rate-workers: past them the sender, not the
// server, is what would be measured, and the record would not fit.
const (
	MaxRatePerSecond = 100_000
	MaxRateWorkers   = 10_000
)

// Bounds of one iteration's traffic.
const (
	// rateLeadMin and rateLeadHits set how long the traffic runs before
	// an automatic trigger at least: long enough for rateLeadHits
	// requests, no less than rateLeadMin, no more than rateLeadMax.
	rateLeadMin  = 250 * time.Millisecond
	rateLeadMax  = 5 * time.Second
	rateLeadHits = 20
	// rateTimeout bounds one request, connect to last byte.
	rateTimeout = 5 * time.Second
	// rateDialTimeout bounds its connect.
	rateDialTimeout = 2 * time.Second
	// rateHistMax is the histograms' largest latency (µs): no request
	// lives longer than rateTimeout plus the observation's end.
	rateHistMax = int64(time.Minute / time.Microsecond)
)

// RateOutcome is how one request of the traffic ended.
type RateOutcome string

// Request outcomes.
const (
	RateOK          RateOutcome = "ok"          // a whole answer, not 5xx
	RateUnavailable RateOutcome = "unavailable" // a whole 503 answer
	RateServerError RateOutcome = "5xx"         // a whole 5xx answer other than 503
	RateRefused     RateOutcome = "refused"     // the connect was refused
	RateClosed      RateOutcome = "closed"      // closed with no byte of an answer
	RateReset       RateOutcome = "reset"
	RateCut         RateOutcome = "cut" // closed part way through the answer
	RateTimeout     RateOutcome = "timeout"
	RateError       RateOutcome = "error"
)

// RateRequest is one request of the traffic. Times are on the
// iteration's clock.
type RateRequest struct {
	// Intended is when it was due: its latency is measured from there,
	// not from when it went out, so that a late send counts against the
	// server (coordinated omission). Sent is when the request had been
	// written (0 with Wrote false), Done when its outcome was seen.
	Intended, Sent, Done time.Duration
	Wrote                bool
	Reused               bool // on a kept-alive connection
	Local                string
	Outcome              RateOutcome
	Status               int
	Read                 int64 // bytes of the answer read
	// TakenOn: the server had taken the request on before the trigger:
	// it was written before it and, where the server's threads are seen,
	// its server thread began before it.
	TakenOn bool
	Detail  string
}

// Latency is the time from when the request was due to its outcome.
func (q RateRequest) Latency() time.Duration { return q.Done - q.Intended }

// RateClass is how no-failed-requests reads a request.
type RateClass string

// Request classes.
const (
	ClassOK RateClass = "ok"
	// ClassAdmission: after the trigger, refused, closed unserved, reset
	// from the listen backlog or answered 503, by a server that had not
	// taken it on: admission behaviour, judged by the admission check.
	ClassAdmission RateClass = "admission"
	// ClassFailed: a request the server had taken on before the trigger,
	// or served after it, that did not complete; a 5xx other than a 503
	// shutting-down answer; a timeout; any failure before the trigger.
	ClassFailed RateClass = "failed"
)

// Class is how no-failed-requests reads q, with the trigger at trigger.
func (q RateRequest) Class(trigger time.Duration) RateClass {
	after := q.Done >= trigger
	served := q.Status != 0 || q.Read > 0
	switch q.Outcome {
	case RateOK:
		return ClassOK
	case RateUnavailable:
		if after {
			return ClassAdmission
		}
	case RateRefused, RateClosed, RateReset:
		if after && !served && !q.TakenOn {
			return ClassAdmission
		}
	}
	return ClassFailed
}

// RatePhaseName names a part of the iteration by the requests due in it.
type RatePhaseName string

// The phases of the traffic: before the trigger, from it until shutdown
// returned (or the process exited), and after that.
const (
	RateHolding  RatePhaseName = "holding"
	RateDraining RatePhaseName = "draining"
	RateAfter    RatePhaseName = "after"
)

// RatePhases are the phases in order.
var RatePhases = []RatePhaseName{RateHolding, RateDraining, RateAfter}

// RatePhase sums up the requests due in one phase.
type RatePhase struct {
	Name      RatePhaseName
	Requests  int
	ByOutcome map[RateOutcome]int
	// NotSent are the requests due in it that were not sent: every
	// worker was busy (the cap).
	NotSent int
	// Failed and Admission count the requests no-failed-requests reads
	// as failed, and as admission behaviour.
	Failed, Admission int
	// The latency percentiles from the HDR histogram, and the largest.
	P50, P90, P99, P999, Max time.Duration
	// Hist is the phase's latencies in µs (nil when none), to merge or
	// export.
	Hist *hdrhistogram.Histogram
}

// RateWindow is the disruption window: from the first to the last request
// not answered ok whose outcome came after the trigger, by when each was
// due.
type RateWindow struct {
	Seen        bool
	First, Last time.Duration
	NotOK       int
}

// add widens the window by a request not answered ok, due at due.
func (w *RateWindow) add(due time.Duration) {
	if !w.Seen || due < w.First {
		w.First = due
	}
	if !w.Seen || due > w.Last {
		w.Last = due
	}
	w.Seen = true
	w.NotOK++
}

// RateRecord is what the traffic of one iteration did.
type RateRecord struct {
	Rate Rate
	// Trigger and Drained bound the phases (Drained: shutdown returned,
	// the process exited, or observation ended).
	Trigger, Drained time.Duration
	Requests         []RateRequest
	// NotSent are when the requests not sent (the cap) were due.
	NotSent []time.Duration
	// Stopped says why the traffic stopped.
	Stopped string
	Phases  []RatePhase
	Window  RateWindow
}

// PhaseOf is the phase a request due at d belongs to.
func (r *RateRecord) PhaseOf(d time.Duration) RatePhaseName {
	switch {
	case d < r.Trigger:
		return RateHolding
	case d < r.Drained:
		return RateDraining
	}
	return RateAfter
}

// Failed lists the requests no-failed-requests reads as failed.
func (r *RateRecord) Failed() []RateRequest {
	var out []RateRequest
	for _, q := range r.Requests {
		if q.Class(r.Trigger) == ClassFailed {
			out = append(out, q)
		}
	}
	return out
}

// Summarise fills in Phases and Window from Requests and NotSent.
func (r *RateRecord) Summarise() {
	r.Phases = make([]RatePhase, len(RatePhases))
	idx := map[RatePhaseName]int{}
	for i, name := range RatePhases {
		r.Phases[i] = RatePhase{Name: name, ByOutcome: map[RateOutcome]int{}}
		idx[name] = i
	}
	r.Window = RateWindow{}
	for _, q := range r.Requests {
		p := &r.Phases[idx[r.PhaseOf(q.Intended)]]
		p.Requests++
		p.ByOutcome[q.Outcome]++
		switch q.Class(r.Trigger) {
		case ClassFailed:
			p.Failed++
		case ClassAdmission:
			p.Admission++
		}
		if p.Hist == nil {
			p.Hist = NewRateHist()
		}
		// A latency past the histogram's range is recorded at its top:
		// the percentiles stay honest about the tail being that long.
		_ = p.Hist.RecordValue(min(max(int64(q.Latency()/time.Microsecond), 1), rateHistMax))
		if q.Outcome != RateOK && q.Done >= r.Trigger {
			r.Window.add(q.Intended)
		}
	}
	for _, d := range r.NotSent {
		r.Phases[idx[r.PhaseOf(d)]].NotSent++
	}
	for i := range r.Phases {
		p := &r.Phases[i]
		if p.Hist == nil {
			continue
		}
		us := func(q float64) time.Duration { return time.Duration(p.Hist.ValueAtQuantile(q)) * time.Microsecond }
		p.P50, p.P90, p.P99, p.P999 = us(50), us(90), us(99), us(99.9)
		p.Max = time.Duration(p.Hist.Max()) * time.Microsecond
	}
}

// NewRateHist is a latency histogram from 1µs to rateHistMax at three
// significant digits: log-bucketed, so its memory is bounded whatever
// the count.
func NewRateHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, rateHistMax, 3)
}

// lead is how long the traffic runs before an automatic trigger.
func (r Rate) lead() time.Duration {
	if r.Max || r.PerSecond <= 0 {
		return rateLeadMin
	}
	d := time.Duration(rateLeadHits / r.PerSecond * float64(time.Second))
	return min(max(d, rateLeadMin), rateLeadMax)
}

// holdFor is how long an iteration of cfg holds its clients before an
// automatic trigger, after given: the traffic needs a lead to show the
// server before the shutdown. A trigger by hand (Hold) is not moved.
func (cfg Config) holdFor(after time.Duration) time.Duration {
	if cfg.Rate == nil || (cfg.Hold && cfg.ShutdownAfter == 0) {
		return after
	}
	return max(after, cfg.Rate.lead())
}

// ParseRateMode reads a --rate-mode value.
func ParseRateMode(s string) (RateMode, error) { return target.ParseName("mode", s, RateModes) }

// pacer is a constant-rate schedule: hit n (from 0) is due n/perSecond
// after the start.
type pacer struct{ perSecond float64 }

// due is when hit n is due, after the start.
func (p pacer) due(n int64) time.Duration {
	return time.Duration(math.Round(float64(n) / p.perSecond * float64(time.Second)))
}

// pace is how long to wait, elapsed after the start with hits already
// sent, before the next hit is due: 0 when it is due or overdue (a
// sender that fell behind catches up at once, each hit keeping its own
// due time).
func (p pacer) pace(elapsed time.Duration, hits int64) time.Duration {
	return max(p.due(hits)-elapsed, 0)
}
