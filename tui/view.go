package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"shutdowntest/load"
	"shutdowntest/reports"
	"shutdowntest/target"
)

// wide is the width from which the two top panels stand side by side and
// the table has every column; below it they fold into a compact block.
const wide = 100

// Fixed heights of the layout's parts, in lines.
const (
	panelLines   = 4 // content lines of each top panel
	eventsWide   = 5
	eventsNarrow = 2
	minTableRows = 3
)

// layout is how the height is shared out: the table gets what the fixed
// parts leave. The checks and the footer, whose heights depend on their
// content, are rendered here once, to be measured and drawn.
type layout struct {
	top, events, table int
	checks, footer     []string
}

func (m *Model) layout() layout {
	l := layout{footer: strings.Split(m.footer(), "\n"), events: eventsWide}
	if m.width >= wide {
		l.top = panelLines + 2 // borders
	} else {
		l.top = 3
		l.events = eventsNarrow
	}
	avail := m.height - (1 + l.top + 1 + 1 + 1 + len(l.footer)) // header, counts, table header, events title
	if m.ended {
		// The first form of the checks that leaves the table room. The
		// compact form is the last that shows every failure's evidence
		// whole, which at the verdict matters more than the table: it may
		// leave the table a single row.
		// With no failure, one line per check (plain) comes before the
		// compact form, which folds the passes into one line.
		forms := []checksForm{checksWrapped, checksCompact, checksPlain}
		if !m.anyFailed() {
			forms = []checksForm{checksWrapped, checksPlain, checksCompact}
		}
		for _, f := range forms {
			room := minTableRows + 1
			if f == checksCompact {
				room = 2
			}
			if l.checks = m.checksPanel(f); avail-len(l.checks) >= room {
				break
			}
		}
		avail -= len(l.checks)
	}
	// The table takes what it can fill; rows it cannot fill go to the
	// events, which then keep more of the story on screen.
	l.table = max(min(len(m.visible), avail-l.events), minTableRows)
	l.events = avail - l.table
	for l.events < 1 && l.table > 1 {
		l.table--
		l.events++
	}
	l.table = max(l.table, 1)
	return l
}

func (m *Model) tableHeight() int { return m.layout().table }

// View draws the whole screen from the model; it renders only the rows
// that fit, so its cost does not grow with the number of clients.
func (m Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	l := m.layout()
	var b strings.Builder
	line := func(s string) {
		b.WriteString(ansi.Truncate(s, m.width, "…"))
		b.WriteByte('\n')
	}
	line(m.header())
	for _, s := range m.top() {
		line(s)
	}
	for _, s := range l.checks {
		line(s)
	}
	line(m.countsLine())
	line(m.tableHeader())
	for _, s := range m.tableRows(l.table) {
		line(s)
	}
	line(stDim.Render(rule("events", m.eventsTitle(), m.width)))
	for _, s := range m.eventLines(l.events) {
		line(s)
	}
	for i, s := range l.footer {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(ansi.Truncate(s, m.width, "…"))
	}
	out := b.String()
	if n := strings.Count(out, "\n") + 1; n > m.height {
		// A screen smaller than the layout's minimum: keep the top and
		// the last line (the keys).
		lines := strings.Split(out, "\n")
		out = strings.Join(append(lines[:m.height-1], lines[len(lines)-1]), "\n")
	}
	return out
}

func (m *Model) header() string {
	addr := "starting"
	if m.snap.Server.Addr != "" {
		addr = m.snap.Server.Addr
	}
	phase, extra := m.phase()
	tag := stPhase.Inherit(m.phaseStyle()).Render(phase)
	iter := fmt.Sprintf("  iter %d/%d ", m.iteration(), max(m.cfg.Iterations, 1))
	if m.cfg.For > 0 && m.cfg.Iterations == 0 { // a soak: its time ends it, not a count
		iter = fmt.Sprintf("  iter %d (soak %v) ", m.iteration(), m.cfg.For)
	}
	policy := string(m.cfg.Policy)
	if len(m.cfg.Faults) > 0 {
		policy += " · fault " + m.current(modeFault)
	}
	long := fmt.Sprintf(" %s · embedded eMule model · policy %s · %s", stTitle.Render("shutdowntest"), policy, addr)
	short := fmt.Sprintf(" %s · %s · %s", stTitle.Render("shutdowntest"), policy, addr)
	if m.isExternal() {
		long, short = m.externalTitle(m.width - lipgloss.Width(tag+"  "+extra+iter) - 1)
	}
	// The long form when it fits, else the words a narrow screen keeps.
	for _, c := range [][2]string{
		{long, tag + "  " + extra + iter},
		{short, tag + "  " + extra + iter},
		{short, tag + "  " + strings.Split(extra, " · ")[0] + iter},
		{short, tag + iter},
		{" " + strings.TrimPrefix(m.about(), "policy "), tag + iter},
	} {
		if gap := m.width - lipgloss.Width(c[0]) - lipgloss.Width(c[1]); gap >= 1 {
			return c[0] + strings.Repeat(" ", gap) + c[1]
		}
	}
	return tag
}

// phase is the header's phase word and what goes with it.
func (m *Model) phase() (string, string) {
	s := &m.snap
	switch {
	case m.ended && m.err != nil && m.res != nil && len(m.res.Iterations) == 0:
		return "NOT RUN", ""
	case m.ended:
		return "VERDICT " + strings.ToUpper(string(m.report.Verdict)), m.sinceTrigger(m.lastAt())
	case !m.haveSnap || s.Phase == load.PhaseStarting:
		return "STARTING", ""
	case s.Phase == load.PhaseHolding:
		n := len(s.Clients)
		return "HOLDING", fmt.Sprintf("%d/%d ready · up %.1fs", n-min(s.NotReady, n), n, s.Server.At.Seconds())
	case s.Phase == load.PhaseDraining:
		return "SHUTTING DOWN", m.sinceTrigger(s.Server.At)
	}
	return "DRAINED", m.sinceTrigger(s.Server.At)
}

func (m *Model) phaseStyle() lipgloss.Style {
	switch {
	case m.ended && m.report.Verdict == reports.VerdictPass && m.err == nil:
		return stGood
	case m.ended:
		return stBad
	case m.haveSnap && m.snap.Trigger > 0:
		return stWarn
	}
	return stInfo
}

// lastAt is the last instant the view knows of (at the end, the end of
// observation: see finish).
func (m *Model) lastAt() time.Duration { return m.snap.Server.At }

func (m *Model) lastIteration() *load.Iteration {
	if m.res == nil || len(m.res.Iterations) == 0 {
		return nil
	}
	return &m.res.Iterations[len(m.res.Iterations)-1]
}

func (m *Model) trigger() time.Duration { return m.snap.Trigger }

func (m *Model) sinceTrigger(at time.Duration) string {
	if m.trigger() == 0 {
		return ""
	}
	return fmt.Sprintf("t+%.3fs", (at - m.trigger()).Seconds())
}

// rel is a time relative to the trigger, or since the server started
// before there was one.
func (m *Model) rel(at time.Duration) string {
	if t := m.trigger(); t > 0 {
		return fmt.Sprintf("t%+.3fs", (at - t).Seconds())
	}
	return fmt.Sprintf("%.3fs", at.Seconds())
}

// terminateLines answer the tool's main question in words.
func (m *Model) terminateLines() []string {
	t := m.tally.term
	var state string
	switch {
	case t.closed:
		state = stBadBold.Render("CLOSED") + " at " + m.rel(t.closedAt)
		if !t.unsafe {
			state = stGoodBold.Render("CLOSED") + " at " + m.rel(t.closedAt)
		}
	case t.kept:
		state = stWarn.Bold(true).Render("KEPT OPEN") + " (signalled at " + m.rel(t.signaledAt) + ")"
	case t.signaled:
		state = stWarn.Bold(true).Render("SIGNALLED") + " at " + m.rel(t.signaledAt)
	case m.haveSnap:
		state = stInfo.Bold(true).Render("OPEN") + " (not signalled)"
	default:
		state = "not created yet"
	}
	lines := []string{
		fmt.Sprintf("handle %#x  %s", t.handle, state),
		fmt.Sprintf("blocked waiters %d · alive client threads %d", t.waiters, t.alive),
	}
	switch {
	case t.closed && t.aliveAtClose > 0:
		lines = append(lines, stBad.Render(fmt.Sprintf("✗ closed while %d client threads were alive", t.aliveAtClose)))
	case t.closed && t.exact && t.unjoined > 0:
		lines = append(lines, stBad.Render(fmt.Sprintf("✗ closed with %d client threads not joined", t.unjoined)))
	case t.closed && t.exact:
		lines = append(lines, stGood.Render("✓ outlived its waiters"))
	case t.closed:
		lines = append(lines, "closed after the client threads it saw exited; the record will say")
	case t.kept:
		lines = append(lines, stWarn.Render(fmt.Sprintf("kept open: %d client threads never exited", t.alive)))
	default:
		lines = append(lines, stDim.Render("not closed yet"))
	}
	switch {
	case t.waitsAfterClose > 0:
		lines = append(lines, stBad.Render(fmt.Sprintf("✗ %d waits on it after close", t.waitsAfterClose)))
	case t.closed:
		lines = append(lines, stGood.Render("✓ no wait on it after close"))
	default:
		lines = append(lines, "")
	}
	return lines
}

// drainLines are the drain's progress, or before the trigger how to
// start it, and the steady traffic's line; inner is the width they have.
func (m *Model) drainLines(inner int) []string {
	lines := m.drainProgress(inner)
	if l := m.rateLine(); l != "" {
		lines = append(lines, l)
	}
	return lines
}

// drainProgress is drainLines without the traffic.
func (m *Model) drainProgress(inner int) []string {
	s := &m.snap
	if !m.ended && (!m.haveSnap || s.Trigger == 0) {
		first := "press s to shut down"
		switch {
		case m.quitting || (m.triggeredFor >= m.iteration() && !m.ready()):
			first = "shutdown queued until every client is ready"
		case m.cfg.ShutdownAfter > 0 && s.ReadyAt > 0:
			left := m.cfg.ShutdownAfter - (s.Server.At - s.ReadyAt)
			first = fmt.Sprintf("shutdown in %.1fs (or press s)", max(left, 0).Seconds())
		}
		n := len(s.Clients)
		budget := fmt.Sprintf("drain budget %s · in-flight held %s after it", ms(m.cfg.DrainTimeout), ms(m.cfg.InflightFor))
		keys := "+/- add or remove a client like the selected row"
		if m.isExternal() {
			budget = fmt.Sprintf("drain budget %s · the process must exit within it", ms(m.cfg.DrainTimeout))
			keys = "r launches the server again"
		}
		return []string{stTitle.Render(first), budget, fmt.Sprintf("clients %d · ready %d/%d", n, n-min(s.NotReady, n), n), stDim.Render(keys)}
	}
	if m.isExternal() {
		return m.externalDrainLines(inner)
	}
	exited, total := m.tally.exited, m.tally.total
	frac := 0.0
	if total > 0 {
		frac = float64(exited) / float64(total)
	}
	used := m.lastAt() - m.trigger()
	threads := fmt.Sprintf("clients' threads exited %d/%d ", exited, total)
	pct := fmt.Sprintf(" %3.0f%%", frac*100)
	m.bar.Width = max(inner-lipgloss.Width(threads)-len(pct), 4)
	lines := []string{threads + m.bar.ViewAs(frac) + pct}
	if m.cfg.Policy == target.PolicyLegacy {
		// Legacy joins no client thread: there is no budget to show.
		lines = append(lines, fmt.Sprintf("time t+%.3fs (legacy joins no client thread)", used.Seconds()))
	} else {
		budget := m.cfg.DrainTimeout
		t := fmt.Sprintf("time t+%.3fs of %s ", used.Seconds(), ms(budget))
		m.timeBar.Width = max(inner-lipgloss.Width(t), 4)
		lines = append(lines, t+m.timeBar.ViewAs(min(float64(used)/float64(budget), 1)))
	}
	return append(lines, m.stepsLine(), m.tally.ended)
}

func (m *Model) stepsLine() string {
	var joined []string
	for _, st := range m.snap.Server.Steps {
		if st.Name == target.StepJoinListener || st.Name == target.StepJoinClients {
			w := strings.TrimPrefix(string(st.Name), "join-") + " " + m.rel(st.End)
			if st.Outcome != target.StepOK {
				w = stBad.Render(fmt.Sprintf("%s %s", st.Name, st.Outcome))
			}
			joined = append(joined, w)
		}
	}
	line := stDim.Render("listener not joined yet")
	if len(joined) > 0 {
		line = "joined " + strings.Join(joined, ", ")
	}
	if m.tally.allExited {
		line += " · last exit " + m.rel(m.tally.lastExit)
	}
	return line
}

// top is the terminate (for an external target, the process and server)
// and drain panels: side by side when wide, one compact block when not.
func (m *Model) top() []string {
	if m.width >= wide {
		if m.isExternal() {
			return m.externalTop()
		}
		lw := max(48, m.width*40/100)
		rw := m.width - lw
		left := panel(stTitle.Render("terminate signal"), m.terminateLines(), lw)
		right := panel(stTitle.Render("drain"), m.drainLines(rw-4), rw)
		return strings.Split(lipgloss.JoinHorizontal(lipgloss.Top, left, right), "\n")
	}
	d := m.drainLines(m.width - 2)
	if m.isExternal() {
		p := m.processLines()
		second := " " + p[2]
		if s := m.serverCompact(m.width); s != "" {
			second = s
		}
		return []string{" " + p[0] + " · " + p[1], second, " " + d[0]}
	}
	t := m.terminateLines()
	tv := m.tally.term
	return []string{
		fmt.Sprintf(" terminate %s · waiters %d · alive %d", strings.TrimPrefix(t[0], "handle "), tv.waiters, tv.alive),
		" " + t[2] + "  " + t[3],
		" " + d[0],
	}
}

// rule is a horizontal line with a title, as wide as w.
func rule(title, note string, w int) string {
	s := "─ " + title + " "
	if note != "" {
		s += note + " "
	}
	return s + strings.Repeat("─", max(w-lipgloss.Width(s), 0))
}

// checks are the run's: one iteration's own, with their own details, or
// the aggregate over several, exactly as the report has them.
func (m *Model) checks() []reports.Check {
	return m.report.SummaryChecks()
}

// checksForm is how much of the checks a screen has room for.
type checksForm int

const (
	// checksWrapped: every check on a line, a failure's detail wrapped
	// (it is the evidence).
	checksWrapped checksForm = iota
	// checksCompact: failures with their whole detail under them, the
	// passes and skips named on one line each.
	checksCompact
	// checksPlain: every check on one line, cut at the edge.
	checksPlain
)

func (m *Model) anyFailed() bool {
	for _, c := range m.checks() {
		if c.Status == reports.StatusFail {
			return true
		}
	}
	return false
}

func (m *Model) checksPanel(form checksForm) []string {
	var lines []string
	title := "checks: " + strings.ToUpper(string(m.report.Verdict))
	if m.res != nil && m.res.Interrupted {
		title += " (interrupted: no sign-off)"
	}
	if m.err != nil {
		lines = append(lines, stBad.Render("COULD NOT RUN: "+m.err.Error()))
	}
	idw := 0
	checks := m.checks()
	for _, c := range checks {
		idw = max(idw, len(c.ID))
	}
	inner := m.width - 1
	if m.width >= wide {
		inner = m.width - 4
	}
	// wrap breaks a detail to fit beside an indent of that width; the
	// caller puts the first line after its own head.
	wrap := func(s string, indent int) []string {
		if inner-indent < 20 {
			return []string{s}
		}
		out := strings.Split(ansi.Wordwrap(s, inner-indent, " ,;"), "\n")
		if len(out) > 3 {
			out = append(out[:2], strings.Join(out[2:], " "))
		}
		for i := 1; i < len(out); i++ {
			out[i] = strings.Repeat(" ", indent) + out[i]
		}
		return out
	}
	// Skips say what was not observed, which the report keeps; when there
	// are several they fold into one line in every form, so the failures'
	// evidence and the events keep the room.
	skips := 0
	for _, c := range checks {
		if c.Status == reports.StatusSkip {
			skips++
		}
	}
	others := map[reports.Status][]string{}
	for _, c := range checks {
		word := stGoodBold.Render("PASS")
		switch c.Status {
		case reports.StatusFail:
			word = stBadBold.Render("FAIL")
		case reports.StatusSkip:
			word = stDim.Render("SKIP")
		}
		switch {
		case c.Status == reports.StatusSkip && skips > 2:
			others[c.Status] = append(others[c.Status], c.ID)
		case form == checksCompact && c.Status != reports.StatusFail:
			others[c.Status] = append(others[c.Status], c.ID)
		case form == checksCompact:
			d := wrap(c.Detail, 2)
			lines = append(append(lines, word+" "+c.ID, "  "+d[0]), d[1:]...)
		case form == checksWrapped && c.Status == reports.StatusFail:
			head := fmt.Sprintf("%s %-*s  ", word, idw, c.ID)
			d := wrap(c.Detail, lipgloss.Width(head))
			lines = append(append(lines, head+d[0]), d[1:]...)
		default:
			lines = append(lines, fmt.Sprintf("%s %-*s  %s", word, idw, c.ID, c.Detail))
		}
	}
	for _, st := range []struct {
		status reports.Status
		word   string
	}{{reports.StatusPass, stGoodBold.Render("PASS")}, {reports.StatusSkip, stDim.Render("SKIP")}} {
		if ids := others[st.status]; len(ids) > 0 {
			lines = append(lines, fmt.Sprintf("%s %d: %s", st.word, len(ids), strings.Join(ids, ", ")))
		}
	}
	st := stGoodBold
	if m.report.Verdict != reports.VerdictPass || m.err != nil {
		st = stBadBold
	}
	if m.width >= wide {
		return strings.Split(panel(st.Render(title), lines, m.width), "\n")
	}
	out := []string{" " + st.Render(title)}
	for _, l := range lines {
		out = append(out, " "+l)
	}
	return out
}

// panel draws a bordered box of width w with title (styled by the
// caller) in its top border; lines longer than the box are cut.
func panel(title string, lines []string, w int) string {
	inner := w - 4
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, inner, "…")
	}
	box := stPanel.Width(w - 2).Render(strings.Join(lines, "\n"))
	rows := strings.Split(box, "\n")
	tw := lipgloss.Width(title)
	rows[0] = stDim.Render("╭─ ") + title + stDim.Render(" "+strings.Repeat("─", max(w-tw-5, 0))+"╮")
	return strings.Join(rows, "\n")
}

func (m *Model) countsLine() string {
	var parts []string
	for _, c := range m.tally.counts {
		if c.n == 0 && c.state != target.StateExited {
			continue
		}
		word, st := string(c.state), stateStyle(c.state)
		if c.state == "" {
			word, st = "none", stPlain
		}
		parts = append(parts, st.Render(fmt.Sprintf("%s %d", word, c.n)))
	}
	left := " " + strings.Join(parts, " · ")
	switch {
	case !m.isExternal() || m.tally.total > 0: // the state endpoint's threads count as the model's
	case m.tally.server.seen > 0:
		left = m.tally.server.countsWords()
	default:
		left = stDim.Render(" server threads: not observable (external target)")
	}
	f := "all"
	if v := strings.TrimSpace(m.filter.Value()); v != "" {
		f = fmt.Sprintf("%q %d of %d", v, len(m.visible), len(m.rows))
	}
	right := stDim.Render("filter: "+f+"  (/ to change) ") + ""
	gap := m.width - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return left
	}
	return left + strings.Repeat(" ", gap) + right
}

// Column widths of the table.
const (
	colID    = 7
	colKind  = 5
	colRole  = 10
	colState = 9
	colTime  = 9
	colTerm  = 5
	colOut   = 11
)

func (m *Model) tableHeader() string {
	if m.isExternal() {
		return stHeader.Render(externalHeader(m.width >= wide))
	}
	if m.width >= wide {
		return stHeader.Render(fmt.Sprintf("%*s  %-*s%-*s%-*s%*s  %-*s%-*s%s", colID-2, "ID", colKind, "KIND", colRole, "ROLE",
			colState, "THREAD", colTime, "IN STATE", colTerm, "TERM", colOut, "OUTCOME", "CLIENT"))
	}
	return stHeader.Render(fmt.Sprintf("%*s  %-*s%-*s%-*s%-*s%s", colID-2, "ID", colKind, "KIND", colRole, "ROLE",
		colState+2, "THREAD", colOut, "OUTCOME", "CLIENT"))
}

// tableRows renders the n rows from the scroll offset; only these are
// formatted, whatever the number of clients.
func (m *Model) tableRows(n int) []string {
	out := make([]string, 0, n)
	for i := m.offset; i < len(m.visible) && len(out) < n; i++ {
		r := &m.rows[m.visible[i]]
		out = append(out, m.rowLine(r, i == m.cursor))
	}
	for len(out) < n {
		out = append(out, "")
	}
	if len(m.rows) == 0 && n > 0 {
		out[0] = stDim.Render("  no clients yet")
	} else if len(m.visible) == 0 && n > 0 {
		out[0] = stDim.Render("  no client matches the filter")
	}
	return out
}

func (m *Model) rowLine(r *row, selected bool) string {
	state := string(r.state)
	if state == "" {
		state = "—"
	}
	term := ""
	if r.onTerm {
		term = "●"
	}
	inState := ""
	if r.thread != 0 {
		inState = fmt.Sprintf("%.3fs", r.inState.Seconds())
	}
	outcome := outcomeWord(r.outcome)
	if r.failed {
		// The mark says it where the colour is not drawn (NO_COLOR).
		outcome = "✗ " + outcome
	}
	var s string
	switch {
	case m.isExternal():
		s = externalRowLine(r, outcome, m.width >= wide)
	case m.width >= wide:
		s = fmt.Sprintf("%*d  %-*s%-*s%-*s%*s  %-*s%-*s%s", colID-2, r.id, colKind, kindWords[r.kind], colRole, roleWord(r.role),
			colState, state, colTime, inState, colTerm, "  "+term, colOut, outcome, r.client)
	default:
		s = fmt.Sprintf("%*d  %-*s%-*s%-*s%-*s%s", colID-2, r.id, colKind, kindWords[r.kind], colRole, roleWord(r.role),
			colState+2, state+" "+term, colOut, outcome, r.client)
	}
	s = ansi.Truncate(s, m.width, "…")
	if selected {
		// The marker says it where reverse video is not drawn (NO_COLOR).
		s = "›" + strings.TrimPrefix(s, " ")
		return stSelected.Render(s + strings.Repeat(" ", max(m.width-lipgloss.Width(s), 0)))
	}
	st := stateStyle(r.state)
	if m.isExternal() && r.thread == 0 {
		st = sockStyle(r.server.Socket)
	}
	if r.failed {
		st = stBad
	}
	return st.Render(s)
}

func (m *Model) eventsTitle() string {
	if m.trigger() > 0 {
		return "(times from the trigger)"
	}
	return "(times from the server's start)"
}

func (m *Model) eventLines(n int) []string {
	ev := m.log.events
	if len(ev) > n {
		ev = ev[len(ev)-n:]
	}
	out := make([]string, 0, n)
	for _, e := range ev {
		s := fmt.Sprintf(" %9s  %s", m.rel(e.at), e.text)
		switch {
		case e.bad:
			s = stBad.Render(s)
		case e.good:
			s = stGood.Render(s)
		}
		out = append(out, s)
	}
	for len(out) < n {
		out = append(out, "")
	}
	return out
}

func (m *Model) footer() string {
	switch m.mode {
	case modeFilter:
		return " " + m.filter.View() + stDim.Render("  enter keep · esc clear")
	case modePolicy, modeFault:
		var opts []string
		for i, w := range pickOptions(m.mode) {
			if i == m.pick {
				w = stSelected.Render(" " + w + " ")
			} else {
				w = " " + w + " "
			}
			opts = append(opts, w)
		}
		what := " policy: "
		if m.mode == modeFault {
			what = " fault: "
		}
		return what + strings.Join(opts, " ") + stDim.Render("  ←→ choose · enter start again · esc cancel")
	}
	if m.notice != "" && !m.fullHelp {
		return " " + stWarn.Render(m.notice)
	}
	return " " + strings.ReplaceAll(m.help.View(m.keys), "\n", "\n ")
}
