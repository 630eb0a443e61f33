package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// event is one significant moment; at is on the server's clock.
type event struct {
	at   time.Duration
	text string
	bad  bool
	good bool
}

// maxEvents bounds the log: a run of thousands of clients must not grow it
// without end; the newest are kept.
const maxEvents = 200

// eventLog turns successive snapshots of one iteration into events: it
// remembers what it has already told.
type eventLog struct {
	events []event
	told   told
}

// told is what the log has told of the iteration being watched.
type told struct {
	iteration                                             int
	started, ready, triggered, signaled, closed, keptOpen bool
	processEnded                                          bool // an external target's process
	steps, violations                                     int
	exited                                                map[int]bool
}

func (l *eventLog) add(e event) {
	l.events = append(l.events, e)
	if len(l.events) > maxEvents {
		l.events = append(l.events[:0], l.events[len(l.events)-maxEvents:]...)
	}
}

// reset starts a new run: the log empties.
func (l *eventLog) reset() { *l = eventLog{} }

// stepsTold are the steps the terminate events already tell.
var stepsTold = map[target.StepName]bool{target.StepSignalTerminate: true, target.StepCloseTerminate: true}

// observe adds what s shows that the log has not told yet, in time order.
// about names what is under test. The terminate story it tells is term,
// the one the panel shows: the record's once the run has one, the
// snapshot's before.
func (l *eventLog) observe(s *load.Snapshot, about string, term terminateView) {
	if s.Iteration != l.told.iteration || l.told.exited == nil {
		l.told = told{iteration: s.Iteration, exited: map[int]bool{}}
	}
	var batch []event
	srv := &s.Server
	if !l.told.started && srv.Addr != "" {
		l.told.started = true
		batch = append(batch, event{at: 0, text: fmt.Sprintf("iteration %d/%d: server started on %s (%s)", s.Iteration, s.Of, srv.Addr, about)})
	}
	if !l.told.ready && s.ReadyAt > 0 {
		l.told.ready = true
		batch = append(batch, event{at: s.ReadyAt, text: fmt.Sprintf("%d clients in their intended states", len(s.Clients))})
	}
	if !l.told.triggered && s.Trigger > 0 {
		l.told.triggered = true
		batch = append(batch, event{at: s.Trigger, text: "shutdown triggered"})
	}
	tt := srv.Terminate
	if !l.told.signaled && tt.Signaled {
		l.told.signaled = true
		batch = append(batch, event{at: tt.SignaledAt, text: fmt.Sprintf("terminate signalled (handle %#x)", tt.Handle)})
	}
	for _, st := range srv.Steps[min(l.told.steps, len(srv.Steps)):] {
		if stepsTold[st.Name] {
			continue
		}
		e := event{at: st.End, text: fmt.Sprintf("%s: %s in %s", st.Name, st.Outcome, ms(st.End-st.Start))}
		if st.Outcome != target.StepOK {
			e.bad, e.text = true, e.text+": "+st.Detail
		}
		batch = append(batch, e)
	}
	l.told.steps = len(srv.Steps)
	batch = append(batch, l.exits(srv, s.Trigger)...)
	// A close with no thread seen alive is told once the record says
	// whether the closer had joined them all: until then it may be safe
	// only by luck.
	if !l.told.closed && term.closed && (term.exact || term.aliveAtClose > 0) {
		l.told.closed = true
		e := event{at: term.closedAt, text: "terminate handle closed; every client thread joined", good: true}
		switch {
		case term.aliveAtClose > 0:
			e = event{at: term.closedAt, text: fmt.Sprintf("terminate handle closed while %d client threads were alive", term.aliveAtClose), bad: true}
		case term.unjoined > 0:
			e = event{at: term.closedAt, text: fmt.Sprintf("terminate handle closed without joining %d client threads; all had exited by luck", term.unjoined), bad: true}
		case term.unsafe:
			e = event{at: term.closedAt, text: "terminate handle closed; a wait touched it after", bad: true}
		}
		batch = append(batch, e)
	}
	if !l.told.keptOpen && term.kept {
		l.told.keptOpen = true
		batch = append(batch, event{at: srv.At, text: fmt.Sprintf("terminate kept open: %d client threads still alive", term.alive), bad: true})
	}
	batch = append(batch, l.violationEvents(srv)...)
	if x := s.External; x != nil && x.Exit.Exited && !l.told.processEnded {
		l.told.processEnded = true
		e := event{at: x.Exit.At, text: fmt.Sprintf("process %d exited (%s)", x.PID, x.Exit.Detail)}
		if x.Exit.Killed {
			e = event{at: x.Exit.At, text: fmt.Sprintf("process %d killed past the drain budget (%s)", x.PID, x.Exit.Detail), bad: true}
		}
		batch = append(batch, e)
	}
	sort.SliceStable(batch, func(i, j int) bool { return batch[i].at < batch[j].at })
	for _, e := range batch {
		l.add(e)
	}
}

// exits tells the client threads that exited since the last look, from
// the trigger on (before it, threads that end are the route probes'):
// each by itself when there are few, one line when many exit together.
func (l *eventLog) exits(srv *target.Snapshot, trigger time.Duration) []event {
	var ids []int
	var last time.Duration
	for _, th := range srv.Threads {
		if th.State != target.StateExited || l.told.exited[th.ID] || trigger == 0 || th.Since < trigger {
			continue
		}
		l.told.exited[th.ID] = true
		last = max(last, th.Since)
		ids = append(ids, th.ID)
	}
	if len(ids) > 3 {
		sort.Ints(ids)
		return []event{{at: last, text: fmt.Sprintf("%d client threads exited (%s)", len(ids), idList(ids, 6))}}
	}
	var out []event
	for _, th := range srv.Threads {
		for _, id := range ids {
			if th.ID == id {
				out = append(out, event{at: th.Since, text: fmt.Sprintf("thread %d exited", id)})
			}
		}
	}
	return out
}

// violationEvents tells new kernel violations, grouped by kind when many
// come at once.
func (l *eventLog) violationEvents(srv *target.Snapshot) []event {
	fresh := srv.Violations[min(l.told.violations, len(srv.Violations)):]
	l.told.violations = len(srv.Violations)
	if len(fresh) <= 3 {
		var out []event
		for _, v := range fresh {
			out = append(out, event{at: v.At, text: fmt.Sprintf("violation %s: %s", v.Kind, v.Detail), bad: true})
		}
		return out
	}
	n := map[kernel.ViolationKind]int{}
	var kinds []kernel.ViolationKind
	for _, v := range fresh {
		if n[v.Kind] == 0 {
			kinds = append(kinds, v.Kind)
		}
		n[v.Kind]++
	}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
	}
	return []event{{at: fresh[len(fresh)-1].At, text: "violations: " + strings.Join(parts, ", "), bad: true}}
}

func idList(ids []int, limit int) string {
	var b strings.Builder
	for i, id := range ids {
		if i == limit {
			fmt.Fprintf(&b, " and %d more", len(ids)-limit)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}

// ms formats a short duration the way the log and panels do.
func ms(d time.Duration) string {
	if d < time.Second && d%time.Millisecond == 0 {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	if d < time.Second {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

// recordSnapshot is an iteration's record seen as a last snapshot, so the
// log can tell what happened after the last live one (which the engine
// may have dropped while the view was busy).
func recordSnapshot(it *load.Iteration, of int) load.Snapshot {
	rec := &it.Server
	s := load.Snapshot{Iteration: it.N, Of: of, Phase: load.PhaseDrained, Trigger: it.Trigger, Clients: it.Clients, Mix: it.Mix}
	s.Server.At, s.Server.Addr = it.ObservedUntil, it.Addr
	for _, t := range rec.ClientThreads() {
		if len(t.States) == 0 {
			continue
		}
		last := t.States[len(t.States)-1]
		s.Server.Threads = append(s.Server.Threads, target.ThreadState{ID: t.ID, Peer: t.Peer, State: last.State, Since: last.At})
	}
	s.Server.Terminate = target.TerminateState{Handle: rec.Terminate.Handle, TerminateTimes: rec.Terminate.TerminateTimes}
	s.Server.Steps = rec.Shutdown.Steps
	s.Server.Violations, s.Server.WaitFailures = rec.Kernel.Violations, rec.Kernel.WaitFailures
	s.External = it.External
	return s
}
