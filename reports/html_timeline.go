package reports

// The timeline view of one iteration: its geometry and time scale, the
// axis and ticks, the vertical markers, and the terminate and violation
// rows; the lanes below them are laid out in html_lanes.go.

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// Timeline geometry, in SVG user units (pixels at 100%): a label column,
// the plot, an outcome column.
const (
	tlWidth      = 1200.0
	tlLabelRight = 226.0
	tlPlotLeft   = 234.0
	tlPlotRight  = 1062.0
	tlOutcomeX   = 1070.0
	tlPitch      = 20.0 // one thread lane
	tlBarH       = 14.0
	tlGroupPitch = 36.0 // one group lane
	tlGroupH     = 30.0
	tlLabelRows  = 4    // rows for the labels of the vertical markers
	tlLabelRowH  = 14.0 //
	tlCharW      = 6.3  // rough width of one 11px character, to keep labels apart
	// tlMaxLanes: above this many thread lanes the page switches to one
	// lane per kind and role. Sixty lanes still fit a screen; five
	// thousand would be a 100,000-pixel-tall picture nobody can read.
	tlMaxLanes = 60
	// tlColumn is the time resolution of a group lane: the state counts
	// are sampled once per tlColumn pixels.
	tlColumn = 4.0
	// tlViolColumn merges violations closer than this many pixels (a
	// mark's width) into one mark.
	tlViolColumn = 12.0
)

// The thread states in the order a thread goes through them; group lanes
// stack their counts in this order, bottom up. "cycle" is a wait ⇄ send
// span folded into one history entry (State.Repeats).
var tlStates = []string{
	string(target.StateSpawning), string(target.StateInit), string(target.StateWait), "cycle", string(target.StateRead),
	string(target.StateProcess), string(target.StateSend), string(target.StateLinger), string(target.StateCleanup), "other",
}

// tlStateRow is the row of tlStates a state is drawn in: its own, or
// "other" for a state the timeline has no colour for.
func tlStateRow(s string) int {
	if k := slices.Index(tlStates, s); k >= 0 {
		return k
	}
	return slices.Index(tlStates, "other")
}

// tlStateClass is the CSS class a state is drawn with.
func tlStateClass(s string) string { return "st-" + tlStates[tlStateRow(s)] }

func tlLegend() []htmlLegend {
	labels := map[string]string{"cycle": "wait ⇄ send cycle (×N turns)", "other": "other state"}
	var out []htmlLegend
	for _, s := range tlStates {
		l := labels[s]
		if l == "" {
			l = s
		}
		out = append(out, htmlLegend{Class: "st-" + s, Label: l})
	}
	return out
}

func tlMarksLegend() []htmlLegend {
	return []htmlLegend{
		{Class: "k-open", Label: "terminate open (not signalled)"},
		{Class: "k-signalled", Label: "terminate signalled"},
		{Class: "k-close-bad", Label: "closed unsafely: client threads alive or not joined, or a wait after"},
		{Class: "k-close-ok", Label: "closed after every client thread exited"},
		{Class: "k-alive", Label: "lane of a thread alive at the close"},
		{Class: "k-straggler", Label: "lane of a thread alive after shutdown returned"},
		{Class: "k-viol", Label: "violation (hover for detail)"},
		{Class: "k-viol-kill", Label: tlViolKinds[0].legend},
		{Class: "k-viol-stale", Label: tlViolKinds[1].legend},
		{Class: "k-spin", Label: "a TLS loop spinning without a wait, out of terminate's reach (BUG-081)"},
		{Class: "k-exit", Label: "thread exited"},
		{Class: "k-forced", Label: "forced release at the end of the run"},
	}
}

// tlLane is one row of the timeline: a thread, a group of threads, the
// terminate event or the violations.
type tlLane struct {
	Class string
	// Thread and ExitedMS are data attributes, so that a test (or a
	// reader's tool) can find a lane and its exit without parsing shapes.
	Thread   string
	ExitedMS string
	Rects    []svgRect
	Paths    []svgPath
	Lines    []svgLine
	Texts    []svgText
}

// tlClose is the terminate close mark.
type tlClose struct {
	Class     string
	X, Y1, Y2 float64
	Diamond   string
	ClosedMS  string
	Title     string
}

type tlView struct {
	W, H    float64
	Grid    []svgLine
	Ticks   []svgText
	Markers []svgLine
	Labels  []svgText
	Term    tlLane
	Close   *tlClose
	Viol    *tlLane
	Lanes   []tlLane
	Notes   []string
}

// tlScale maps report time (ms after the trigger) to x.
type tlScale struct{ lo, hi float64 }

func (s tlScale) x(t float64) float64 {
	t = math.Max(s.lo, math.Min(s.hi, t))
	return tlPlotLeft + (t-s.lo)/(s.hi-s.lo)*(tlPlotRight-tlPlotLeft)
}

// tlExtent picks the time window. The right edge is the end of
// observation or the last thing seen, whichever is later. The left edge
// keeps the pre-trigger history short: 10% of the post-trigger span before
// the trigger, or the first client thread's creation if that is later
// (threads that were parked for a minute before the trigger would
// otherwise squeeze the shutdown, the part that matters, into a sliver).
// The trigger stays at least 2% in from the edge so its line is visible.
// Route probes, which run before the clients open, never widen it.
func tlExtent(it Iteration) (tlScale, float64) {
	hi := it.ObservedUntilMS
	up := func(v float64) { hi = math.Max(hi, v) }
	first := math.Inf(1)
	for _, th := range it.Threads {
		if th.ExitedMS != nil {
			up(*th.ExitedMS)
		}
		for _, s := range th.States {
			up(s.AtMS)
		}
		if len(th.States) > 0 && !tlRouteProbe(th) {
			first = math.Min(first, th.States[0].AtMS)
		}
	}
	t := it.Terminate
	for _, v := range []*float64{t.SignaledMS, t.ClosedMS, it.Shutdown.ReturnedMS} {
		if v != nil {
			up(*v)
		}
	}
	for _, v := range it.Violations {
		up(v.AtMS)
	}
	for _, a := range it.Admission {
		up(a.AtMS)
	}
	if hi <= 0 {
		hi = 1 // everything ended before the trigger: still show a little after it
	}
	// A little room on the right, so marks at the very end (the last exit,
	// the close, the return) do not sit on the edge.
	hi *= 1.03
	lo := -tlRound(0.1 * hi)
	if first > lo && !math.IsInf(first, 1) {
		lo = first
	}
	lo = math.Min(lo, -tlRound(0.02*hi))
	return tlScale{lo: lo, hi: hi}, first
}

// tlRound rounds a positive margin up to two significant digits, so the
// clipped edge reads t-33 ms rather than t-32.96 ms.
func tlRound(v float64) float64 {
	if v <= 0 {
		return 0
	}
	mag := math.Pow(10, math.Floor(math.Log10(v))-1)
	return math.Ceil(v/mag) * mag
}

func tlRouteProbe(th Thread) bool {
	return th.Client == nil && strings.HasPrefix(th.Probe, "route ")
}

// tlBuilder collects the timeline of one iteration.
type tlBuilder struct {
	sc       tlScale
	it       Iteration
	clients  map[int]Client
	admitted map[string]Admission // admission probe label → the probe
	// aliveAtClose are the threads alive when terminate was closed, as
	// the record lists them; stragglers those alive after shutdown
	// returned.
	aliveAtClose map[int]bool
	stragglers   map[int]bool
	v            tlView
}

func tlBuild(r Report, it Iteration) tlView {
	sc, first := tlExtent(it)
	b := &tlBuilder{sc: sc, it: it, clients: map[int]Client{}, admitted: map[string]Admission{}, aliveAtClose: map[int]bool{}}
	for _, c := range it.Clients {
		b.clients[c.ID] = c
	}
	for _, a := range it.Admission {
		b.admitted["admission "+a.When] = a
	}
	for _, id := range it.Terminate.AliveAtClose {
		b.aliveAtClose[id] = true
	}
	b.stragglers = map[int]bool{}
	for _, id := range it.Shutdown.Stragglers {
		b.stragglers[id] = true
	}
	b.v.W = tlWidth

	// Vertical layout: marker labels (as many rows as they need), the
	// tick labels, the terminate row, the violations row, then the lanes.
	marks, rows := b.placeMarkers(r)
	axisY := 8 + float64(rows)*tlLabelRowH + 10
	top := axisY + 8
	y := top + 4
	b.terminateRow(y)
	y += tlBarH + 10
	if len(it.Violations) > 0 {
		b.violationRow(y)
		y += tlBarH + 8
	}
	y = b.rateRow(y)
	y += 2
	y = b.lanes(y)
	y = b.osLanes(y)
	bottom := y + 2

	b.axis(axisY, top, bottom)
	b.drawMarkers(r, marks, axisY, bottom)
	b.v.H = bottom + 22

	if len(it.Threads) > 0 && !math.IsInf(first, 1) && first < sc.lo {
		b.v.Notes = append(b.v.Notes, fmt.Sprintf("History before %s is not drawn: the client threads were created from %s on, and the window shows 10%% of the post-trigger span before the trigger.",
			htmlT(sc.lo), htmlT(first)))
	}
	return b.v
}

// axis draws the grid and tick labels, above the terminate row and below
// the last lane.
func (b *tlBuilder) axis(axisY, top, bottom float64) {
	step, ticks := tlTicks(b.sc.lo, b.sc.hi)
	unit, div := "ms", 1.0
	if step >= 1000 {
		unit, div = "s", 1000
	}
	dec := max(0, int(-math.Floor(math.Log10(step/div)+1e-9)))
	for _, t := range ticks {
		x := b.sc.x(t)
		label := strconv.FormatFloat(t/div, 'f', dec, 64)
		if t == 0 {
			label = "0"
		} else if t > 0 {
			label = "+" + label
		}
		b.v.Grid = append(b.v.Grid, svgLine{X1: x, Y1: top, X2: x, Y2: bottom, Class: "grid"})
		b.v.Ticks = append(b.v.Ticks,
			svgText{X: x, Y: axisY, Anchor: "middle", Class: "tick", Text: label},
			svgText{X: x, Y: bottom + 14, Anchor: "middle", Class: "tick", Text: label})
	}
	caption := unit + " after the trigger"
	b.v.Ticks = append(b.v.Ticks,
		svgText{X: tlLabelRight, Y: axisY, Anchor: "end", Class: "axis-caption", Text: caption},
		svgText{X: tlLabelRight, Y: bottom + 14, Anchor: "end", Class: "axis-caption", Text: caption})
}

// tlTicks picks a 1-2-5 step giving about eight ticks.
func tlTicks(lo, hi float64) (float64, []float64) {
	raw := (hi - lo) / 8
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		t := k * step
		if math.Abs(t) < step*1e-9 {
			t = 0
		}
		out = append(out, t)
	}
	return step, out
}

// tlMarker is a vertical line across the plot with its label.
type tlMarker struct {
	t, x         float64
	label, class string
	row          int
	anchor       string
}

// placeMarkers places the labels of the vertical lines (trigger,
// terminate close, shutdown return, drain deadline) in rows above the
// plot. Each label goes in the first row where neither it nor its line,
// which runs down through the rows below it, runs into what is already
// placed; it sits right of its line, or left when that does not fit. It
// returns the markers and how many rows they use.
func (b *tlBuilder) placeMarkers(r Report) ([]tlMarker, int) {
	it := b.it
	marks := []tlMarker{{t: 0, label: "trigger", class: "m-trigger"}}
	if c := it.Terminate.ClosedMS; c != nil {
		marks = append(marks, tlMarker{t: *c, label: "terminate closed " + htmlT(*c), class: "m-close " + b.closeClass()})
	}
	if ret := it.Shutdown.ReturnedMS; ret != nil {
		marks = append(marks, tlMarker{t: *ret, label: "shutdown returned " + htmlT(*ret), class: "m-return"})
	}
	if d := r.Config.DrainTimeoutMS; d > 0 && d <= b.sc.hi {
		marks = append(marks, tlMarker{t: d, label: "drain deadline " + htmlT(d), class: "m-deadline"})
	}
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].t < marks[j].t })
	// Lines may cross lines; a label may cross neither.
	type span struct {
		a, b float64
		line bool
	}
	rows := make([][]span, tlLabelRows)
	free := func(row int, a, b float64, line bool) bool {
		for _, s := range rows[row] {
			if a < s.b && s.a < b && !(line && s.line) {
				return false
			}
		}
		return true
	}
	used := 1
	for i := range marks {
		m := &marks[i]
		m.x = b.sc.x(m.t)
		x := m.x
		w := float64(len([]rune(m.label))) * tlCharW
		fits := func(row int, a float64) bool {
			if a < 2 || a+w > tlWidth-2 || !free(row, a, a+w, false) {
				return false
			}
			for below := row + 1; below < tlLabelRows; below++ {
				if !free(below, x-1, x+1, true) {
					return false
				}
			}
			return true
		}
		m.row, m.anchor = tlLabelRows-1, "start"
		a := x + 3
		if a+w > tlWidth-2 {
			m.anchor, a = "end", x-3-w
		}
	search:
		for row := range tlLabelRows {
			for _, c := range []struct {
				anchor string
				a      float64
			}{{"start", x + 3}, {"end", x - 3 - w}} {
				if fits(row, c.a) {
					m.row, m.anchor, a = row, c.anchor, c.a
					break search
				}
			}
		}
		rows[m.row] = append(rows[m.row], span{a: a - 4, b: a + w + 4}) // keep the next label 4px off
		for below := m.row + 1; below < tlLabelRows; below++ {
			rows[below] = append(rows[below], span{a: x - 1, b: x + 1, line: true})
		}
		used = max(used, m.row+1)
	}
	return marks, used
}

// drawMarkers draws the placed markers; a drain deadline beyond the window
// is named right of the axis instead of stretching the window to it.
func (b *tlBuilder) drawMarkers(r Report, marks []tlMarker, axisY, bottom float64) {
	for _, m := range marks {
		ly := 8 + float64(m.row+1)*tlLabelRowH - 3
		lx := m.x + 3
		if m.anchor == "end" {
			lx = m.x - 3
		}
		b.v.Markers = append(b.v.Markers, svgLine{X1: m.x, Y1: ly + 3, X2: m.x, Y2: bottom, Class: "marker " + m.class})
		b.v.Labels = append(b.v.Labels, svgText{X: lx, Y: ly, Anchor: m.anchor, Class: "mlabel " + m.class, Text: m.label})
	}
	if d := r.Config.DrainTimeoutMS; d > b.sc.hi {
		b.v.Labels = append(b.v.Labels, svgText{X: tlWidth - 4, Y: axisY, Anchor: "end", Class: "mlabel m-deadline",
			Text: "deadline " + htmlT(d) + " →", Title: "the drain deadline (--drain-timeout) is beyond the window"})
	}
}

// closeClass is how the terminate close is drawn: "violation" (red) when
// client threads were alive at the close or waited on the handle after
// it, else "clean" (green).
func (b *tlBuilder) closeClass() string {
	if b.it.Terminate.ClosedUnsafely() {
		return "violation"
	}
	return "clean"
}

// terminateRow draws the terminate event's life: open from the left edge
// to the signal, signalled until the close, or on to the right edge when
// it was kept open or never closed.
func (b *tlBuilder) terminateRow(y float64) {
	t := b.it.Terminate
	sc := b.sc
	lane := tlLane{Class: target.EventTerminate}
	name := fmt.Sprintf("terminate 0x%x", t.Handle)
	lane.Texts = append(lane.Texts, svgText{X: tlLabelRight, Y: y + 11, Anchor: "end", Class: "lane-label term-label", Text: name})
	end := sc.hi
	if t.ClosedMS != nil {
		end = *t.ClosedMS
	}
	add := func(from, to float64, class, label, title string) {
		x1, x2 := sc.x(from), sc.x(to)
		if x2 <= x1 {
			return
		}
		lane.Rects = append(lane.Rects, svgRect{X: x1, Y: y, W: x2 - x1, H: tlBarH, Class: class, Title: title})
		if x2-x1 >= float64(len(label))*tlCharW+8 {
			lane.Texts = append(lane.Texts, svgText{X: (x1 + x2) / 2, Y: y + 11, Anchor: "middle", Class: "term-text", Text: label})
		}
	}
	if t.SignaledMS == nil {
		add(sc.lo, end, "term-open", "open", name+" open: never signalled")
	} else {
		s := *t.SignaledMS
		add(sc.lo, s, "term-open", "open", name+" open (not signalled) until "+htmlT(s))
		cls, title := "term-signalled", name+" signalled at "+htmlT(s)
		switch {
		case t.ClosedMS != nil:
			title += ", closed at " + htmlT(*t.ClosedMS)
		case t.KeptOpen:
			cls += " term-kept"
			title += ", kept open on purpose: client threads were still alive"
		default:
			title += ", not closed while observed"
		}
		add(s, end, cls, "signalled", title)
	}
	if t.ClosedMS == nil {
		label := "not closed"
		if t.KeptOpen {
			label = "kept open"
		}
		lane.Texts = append(lane.Texts, svgText{X: tlPlotRight + 4, Y: y + 11, Class: "term-end", Text: label})
	} else {
		c := *t.ClosedMS
		x := sc.x(c)
		alive := t.AliveAtClose
		cls, title := b.closeClass(), fmt.Sprintf("%s closed at %s after every client thread exited", name, htmlT(c))
		if cls == "violation" {
			title = fmt.Sprintf("%s closed at %s %s (%s); %d blocked in a wait on it; %s after the close",
				name, htmlT(c), htmlCloseFault(t), listIDs(alive, htmlMaxRows), t.WaitersAtClose, plural(t.WaitsAfterClose, "wait", "waits"))
		}
		mid := y + tlBarH/2
		b.v.Close = &tlClose{Class: cls, X: x, Y1: y - 3, Y2: y + tlBarH + 3, ClosedMS: htmlNum3(c), Title: title,
			Diamond: svgDiamond(x, mid, 7)}
		closeLabel := "closed"
		switch {
		case cls == "violation" && len(alive) == 0 && t.UnjoinedAtClose > 0:
			closeLabel = fmt.Sprintf("closed, %d unjoined", t.UnjoinedAtClose)
		case cls == "violation":
			closeLabel = fmt.Sprintf("closed, %d alive", len(alive))
		}
		lane.Texts = append(lane.Texts, svgText{X: tlPlotRight + 4, Y: y + 11, Class: "term-end " + cls, Text: closeLabel})
	}
	b.v.Term = lane
}

// tlViolKinds are the violation kinds the timeline draws apart from the
// rest, most telling first: a reader looks for where TerminateThread ran
// and where a stale handle reached another object. A mark that stands for
// several violations takes the first of these among them (its tooltip
// lists them all). A TLS loop's spin is no kernel violation: its band is
// drawn on the spinning thread's own lane (spinBand).
var tlViolKinds = []tlViolStyle{
	{kernel.ViolationTerminateThread, "viol-kill", true, "violation: TerminateThread (the killed thread ran no cleanup)"},
	{kernel.ViolationStaleHandle, "viol-stale", false, "violation: stale handle (a closed value reached the object that took it)"},
}

// tlViolStyle is how the marks of one violation kind are drawn.
type tlViolStyle struct {
	kind   kernel.ViolationKind
	class  string
	square bool // a square, not a diamond: told apart without colour
	legend string
}

// tlViolKind is the first of tlViolKinds among vs, or the zero value.
func tlViolKind(vs []Violation) tlViolStyle {
	for _, c := range tlViolKinds {
		for _, v := range vs {
			if v.Kind == string(c.kind) {
				return c
			}
		}
	}
	return tlViolStyle{}
}

// violationRow marks each violation where it happened. Violations whose
// marks would overlap share one, whose tooltip lists the first few; its
// count is written beside it where there is room.
func (b *tlBuilder) violationRow(y float64) {
	vs := append([]Violation(nil), b.it.Violations...)
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].AtMS < vs[j].AtMS })
	lane := &tlLane{Class: "violations"}
	lane.Texts = append(lane.Texts, svgText{X: tlLabelRight, Y: y + 11, Anchor: "end", Class: "lane-label viol-label",
		Text: "violations (" + strconv.Itoa(len(vs)) + ")"})
	type cluster struct {
		x    float64
		from int
		n    int
	}
	var cs []cluster
	for i, v := range vs {
		x := b.sc.x(v.AtMS)
		if k := len(cs) - 1; k >= 0 && x-cs[k].x < tlViolColumn {
			cs[k].n++
			continue
		}
		cs = append(cs, cluster{x: x, from: i, n: 1})
	}
	mid := y + tlBarH/2
	for k, c := range cs {
		var lines []string
		for _, v := range vs[c.from : c.from+min(c.n, 5)] {
			lines = append(lines, fmt.Sprintf("%s %s: %s", htmlT(v.AtMS), v.Kind, v.Detail))
		}
		if c.n > 5 {
			lines = append(lines, fmt.Sprintf("and %d more", c.n-5))
		}
		cls, d := "viol-mark", svgDiamond(c.x, mid, 6)
		if k := tlViolKind(vs[c.from : c.from+c.n]); k.class != "" {
			cls += " " + k.class
			if k.square {
				d = svgSquare(c.x, mid, 5)
			}
		}
		lane.Paths = append(lane.Paths, svgPath{Class: cls, D: d, Title: strings.Join(lines, "\n")})
		label := "×" + strconv.Itoa(c.n)
		room := tlPlotRight + 60 - c.x
		if k+1 < len(cs) {
			room = cs[k+1].x - c.x
		}
		if c.n > 1 && room >= 14+float64(len(label))*tlCharW {
			lane.Texts = append(lane.Texts, svgText{X: c.x + 8, Y: y + 11, Class: "viol-count", Text: label})
		}
	}
	b.v.Viol = lane
}
