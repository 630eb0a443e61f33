package tui

import (
	"fmt"
	"strings"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
)

// tally is what the panels show that has to be counted over every
// thread or client. It is derived once per snapshot (or at the result),
// so a frame's cost does not grow with the number of clients.
type tally struct {
	counts []stateCount // rows by server thread state
	// exited of total: the threads that served a client in view.
	exited, total int
	// allExited: every client thread has exited, the last at lastExit.
	allExited bool
	lastExit  time.Duration
	ended     string // how many clients of each role have ended
	term      terminateView
}

func (m *Model) derive() tally {
	t := tally{counts: countStates(m.rows), term: m.deriveTerminate()}
	type acc struct{ n, done int }
	byRole := map[string]*acc{}
	var order []string
	for i := range m.rows {
		r := &m.rows[i]
		if r.thread != 0 {
			t.total++
			if r.state == target.StateExited {
				t.exited++
			}
		}
		a := byRole[r.role]
		if a == nil {
			a = &acc{}
			byRole[r.role] = a
			order = append(order, r.role)
		}
		a.n++
		if r.outcome != string(load.OutcomePending) && r.outcome != string(load.OutcomeTimeout) {
			a.done++
		}
	}
	parts := make([]string, 0, len(order))
	for _, role := range order {
		parts = append(parts, fmt.Sprintf("%s %d/%d", role, byRole[role].done, byRole[role].n))
	}
	t.ended = "ended " + strings.Join(parts, " · ")
	threads := m.snap.Server.Threads
	t.allExited = len(threads) > 0
	for _, th := range threads {
		if th.State != target.StateExited {
			t.allExited = false
			break
		}
		t.lastExit = max(t.lastExit, th.Since)
	}
	return t
}
