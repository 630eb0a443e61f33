package tui

import "fmt"

// rateLine is the steady traffic's line of the drain panel (--rate): what
// was sent and how it was answered so far, and the disruption window; ""
// without the traffic.
func (m *Model) rateLine() string {
	t := m.snap.Rate
	if t == nil {
		return ""
	}
	line := fmt.Sprintf("traffic %d sent · %d ok · %d not ok · %d not sent (cap)", t.Sent, t.OK, t.NotOK, t.NotSent)
	if w := t.Window; w.Seen {
		line += fmt.Sprintf(" · window %s–%s", m.rel(w.First), m.rel(w.Last))
		if t.NotOK > 0 {
			line = stBad.Render(line)
		}
	}
	if t.Stopped != "" {
		line += stDim.Render(" · stopped")
	}
	return line
}
