package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"shutdowntest/load"
	"shutdowntest/load/osobs"
)

// An external target's server is seen from outside: the OS samples of
// its process (load/osobs) show its threads and sockets, and each
// client's server socket and, for a thread-per-connection server, the
// thread blocked on it; a state endpoint, when the server has one, shows
// its own threads. The server panel draws the counts now and across the
// run; the table's server columns draw each client's. What neither
// showed is "–", never a guess.

// osPoint is the process's counts at one instant of the iteration.
type osPoint struct {
	at               time.Duration
	threads, sockets int
}

// osHistory is what the sparklines draw: the counts of every sample the
// view has met, in time order. Live it grows by the snapshots' latest
// sample (a few points a second); at the result it is the whole record's.
type osHistory struct {
	iteration int // each iteration has its own clock
	points    []osPoint
}

func (h *osHistory) add(at time.Duration, s *osobs.Sample) {
	if n := len(h.points); n > 0 && at <= h.points[n-1].at {
		return
	}
	h.points = append(h.points, osPoint{at: at, threads: len(s.Threads), sockets: len(s.Sockets)})
}

// observe adds a snapshot's latest sample, when it is newer than the last.
func (h *osHistory) observe(s *load.Snapshot) {
	if s.Iteration != h.iteration {
		h.iteration, h.points = s.Iteration, h.points[:0]
	}
	x := s.External
	if x == nil || x.OS == nil || len(x.OS.Samples) == 0 {
		return
	}
	last := &x.OS.Samples[len(x.OS.Samples)-1]
	h.add(last.Until, last)
}

// fromRecord replaces the history by the record's: a sample held from
// its At to its Until.
func (h *osHistory) fromRecord(rec *osobs.Record) {
	h.points = h.points[:0]
	if rec == nil {
		return
	}
	for i := range rec.Samples {
		s := &rec.Samples[i]
		h.add(s.At, s)
		h.add(s.Until, s)
	}
}

// sparkBlocks are the eight heights of a sparkline's cell; a count of
// zero (the process gone) is a blank.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws one count of the points in at most n cells spread over
// the points' time span, each cell the highest count within it (a count
// holds until the next point) so that a short burst shows, but the last
// the count now, as the number beside it; scaled to the highest of the
// run. Its cost is one pass over the points.
func sparkline(points []osPoint, n int, count func(osPoint) int) string {
	if len(points) == 0 || n <= 0 {
		return ""
	}
	top := 0
	for _, p := range points {
		top = max(top, count(p))
	}
	cell := func(v int) rune {
		if v <= 0 {
			return ' '
		}
		return sparkBlocks[(v*len(sparkBlocks)-1)/top]
	}
	var b strings.Builder
	b.Grow(n * 3)
	t0, span := points[0].at, points[len(points)-1].at-points[0].at
	if span <= 0 || len(points) < 2 {
		b.WriteRune(cell(count(points[len(points)-1])))
		return b.String()
	}
	j := 0
	for i := range n {
		end := t0 + span*time.Duration(i+1)/time.Duration(n)
		// The count in force as the cell starts, and any point within it.
		v := count(points[max(j-1, 0)])
		for j < len(points) && points[j].at <= end {
			v = max(v, count(points[j]))
			j++
		}
		if i == n-1 {
			v = count(points[len(points)-1])
		}
		b.WriteRune(cell(v))
	}
	return b.String()
}

func threadCount(p osPoint) int { return p.threads }
func socketCount(p osPoint) int { return p.sockets }

// serverOS is the OS record the panel draws: the result's once the run
// has one, else the latest snapshot's (one sample); nil when the process
// was not sampled.
func (m *Model) serverOS() *osobs.Record {
	if x := m.externalRecord(); x != nil {
		return x.OS
	}
	return nil
}

// serverLines are the server panel of an external target, inner wide:
// the threads and sockets now and across the run, what the clients'
// server sockets showed, and the sampling itself.
func (m *Model) serverLines(inner int) []string {
	rec := m.serverOS()
	lines := make([]string, 0, panelLines)
	switch {
	case rec == nil && m.cfg.External.NoSampling:
		lines = append(lines, stDim.Render("not sampled (--no-os-sampling)"))
	case rec == nil:
		lines = append(lines, stDim.Render("not sampled yet"), stDim.Render("(no process watched, or none yet)"))
	case !rec.Available:
		lines = append(lines, stWarn.Render("not sampled:"), stDim.Render(rec.Why))
	default:
		last := &rec.Samples[len(rec.Samples)-1]
		room := max(inner-len("threads 0000 "), 1)
		now := func(n int) string {
			if last.Gone {
				return "gone"
			}
			return strconv.Itoa(n)
		}
		lines = append(lines, fmt.Sprintf("threads %4s %s", now(len(last.Threads)), stInfo.Render(sparkline(m.osHist.points, room, threadCount))),
			fmt.Sprintf("sockets %4s %s", now(len(last.Sockets)), stInfo.Render(sparkline(m.osHist.points, room, socketCount))))
		lines = append(lines, m.tally.server.words())
		if rec.Taken > 0 {
			lines = append(lines, stDim.Render(fmt.Sprintf("%d × %s, ≤%s apart", rec.Taken, ms(rec.MeanCost()), ms(rec.Interval))))
		} else {
			lines = append(lines, stDim.Render(fmt.Sprintf("sampling process %d (%s)", rec.PID, cmp.Or(rec.Method, "live"))))
		}
	}
	for len(lines) < panelLines {
		lines = append(lines, "")
	}
	return lines[:panelLines]
}

// serverWidth is the server panel's width beside the process and drain
// panels: room for a count and a sparkline of a few seconds' samples.
const serverWidth = 36

// externalTop is the top of a wide screen for an external target: the
// process, the server seen from the OS, and the drain.
func (m *Model) externalTop() []string {
	lw := max(36, (m.width-serverWidth)*45/100)
	rw := m.width - lw - serverWidth
	left := panel(stTitle.Render("server process"), m.processLines(), lw)
	mid := panel(stTitle.Render("server threads · sockets"), m.serverLines(serverWidth-4), serverWidth)
	right := panel(stTitle.Render("drain"), m.drainLines(rw-4), rw)
	return strings.Split(lipgloss.JoinHorizontal(lipgloss.Top, left, mid, right), "\n")
}

// serverCompact is the server panel in one line, for a narrow screen;
// "" when the process was not sampled.
func (m *Model) serverCompact(w int) string {
	rec := m.serverOS()
	if rec == nil || !rec.Available || len(rec.Samples) == 0 {
		return ""
	}
	last := &rec.Samples[len(rec.Samples)-1]
	room := max((w-len(" threads 000 · sockets 000 ")-len(m.tally.server.words()))/2, 4)
	return fmt.Sprintf(" threads %d %s · sockets %d %s · %s", len(last.Threads), stInfo.Render(sparkline(m.osHist.points, room, threadCount)),
		len(last.Sockets), stInfo.Render(sparkline(m.osHist.points, room, socketCount)), m.tally.server.words())
}

// serverTally is what the clients' server sides showed, counted once per
// snapshot: their sockets by state and those served by a thread of their
// own.
type serverTally struct {
	sockets []sockCount
	seen    int // clients whose server socket a sample had
	threads int // of those, served by a thread blocked on it
	clients int
}

type sockCount struct {
	state string // "" for a socket no sample had
	n     int
}

// sockRank orders the states as a connection goes through them.
var sockRank = map[string]int{osobs.StateEstablished: 1, "CLOSE_WAIT": 2, "FIN_WAIT1": 3, "FIN_WAIT2": 4,
	"LAST_ACK": 5, "CLOSING": 6, "TIME_WAIT": 7, osobs.StateGone: 8, "": 10}

func deriveServer(rows []row) serverTally {
	t := serverTally{clients: len(rows)}
	for i := range rows {
		sv := &rows[i].server
		if sv.Socket != "" {
			t.seen++
		}
		if sv.Thread != 0 {
			t.threads++
		}
		j := slices.IndexFunc(t.sockets, func(c sockCount) bool { return c.state == sv.Socket })
		if j < 0 {
			t.sockets = append(t.sockets, sockCount{state: sv.Socket})
			j = len(t.sockets) - 1
		}
		t.sockets[j].n++
	}
	slices.SortFunc(t.sockets, func(a, b sockCount) int {
		return cmp.Or(cmp.Compare(cmp.Or(sockRank[a.state], 9), cmp.Or(sockRank[b.state], 9)), cmp.Compare(a.state, b.state))
	})
	return t
}

// words say whether the server serves a connection by a thread of its
// own: only a thread seen blocked on a client's socket says it does.
func (t serverTally) words() string {
	switch {
	case t.seen == 0:
		return stDim.Render("no client's socket seen yet")
	case t.threads == 0:
		return fmt.Sprintf("conns %d/%d · no thread per conn", t.seen, t.clients)
	}
	return fmt.Sprintf("conns %d/%d · threads on them %d", t.seen, t.clients, t.threads)
}

// countsWords are the counts line's left part for an external target
// whose clients' sockets were seen.
func (t serverTally) countsWords() string {
	parts := make([]string, 0, len(t.sockets))
	for _, c := range t.sockets {
		word := c.state
		if word == "" {
			word = "unseen"
		}
		parts = append(parts, sockStyle(c.state).Render(fmt.Sprintf("%s %d", word, c.n)))
	}
	return " server sockets: " + strings.Join(parts, " · ")
}

// sockStyle is a server socket state's colour: open plain, the closing
// states yellow, gone and unseen dim.
func sockStyle(state string) lipgloss.Style {
	switch state {
	case osobs.StateEstablished:
		return stPlain
	case osobs.StateGone, "":
		return stDim
	}
	return stWarn
}

// Widths of an external target's server columns.
const (
	colSocket  = 12
	colSThread = 8
	colBlocked = 22
)

func externalHeader(wideView bool) string {
	if wideView {
		return fmt.Sprintf("%*s  %-*s%-*s%-*s%-*s%-*s%-*s%s", colID-2, "ID", colKind, "KIND", colRole, "ROLE",
			colSocket, "SOCKET", colSThread, "THREAD", colBlocked, "BLOCKED IN", colOut, "OUTCOME", "CLIENT")
	}
	return fmt.Sprintf("%*s  %-*s%-*s%-*s%-*s%-*s%s", colID-2, "ID", colKind, "KIND", colRole, "ROLE",
		colSocket, "SOCKET", colSThread, "THREAD", colOut, "OUTCOME", "CLIENT")
}

// externalColumns are a client's server columns: its server socket's
// state, the thread serving it and what that thread is in. The state
// endpoint's thread, when it named one, comes before the OS samples'.
func externalColumns(r *row) (socket, thread, blocked string) {
	socket, thread, blocked = "–", "–", "–"
	if r.server.Socket != "" {
		socket = r.server.Socket
	}
	switch {
	case r.thread != 0:
		thread, blocked = strconv.Itoa(r.thread), string(r.state)
		if r.onTerm {
			blocked += " (on signal)"
		}
	case r.server.Thread != 0:
		thread = strconv.Itoa(r.server.Thread)
		if r.server.BlockedIn != "" {
			blocked = r.server.BlockedIn
		}
	}
	return socket, thread, ansi.Truncate(blocked, colBlocked-1, "…")
}

func externalRowLine(r *row, outcome string, wideView bool) string {
	socket, thread, blocked := externalColumns(r)
	if wideView {
		return fmt.Sprintf("%*d  %-*s%-*s%-*s%-*s%-*s%-*s%s", colID-2, r.id, colKind, kindWords[r.kind], colRole, roleWord(r.role),
			colSocket, socket, colSThread, thread, colBlocked, blocked, colOut, outcome, r.client)
	}
	return fmt.Sprintf("%*d  %-*s%-*s%-*s%-*s%-*s%s", colID-2, r.id, colKind, kindWords[r.kind], colRole, roleWord(r.role),
		colSocket, socket, colSThread, thread, colOut, outcome, r.client)
}
