package reports

// The timeline's server lanes for an external target: what the OS samples
// showed of its process (the JSON's os.lanes), one lane per server socket
// or thread that the baseline did not have, coloured by its TCP state or
// by the system call the thread was blocked in, below the clients' lanes
// on the same time axis. A state is drawn from the sample that first saw
// it to the one that saw the next; between two samples nothing is known,
// so the lanes are as fine as the sampling interval and no finer.

import (
	"fmt"
	"strconv"

	"shutdowntest/load/osobs"
)

// osMaxLanes bounds the server lanes as tlMaxLanes bounds the clients':
// a note says how many more there were (the JSON has them all).
const osMaxLanes = tlMaxLanes

// osStateClass is the colour of a socket's TCP state, or of what a thread
// was blocked in.
func osStateClass(kind, state string) string {
	if kind == "socket" {
		switch state {
		case osobs.StateEstablished, "SYN_RECV", "NEW_SYN_RECV":
			return "os-established"
		case osobs.StateListen:
			return "os-listen"
		case "CLOSE_WAIT":
			return "os-closewait"
		}
		// FIN_WAIT1/2, LAST_ACK, CLOSING, TIME_WAIT: the server closed
		// its side.
		return "os-closing"
	}
	switch state {
	case "running":
		return "os-running"
	case "read", "readv", "recvfrom", "recvmsg":
		return "os-read"
	case "write", "writev", "sendto", "sendmsg":
		return "os-write"
	case "accept", "accept4", "poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait":
		return "os-poll"
	}
	return "os-other"
}

// osLegend is the server lanes' colours, for a page that draws them.
func osLegend() []htmlLegend {
	return []htmlLegend{
		{Class: "os-listen", Label: "server socket listening"},
		{Class: "os-established", Label: "server socket ESTABLISHED"},
		{Class: "os-closewait", Label: "CLOSE_WAIT (the client closed, the server not yet)"},
		{Class: "os-closing", Label: "FIN_WAIT, LAST_ACK, … (the server closed its side)"},
		{Class: "os-read", Label: "server thread blocked in read/recv"},
		{Class: "os-write", Label: "… in write/send"},
		{Class: "os-poll", Label: "… in accept/poll/epoll"},
		{Class: "os-other", Label: "… in another call (futex, sleep)"},
		{Class: "os-running", Label: "… running"},
	}
}

// osLanes reports whether an iteration of r has server lanes to draw.
func (r Report) osLanes() bool {
	for _, it := range r.Iterations {
		if it.OS != nil && it.OS.Available && len(it.OS.Lanes) > 0 {
			return true
		}
	}
	return false
}

// osLanes draws the server lanes from y on, under a heading that says how
// the process was sampled; it returns the y below them.
func (b *tlBuilder) osLanes(y float64) float64 {
	o := b.it.OS
	if o == nil || !o.Available || len(o.Lanes) == 0 {
		return y
	}
	y += 6
	head := tlLane{Class: "lane os-head"}
	head.Texts = append(head.Texts,
		svgText{X: tlLabelRight, Y: y + tlPitch/2 + 4, Anchor: "end", Class: "lane-label os-title", Text: fmt.Sprintf("server process %d (OS samples)", o.PID),
			Title: fmt.Sprintf("sampled by %s, %d samples, ≤%s apart while draining; a state is drawn from the sample that first saw it", o.Method, o.Taken, htmlSpan(o.IntervalMS))},
		svgText{X: tlPlotLeft + 6, Y: y + tlPitch/2 + 4, Class: "lane-note", Text: o.Model})
	b.v.Lanes = append(b.v.Lanes, head)
	y += tlPitch
	byThread := map[int]int{}
	for _, c := range b.it.Clients {
		if c.Server != nil && c.Server.Thread != nil {
			byThread[*c.Server.Thread] = c.ID
		}
	}
	for i, l := range o.Lanes[:min(len(o.Lanes), osMaxLanes)] {
		y = b.osLane(y, i, l, byThread)
	}
	if n := len(o.Lanes) - osMaxLanes; n > 0 {
		b.v.Notes = append(b.v.Notes, fmt.Sprintf("The first %d server sockets and threads are drawn; %d more are in the JSON report's os.lanes.", osMaxLanes, n))
	}
	return y
}

// osLane draws one server socket or thread: its states as bars, the
// sample that found it gone as an exit mark, and the client it served.
func (b *tlBuilder) osLane(y float64, i int, l OSLane, byThread map[int]int) float64 {
	lane := tlLane{Class: "lane os " + l.Kind}
	client := l.Client
	if l.Kind == "thread" {
		if tid, err := strconv.Atoi(l.ID[len("thread "):]); err == nil {
			if id, ok := byThread[tid]; ok {
				client = &id
			}
		}
	}
	title := "server " + l.ID
	if client != nil {
		title += fmt.Sprintf(", serving client %d", *client)
	}
	b.laneFrame(&lane, y, tlPitch, i, false, l.ID, title)
	by := y + (tlPitch-tlBarH)/2
	for k, s := range l.Segments {
		if s.State == osobs.StateGone {
			x := b.sc.x(s.FromMS)
			lane.Lines = append(lane.Lines, svgLine{X1: x, Y1: by - 2, X2: x, Y2: by + tlBarH + 2, Class: "exit-mark",
				Title: fmt.Sprintf("%s gone at %s (the first sample without it)", l.ID, htmlT(s.FromMS))})
			continue
		}
		end := s.ToMS
		if k+1 < len(l.Segments) {
			end = l.Segments[k+1].FromMS
		}
		if end < b.sc.lo || s.FromMS > b.sc.hi {
			continue
		}
		x1, x2 := b.sc.x(s.FromMS), b.sc.x(end)
		w := max(x2-x1, 1)
		lane.Rects = append(lane.Rects, svgRect{X: x1, Y: by, W: w, H: tlBarH, Class: "st " + osStateClass(l.Kind, s.State),
			Title: fmt.Sprintf("%s %s: %s → %s", l.ID, s.State, htmlT(s.FromMS), htmlT(end))})
		if w >= float64(len(s.State))*tlCharW+8 {
			lane.Texts = append(lane.Texts, svgText{X: x1 + w/2, Y: by + 11, Anchor: "middle", Class: "seg-label", Text: s.State})
		}
	}
	if client != nil {
		lane.Texts = append(lane.Texts, svgText{X: tlOutcomeX, Y: y + tlPitch/2 + 4, Class: "outcome", Text: fmt.Sprintf("client %d", *client)})
	}
	b.v.Lanes = append(b.v.Lanes, lane)
	return y + tlPitch
}
