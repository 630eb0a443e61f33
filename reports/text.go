package reports

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// idWidth aligns the check lines: the longest check ID.
var idWidth = func() int {
	w := 0
	for _, id := range checkIDs {
		w = max(w, len(id))
	}
	return w
}()

// WriteText writes the human summary: a header, one line per check, the
// terminate signal's story in one line, and the verdict. With a single
// iteration it shows that iteration's own check details (the aggregate
// would only wrap them in "passed in 1 of 1"); with several, the
// aggregates. Plain text, no colours: it is also what lands in CI logs.
func (r Report) WriteText(w io.Writer) {
	fmt.Fprintln(w, r.header())
	checks := r.Checks
	if len(r.Iterations) == 1 {
		checks = r.Iterations[0].Checks
	}
	width := idWidth
	for _, c := range checks {
		width = max(width, len(c.ID))
	}
	for _, c := range checks {
		fmt.Fprintf(w, "%-4s %-*s  %s\n", strings.ToUpper(c.Status), width, c.ID, c.Detail)
	}
	if n := len(r.Iterations); n > 1 {
		var failed []string
		for _, it := range r.Iterations {
			if it.Verdict == StatusFail {
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
	fmt.Fprintln(w, r.verdictLine())
}

func (r Report) header() string {
	m := r.Config.Clients
	total := m.HTTPIdle + m.HTTPInflight + m.RESTIdle + m.RESTInflight + m.WS + m.Silent
	iters := plural(len(r.Iterations), "iteration", "iterations")
	if r.Config.Iterations > 0 && r.Config.Iterations != len(r.Iterations) {
		iters = fmt.Sprintf("%d of %d iterations", len(r.Iterations), r.Config.Iterations)
	}
	return fmt.Sprintf("shutdowntest: policy %s, %s (http %d+%d, rest %d+%d, ws %d, tcp %d), %s",
		r.Config.Policy, plural(total, "client", "clients"), m.HTTPIdle, m.HTTPInflight,
		m.RESTIdle, m.RESTInflight, m.WS, m.Silent, iters)
}

// terminateLine tells the terminate handle's story for the iteration that
// matters: the first failing one, else the last.
func (r Report) terminateLine() string {
	if len(r.Iterations) == 0 {
		return "terminate: no iteration was recorded"
	}
	idx, which := len(r.Iterations)-1, "last"
	for i, it := range r.Iterations {
		if it.Verdict == StatusFail {
			idx, which = i, "first failing"
			break
		}
	}
	it := r.Iterations[idx]
	label := "terminate"
	if len(r.Iterations) > 1 {
		label = fmt.Sprintf("terminate (iteration %d, %s)", it.N, which)
	}
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
	return label + ": " + strings.Join(parts, ", ")
}

func (r Report) verdictLine() string {
	var s string
	if len(r.Iterations) == 0 {
		s = fmt.Sprintf("verdict: %s (no iteration was recorded)", strings.ToUpper(r.Verdict))
	} else {
		failed, skipped := 0, 0
		for _, c := range r.Checks {
			switch c.Status {
			case StatusFail:
				failed++
			case StatusSkip:
				skipped++
			}
		}
		s = fmt.Sprintf("verdict: %s (%s, %d failed", strings.ToUpper(r.Verdict), plural(len(r.Checks), "check", "checks"), failed)
		if skipped > 0 {
			s += fmt.Sprintf(", %d skipped", skipped)
		}
		s += ")"
	}
	s += fmt.Sprintf(" in %.2fs", r.WallMS/1000)
	if r.Interrupted {
		s += fmt.Sprintf("; INTERRUPTED after %d of %d iterations: not a sign-off", len(r.Iterations), r.Config.Iterations)
	}
	return s
}

// tms formats a report time (ms relative to the trigger) as t+0.305s.
func tms(v float64) string {
	s := math.Round(v) / 1000
	if s == 0 {
		s = 0 // no "t-0.000s"
	}
	return fmt.Sprintf("t%+.3fs", s)
}
