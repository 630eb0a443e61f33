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
	server    serverTally // an external target's clients' server sides
}

func (m *Model) derive() tally {
	t := tally{counts: countStates(m.rows), term: m.deriveTerminate()}
	if m.isExternal() {
		t.server = deriveServer(m.rows)
	}
	type acc struct{ n, done int }
	byRole := map[load.Role]*acc{}
	var order []load.Role
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
		if r.outcome != load.OutcomePending && r.outcome != load.OutcomeTimeout {
			a.done++
		}
	}
	parts := make([]string, 0, len(order))
	for _, role := range order {
		parts = append(parts, fmt.Sprintf("%s %d/%d", roleWord(role), byRole[role].done, byRole[role].n))
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

// terminateView is the terminate signal's story so far, from the record
// once the run has one, else from the snapshot. The panel and the event
// log both tell this one story.
type terminateView struct {
	handle                 uint32
	signaled, closed, kept bool
	signaledAt, closedAt   time.Duration
	waiters, alive         int
	aliveAtClose           int
	waitsAfterClose        int
	// unjoined: client threads the closer had not joined (the record
	// alone knows); unsafe: reports' judgement of the close
	// (Terminate.ClosedUnsafely), or live what the view can see of it.
	unjoined int
	unsafe   bool
	exact    bool // from the record
}

func (m *Model) deriveTerminate() terminateView {
	if it := m.lastIteration(); it != nil && len(m.report.Iterations) > 0 {
		tr := it.Server.Terminate
		rt := m.report.Iterations[len(m.report.Iterations)-1].Terminate
		return terminateView{handle: tr.Handle, signaled: tr.Signaled, closed: tr.Closed, kept: tr.KeptOpen,
			signaledAt: tr.SignaledAt, closedAt: tr.ClosedAt, waiters: 0, alive: len(aliveThreads(it)),
			aliveAtClose: rt.LiveThreadsAtClose, waitsAfterClose: rt.WaitsAfterClose,
			unjoined: rt.UnjoinedAtClose, unsafe: rt.ClosedUnsafely(), exact: true}
	}
	// Live, before the record: counted from the snapshot, the best the
	// view can say until the result replaces it.
	srv := &m.snap.Server
	tt := srv.Terminate
	v := terminateView{handle: tt.Handle, signaled: tt.Signaled, closed: tt.Closed, kept: tt.KeptOpen,
		signaledAt: tt.SignaledAt, closedAt: tt.ClosedAt, waiters: tt.Waiters, alive: tt.AliveClients}
	if tt.Closed {
		for _, th := range srv.Threads {
			// Not exited, or exited after the close (a thread's exited
			// state began when it exited).
			if th.State != target.StateExited || th.Since > tt.ClosedAt {
				v.aliveAtClose++
			}
		}
		for _, f := range srv.WaitFailures {
			if f.Handle == tt.Handle && f.At >= tt.ClosedAt {
				v.waitsAfterClose++
			}
		}
		v.unsafe = v.aliveAtClose > 0 || v.waitsAfterClose > 0
	}
	return v
}

// aliveThreads are the client threads that had not exited when the
// record was taken.
func aliveThreads(it *load.Iteration) []int {
	var ids []int
	for _, t := range it.Server.ClientThreads() {
		if !t.Exited || t.Forced {
			ids = append(ids, t.ID)
		}
	}
	return ids
}
