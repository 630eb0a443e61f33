package reports

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
)

// series builds n samples, iterations 1..n, of f(i) plus Gaussian noise of
// deviation sigma from a fixed seed (the test's outcome must not depend
// on the run).
func series(n int, sigma float64, seed uint64, f func(i int) float64) []growthPoint {
	rng := rand.New(rand.NewPCG(seed, 1))
	pts := make([]growthPoint, n)
	for i := range pts {
		pts[i] = growthPoint{float64(i + 1), f(i+1) + sigma*rng.NormFloat64()}
	}
	return pts
}

var goroutineResource = growthResources[1]

func heapResource(t *testing.T) growthResource {
	t.Helper()
	if growthResources[0].name != ResourceHeap {
		t.Fatal("growthResources[0] is not the heap")
	}
	return growthResources[0]
}

// The detector on the series the issue names: what a clean soak looks
// like passes, what a leak looks like fails. Each case runs over several
// noise seeds, so a pass is not one lucky draw.
func TestNoGrowthDetector(t *testing.T) {
	const mib = 1 << 20
	heap := heapResource(t)
	cases := []struct {
		name string
		res  growthResource
		n    int
		sig  float64
		f    func(i int) float64
		want Status
	}{
		{"flat heap with noise", heap, 60, 0.2 * mib, func(int) float64 { return 8 * mib }, StatusPass},
		{"flat heap with noise, minimum length", heap, 25, 0.2 * mib, func(int) float64 { return 8 * mib }, StatusPass},
		{"flat goroutines, exact", goroutineResource, 40, 0, func(int) float64 { return 7 }, StatusPass},
		{"flat goroutines, ±1 noise", goroutineResource, 40, 0.7, func(int) float64 { return 7 }, StatusPass},
		{"slow heap leak, 64 KiB/iteration", heap, 60, 0.05 * mib, func(i int) float64 { return 8*mib + float64(i)*64*1024 }, StatusFail},
		{"heap leak in a long soak, 1 KiB/iteration", heap, 5000, 0.2 * mib, func(i int) float64 { return 8*mib + float64(i)*1024 }, StatusFail},
		{"goroutine leak, 1/iteration", goroutineResource, 30, 0, func(i int) float64 { return 7 + float64(i) }, StatusFail},
		{"goroutine leak, 1 every 5 iterations", goroutineResource, 100, 0, func(i int) float64 { return 7 + float64(i/5) }, StatusFail},
		{"step after the warm-up, heap", heap, 60, 0.05 * mib, func(i int) float64 { return 8*mib + step(i, 12, 3*mib) }, StatusPass},
		{"step in the middle, goroutines", goroutineResource, 60, 0, func(i int) float64 { return 7 + step(i, 33, 10) }, StatusPass},
		{"step late, goroutines", goroutineResource, 60, 0, func(i int) float64 { return 7 + step(i, 52, 10) }, StatusPass},
		{"GC sawtooth, heap", heap, 120, 0, func(i int) float64 { return 8*mib + float64(i%10)*0.6*mib }, StatusPass},
		{"GC sawtooth with noise, heap", heap, 120, 0.1 * mib, func(i int) float64 { return 8*mib + float64(i%7)*mib }, StatusPass},
		{"one huge spike, heap", heap, 40, 0.05 * mib, func(i int) float64 { return 8*mib + step(i, 30, 50*mib) - step(i, 31, 50*mib) }, StatusPass},
		{"too short", goroutineResource, 24, 0, func(i int) float64 { return 7 + float64(i) }, StatusSkip},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(20) {
				tr := fitTrend(c.res, series(c.n, c.sig, seed, c.f))
				if tr.Status != c.want {
					t.Fatalf("seed %d: %s, want %s: %+v", seed, tr.Status, c.want, withoutPoints(tr))
				}
			}
		})
	}
}

func step(i, at int, by float64) float64 {
	if i >= at {
		return by
	}
	return 0
}

func withoutPoints(t Trend) Trend { t.points = nil; return t }

// Theil–Sen is the median pairwise slope: exact on a line, and one wild
// point does not move it.
func TestTheilSen(t *testing.T) {
	line := series(30, 0, 0, func(i int) float64 { return 3 + 2.5*float64(i) })
	if got := theilSen(line); got != 2.5 {
		t.Errorf("line: slope %v, want 2.5", got)
	}
	line[10].y += 1e9
	if got := theilSen(line); math.Abs(got-2.5) > 1e-9 {
		t.Errorf("line with an outlier: slope %v, want 2.5", got)
	}
	if got := blockMedians(line, 10); len(got) != 10 || got[0].x != 2 {
		t.Errorf("block medians: %d points, first %v", len(got), got[0])
	}
}

// The check reads the report's samples: a goroutine leak in the
// iterations' resources_sample fails it and names the resource; the same
// run without it passes.
func TestCheckNoGrowth(t *testing.T) {
	its := func(leak bool) []Iteration {
		var out []Iteration
		for n := 1; n <= 40; n++ {
			heap, fds := uint64(8<<20), 12
			g := 7
			if leak {
				g += n
			}
			out = append(out, Iteration{N: n, ResourcesSample: ResourcesSample{HeapBytes: &heap, Goroutines: g, FDs: &fds}})
		}
		return out
	}
	if c := checkNoGrowth(its(false), trends(its(false))); c.Status != StatusPass || !strings.Contains(c.Detail, "4 of 4 resources flat over 35 iterations") {
		t.Errorf("clean: %+v", c)
	}
	c := checkNoGrowth(its(true), trends(its(true)))
	if c.Status != StatusFail || !strings.HasPrefix(c.Detail, "goroutines rises 1/iteration in both halves, 34 over 35 iterations") {
		t.Errorf("leak: %+v", c)
	}
	if c := checkNoGrowth(its(false)[:24], trends(its(false)[:24])); c.Status != StatusSkip {
		t.Errorf("24 iterations: %+v", c)
	}
}

// A real soak of a clean server: about 30 short iterations on fixed, every
// one passing, and no-growth judging the real samples flat. This is the
// test that a passing run does not fail no-growth by noise.
func TestCleanSoakHasNoGrowth(t *testing.T) {
	if testing.Short() {
		t.Skip("a real soak of about 30 iterations")
	}
	cfg := load.Config{
		Policy:       target.PolicyFixed,
		Mix:          load.Mix{HTTPIdle: 1, HTTPInflight: 1, RESTIdle: 1, RESTInflight: 1, WS: 1, Silent: 1},
		InflightFor:  5 * time.Millisecond,
		DrainTimeout: 2 * time.Second,
		ReadyTimeout: 5 * time.Second,
		Iterations:   30,
		For:          12 * time.Second,
		Jitter:       5 * time.Millisecond,
		Target:       target.Config{StreamEvery: 5 * time.Millisecond},
	}
	res, err := load.Run(context.Background(), cfg, load.Observer{})
	if err != nil {
		t.Fatal(err)
	}
	r := Build(res, nil, testTool)
	if len(r.Iterations) < growthWarmup+growthMinSamples {
		t.Skipf("only %d iterations in %v on this machine; no-growth needs %d", len(r.Iterations), cfg.For, growthWarmup+growthMinSamples)
	}
	var ng Check
	for _, c := range r.Checks {
		if c.ID == CheckNoGrowth {
			ng = c
		}
	}
	if r.Verdict != VerdictPass || ng.Status != StatusPass {
		for _, tr := range r.Trend {
			t.Logf("%+v", withoutPoints(tr))
		}
		t.Fatalf("verdict %s, no-growth %s: %s", r.Verdict, ng.Status, ng.Detail)
	}
	for _, tr := range r.Trend {
		if tr.Resource != ResourceFDs && tr.Status != StatusPass {
			t.Errorf("%s: %s (%s)", tr.Resource, tr.Status, tr.Why)
		}
	}
	t.Logf("%d iterations: %s", len(r.Iterations), ng.Detail)
}
