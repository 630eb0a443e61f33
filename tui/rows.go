package tui

import (
	"fmt"
	"strings"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// row is one client as the table shows it. It holds the engine's values;
// the view puts them into words only when it draws them.
type row struct {
	id      int
	kind    load.Kind
	role    load.Role
	thread  int          // 0: no server thread seen yet
	state   target.State // the server thread's state; "" before it has one
	inState time.Duration
	onTerm  bool // the thread is blocked in a wait that includes terminate
	outcome load.Outcome
	// failed: the client has ended, in an outcome its role does not pass
	// with (load.Role.Passes, the rule the checks and reports use).
	failed bool
	client string // what the client itself says
	// server is the client's connection inside an external server, as
	// the OS samples showed it.
	server load.ServerSide
}

var kindWords = map[load.Kind]string{load.KindHTTP: "HTTP", load.KindREST: "REST", load.KindWS: "WS", load.KindTCP: "TCP"}

func roleWord(r load.Role) string {
	if r == load.RoleInflight {
		return "in-flight"
	}
	return string(r)
}

// outcomeWord shortens an outcome for the table: ws-close-1001 is "ws 1001".
func outcomeWord(o load.Outcome) string {
	if code, ok := o.WSCloseCode(); ok {
		return "ws " + code
	}
	return string(o)
}

// liveRows joins the clients with their server threads by the client's
// socket address, the only link a client has to the server. byPeer is
// scratch space, reused between snapshots.
func liveRows(s *load.Snapshot, rows []row, byPeer map[string]*target.ThreadState) []row {
	clear(byPeer)
	for i := range s.Server.Threads {
		byPeer[s.Server.Threads[i].Peer] = &s.Server.Threads[i]
	}
	rows = rows[:0]
	for i := range s.Clients {
		c := &s.Clients[i]
		r := row{id: c.ID, kind: c.Kind, role: c.Role, client: clientWords(c), server: c.Server}
		outcome := c.Outcome
		if th := byPeer[c.Local]; th != nil && c.Local != "" {
			r.thread, r.state, r.onTerm = th.ID, th.State, th.OnTerm
			r.inState = s.Server.At - th.Since
			if c.Role == load.RoleIdle && c.Outcome == load.OutcomePending && th.State == target.StateExited && s.Trigger > 0 && th.Since >= s.Trigger {
				// An idle client holds on and sees nothing; its end is
				// its thread's, as the engine will read it from the record.
				outcome, r.client = load.OutcomeClosed, "server thread exited after the trigger"
			}
		}
		r.outcome = outcome
		r.failed = outcome != load.OutcomePending && !c.Role.Passes(outcome)
		rows = append(rows, r)
	}
	return rows
}

// finalRows are the rows of a finished iteration, from its record: each
// thread's last state, and the client's outcome as the checks saw it.
func finalRows(it *load.Iteration) []row {
	byID := make(map[int]*kernel.ThreadRecord)
	for i := range it.Server.Kernel.Threads {
		t := &it.Server.Kernel.Threads[i]
		if t.Client {
			byID[t.ID] = t
		}
	}
	rows := make([]row, 0, len(it.Clients))
	for i := range it.Clients {
		c := &it.Clients[i]
		r := row{id: c.ID, kind: c.Kind, role: c.Role, outcome: c.Outcome, client: clientWords(c),
			failed: !c.Role.Passes(c.Outcome), server: c.Server}
		if t := byID[c.Thread]; t != nil && len(t.States) > 0 {
			last := t.States[len(t.States)-1]
			r.thread, r.state = t.ID, last.State
			r.inState = it.ObservedUntil - last.At
		}
		rows = append(rows, r)
	}
	return rows
}

// clientWords is the client's own account: its last state while it is
// pending, its outcome's detail once it has one.
func clientWords(c *load.ClientResult) string {
	if c.Outcome != load.OutcomePending {
		return c.Detail
	}
	last := ""
	if n := len(c.States); n > 0 {
		last = c.States[n-1].State
	}
	if c.Role == load.RoleStream && c.Messages > 0 {
		return fmt.Sprintf("%s, %d messages", last, c.Messages)
	}
	return last
}

// matches reports whether r passes the filter: every word of it names the
// row's kind, role, thread state, server socket state or outcome as the
// table shows them (or a prefix of one).
func (r *row) matches(words []string) bool {
	kind, role, state, outcome := kindWords[r.kind], roleWord(r.role), string(r.state), outcomeWord(r.outcome)
	for _, w := range words {
		if !hasPrefixFold(kind, w) && !hasPrefixFold(role, w) && !hasPrefixFold(state, w) && !hasPrefixFold(outcome, w) &&
			!hasPrefixFold(r.server.Socket, w) {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// stateCounts counts rows by server thread state, in the model's order,
// with clients that have no thread yet as "none".
type stateCount struct {
	state target.State // "" for no thread yet
	n     int
}

func countStates(rows []row) []stateCount {
	var n [16]int // by index in target.States; the last slot: no thread yet
	idx := make(map[target.State]int, len(target.States))
	for i, st := range target.States {
		idx[st] = i
	}
	none := len(n) - 1
	for i := range rows {
		if j, ok := idx[rows[i].state]; ok {
			n[j]++
		} else {
			n[none]++
		}
	}
	out := make([]stateCount, 0, len(target.States)+1)
	for i, st := range target.States {
		out = append(out, stateCount{st, n[i]})
	}
	if n[none] > 0 {
		out = append(out, stateCount{"", n[none]})
	}
	return out
}
