package reports

import (
	"fmt"
	"sort"
	"strings"

	"shutdowntest/load"
	"shutdowntest/target"
)

// ClosedUnsafely is the one judgement of the terminate close every check,
// writer and view reads: terminate was closed while a client thread was
// alive, or a wait named it after the close, or the closer had not joined
// every client thread (then nothing but luck made the close safe).
func (t Terminate) ClosedUnsafely() bool {
	return t.ClosedMS != nil && (t.LiveThreadsAtClose > 0 || t.WaitsAfterClose > 0 || t.UnjoinedAtClose > 0)
}

// terminateOf is an iteration's terminate story in the report's units.
func terminateOf(it *load.Iteration) Terminate {
	tr := it.Server.Terminate
	t := Terminate{Handle: tr.Handle, KeptOpen: tr.KeptOpen, WaitsAfterClose: len(tr.WaitsAfterClose),
		AliveAtClose: []int{}, Unjoined: []int{}}
	if tr.Signaled {
		v := ms(tr.SignaledAt - it.Trigger)
		t.SignaledMS = &v
	}
	if tr.Closed {
		v := ms(tr.ClosedAt - it.Trigger)
		t.ClosedMS = &v
		t.AliveAtClose = append(t.AliveAtClose, tr.AliveAtClose...)
		t.LiveThreadsAtClose = len(tr.AliveAtClose)
		t.WaitersAtClose = len(tr.BlockedAtClose)
		t.Unjoined = append(t.Unjoined, tr.Unjoined...)
		t.UnjoinedAtClose = len(tr.Unjoined)
	}
	return t
}

// CloseFault says in a few words why ClosedUnsafely holds, for every
// writer and view to phrase it alike: "while 3 client threads were alive"
// or "without joining 6 client threads; all had exited by luck"; "" when
// the close is safe, or when its only fault is a wait after it (each
// writer counts those itself).
func (t Terminate) CloseFault() string {
	switch {
	case t.ClosedMS == nil:
		return ""
	case t.LiveThreadsAtClose > 0:
		return "while " + plural(t.LiveThreadsAtClose, "client thread was", "client threads were") + " alive"
	case t.UnjoinedAtClose > 0:
		return "without joining " + plural(t.UnjoinedAtClose, "client thread", "client threads") + "; all had exited by luck"
	}
	return ""
}

// faultsOf are the iteration's fault events, the server's and the
// engine's, in time order.
func faultsOf(it *load.Iteration) []FaultEvent {
	all := append(append([]target.FaultEvent(nil), it.Server.Faults...), it.FaultEvents...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].At < all[j].At })
	out := make([]FaultEvent, 0, len(all))
	for _, f := range all {
		e := FaultEvent{AtMS: ms(f.At - it.Trigger), Fault: string(f.Fault), Peer: f.Peer, Detail: f.Detail}
		if f.Thread != 0 {
			tid := f.Thread
			e.Thread = &tid
		}
		out = append(out, e)
	}
	return out
}

// leaksOf is what killed threads held, in the report's words.
func leaksOf(leaks []target.Leak) []Leak {
	out := make([]Leak, 0, len(leaks))
	for _, l := range leaks {
		out = append(out, Leak{Thread: l.Thread, Name: l.Name, State: string(l.State), Held: append([]string{}, l.Held...)})
	}
	return out
}

// leakWords names what each killed thread held, for a detail line.
func leakWords(leaks []target.Leak) string {
	parts := make([]string, 0, len(leaks))
	for _, l := range leaks {
		parts = append(parts, fmt.Sprintf("thread %d (%s) killed in %s held %s", l.Thread, l.Name, l.State, strings.Join(l.Held, ", ")))
	}
	return capJoin(parts, "; ")
}
