package reports

// The timeline's lanes: one per client thread and probe, the route probes
// folded into one, or, above tlMaxLanes, one stacked-area lane per group of
// threads.

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"shutdowntest/target"
)

// alive says whether a thread was alive when terminate was closed, by the
// record.
func (b *tlBuilder) alive(th Thread) bool { return b.aliveAtClose[th.ID] }

// tlThreadLane is a thread lane before layout.
type tlThreadLane struct {
	th           Thread
	label, title string
	outcome      string
	ok           bool // whether the outcome passes, as the report says
	group        string
}

// lanes lays out the thread lanes: one per client thread (in client
// order), one per admission or other probe, and the route probes folded
// into one. Above tlMaxLanes it draws one lane per group instead.
func (b *tlBuilder) lanes(y float64) float64 {
	var single []tlThreadLane
	var routes []Thread
	for _, th := range b.it.Threads {
		if tlRouteProbe(th) {
			routes = append(routes, th)
			continue
		}
		single = append(single, b.threadLaneOf(th))
	}
	b.sortLanes(single)
	lanes := len(single)
	if len(routes) > 0 {
		lanes++
	}
	if lanes > tlMaxLanes {
		return b.groupLanes(y, single, routes)
	}
	for i, l := range single {
		y = b.threadLane(y, i, l)
	}
	if len(routes) > 0 {
		y = b.routeLane(y, len(single), routes)
	}
	return y
}

// threadLaneOf names a thread's lane and decides its group and outcome: a
// client thread's are its client's (kind and role), a probe thread's its
// probe's, all admission probes making one group.
func (b *tlBuilder) threadLaneOf(th Thread) tlThreadLane {
	l := tlThreadLane{th: th}
	if th.Client == nil {
		l.group = th.Probe
		if strings.HasPrefix(th.Probe, "admission ") {
			l.group = "admission probes"
		}
		l.label = fmt.Sprintf("#%d %s", th.ID, th.Probe)
		l.title = fmt.Sprintf("thread %d served the %s probe", th.ID, th.Probe)
		if a, ok := b.admitted[th.Probe]; ok {
			l.outcome, l.ok = a.Outcome, a.OK
			l.title += ": " + a.Outcome
		}
		return l
	}
	c, ok := b.clients[*th.Client]
	if !ok {
		l.group = "client"
		l.label = fmt.Sprintf("#%d client %d", th.ID, *th.Client)
		l.title = fmt.Sprintf("thread %d served client %d", th.ID, *th.Client)
		return l
	}
	l.group = c.Kind + " " + c.Role
	l.label = fmt.Sprintf("#%d %s %s", th.ID, c.Kind, c.Role)
	l.title = fmt.Sprintf("thread %d served client %d (%s %s): %s", th.ID, c.ID, c.Kind, c.Role, c.Outcome)
	if c.Detail != "" {
		l.title += " (" + c.Detail + ")"
	}
	l.outcome, l.ok = c.Outcome, c.OK
	return l
}

// sortLanes puts client threads in the order of their clients (kind,
// then role, as configured), and probes after them, by thread id.
func (b *tlBuilder) sortLanes(single []tlThreadLane) {
	clientIdx := map[int]int{}
	for i, c := range b.it.Clients {
		clientIdx[c.ID] = i
	}
	sort.SliceStable(single, func(i, j int) bool {
		a, c := single[i].th, single[j].th
		if (a.Client != nil) != (c.Client != nil) {
			return a.Client != nil
		}
		if a.Client != nil && *a.Client != *c.Client {
			ai, aok := clientIdx[*a.Client]
			ci, cok := clientIdx[*c.Client]
			if aok && cok {
				return ai < ci
			}
			return *a.Client < *c.Client
		}
		return a.ID < c.ID
	})
}

// laneFrame draws what every lane has: its background (alternate lanes
// shaded), the red edge of a lane alive at the terminate close, and its
// label with a tooltip.
func (b *tlBuilder) laneFrame(lane *tlLane, y, h float64, i int, alive bool, label, title string) {
	cls := "lane-bg"
	if i%2 == 1 {
		cls += " odd"
	}
	lane.Rects = append(lane.Rects, svgRect{X: 2, Y: y, W: tlWidth - 4, H: h, Class: cls})
	if alive {
		lane.Class += " alive-at-close"
		lane.Rects = append(lane.Rects, svgRect{X: 2, Y: y, W: 4, H: h, Class: "alive-edge"})
	}
	lane.Texts = append(lane.Texts, svgText{X: tlLabelRight, Y: y + h/2 + 4, Anchor: "end", Class: "lane-label", Text: label, Title: title})
}

// threadLane draws one thread's lane: its states, its exit and its
// outcome; a thread that outlived shutdown without being alive at the
// close is marked a straggler.
func (b *tlBuilder) threadLane(y float64, i int, l tlThreadLane) float64 {
	th := l.th
	lane := tlLane{Class: "lane", Thread: strconv.Itoa(th.ID)}
	if th.ExitedMS != nil {
		lane.ExitedMS = htmlNum3(*th.ExitedMS)
	}
	alive := b.alive(th)
	title := l.title
	if alive {
		title += "; alive when terminate was closed"
	}
	b.laneFrame(&lane, y, tlPitch, i, alive, l.label, title)
	if !alive && b.stragglers[th.ID] {
		// Not closed under it, but it outlived shutdown (the kept-open
		// case, or a shutdown that never returned): amber, not red.
		lane.Class += " straggler"
		lane.Texts[len(lane.Texts)-1].Title += "; still alive when shutdown returned"
	}
	b.segments(&lane, th, y+(tlPitch-tlBarH)/2, fmt.Sprintf("#%d", th.ID), true)
	b.spinBand(&lane, th, y)
	if l.outcome != "" {
		lane.Texts = append(lane.Texts, svgText{X: tlOutcomeX, Y: y + tlPitch/2 + 4, Class: "outcome " + okClass(l.ok), Text: l.outcome})
	}
	b.v.Lanes = append(b.v.Lanes, lane)
	return y + tlPitch
}

// spinBand marks where a thread's TLS loop spun over no-busy-spin's bound:
// a band over its lane from the first turn to the last (BUG-081: the
// thread was busy but out of terminate's reach all that time).
func (b *tlBuilder) spinBand(lane *tlLane, th Thread, y float64) {
	sp := th.Spin
	if sp == nil || sp.Turns <= maxSpinTurns {
		return
	}
	x1, x2 := b.sc.x(sp.FirstMS), b.sc.x(sp.LastMS)
	lane.Rects = append(lane.Rects, svgRect{X: x1, Y: y + 1, W: max(x2-x1, 2), H: tlPitch - 2, Class: "spin",
		Title: fmt.Sprintf("#%d spun %d turns without a wait, %s to %s", th.ID, sp.Turns, htmlT(sp.FirstMS), htmlT(sp.LastMS))})
}

// segments draws one thread's states as bars on lane, clipped to the
// window, plus its exit mark. A state entry with Repeats is a wait ⇄ send
// cycle whose turns were not stamped one by one: it is drawn striped in
// the two states' colours and labelled with its number of turns.
func (b *tlBuilder) segments(lane *tlLane, th Thread, y float64, who string, labels bool) {
	sc := b.sc
	for i, s := range th.States {
		if s.State == string(target.StateExited) {
			continue
		}
		start, end := s.AtMS, sc.hi
		still := false
		switch {
		case i+1 < len(th.States):
			end = th.States[i+1].AtMS
		case th.ExitedMS != nil:
			end = *th.ExitedMS
		default:
			still = true
		}
		if end <= sc.lo || start >= sc.hi || end <= start {
			continue
		}
		x1, x2 := sc.x(start), sc.x(end)
		w := math.Max(x2-x1, 0.5)
		span := fmt.Sprintf("%s → %s (%s)", htmlT(start), htmlT(end), htmlSpan(end-start))
		if still {
			span = fmt.Sprintf("since %s, still %s when observation stopped", htmlT(start), s.State)
		}
		if s.Repeats > 0 && i > 0 {
			prev := th.States[i-1].State
			turns := s.Repeats + 1
			lane.Rects = append(lane.Rects, svgRect{X: x1, Y: y, W: w, H: tlBarH, Class: "st " + tlStateClass(prev),
				Title: fmt.Sprintf("%s %s ⇄ %s, %d turns: %s", who, prev, s.State, turns, span)})
			lane.Lines = append(lane.Lines, svgLine{X1: x1, Y1: y + tlBarH/2, X2: x1 + w, Y2: y + tlBarH/2, Class: "stripe " + tlStateClass(s.State)})
			if labels && w >= 34 {
				lane.Texts = append(lane.Texts, svgText{X: x1 + w/2, Y: y + 11, Anchor: "middle", Class: "seg-label cycle-label", Text: "×" + strconv.Itoa(turns)})
			}
			continue
		}
		lane.Rects = append(lane.Rects, svgRect{X: x1, Y: y, W: w, H: tlBarH, Class: "st " + tlStateClass(s.State),
			Title: fmt.Sprintf("%s %s: %s", who, s.State, span)})
		if labels && w >= float64(len(s.State))*tlCharW+8 {
			cls := "seg-label dark"
			if st := target.State(s.State); st == target.StateProcess || st == target.StateLinger || st == target.StateCleanup {
				cls = "seg-label" // white reads better on the three dark colours
			}
			lane.Texts = append(lane.Texts, svgText{X: x1 + w/2, Y: y + 11, Anchor: "middle", Class: cls, Text: s.State})
		}
	}
	if th.ExitedMS != nil && *th.ExitedMS >= sc.lo {
		x := sc.x(*th.ExitedMS)
		cls, title := "exit-mark", fmt.Sprintf("%s exited %s", who, htmlT(*th.ExitedMS))
		if th.Forced {
			cls += " forced"
			title = fmt.Sprintf("%s forced out at %s: still running when the run ended", who, htmlT(*th.ExitedMS))
		}
		lane.Lines = append(lane.Lines, svgLine{X1: x, Y1: y - 2, X2: x, Y2: y + tlBarH + 2, Class: cls, Title: title})
	}
}

// routeLane folds the route probes into one lane: they run one after the
// other before the clients open, so their bars rarely overlap, and they
// are usually all before the window.
func (b *tlBuilder) routeLane(y float64, i int, routes []Thread) float64 {
	lane := tlLane{Class: "lane probes"}
	alive := false
	last := math.Inf(-1)
	for _, th := range routes {
		alive = alive || b.alive(th)
		if th.ExitedMS != nil {
			last = math.Max(last, *th.ExitedMS)
		}
	}
	label := "route probes ×" + strconv.Itoa(len(routes))
	b.laneFrame(&lane, y, tlPitch, i, alive, label, plural(len(routes), "thread", "threads")+" that served the routing probes before the clients opened")
	for _, th := range routes {
		b.segments(&lane, th, y+(tlPitch-tlBarH)/2, fmt.Sprintf("#%d %s", th.ID, th.Probe), false)
	}
	if !math.IsInf(last, -1) && last < b.sc.lo {
		lane.Texts = append(lane.Texts, svgText{X: tlPlotLeft + 6, Y: y + tlPitch/2 + 4, Class: "lane-note",
			Text: fmt.Sprintf("all ended by %s, before this window", htmlT(last))})
	}
	b.v.Lanes = append(b.v.Lanes, lane)
	return y + tlPitch
}

// tlGroup is the threads of one kind and role (or one probe kind).
type tlGroup struct {
	name     string
	threads  []Thread
	outcomes htmlTally
}

// groupLanes draws one lane per group: a stacked area of how many of the
// group's threads were in each state over time (full height is every
// thread of the group), so a lane's height falls to nothing as the group
// drains. The counts are sampled every tlColumn pixels, which bounds the
// page's size whatever the number of threads.
func (b *tlBuilder) groupLanes(y float64, single []tlThreadLane, routes []Thread) float64 {
	var groups []*tlGroup
	byName := map[string]*tlGroup{}
	for _, l := range single {
		g := byName[l.group]
		if g == nil {
			g = &tlGroup{name: l.group}
			byName[l.group] = g
			groups = append(groups, g)
		}
		g.threads = append(g.threads, l.th)
		if l.outcome != "" {
			g.outcomes.add(l.outcome, l.ok)
		}
	}
	if len(routes) > 0 {
		groups = append(groups, &tlGroup{name: "route probes", threads: routes})
	}
	b.v.Notes = append(b.v.Notes, fmt.Sprintf("%d client threads are drawn as one lane per kind and role: each lane stacks how many of its threads were in each state, sampled every %g px; its full height is all of the group's threads.",
		len(single)+len(routes), tlColumn))
	for i, g := range groups {
		y = b.groupLane(y, i, g)
	}
	return y
}

// groupLane draws one group's lane: its frame, the stacked bands of its
// states, the mark of its last exit and its outcome column.
func (b *tlBuilder) groupLane(y float64, i int, g *tlGroup) float64 {
	n := len(g.threads)
	ex := b.groupExits(g)
	lane := tlLane{Class: "lane group"}
	if ex.never == 0 && ex.exited > 0 {
		lane.ExitedMS = htmlNum3(ex.last)
	}
	title := fmt.Sprintf("%s: %s", g.name, plural(n, "thread", "threads"))
	if ex.alive > 0 {
		title += fmt.Sprintf("; %d alive when terminate was closed", ex.alive)
	}
	b.laneFrame(&lane, y, tlGroupPitch, i, ex.alive > 0, fmt.Sprintf("%s ×%d", g.name, n), title)
	base := y + (tlGroupPitch-tlGroupH)/2 + tlGroupH
	lane.Paths = append(lane.Paths, tlGroupBands(g, b.groupCounts(g), base)...)
	if ex.exited > 0 && ex.last >= b.sc.lo {
		x := b.sc.x(ex.last)
		t := fmt.Sprintf("%s: %d of %d exited, first %s, last %s", g.name, ex.exited, n, htmlT(ex.first), htmlT(ex.last))
		lane.Lines = append(lane.Lines, svgLine{X1: x, Y1: base - tlGroupH, X2: x, Y2: base, Class: "exit-mark", Title: t})
	}
	lane.Texts = append(lane.Texts, tlGroupOutcomes(g, ex.alive, y)...)
	b.v.Lanes = append(b.v.Lanes, lane)
	return y + tlGroupPitch
}

// tlGroupExits is how a group's threads ended: how many were alive at the
// terminate close, how many exited on their own (the first and the last
// of them) and how many never did (a forced release is not an exit).
type tlGroupExits struct {
	alive, exited, never int
	first, last          float64
}

// groupExits tallies the ends of a group's threads, by the record.
func (b *tlBuilder) groupExits(g *tlGroup) tlGroupExits {
	e := tlGroupExits{first: math.Inf(1), last: math.Inf(-1)}
	for _, th := range g.threads {
		if b.alive(th) {
			e.alive++
		}
		if th.ExitedMS != nil && !th.Forced {
			e.exited++
			e.first = math.Min(e.first, *th.ExitedMS)
			e.last = math.Max(e.last, *th.ExitedMS)
		} else {
			e.never++
		}
	}
	return e
}

// groupCounts samples a group once per tlColumn pixels: counts[s][k] is
// how many of its threads were in state tlStates[s] at the middle of
// column k.
func (b *tlBuilder) groupCounts(g *tlGroup) [][]int {
	cols := int((tlPlotRight - tlPlotLeft) / tlColumn)
	counts := make([][]int, len(tlStates))
	for s := range counts {
		counts[s] = make([]int, cols)
	}
	for _, th := range g.threads {
		b.sampleStates(th, counts)
	}
	return counts
}

// sampleStates adds one thread to a group's counts. A thread counts from
// its first state until it exits (a column whose middle is at or after
// the exit no longer holds it); an entry that folds a wait ⇄ send cycle
// counts as "cycle", a state without a colour of its own as "other".
func (b *tlBuilder) sampleStates(th Thread, counts [][]int) {
	cols := len(counts[0])
	dt := (b.sc.hi - b.sc.lo) / float64(cols)
	j := -1
	for k := range cols {
		t := b.sc.lo + (float64(k)+0.5)*dt
		for j+1 < len(th.States) && th.States[j+1].AtMS <= t {
			j++
		}
		if j < 0 || th.States[j].State == string(target.StateExited) || (th.ExitedMS != nil && t >= *th.ExitedMS) {
			continue
		}
		s := th.States[j].State
		if th.States[j].Repeats > 0 && j > 0 {
			s = "cycle"
		}
		counts[tlStateRow(s)][k]++
	}
}

// tlGroupBands stacks a group's counts into one band per state that
// occurs, bottom up in the order of tlStates, and stripes the wait ⇄ send
// band. Each band is the area under its cumulative count, so they are
// painted from the top band down: every band keeps its own strip.
func tlGroupBands(g *tlGroup, counts [][]int, base float64) []svgPath {
	n := len(g.threads)
	cum := make([]int, len(counts[0]))
	var paths []svgPath
	for s, state := range tlStates {
		peak := 0
		for k := range cum {
			cum[k] += counts[s][k]
			peak = max(peak, counts[s][k])
		}
		if peak == 0 {
			continue
		}
		paths = append(paths, svgPath{Class: "band st-" + state, D: tlAreaPath(cum, n, base, tlGroupH),
			Title: fmt.Sprintf("%s: up to %d of %d in %s", g.name, peak, n, state)})
	}
	slices.Reverse(paths)
	if d := tlCycleStripes(counts, tlStateRow("cycle"), n, base, tlGroupH); d != "" {
		paths = append(paths, svgPath{Class: "band-stripes st-send", D: d})
	}
	return paths
}

// tlGroupOutcomes is a group lane's outcome column: how many of its
// threads were alive at the close, then its first two outcomes (the bad
// ones come first), red when any is bad; the tooltip lists every outcome.
func tlGroupOutcomes(g *tlGroup, alive int, y float64) []svgText {
	var out []svgText
	ty := y + tlGroupPitch/2 + 4
	if alive > 0 {
		out = append(out, svgText{X: tlOutcomeX, Y: ty - 7, Class: "outcome bad", Text: fmt.Sprintf("%d alive at close", alive)})
		ty += 7
	}
	outcomes := g.outcomes.kvs()
	if len(outcomes) == 0 {
		return out
	}
	// The bad outcomes first: they are what the column is for, and the
	// first one's class is the column's.
	sort.SliceStable(outcomes, func(i, j int) bool { return outcomes[i].Class == "bad" && outcomes[j].Class != "bad" })
	all := make([]string, len(outcomes))
	for k, o := range outcomes {
		all[k] = o.Value + " " + o.Key
	}
	text := strings.Join(all[:min(2, len(all))], " · ")
	if len(all) > 2 {
		text += " · …"
	}
	return append(out, svgText{X: tlOutcomeX, Y: ty, Class: "outcome " + outcomes[0].Class, Text: text, Title: strings.Join(all, ", ")})
}
