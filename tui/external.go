package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"shutdowntest/load"
)

// An external target (issue 11) is drawn with what the tool can know of
// it: the URL, the command and its process, the clients' own account,
// and what the OS samples and a state endpoint show of its inside (see
// server_panel.go). Its handles and terminate signal are in another
// process, and the keys that steer the embedded model (p, +, -) say why
// they do nothing.

func (m *Model) isExternal() bool { return m.cfg.External != nil }

// externalRecord is the process's story so far: the record's once the
// run has one, else the last snapshot's.
func (m *Model) externalRecord() *load.ExternalRecord {
	if it := m.lastIteration(); it != nil && it.External != nil {
		return it.External
	}
	return m.snap.External
}

// externalTitle is the header's left part: the URL and the command as
// run (the port filled in) once known, else as given; the command is cut
// to room, the width left beside the phase.
func (m *Model) externalTitle(room int) (long, short string) {
	url, command := m.cfg.External.URL, m.cfg.External.Command
	if x := m.externalRecord(); x != nil && x.URL != "" {
		url, command = x.URL, x.Command
	}
	long = " " + stTitle.Render("shutdowntest") + " · external target " + url
	if len(command) > 0 && room-lipgloss.Width(long) > 10 {
		long = ansi.Truncate(long+" · "+strings.Join(command, " "), room, "…")
	}
	// The short form drops the tool's name, not the words that say what
	// is under test.
	return long, " external target " + url
}

// processLines are the left panel of an external target: the trigger and
// what the server's process did.
func (m *Model) processLines() []string {
	x := m.externalRecord()
	cfg := m.cfg.External
	lines := []string{"trigger " + cfg.Trigger.String()}
	switch {
	case x == nil || x.PID == 0 && !x.Launched:
		lines = append(lines, stDim.Render("no process watched"))
	case x.Exit.Killed:
		lines = append(lines, stBadBold.Render("KILLED")+fmt.Sprintf(" process %d at %s (%s)", x.PID, m.rel(x.Exit.At), x.Exit.Detail))
	case x.Exit.Exited:
		st := stGoodBold
		if !x.Exit.StatusKnown || x.Exit.Status != x.ExpectExit {
			st = stWarn.Bold(true)
		}
		lines = append(lines, st.Render("EXITED")+fmt.Sprintf(" process %d at %s (%s)", x.PID, m.rel(x.Exit.At), x.Exit.Detail))
	default:
		lines = append(lines, stInfo.Bold(true).Render("RUNNING")+fmt.Sprintf(" process %d", x.PID))
	}
	if x != nil && x.TriggerDetail != "" {
		lines = append(lines, stDim.Render(x.TriggerDetail))
	}
	if x != nil && x.Port.Checked {
		lines = append(lines, "port: "+x.Port.Detail)
	}
	for len(lines) < panelLines {
		lines = append(lines, "")
	}
	return lines[:panelLines]
}

// externalDrainLines are the drain panel's lines after the trigger: the
// clients that have ended, the time against the drain budget, and the
// process.
func (m *Model) externalDrainLines(inner int) []string {
	done, total := 0, len(m.rows)
	for i := range m.rows {
		if m.rows[i].outcome != load.OutcomePending {
			done++
		}
	}
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	head := fmt.Sprintf("clients ended %d/%d ", done, total)
	pct := fmt.Sprintf(" %3.0f%%", frac*100)
	m.bar.Width = max(inner-len(head)-len(pct), 4)
	used, budget := m.lastAt()-m.trigger(), m.cfg.DrainTimeout
	t := fmt.Sprintf("time t+%.3fs of %s ", used.Seconds(), ms(budget))
	m.timeBar.Width = max(inner-len(t), 4)
	return []string{head + m.bar.ViewAs(frac) + pct, t + m.timeBar.ViewAs(min(float64(used)/float64(budget), 1)),
		"the process must exit by then", m.tally.ended}
}

// externalKey answers p, + and - for an external target: they steer the
// embedded model, so they are disabled, and pressing one says why. ok is
// false for any other key.
func (m Model) externalKey(msg tea.KeyMsg) (Model, bool) {
	if !m.isExternal() {
		return m, false
	}
	switch {
	case pressed(msg, m.keys.Policy):
		m.notice = "p: an external target has no policy (it is the server's own); r launches it again"
	case pressed(msg, m.keys.Fault):
		m.notice = "f: faults are injected into the embedded model only"
	case pressed(msg, m.keys.More), pressed(msg, m.keys.Fewer):
		m.notice = "+/-: an external target's clients are fixed for the run; r runs again"
	default:
		return m, false
	}
	return m, true
}

// pressed is key.Matches for a binding that may be disabled.
func pressed(msg tea.KeyMsg, b key.Binding) bool {
	for _, k := range b.Keys() {
		if msg.String() == k {
			return true
		}
	}
	return false
}
