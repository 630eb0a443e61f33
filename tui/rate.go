package tui

import "fmt"

// rateLine is the steady traffic's line of the drain panel (--rate): what
// was sent and how it was answered so far, how many the cap kept from
// going out, and the disruption window; "" without the traffic.
func (m *Model) rateLine() string {
	t := m.snap.Rate
	if t == nil {
		return ""
	}
	line := fmt.Sprintf("rate %d: %d ok, %d not ok, %d capped", t.Sent, t.OK, t.NotOK, t.NotSent)
	if w := t.Window; w.Seen {
		line = stBad.Render(line + fmt.Sprintf("; window %s–%s", m.rel(w.First), m.rel(w.Last)))
	}
	return line
}
