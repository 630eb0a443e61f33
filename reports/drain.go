package reports

import (
	"math"
	"sort"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
)

// Drain is how long one iteration's shutdown took to reach each milestone,
// in milliseconds after the trigger. A nil figure was never reached (or,
// for LastInflightMS, there was no completed in-flight request).
type Drain struct {
	// ListenerClosedMS: the listener thread exited, closing the listening
	// socket.
	ListenerClosedMS *float64 `json:"listener_closed_ms"`
	// LastInflightMS: the last in-flight client had its whole response.
	LastInflightMS *float64 `json:"last_inflight_ms"`
	// LastThreadExitMS: the last client thread exited; nil if one never
	// did (then the drain never finished).
	LastThreadExitMS *float64 `json:"last_thread_exit_ms"`
	// TerminateClosedMS: the terminate handle was closed; nil when it was
	// kept open or never closed.
	TerminateClosedMS *float64 `json:"terminate_closed_ms"`
	TerminateKeptOpen bool     `json:"terminate_kept_open"`
	// LastSocketClosedMS and ProcessExitMS are an external server's: the
	// first OS sample after the trigger with none of its connections left
	// (the listener aside), and its process's exit (null when killed).
	// For it ListenerClosedMS and LastThreadExitMS come from the samples
	// too (the listening socket gone; every thread created after the
	// baseline gone).
	LastSocketClosedMS *float64 `json:"last_socket_closed_ms"`
	ProcessExitMS      *float64 `json:"process_exit_ms"`
}

// drainOf computes the drain figures from an iteration's records.
func drainOf(it *load.Iteration) Drain {
	rel := func(d time.Duration) *float64 { v := ms(d - it.Trigger); return &v }
	var d Drain
	if x := it.External; x != nil {
		// Seen from outside: the listener closed when new connections
		// were first refused; no thread or handle of it is seen.
		if x.Series.HasFirstRefused {
			d.ListenerClosedMS = rel(x.Series.FirstRefused)
		}
		d.LastInflightMS = lastInflight(it)
		osDrain(it, &d)
		return d
	}
	for _, t := range it.Server.Kernel.Threads {
		if t.Name == target.ThreadListener && t.Exited && !t.Forced {
			d.ListenerClosedMS = rel(t.ExitedAt)
		}
	}
	d.LastInflightMS = lastInflight(it)
	if last, ok := lastThreadExit(it); ok {
		d.LastThreadExitMS = rel(last)
	}
	if tr := it.Server.Terminate; tr.Closed {
		d.TerminateClosedMS = rel(tr.ClosedAt)
	} else {
		d.TerminateKeptOpen = tr.KeptOpen
	}
	return d
}

// lastInflight is when the last in-flight client had its whole response,
// after the trigger; nil when none had.
func lastInflight(it *load.Iteration) *float64 {
	var lastIn time.Duration
	for _, c := range it.Clients {
		if c.Role == load.RoleInflight && c.Role.Passes(c.Outcome) && c.EndedAt > lastIn {
			lastIn = c.EndedAt
		}
	}
	if lastIn == 0 {
		return nil
	}
	v := ms(lastIn - it.Trigger)
	return &v
}

// lastThreadExit is when the last client thread exited; ok is false if
// one never exited on its own (still alive, or forced at the end).
func lastThreadExit(it *load.Iteration) (time.Duration, bool) {
	var last time.Duration
	for _, t := range it.Server.ClientThreads() {
		if !t.Exited || t.Forced {
			return 0, false
		}
		if t.ExitedAt > last {
			last = t.ExitedAt
		}
	}
	if last < it.Trigger {
		last = it.Trigger // every thread was gone before the trigger
	}
	return last, true
}

// Stats summarises one drain figure over the iterations that reached it.
type Stats struct {
	N        int      `json:"n"`
	MinMS    *float64 `json:"min_ms"`
	MedianMS *float64 `json:"median_ms"`
	P95MS    *float64 `json:"p95_ms"`
	MaxMS    *float64 `json:"max_ms"`
	// Missing is how many iterations never reached the milestone.
	Missing int `json:"missing"`
}

// DrainStats summarises the drain figures over iterations.
type DrainStats struct {
	ListenerClosed  Stats `json:"listener_closed"`
	LastInflight    Stats `json:"last_inflight"`
	LastThreadExit  Stats `json:"last_thread_exit"`
	TerminateClosed Stats `json:"terminate_closed"`
	// LastSocketClosed and ProcessExit are an external server's.
	LastSocketClosed Stats `json:"last_socket_closed"`
	ProcessExit      Stats `json:"process_exit"`
}

func drainStats(its []Iteration) DrainStats {
	pick := func(f func(Drain) *float64) Stats {
		var vs []float64
		missing := 0
		for _, it := range its {
			if v := f(it.Drain); v != nil {
				vs = append(vs, *v)
			} else {
				missing++
			}
		}
		return statsOf(vs, missing)
	}
	return DrainStats{
		ListenerClosed:   pick(func(d Drain) *float64 { return d.ListenerClosedMS }),
		LastInflight:     pick(func(d Drain) *float64 { return d.LastInflightMS }),
		LastThreadExit:   pick(func(d Drain) *float64 { return d.LastThreadExitMS }),
		TerminateClosed:  pick(func(d Drain) *float64 { return d.TerminateClosedMS }),
		LastSocketClosed: pick(func(d Drain) *float64 { return d.LastSocketClosedMS }),
		ProcessExit:      pick(func(d Drain) *float64 { return d.ProcessExitMS }),
	}
}

// statsOf uses the nearest-rank percentile, so every figure is one that
// was observed.
func statsOf(vs []float64, missing int) Stats {
	s := Stats{N: len(vs), Missing: missing}
	if len(vs) == 0 {
		return s
	}
	sort.Float64s(vs)
	rank := func(p float64) *float64 {
		i := int(math.Ceil(p*float64(len(vs)))) - 1
		if i < 0 {
			i = 0
		}
		v := vs[i]
		return &v
	}
	lo, hi := vs[0], vs[len(vs)-1]
	s.MinMS, s.MedianMS, s.P95MS, s.MaxMS = &lo, rank(0.5), rank(0.95), &hi
	return s
}
