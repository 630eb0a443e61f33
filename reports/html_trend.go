package reports

// The HTML report's resource charts: one small SVG per resource no-growth
// watches, its samples after the warm-up as a line (medians of blocks of
// iterations past trendMaxPoints), and the Theil–Sen line it was judged
// by, drawn with the timeline's primitives (html_svg.go).

import (
	"fmt"
	"strings"
)

// The chart's geometry, in SVG pixels.
const (
	trendW, trendH   = 280.0, 120.0
	trendLeft        = 64.0 // room for the value labels
	trendRight       = 8.0
	trendTop         = 10.0
	trendBottom      = 20.0 // room for the iteration labels
	trendMaxPoints   = 280  // one point a pixel at most
	trendLabelOffset = 4.0
)

// htmlTrend is one resource's chart.
type htmlTrend struct {
	Resource, Status, Caption string
	W, H                      float64
	Data                      string // the samples' path
	Fit                       *svgLine
	Labels                    []svgText
}

// htmlTrends are the charts of a run that had iterations after the
// warm-up; none otherwise (a short run has no trend to show).
func (r Report) htmlTrends() []htmlTrend {
	var out []htmlTrend
	for _, t := range r.Trend {
		if len(t.points) < 2 {
			continue
		}
		out = append(out, trendChart(t))
	}
	return out
}

func trendChart(t Trend) htmlTrend {
	pts := blockMedians(t.points, trendMaxPoints)
	x0, x1 := pts[0].x, pts[len(pts)-1].x
	lo, hi := pts[0].y, pts[0].y
	for _, p := range pts {
		lo, hi = min(lo, p.y), max(hi, p.y)
	}
	if hi-lo < 1 { // a flat count still gets a visible band
		lo, hi = lo-1, hi+1
	}
	plotW, plotH := trendW-trendLeft-trendRight, trendH-trendTop-trendBottom
	px := func(x float64) float64 { return trendLeft + (x-x0)/(x1-x0)*plotW }
	py := func(y float64) float64 { return trendTop + (hi-y)/(hi-lo)*plotH }
	var d strings.Builder
	for i, p := range pts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		d.WriteString(cmd + htmlNum(px(p.x)) + " " + htmlNum(py(p.y)))
	}
	h := htmlTrend{Resource: t.Resource, Status: string(t.Status), W: trendW, H: trendH, Data: d.String(),
		Caption: trendCaption(t)}
	if t.Status != StatusSkip {
		// The fit through the samples' median residual, clipped to the plot.
		res := make([]float64, len(pts))
		for i, p := range pts {
			res[i] = p.y - t.Slope*p.x
		}
		icept := median(res)
		clip := func(y float64) float64 { return min(max(y, trendTop), trendTop+plotH) }
		h.Fit = &svgLine{X1: px(x0), Y1: clip(py(icept + t.Slope*x0)), X2: px(x1), Y2: clip(py(icept + t.Slope*x1)),
			Class: "trend-fit", Title: fmt.Sprintf("Theil–Sen fit: %s per iteration", trendSigned(t, t.Slope))}
	}
	h.Labels = []svgText{
		{X: trendLeft - trendLabelOffset, Y: trendTop + 8, Anchor: "end", Class: "tick", Text: trendAmount(t, hi)},
		{X: trendLeft - trendLabelOffset, Y: trendTop + plotH, Anchor: "end", Class: "tick", Text: trendAmount(t, lo)},
		{X: trendLeft, Y: trendH - 5, Anchor: "start", Class: "tick", Text: fmt.Sprintf("iteration %.0f", x0)},
		{X: trendW - trendRight, Y: trendH - 5, Anchor: "end", Class: "tick", Text: fmt.Sprintf("%.0f", x1)},
	}
	return h
}

// trendCaption says what the chart shows and how it was judged.
func trendCaption(t Trend) string {
	switch t.Status {
	case StatusSkip:
		return fmt.Sprintf("%s: not judged (%s)", t.Resource, t.Why)
	case StatusFail:
		return fmt.Sprintf("%s: RISING, %s over %s (tolerance %s)", t.Resource, trendSigned(t, t.Growth),
			plural(t.Analysed, "iteration", "iterations"), trendAmount(t, t.Tolerance))
	}
	return fmt.Sprintf("%s: flat, %s → %s, %s by the fit (tolerance %s)", t.Resource, trendAmount(t, t.First),
		trendAmount(t, t.Last), trendSigned(t, t.Growth), trendAmount(t, t.Tolerance))
}
