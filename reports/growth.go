package reports

// The no-growth check: over a soak, does any resource the process or the
// server holds keep rising from one iteration to the next? A leak shows
// as a trend that goes on through the run; a one-off step (a cache
// filled once, a pool grown once) or the sawtooth of a garbage collector
// does not, and must not fail the check. So the judgement is a robust
// fit, not the first sample against the last:
//
//   - the first growthWarmup iterations are left out (the runtime and the
//     caches settle in them);
//   - below growthMinSamples samples after them the check is skipped;
//   - the samples after the warm-up are split into halves, and each half
//     gets a Theil–Sen slope (the median of the slopes between every pair
//     of its samples, which outliers and GC spikes barely move);
//   - the resource rises when both halves' slopes, carried over the whole
//     span of sampled iterations, exceed the tolerance: a step lies in one
//     half and leaves the other flat, a leak raises both;
//   - the tolerance is the largest of the resource's floor (growthFloors),
//     growthRelTol of its median level, and growthNoiseK times its noise,
//     1.4826 × the median absolute deviation of the samples from the
//     whole-span Theil–Sen line (a standard deviation for Gaussian noise).

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// The rule's constants; README.md documents them.
const (
	growthWarmup     = 5
	growthMinSamples = 20
	growthRelTol     = 0.10
	growthNoiseK     = 4
	// growthMaxPoints bounds the pairs a fit looks at: a longer series is
	// first reduced to this many medians of consecutive blocks (a 5-minute
	// soak at 50 iterations a second has 15,000 samples, 10^8 pairs).
	growthMaxPoints = 400
)

// Resources the soak watches, by their names in the report.
const (
	ResourceHeap       = "heap"
	ResourceGoroutines = "goroutines"
	ResourceFDs        = "fds"
	ResourceHandles    = "handles"
)

// growthResource is one watched resource: its name, unit, the absolute
// floor of its tolerance, and how to read it from an iteration's sample.
type growthResource struct {
	name, unit string
	floor      float64
	value      func(ResourcesSample) (float64, bool)
}

// growthResources are the resources in the order every report shows them.
// A heap that settles within 1 MiB, or a count within 2, is no leak worth
// failing a soak for, whatever the slope.
var growthResources = []growthResource{
	{ResourceHeap, "bytes", 1 << 20, func(s ResourcesSample) (float64, bool) {
		if s.HeapBytes == nil {
			return 0, false
		}
		return float64(*s.HeapBytes) - float64(s.KeptBytes), true
	}},
	{ResourceGoroutines, "goroutines", 2, func(s ResourcesSample) (float64, bool) { return float64(s.Goroutines), true }},
	{ResourceFDs, "descriptors", 2, func(s ResourcesSample) (float64, bool) {
		if s.FDs == nil {
			return 0, false
		}
		return float64(*s.FDs), true
	}},
	{ResourceHandles, "handles", 2, func(s ResourcesSample) (float64, bool) { return float64(s.Handles), true }},
}

// Trend is one resource over a run: the fit no-growth judges it by.
// Slopes are per iteration; Growth is the smaller half's slope carried
// over the span of sampled iterations after the warm-up, which is what
// Tolerance bounds. Without enough samples Status is skip and the fit's
// figures are 0.
type Trend struct {
	Resource string `json:"resource"`
	Unit     string `json:"unit"`
	// Status is pass (flat), fail (rising) or skip (too few samples, or
	// not available on this platform).
	Status Status `json:"status"`
	// Samples is how many iterations had a sample; Analysed how many of
	// them came after the warm-up.
	Samples  int `json:"samples"`
	Analysed int `json:"analysed"`
	// First and Last are the first and the last sample after the
	// warm-up; Level their median.
	First     float64 `json:"first"`
	Last      float64 `json:"last"`
	Level     float64 `json:"level"`
	Slope     float64 `json:"slope"`
	Slope1    float64 `json:"first_half_slope"`
	Slope2    float64 `json:"second_half_slope"`
	Noise     float64 `json:"noise"`
	Growth    float64 `json:"growth"`
	Tolerance float64 `json:"tolerance"`
	// Why says, for a skip, what was missing.
	Why string `json:"why,omitempty"`
	// points are the analysed samples, for the HTML chart.
	points []growthPoint
}

type growthPoint struct{ x, y float64 }

// trends fits every watched resource over the iterations' samples.
func trends(its []Iteration) []Trend {
	out := make([]Trend, 0, len(growthResources))
	for _, gr := range growthResources {
		var pts []growthPoint
		for _, it := range its {
			if v, ok := gr.value(it.ResourcesSample); ok {
				pts = append(pts, growthPoint{float64(it.N), v})
			}
		}
		out = append(out, fitTrend(gr, pts))
	}
	return out
}

// fitTrend judges one resource's samples, (iteration, value) in
// iteration order, by the rule at the top of this file.
func fitTrend(gr growthResource, pts []growthPoint) Trend {
	t := Trend{Resource: gr.name, Unit: gr.unit, Samples: len(pts), Status: StatusSkip}
	var after []growthPoint
	for _, p := range pts {
		if p.x > growthWarmup {
			after = append(after, p)
		}
	}
	t.Analysed, t.points = len(after), after
	switch {
	case len(pts) == 0:
		t.Why = "not sampled (not available on this platform)"
		return t
	case len(after) < growthMinSamples:
		t.Why = fmt.Sprintf("%d samples after a warm-up of %d iterations; at least %d are needed",
			len(after), growthWarmup, growthMinSamples)
		return t
	}
	ys := make([]float64, len(after))
	for i, p := range after {
		ys[i] = p.y
	}
	t.First, t.Last, t.Level = after[0].y, after[len(after)-1].y, median(ys)
	pts = blockMedians(after, growthMaxPoints)
	t.Slope = theilSen(pts)
	res := make([]float64, len(pts))
	for i, p := range pts {
		res[i] = p.y - t.Slope*p.x
	}
	icept := median(res)
	for i := range res {
		res[i] = math.Abs(res[i] - icept)
	}
	t.Noise = 1.4826 * median(res)
	half := len(pts) / 2
	t.Slope1, t.Slope2 = theilSen(pts[:half]), theilSen(pts[half:])
	span := after[len(after)-1].x - after[0].x
	t.Growth = min(t.Slope1, t.Slope2) * span
	t.Tolerance = max(gr.floor, growthRelTol*math.Abs(t.Level), growthNoiseK*t.Noise)
	t.Status = StatusPass
	if t.Growth > t.Tolerance {
		t.Status = StatusFail
	}
	return t
}

// theilSen is the median of the slopes between every pair of points with
// different x (0 for fewer than two).
func theilSen(pts []growthPoint) float64 {
	var slopes []float64
	for i := range pts {
		for j := i + 1; j < len(pts); j++ {
			if dx := pts[j].x - pts[i].x; dx != 0 {
				slopes = append(slopes, (pts[j].y-pts[i].y)/dx)
			}
		}
	}
	if len(slopes) == 0 {
		return 0
	}
	return median(slopes)
}

// blockMedians reduces pts to at most n points: the medians of x and of y
// over consecutive blocks of equal size (the last may be shorter).
func blockMedians(pts []growthPoint, n int) []growthPoint {
	if len(pts) <= n {
		return pts
	}
	size := (len(pts) + n - 1) / n
	out := make([]growthPoint, 0, n)
	for i := 0; i < len(pts); i += size {
		block := pts[i:min(i+size, len(pts))]
		xs, ys := make([]float64, len(block)), make([]float64, len(block))
		for k, p := range block {
			xs[k], ys[k] = p.x, p.y
		}
		out = append(out, growthPoint{median(xs), median(ys)})
	}
	return out
}

// median of vs (the mean of the middle two for an even count); vs is
// reordered.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// checkNoGrowth judges a run by its resource trends: it fails when any
// rises, is skipped when none could be judged.
func checkNoGrowth(its []Iteration, ts []Trend) Check {
	after := 0
	for _, it := range its {
		if it.N > growthWarmup {
			after++
		}
	}
	switch {
	case len(its) == 0:
		return newCheck(StatusSkip, 0, "no iteration was recorded")
	case after < growthMinSamples:
		return newCheck(StatusSkip, after, "%s, fewer than the %d it needs (%d after a warm-up of %d)",
			plural(len(its), "iteration", "iterations"), growthWarmup+growthMinSamples, growthMinSamples, growthWarmup)
	}
	var rising, flat, skipped []string
	observed := 0
	for _, t := range ts {
		observed = max(observed, t.Analysed)
		switch t.Status {
		case StatusFail:
			rising = append(rising, fmt.Sprintf("%s rises %s/iteration in both halves, %s over %s, over its tolerance of %s",
				t.Resource, trendAmount(t, min(t.Slope1, t.Slope2)), trendAmount(t, t.Growth),
				plural(t.Analysed, "iteration", "iterations"), trendAmount(t, t.Tolerance)))
		case StatusPass:
			flat = append(flat, fmt.Sprintf("%s %s (tolerance %s)", t.Resource, trendSigned(t, t.Growth), trendAmount(t, t.Tolerance)))
		default:
			skipped = append(skipped, t.Resource+": "+t.Why)
		}
	}
	switch {
	case len(rising) > 0:
		return newCheck(StatusFail, observed, "%s", strings.Join(rising, "; "))
	case len(flat) == 0:
		return newCheck(StatusSkip, observed, "%s", strings.Join(skipped, "; "))
	}
	s := fmt.Sprintf("%d of %d resources flat over %s after a warm-up of %d: %s", len(flat), len(ts),
		plural(observed, "iteration", "iterations"), growthWarmup, strings.Join(flat, ", "))
	if len(skipped) > 0 {
		s += "; not judged: " + strings.Join(skipped, "; ")
	}
	return newCheck(StatusPass, observed, "%s", s)
}

// trendAmount writes an amount of t's resource: bytes in KiB or MiB,
// counts to one decimal where they are not whole.
func trendAmount(t Trend, v float64) string {
	if t.Unit != "bytes" {
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	}
	switch a := math.Abs(v); {
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

// trendSigned is trendAmount with its sign: "+1.2 KiB", "-3".
func trendSigned(t Trend, v float64) string {
	s := trendAmount(t, v)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// soakLines are the summary's lines about a long run: each resource from
// the first to the last sample after the warm-up and what sampling cost,
// when any iteration came after the warm-up; and the trigger offsets
// with their seed, when --jitter moved them.
func (r Report) soakLines() []string {
	var lines []string
	if ts := r.Trend; len(ts) > 0 && len(r.Iterations) > growthWarmup {
		var parts []string
		for _, t := range ts {
			if t.Analysed > 0 {
				parts = append(parts, fmt.Sprintf("%s %s → %s", t.Resource, trendAmount(t, t.First), trendAmount(t, t.Last)))
			}
		}
		costs := make([]float64, 0, len(r.Iterations))
		for _, it := range r.Iterations {
			costs = append(costs, it.ResourcesSample.CostMS)
		}
		lines = append(lines, fmt.Sprintf("trend (iterations %d–%d): %s; sampling took median %s ms per iteration",
			growthWarmup+1, r.Iterations[len(r.Iterations)-1].N, strings.Join(parts, ", "), msNum(math.Round(median(costs)*1000)/1000)))
	}
	if r.Config.JitterMS > 0 && len(r.Iterations) > 0 {
		offs := make([]float64, 0, len(r.Iterations))
		for _, it := range r.Iterations {
			offs = append(offs, it.JitterMS)
		}
		slices.Sort(offs)
		lines = append(lines, fmt.Sprintf("jitter: up to %s ms from seed %d; trigger offsets min %s · median %s · max %s ms",
			msNum(r.Config.JitterMS), r.Config.Seed, msNum(offs[0]), msNum(math.Round(median(offs)*1000)/1000), msNum(offs[len(offs)-1])))
	}
	return lines
}
