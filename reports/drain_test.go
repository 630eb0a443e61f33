package reports

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
)

func fp(v float64) *float64 { return &v }

func fmtPtr(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func TestDrainOf(t *testing.T) {
	for _, tc := range []struct {
		name                                   string
		base                                   func() load.Iteration
		mutate                                 func(*load.Iteration)
		listener, inflight, lastExit, termClos *float64
		keptOpen                               bool
	}{
		{name: "clean", base: cleanIteration,
			listener: fp(1), inflight: fp(304), lastExit: fp(305), termClos: fp(310)},
		{name: "legacy: terminate closed before the threads exited", base: legacyIteration,
			listener: fp(1), inflight: fp(304), lastExit: fp(310), termClos: fp(4)},
		{name: "kept open: no close, stragglers' exit counts", base: keptOpenIteration,
			listener: fp(1), inflight: fp(304), lastExit: fp(500), keptOpen: true},
		{name: "listener forced at the end did not close by itself", base: cleanIteration,
			mutate:   func(it *load.Iteration) { it.Server.Kernel.Threads[0].Forced = true },
			inflight: fp(304), lastExit: fp(305), termClos: fp(310)},
		{name: "listener never exited", base: cleanIteration,
			mutate: func(it *load.Iteration) {
				it.Server.Kernel.Threads[0].Exited, it.Server.Kernel.Threads[0].ExitedAt = false, 0
			},
			inflight: fp(304), lastExit: fp(305), termClos: fp(310)},
		{name: "the last in-flight response is the last completed one", base: cleanIteration,
			mutate: func(it *load.Iteration) {
				// Client 4 was cut; an idle client ending later does not count.
				it.Clients[3].Outcome, it.Clients[3].EndedAt = load.OutcomeReset, after(400)
				it.Clients[0].EndedAt = after(450)
			},
			listener: fp(1), inflight: fp(302), lastExit: fp(305), termClos: fp(310)},
		{name: "no in-flight request completed", base: cleanIteration,
			mutate: func(it *load.Iteration) {
				it.Clients[1].Outcome = load.OutcomeTimeout
				it.Clients[3].Outcome = load.OutcomeReset
			},
			listener: fp(1), lastExit: fp(305), termClos: fp(310)},
		{name: "a client thread never exited", base: cleanIteration,
			mutate: func(it *load.Iteration) {
				th := &it.Server.Kernel.Threads[4]
				th.States, th.Exited, th.ExitedAt = th.States[:5], false, 0
			},
			listener: fp(1), inflight: fp(304), termClos: fp(310)},
		{name: "a client thread was forced", base: cleanIteration,
			mutate: func(it *load.Iteration) {
				it.Server.Kernel.Threads[4] = doneThread(5, target.StateProcess, after(900))
				it.Server.Kernel.Threads[4].Forced = true
			},
			listener: fp(1), inflight: fp(304), termClos: fp(310)},
		{name: "every client thread gone before the trigger", base: cleanIteration,
			mutate: func(it *load.Iteration) {
				for i := 1; i < len(it.Server.Kernel.Threads); i++ {
					it.Server.Kernel.Threads[i] = doneThread(i+1, target.StateLinger, after(-50))
				}
			},
			listener: fp(1), inflight: fp(304), lastExit: fp(0), termClos: fp(310)},
		{name: "no client thread at all", base: cleanIteration,
			mutate:   func(it *load.Iteration) { it.Server.Kernel.Threads = it.Server.Kernel.Threads[:1] },
			listener: fp(1), inflight: fp(304), lastExit: fp(0), termClos: fp(310)},
		{name: "terminate neither closed nor kept (shutdown hung)", base: cleanIteration,
			mutate: func(it *load.Iteration) {
				it.Server.Terminate.Closed, it.Server.Terminate.ClosedAt = false, 0
			},
			listener: fp(1), inflight: fp(304), lastExit: fp(305)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := tc.base()
			if tc.mutate != nil {
				tc.mutate(&it)
			}
			d := drainOf(&it)
			for _, f := range []struct {
				name      string
				got, want *float64
			}{
				{"listener closed", d.ListenerClosedMS, tc.listener},
				{"last in-flight", d.LastInflightMS, tc.inflight},
				{"last thread exit", d.LastThreadExitMS, tc.lastExit},
				{"terminate closed", d.TerminateClosedMS, tc.termClos},
			} {
				if (f.got == nil) != (f.want == nil) || f.got != nil && *f.got != *f.want {
					t.Errorf("%s = %s, want %s", f.name, fmtPtr(f.got), fmtPtr(f.want))
				}
			}
			if d.TerminateKeptOpen != tc.keptOpen {
				t.Errorf("kept open %v, want %v", d.TerminateKeptOpen, tc.keptOpen)
			}
		})
	}
}

func TestStatsOf(t *testing.T) {
	seq := func(n int) []float64 {
		vs := make([]float64, n)
		for i := range vs {
			vs[i] = float64(i + 1)
		}
		// Order must not matter: the figures are ranks.
		r := rand.New(rand.NewPCG(1, 2))
		r.Shuffle(len(vs), func(i, j int) { vs[i], vs[j] = vs[j], vs[i] })
		return vs
	}
	for _, tc := range []struct {
		name                   string
		vs                     []float64
		missing                int
		min, median, p95, maxv float64
	}{
		{name: "1..20", vs: seq(20), min: 1, median: 10, p95: 19, maxv: 20},
		{name: "1..20, 3 missing", vs: seq(20), missing: 3, min: 1, median: 10, p95: 19, maxv: 20},
		{name: "1..100", vs: seq(100), min: 1, median: 50, p95: 95, maxv: 100},
		{name: "1..19: p95 is the top rank", vs: seq(19), min: 1, median: 10, p95: 19, maxv: 19},
		{name: "one value", vs: []float64{310.5}, min: 310.5, median: 310.5, p95: 310.5, maxv: 310.5},
		{name: "two values: the lower is the median", vs: []float64{500, 4}, missing: 1, min: 4, median: 4, p95: 500, maxv: 500},
		{name: "negatives and duplicates", vs: []float64{-1, 3, 3, 3}, min: -1, median: 3, p95: 3, maxv: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := statsOf(append([]float64(nil), tc.vs...), tc.missing)
			if s.N != len(tc.vs) || s.Missing != tc.missing {
				t.Errorf("n %d missing %d, want %d and %d", s.N, s.Missing, len(tc.vs), tc.missing)
			}
			if s.MinMS == nil || s.MedianMS == nil || s.P95MS == nil || s.MaxMS == nil {
				t.Fatalf("nil figure in %+v", s)
			}
			got := [4]float64{*s.MinMS, *s.MedianMS, *s.P95MS, *s.MaxMS}
			if want := [4]float64{tc.min, tc.median, tc.p95, tc.maxv}; got != want {
				t.Errorf("min/median/p95/max = %v, want %v", got, want)
			}
			// Nearest rank: every figure is one that was observed.
			for _, v := range got {
				seen := false
				for _, x := range tc.vs {
					seen = seen || x == v
				}
				if !seen {
					t.Errorf("%v was never observed", v)
				}
			}
		})
	}
	for _, missing := range []int{0, 4} {
		s := statsOf(nil, missing)
		if s.N != 0 || s.Missing != missing || s.MinMS != nil || s.MedianMS != nil || s.P95MS != nil || s.MaxMS != nil {
			t.Errorf("empty, %d missing: %+v", missing, s)
		}
	}
}

// spread is the one rendering of a drain figure over iterations, shared by
// the summary and the HTML page.
func TestMilestoneSpread(t *testing.T) {
	for _, tc := range []struct {
		m    milestone
		want string
	}{
		{milestone{stats: statsOf(nil, 3)}, "never (3 iterations)"},
		{milestone{stats: statsOf(nil, 0), none: "no in-flight clients"}, "no in-flight clients"},
		{milestone{stats: statsOf([]float64{1.2, 3.1, 1.5}, 0)}, "min 1.2 · median 1.5 · p95 3.1 · max 3.1 ms"},
		{milestone{stats: statsOf([]float64{2}, 1)}, "min 2 · median 2 · p95 2 · max 2 ms, never in 1 of 2"},
	} {
		if got := tc.m.spread(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

// drainStats collects each milestone over the iterations, counting those
// that never reached it.
func TestDrainStats(t *testing.T) {
	its := []load.Iteration{cleanIteration(), keptOpenIteration(), legacyIteration(), cleanIteration()}
	th := &its[3].Server.Kernel.Threads[2]
	th.States, th.Exited, th.ExitedAt = th.States[:5], false, 0
	r := Build(testResult(its...), nil, testTool)
	d := r.Drain
	for _, tc := range []struct {
		name string
		s    Stats
		want string
	}{
		{"listener closed", d.ListenerClosed, "4: 1 1 1 1, missing 0"},
		{"last in-flight", d.LastInflight, "4: 304 304 304 304, missing 0"},
		{"last thread exit", d.LastThreadExit, "3: 305 310 500 500, missing 1"},
		{"terminate closed", d.TerminateClosed, "3: 4 310 310 310, missing 1"},
	} {
		got := fmt.Sprintf("%d: %s %s %s %s, missing %d", tc.s.N, fmtPtr(tc.s.MinMS), fmtPtr(tc.s.MedianMS),
			fmtPtr(tc.s.P95MS), fmtPtr(tc.s.MaxMS), tc.s.Missing)
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCheckDrainWithin(t *testing.T) {
	for _, tc := range []struct {
		name     string
		base     func() load.Iteration
		maxDrain time.Duration
		mutate   func(*load.Iteration)
		status   Status
		observed int
		want     []string
	}{
		{name: "no budget: skip", base: cleanIteration, status: StatusSkip, observed: 0,
			want: []string{"no --max-drain given"}},
		{name: "within the budget", base: cleanIteration, maxDrain: 400 * time.Millisecond, status: StatusPass, observed: 6,
			want: []string{"last client thread exited at t+0.305s, within 400ms"}},
		{name: "exactly at the budget passes", base: cleanIteration, maxDrain: 305 * time.Millisecond, status: StatusPass, observed: 6,
			want: []string{"t+0.305s, within 305ms"}},
		{name: "over the budget", base: keptOpenIteration, maxDrain: 400 * time.Millisecond, status: StatusFail, observed: 6,
			want: []string{"last client thread exited at t+0.500s, over the 400ms budget"}},
		{name: "legacy: threads outlive the close, still timed", base: legacyIteration, maxDrain: 300 * time.Millisecond,
			status: StatusFail, observed: 6, want: []string{"t+0.310s, over the 300ms budget"}},
		{name: "a thread never exited: the drain never finished", base: cleanIteration, maxDrain: time.Hour,
			mutate: func(it *load.Iteration) {
				th := &it.Server.Kernel.Threads[6]
				th.States, th.Exited, th.ExitedAt = th.States[:5], false, 0
			},
			status: StatusFail, observed: 6, want: []string{"the drain never finished", "budget 1h0m0s"}},
		{name: "a forced thread did not exit on its own", base: cleanIteration, maxDrain: time.Hour,
			mutate: func(it *load.Iteration) { it.Server.Kernel.Threads[2].Forced = true },
			status: StatusFail, observed: 6, want: []string{"the drain never finished"}},
		{name: "no client thread: nothing to drain", base: cleanIteration, maxDrain: time.Millisecond,
			mutate: func(it *load.Iteration) { it.Server.Kernel.Threads = it.Server.Kernel.Threads[:1] },
			status: StatusPass, observed: 0, want: []string{"t+0.000s, within 1ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := tc.base()
			it.MaxDrain = tc.maxDrain
			if tc.mutate != nil {
				tc.mutate(&it)
			}
			c := find(t, Evaluate(&it), CheckDrainWithin)
			assertCheck(t, c, tc.status, tc.observed, tc.want, nil)
			if c.ID != CheckDrainWithin || strings.Contains(c.Detail, "\n") {
				t.Errorf("check %+v", c)
			}
		})
	}
}
