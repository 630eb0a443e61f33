package reports

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"shutdowntest/load"
)

// idWidth aligns the check lines: the longest check ID.
var idWidth = func() int {
	w := 0
	for _, cr := range criteria {
		w = max(w, len(cr.id))
	}
	return w
}()

// WriteText writes the human summary: a header, one line per check, the
// terminate signal's story in one line, the drain figures, the verdict,
// and last the command that runs it again (the line a reader copies). With
// a single iteration it shows that iteration's own check details (the
// aggregate would only wrap them in "passed in 1 of 1"); with several, the
// aggregates. Plain text, no colours: it is also what lands in CI logs.
func (r Report) WriteText(w io.Writer) {
	fmt.Fprintln(w, r.header())
	checks := r.SummaryChecks()
	width := idWidth
	for _, c := range checks {
		width = max(width, len(c.ID))
	}
	for _, c := range checks {
		fmt.Fprintf(w, "%-4s %-*s  %s\n", strings.ToUpper(string(c.Status)), width, c.ID, c.Detail)
	}
	if n := len(r.Iterations); n > 1 {
		var failed []string
		for _, it := range r.Iterations {
			if it.Verdict != VerdictPass {
				failed = append(failed, fmt.Sprint(it.N))
			}
		}
		line := fmt.Sprintf("iterations: %d ran, %d failed", n, len(failed))
		if len(failed) > 0 {
			line += " (" + capJoin(failed, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, r.terminateLine())
	for _, l := range r.drainLines() {
		fmt.Fprintln(w, l)
	}
	if it, _, ok := r.storyIteration(); ok {
		if it.OS != nil {
			fmt.Fprintln(w, osLine(it.OS))
		}
		for _, l := range rateLines(it) {
			fmt.Fprintln(w, l)
		}
		for _, l := range outputLines(it) {
			fmt.Fprintln(w, l)
		}
	}
	for _, l := range r.soakLines() {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w, r.verdictLine())
	for _, l := range r.reproduceLines() {
		fmt.Fprintln(w, l)
	}
}

func (r Report) header() string {
	return fmt.Sprintf("shutdowntest: %s, %s, %s", r.targetLine(), r.clientsLine(), r.iterationsRun())
}

// iterationsRun is how many iterations ran, of how many asked for, or of
// how long a soak: "3 of 10 iterations", "420 iterations of a 5m0s soak".
func (r Report) iterationsRun() string {
	s := plural(len(r.Iterations), "iteration", "iterations")
	if r.Config.Iterations > 0 && r.Config.Iterations != len(r.Iterations) {
		s = fmt.Sprintf("%d of %d iterations", len(r.Iterations), r.Config.Iterations)
	}
	if r.Config.ForMS > 0 {
		s += " of a " + time.Duration(r.Config.ForMS*float64(time.Millisecond)).String() + " soak"
	}
	return s
}

// SummaryChecks are the checks a summary lists: with one iteration its own
// (the aggregate would only wrap them in "passed in 1 of 1") followed by
// the checks of the run as a whole; with several, the run's.
func (r Report) SummaryChecks() []Check {
	if len(r.Iterations) != 1 {
		return r.Checks
	}
	return append(append([]Check(nil), r.Iterations[0].Checks...), r.runChecks()...)
}

// clientsLine is the client mix in the header's words:
// "6 clients (http 1+1, rest 1+1, ws 1, tcp 1)", idle+in-flight per kind.
func (r Report) clientsLine() string {
	m := r.Config.Clients
	hostile := 0
	for _, n := range m.Hostile {
		hostile += n
	}
	total := m.HTTPIdle + m.HTTPInflight + m.RESTIdle + m.RESTInflight + m.WS + m.Silent + hostile
	s := fmt.Sprintf("%s (http %d+%d, rest %d+%d, ws %d, tcp %d", plural(total, "client", "clients"),
		m.HTTPIdle, m.HTTPInflight, m.RESTIdle, m.RESTInflight, m.WS, m.Silent)
	if hostile > 0 {
		s += fmt.Sprintf(", hostile %d", hostile)
	}
	return s + ")"
}

// storyIteration is the iteration whose story the summaries tell: the
// first that did not pass (where a reader starts looking), else the last
// (the state the run ended in). which says which of the two it is; ok is
// false when no iteration was recorded.
func (r Report) storyIteration() (it Iteration, which string, ok bool) {
	if len(r.Iterations) == 0 {
		return Iteration{}, "", false
	}
	for _, it := range r.Iterations {
		if it.Verdict != VerdictPass {
			return it, "first failing", true
		}
	}
	return r.Iterations[len(r.Iterations)-1], "last", true
}

// terminateLine tells the terminate handle's story for the iteration that
// matters: the first failing one, else the last.
func (r Report) terminateLine() string {
	it, which, ok := r.storyIteration()
	if !ok {
		return "terminate: no iteration was recorded"
	}
	label, story := "terminate", terminateStory
	if r.external() {
		label, story = "server", serverStory
	}
	if len(r.Iterations) > 1 {
		label = fmt.Sprintf("%s (iteration %d, %s)", label, it.N, which)
	}
	return label + ": " + story(it)
}

// terminateStory is one iteration's terminate handle in one line: when it
// was signalled, whether and when it was closed and who was still alive,
// and how many waits named it after the close.
func terminateStory(it Iteration) string {
	t := it.Terminate
	var parts []string
	if t.SignaledMS != nil {
		parts = append(parts, fmt.Sprintf("handle 0x%x signalled %s", t.Handle, tms(*t.SignaledMS)))
	} else {
		parts = append(parts, fmt.Sprintf("handle 0x%x never signalled", t.Handle))
	}
	switch {
	case t.ClosedMS != nil:
		parts = append(parts, "closed "+tms(*t.ClosedMS),
			plural(t.LiveThreadsAtClose, "client thread", "client threads")+" alive")
		if t.UnjoinedAtClose > 0 {
			parts = append(parts, fmt.Sprintf("%d not joined", t.UnjoinedAtClose))
		}
	case t.KeptOpen:
		s := "kept open, " + plural(len(it.Shutdown.Stragglers), "client thread", "client threads") + " alive at return"
		if len(it.Shutdown.Stragglers) > 0 {
			s += " (" + joinInts(it.Shutdown.Stragglers) + ")"
		}
		parts = append(parts, s)
	case it.Shutdown.ReturnedMS == nil:
		parts = append(parts, "not closed (shutdown did not return)")
	default:
		parts = append(parts, "not closed")
	}
	parts = append(parts, plural(t.WaitsAfterClose, "wait", "waits")+" after close")
	return strings.Join(parts, ", ")
}

// drainLines are the drain figures: with one iteration its four
// milestones on one line; with several, one line per milestone with its
// spread, because a sign-off asks how slow shutdown can get, not how slow
// it was once.
func (r Report) drainLines() []string {
	switch len(r.Iterations) {
	case 0:
		return nil // the terminate line already says nothing was recorded
	case 1:
		return []string{"drain: " + drainStory(r.Iterations[0])}
	}
	n := len(r.Iterations)
	width := 0
	for _, m := range r.drainMilestones() {
		width = max(width, len(m.label))
	}
	var lines []string
	for _, m := range r.drainMilestones() {
		lines = append(lines, fmt.Sprintf("drain (n=%d): %-*s  %s", n, width, m.label, m.spread()))
	}
	return lines
}

// milestone is one drain figure over the iterations, with what to say
// when no iteration reached it.
type milestone struct {
	label string
	stats Stats
	// none is said instead of the figures when nothing was there to
	// reach it (no in-flight client was configured).
	none string
}

func (r Report) drainMilestones() []milestone {
	d := r.Drain
	inflight := milestone{label: "last in-flight response", stats: d.LastInflight}
	if m := r.Config.Clients; m.HTTPInflight+m.RESTInflight == 0 {
		inflight.none = "no in-flight clients"
	}
	if r.external() {
		return []milestone{
			{label: "listener closed", stats: d.ListenerClosed},
			inflight,
			{label: "last server socket closed", stats: d.LastSocketClosed},
			{label: "last client thread exited", stats: d.LastThreadExit},
			{label: "process exit", stats: d.ProcessExit},
		}
	}
	return []milestone{
		{label: "listener closed", stats: d.ListenerClosed},
		inflight,
		{label: "last client thread exited", stats: d.LastThreadExit},
		{label: "terminate closed", stats: d.TerminateClosed},
	}
}

// spread renders "min 1 · median 1.5 · p95 3 · max 3.1 ms", noting the
// iterations that never got there.
func (m milestone) spread() string {
	s := m.stats
	if s.N == 0 || s.MinMS == nil {
		if m.none != "" {
			return m.none
		}
		return fmt.Sprintf("never (%s)", plural(s.Missing, "iteration", "iterations"))
	}
	out := fmt.Sprintf("min %s · median %s · p95 %s · max %s ms",
		msNum(*s.MinMS), msNum(*s.MedianMS), msNum(*s.P95MS), msNum(*s.MaxMS))
	if s.Missing > 0 {
		out += fmt.Sprintf(", never in %d of %d", s.Missing, s.N+s.Missing)
	}
	return out
}

// drainStory is one iteration's drain milestones in one line. A missing
// figure is said in words: the listener never closed, a client thread
// never exited (so the drain never finished), terminate kept open.
func drainStory(it Iteration) string {
	if it.Target.Kind == targetExternal {
		return externalDrainStory(it)
	}
	d := it.Drain
	var parts []string
	if d.ListenerClosedMS != nil {
		parts = append(parts, "listener closed "+tms(*d.ListenerClosedMS))
	} else {
		parts = append(parts, "listener never closed")
	}
	switch {
	case d.LastInflightMS != nil:
		parts = append(parts, "last in-flight response "+tms(*d.LastInflightMS))
	case hasRole(it, load.RoleInflight):
		parts = append(parts, "no in-flight response completed")
	default:
		parts = append(parts, "no in-flight clients")
	}
	if d.LastThreadExitMS != nil {
		parts = append(parts, "last client thread exited "+tms(*d.LastThreadExitMS))
	} else {
		parts = append(parts, "a client thread never exited")
	}
	switch {
	case d.TerminateClosedMS != nil:
		parts = append(parts, "terminate closed "+tms(*d.TerminateClosedMS))
	case d.TerminateKeptOpen:
		parts = append(parts, "terminate kept open")
	default:
		parts = append(parts, "terminate never closed")
	}
	return strings.Join(parts, ", ")
}

func hasRole(it Iteration, role load.Role) bool {
	for _, c := range it.Clients {
		if c.Role == string(role) {
			return true
		}
	}
	return false
}

func (r Report) verdictLine() string {
	var s string
	switch {
	case r.Error != nil:
		s = "verdict: ERROR (could not be carried out: " + r.Error.Message + ")"
	case len(r.Iterations) == 0:
		s = fmt.Sprintf("verdict: %s (no iteration was recorded)", strings.ToUpper(string(r.Verdict)))
	default:
		failed, skipped := r.counts()
		s = fmt.Sprintf("verdict: %s (%s, %d failed", strings.ToUpper(string(r.Verdict)), plural(len(r.Checks), "check", "checks"), failed)
		if skipped > 0 {
			s += fmt.Sprintf(", %d skipped", skipped)
		}
		s += ")"
	}
	s += fmt.Sprintf(" in %.2fs", r.WallMS/1000)
	if r.Interrupted {
		s += "; INTERRUPTED " + r.interruptedAfter() + ": not a sign-off"
	}
	return s
}

// counts is how many aggregated checks failed and how many were skipped.
func (r Report) counts() (failed, skipped int) {
	for _, c := range r.Checks {
		switch c.Status {
		case StatusFail:
			failed++
		case StatusSkip:
			skipped++
		}
	}
	return failed, skipped
}

func (r Report) interruptedAfter() string {
	if r.Config.Iterations == 0 {
		return "after " + r.iterationsRun()
	}
	return fmt.Sprintf("after %d of %d iterations", len(r.Iterations), r.Config.Iterations)
}

// reproduceLines say how to run this again; nothing when the caller did
// not record a command (Build cannot know how the tool was invoked).
func (r Report) reproduceLines() []string {
	var lines []string
	if c := r.Reproduce.Command; c != "" {
		lines = append(lines, "reproduce: "+c)
	}
	if c := r.Reproduce.FirstFailing; c != "" {
		lines = append(lines, "first failing iteration alone: "+c)
	}
	return lines
}

// tms formats a report time (ms relative to the trigger) as t+0.305s.
func tms(v float64) string {
	s := math.Round(v) / 1000
	if s == 0 {
		s = 0 // no "t-0.000s"
	}
	return fmt.Sprintf("t%+.3fs", s)
}

// msNum formats report milliseconds as briefly as they are exact: the
// report already rounds to the microsecond, so "310", "0.133".
func msNum(v float64) string {
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
