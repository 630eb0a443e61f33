package reports

import "fmt"

// rateRow draws the steady traffic's lane at y, under the terminate and
// violation rows, and returns the y below it: each column is one bucket
// of the requests by when they were due, split by how no-failed-requests
// reads them, with the disruption window outlined.
func (b *tlBuilder) rateRow(y float64) float64 {
	r := b.it.Rate
	if r == nil || len(r.Timeline) == 0 {
		return y
	}
	lane := tlLane{Class: "rate-lane"}
	lane.Texts = append(lane.Texts, svgText{X: tlLabelRight, Y: y + 11, Anchor: "end", Class: "lane-label",
		Text: fmt.Sprintf("traffic (%d)", r.Requests)})
	for i, k := range r.Timeline {
		from := r.FromMS + float64(i)*r.BucketMS
		x1, x2 := b.sc.x(from), b.sc.x(from+r.BucketMS)
		total := k.OK + k.Admission + k.Failed + k.NotSent
		if x2 <= x1 || total == 0 {
			continue // outside the window drawn, or nothing due
		}
		top := y
		for _, part := range []struct {
			n         int
			cls, what string
		}{{k.Failed, "rate-failed", "failed"}, {k.NotSent, "rate-notsent", "not sent (cap)"},
			{k.Admission, "rate-admission", "turned away after the trigger (admission)"}, {k.OK, "rate-ok", "ok"}} {
			if part.n == 0 {
				continue
			}
			h := tlBarH * float64(part.n) / float64(total)
			lane.Rects = append(lane.Rects, svgRect{X: x1, Y: top, W: x2 - x1, H: h, Class: part.cls,
				Title: fmt.Sprintf("due %s to %s: %d of %d %s", htmlT(from), htmlT(from+r.BucketMS), part.n, total, part.what)})
			top += h
		}
	}
	if w := r.Window; w.Seen {
		x1, x2 := b.sc.x(w.FirstMS), b.sc.x(w.LastMS+r.BucketMS)
		lane.Rects = append(lane.Rects, svgRect{X: x1, Y: y - 1, W: max(x2-x1, 1), H: tlBarH + 2, Class: "rate-window",
			Title: "disruption window: " + w.String()})
	}
	b.v.Lanes = append(b.v.Lanes, lane)
	b.v.Notes = append(b.v.Notes, fmt.Sprintf("The traffic lane shows the --rate requests by when they were due, %sms a column: green answered ok, amber turned away after the trigger (admission), red failed, grey not sent (the cap); the outline is the disruption window.",
		msNum(r.BucketMS)))
	return y + tlBarH + 8
}
