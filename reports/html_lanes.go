package reports

// The timeline's lanes: one per client thread and probe, the route probes
// folded into one, or, above tlMaxLanes, one stacked-area lane per group of
// threads.

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

func (b *tlBuilder) alive(th Thread) bool { return b.aliveAtClose[th.ID] }

// tlThreadLane is a thread lane before layout.
type tlThreadLane struct {
	th           Thread
	label, title string
	outcome      string
	outcomeClass string // good or bad, as the report's ok says
	group        string
}

// lanes lays out the thread lanes: one per client thread (in client
// order), one per admission or other probe, and the route probes folded
// into one. Above tlMaxLanes it draws one lane per group instead.
func (b *tlBuilder) lanes(y float64) float64 {
	var single []tlThreadLane
	var routes []Thread
	clientIdx := map[int]int{}
	for i, c := range b.it.Clients {
		clientIdx[c.ID] = i
	}
	for _, th := range b.it.Threads {
		if tlRouteProbe(th) {
			routes = append(routes, th)
			continue
		}
		l := tlThreadLane{th: th}
		switch {
		case th.Client != nil:
			c, ok := b.clients[*th.Client]
			if ok {
				l.group = c.Kind + " " + c.Role
				l.label = fmt.Sprintf("#%d %s %s", th.ID, c.Kind, c.Role)
				l.title = fmt.Sprintf("thread %d served client %d (%s %s): %s", th.ID, c.ID, c.Kind, c.Role, c.Outcome)
				if c.Detail != "" {
					l.title += " (" + c.Detail + ")"
				}
				l.outcome, l.outcomeClass = c.Outcome, okClass(c.OK)
			} else {
				l.group = "client"
				l.label = fmt.Sprintf("#%d client %d", th.ID, *th.Client)
				l.title = fmt.Sprintf("thread %d served client %d", th.ID, *th.Client)
			}
		default:
			l.group = th.Probe
			if strings.HasPrefix(th.Probe, "admission ") {
				l.group = "admission probes"
			}
			l.label = fmt.Sprintf("#%d %s", th.ID, th.Probe)
			l.title = fmt.Sprintf("thread %d served the %s probe", th.ID, th.Probe)
			if a, ok := b.admitted[th.Probe]; ok {
				l.outcome, l.outcomeClass = a.Outcome, okClass(a.OK)
				l.title += ": " + a.Outcome
			}
		}
		single = append(single, l)
	}
	// Client threads in the order of their clients (kind, then role, as
	// configured); probes after them, by thread id.
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
	if l.outcome != "" {
		lane.Texts = append(lane.Texts, svgText{X: tlOutcomeX, Y: y + tlPitch/2 + 4, Class: "outcome " + l.outcomeClass, Text: l.outcome})
	}
	b.v.Lanes = append(b.v.Lanes, lane)
	return y + tlPitch
}

// segments draws one thread's states as bars on lane, clipped to the
// window, plus its exit mark. A state entry with Repeats is a wait ⇄ send
// cycle whose turns were not stamped one by one: it is drawn striped in
// the two states' colours and labelled with its number of turns.
func (b *tlBuilder) segments(lane *tlLane, th Thread, y float64, who string, labels bool) {
	sc := b.sc
	for i, s := range th.States {
		if s.State == "exited" {
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
			if s.State == "process" || s.State == "linger" || s.State == "cleanup" {
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
	outcomes []htmlKV
}

// groupLanes draws one lane per group: a stacked area of how many of the
// group's threads were in each state over time (full height is every
// thread of the group), so a lane's height falls to nothing as the group
// drains. The counts are sampled every tlColumn pixels, which bounds the
// page's size whatever the number of threads.
func (b *tlBuilder) groupLanes(y float64, single []tlThreadLane, routes []Thread) float64 {
	var groups []*tlGroup
	byName := map[string]*tlGroup{}
	outcomeCount := map[string]map[string]int{}
	outcomeClass := map[string]map[string]string{}
	outcomeOrder := map[string][]string{}
	for _, l := range single {
		g := byName[l.group]
		if g == nil {
			g = &tlGroup{name: l.group}
			byName[l.group] = g
			groups = append(groups, g)
			outcomeCount[l.group], outcomeClass[l.group] = map[string]int{}, map[string]string{}
		}
		g.threads = append(g.threads, l.th)
		if l.outcome != "" {
			if outcomeCount[l.group][l.outcome] == 0 {
				outcomeOrder[l.group] = append(outcomeOrder[l.group], l.outcome)
			}
			outcomeCount[l.group][l.outcome]++
			if outcomeClass[l.group][l.outcome] != "bad" {
				outcomeClass[l.group][l.outcome] = l.outcomeClass
			}
		}
	}
	for _, g := range groups {
		for _, o := range outcomeOrder[g.name] {
			g.outcomes = append(g.outcomes, htmlKV{Key: o, Value: strconv.Itoa(outcomeCount[g.name][o]), Class: outcomeClass[g.name][o]})
		}
		// The bad outcomes first: they are what the column is for.
		sort.SliceStable(g.outcomes, func(i, j int) bool { return g.outcomes[i].Class == "bad" && g.outcomes[j].Class != "bad" })
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

func (b *tlBuilder) groupLane(y float64, i int, g *tlGroup) float64 {
	sc := b.sc
	n := len(g.threads)
	cols := int((tlPlotRight - tlPlotLeft) / tlColumn)
	counts := make([][]int, len(tlStates))
	for s := range counts {
		counts[s] = make([]int, cols)
	}
	stateIdx := map[string]int{}
	for k, s := range tlStates {
		stateIdx[s] = k
	}
	dt := (sc.hi - sc.lo) / float64(cols)
	alive, exited, never := 0, 0, 0
	firstExit, lastExit := math.Inf(1), math.Inf(-1)
	for _, th := range g.threads {
		if b.alive(th) {
			alive++
		}
		if th.ExitedMS != nil && !th.Forced {
			exited++
			firstExit = math.Min(firstExit, *th.ExitedMS)
			lastExit = math.Max(lastExit, *th.ExitedMS)
		} else {
			never++
		}
		j := -1
		for k := 0; k < cols; k++ {
			t := sc.lo + (float64(k)+0.5)*dt
			for j+1 < len(th.States) && th.States[j+1].AtMS <= t {
				j++
			}
			if j < 0 || th.States[j].State == "exited" || (th.ExitedMS != nil && t >= *th.ExitedMS) {
				continue
			}
			s := th.States[j].State
			if th.States[j].Repeats > 0 && j > 0 {
				s = "cycle"
			}
			idx, ok := stateIdx[s]
			if !ok {
				idx = stateIdx["other"]
			}
			counts[idx][k]++
		}
	}
	lane := tlLane{Class: "lane group"}
	if never == 0 && exited > 0 {
		lane.ExitedMS = htmlNum3(lastExit)
	}
	label := fmt.Sprintf("%s ×%d", g.name, n)
	title := fmt.Sprintf("%s: %s", g.name, plural(n, "thread", "threads"))
	if alive > 0 {
		title += fmt.Sprintf("; %d alive when terminate was closed", alive)
	}
	b.laneFrame(&lane, y, tlGroupPitch, i, alive > 0, label, title)
	base := y + (tlGroupPitch-tlGroupH)/2 + tlGroupH
	cum := make([]int, cols)
	var paths []svgPath
	for s := range tlStates {
		nonzero, peak := false, 0
		for k := range cum {
			cum[k] += counts[s][k]
			if counts[s][k] > 0 {
				nonzero = true
				peak = max(peak, counts[s][k])
			}
		}
		if !nonzero {
			continue
		}
		paths = append(paths, svgPath{Class: "band " + "st-" + tlStates[s], D: tlAreaPath(cum, n, base, tlGroupH),
			Title: fmt.Sprintf("%s: up to %d of %d in %s", g.name, peak, n, tlStates[s])})
	}
	// Each path is the area under its cumulative count, so painting them
	// from the top band down leaves every band its own strip.
	for k := len(paths) - 1; k >= 0; k-- {
		lane.Paths = append(lane.Paths, paths[k])
	}
	if d := tlCycleStripes(counts, stateIdx["cycle"], n, base, tlGroupH); d != "" {
		lane.Paths = append(lane.Paths, svgPath{Class: "band-stripes st-send", D: d})
	}
	if exited > 0 && lastExit >= sc.lo {
		x := sc.x(lastExit)
		t := fmt.Sprintf("%s: %d of %d exited, first %s, last %s", g.name, exited, n, htmlT(firstExit), htmlT(lastExit))
		lane.Lines = append(lane.Lines, svgLine{X1: x, Y1: base - tlGroupH, X2: x, Y2: base, Class: "exit-mark", Title: t})
	}
	tx := tlOutcomeX
	ty := y + tlGroupPitch/2 + 4
	if alive > 0 {
		lane.Texts = append(lane.Texts, svgText{X: tx, Y: ty - 7, Class: "outcome bad", Text: fmt.Sprintf("%d alive at close", alive)})
		ty += 7
	}
	var parts []string
	cls := "good"
	for k, o := range g.outcomes {
		if k == 2 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, o.Value+" "+o.Key)
		if o.Class == "bad" {
			cls = "bad"
		}
	}
	if len(parts) > 0 {
		var all []string
		for _, o := range g.outcomes {
			all = append(all, o.Value+" "+o.Key)
		}
		lane.Texts = append(lane.Texts, svgText{X: tx, Y: ty, Class: "outcome " + cls, Text: strings.Join(parts, " · "), Title: strings.Join(all, ", ")})
	}
	b.v.Lanes = append(b.v.Lanes, lane)
	return y + tlGroupPitch
}
