package target

import (
	"fmt"
	"strings"
	"time"

	"shutdowntest/target/kernel"
)

// Policy is a shutdown discipline (StopSockets) of the modelled server,
// with the accept and spawn paths of the same eMule revision.
type Policy string

// The policies, oldest first in the history they model.
const (
	// PolicyFixed is the fix as eMuleBB ships it (aa66699 with e8b69eeb's
	// pumping): signal terminate, join the listener, join every tracked
	// client thread with one shared budget while pumping UI messages, and
	// close terminate only if none is left; otherwise keep it open.
	PolicyFixed Policy = "fixed"
	// PolicyLegacy is eMule before the fix: signal terminate, join only the
	// listener (1300 ms, then TerminateThread), close terminate.
	PolicyLegacy Policy = "legacy"
	// PolicyFixedNoPump is aa66699 as first shipped: PolicyFixed without
	// the pumping, so a request blocked on the UI thread, which runs
	// StopSockets, cannot finish while the join waits for it.
	PolicyFixedNoPump Policy = "fixed-nopump"
	// PolicyHardened is eMuleBB's later R1 fixes on top of PolicyFixed: no
	// TerminateThread, a listener that checks terminate between accepts
	// (BUG-080), no restart after a failed shutdown (BUG-088), client
	// threads tracked before they can run (BUG-095), a client I/O timeout
	// that also bounds linger, and a cap on accepted threads.
	PolicyHardened Policy = "hardened"
)

// Policies lists the policies a user can choose.
var Policies = []Policy{PolicyFixed, PolicyLegacy, PolicyFixedNoPump, PolicyHardened}

// ParsePolicy checks a policy name.
func ParsePolicy(s string) (Policy, error) { return ParseName("policy", s, Policies) }

// ParseName is the one of names that s is, or an error naming what was
// asked for and listing them: unknown policy "x" (want a, b or c).
func ParseName[T ~string](what, s string, names []T) (T, error) {
	for _, n := range names {
		if string(n) == s {
			return n, nil
		}
	}
	return "", fmt.Errorf("unknown %s %q (want %s)", what, s, oneOf(names))
}

// oneOf lists names as "a, b or c".
func oneOf[T ~string](names []T) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = string(n)
	}
	if len(out) < 2 {
		return strings.Join(out, "")
	}
	return strings.Join(out[:len(out)-1], ", ") + " or " + out[len(out)-1]
}

// tracksThreads: the fix keeps client threads joinable; legacy lets them
// auto-delete.
func (p Policy) tracksThreads() bool { return p != PolicyLegacy }

// StepName names a step of a shutdown policy.
type StepName string

// The steps the policies are made of.
const (
	StepFreeTLS         StepName = "free-tls"
	StepSignalTerminate StepName = "signal-terminate"
	StepJoinListener    StepName = "join-listener"
	StepJoinClients     StepName = "join-clients"
	// StepCloseTerminate closes the terminate event, or keeps it open
	// (StepKeptOpen).
	StepCloseTerminate StepName = "close-terminate"
)

// StepOutcome is how a step ended.
type StepOutcome string

// Fault is a failure injected into the server, one of the failure points
// of the real code (emule-model.md §5). Faults are off unless listed in
// Config.Faults.
type Fault string

// The faults.
const (
	// FaultSpawnWindow: the accepted-client thread starts running before
	// it is tracked, and tracking fails (BUG-095's order). Before hardened
	// the thread runs on untracked, so no join covers it; hardened tracks
	// first, so the failure leaves no thread, and it closes the socket and
	// frees the SocketData. It hits the connection Config.SpawnFaultAt.
	FaultSpawnWindow Fault = "spawn-window"
	// FaultSpawnFail: creating the accepted-client thread fails. Since the
	// fix the socket is closed and the SocketData freed; legacy leaks both.
	// It hits the connection Config.SpawnFaultAt.
	FaultSpawnFail Fault = "spawn-fail"
	// FaultStuckHandler: the first held request's handler never returns:
	// its thread stays in process, outside any wait, until Close.
	FaultStuckHandler Fault = "stuck-handler"
	// FaultAcceptStorm: connections keep arriving through the shutdown, so
	// the listener's accept event (index 0) keeps winning over terminate.
	// The connections come from outside (Storm); the server's part is the
	// cost of each accept on a machine the storm keeps busy.
	FaultAcceptStorm Fault = "accept-storm"
	// FaultRestart: a new server generation starts on the old one's kernel
	// (Config.Kernel) while the old client threads may still be alive. It
	// is driven from outside; the server needs no switch.
	FaultRestart Fault = "restart"
	// FaultSlowTLS: a client sends its TLS ClientHello a byte at a time
	// (SlowTLSClient). Before hardened the handshake loop spins on
	// WANT_READ and terminate cannot interrupt it until the bytes stop;
	// hardened waits for them in {connEvent, terminate} (BUG-081). It
	// needs Config.TLS; the client is driven from outside.
	FaultSlowTLS Fault = "slow-tls"
)

// Faults lists the faults a user can inject.
var Faults = []Fault{FaultAcceptStorm, FaultRestart, FaultSpawnWindow, FaultSpawnFail, FaultStuckHandler, FaultSlowTLS}

// ParseFault checks a fault name.
func ParseFault(s string) (Fault, error) { return ParseName("fault", s, Faults) }

// FaultEvent is one injected fault and what the server did about it.
type FaultEvent struct {
	At     time.Duration
	Fault  Fault
	Thread int // the thread it hit, if one was started (0: none)
	Peer   string
	Detail string
}

// Step outcomes.
const (
	StepOK       StepOutcome = "ok"
	StepTimeout  StepOutcome = "timeout"   // a join ran out of budget
	StepKilled   StepOutcome = "killed"    // TerminateThread was used
	StepKeptOpen StepOutcome = "kept-open" // terminate left open on purpose
	StepFailed   StepOutcome = "failed"    // the kernel refused the call
)

// Step is one step of a shutdown policy.
type Step struct {
	Name    StepName
	Start   time.Duration
	End     time.Duration
	Budget  time.Duration // 0: the step has no budget
	Outcome StepOutcome
	Detail  string
}

// ShutdownRecord is what one Shutdown call did.
type ShutdownRecord struct {
	Policy   Policy
	Trigger  time.Duration
	Returned time.Duration
	Steps    []Step
	// Stragglers are client threads still alive when the join budget ran
	// out (fixed only; legacy never looks).
	Stragglers []int
}

// Completed reports whether every step ran to its end within its budget.
func (r ShutdownRecord) Completed() bool {
	if len(r.Steps) == 0 {
		return false
	}
	for _, st := range r.Steps {
		if st.Outcome != StepOK {
			return false
		}
	}
	return true
}

// shutdownRun is one StopSockets. by is its identity in the kernel: the
// policy runs on the caller's goroutine, not on a modelled thread, and its
// joins must still count when it closes terminate (see kernel.Actor).
type shutdownRun struct {
	s   *Server
	by  *kernel.Thread
	rec ShutdownRecord
}

func (p *shutdownRun) step(name StepName, budget time.Duration, fn func() (outcome StepOutcome, detail string)) {
	st := Step{Name: name, Start: p.s.k.Now(), Budget: budget}
	st.Outcome, st.Detail = fn()
	st.End = p.s.k.Now()
	p.rec.Steps = append(p.rec.Steps, st)
	p.s.mu.Lock()
	p.s.steps = append(p.s.steps, st)
	p.s.mu.Unlock()
}

func (p *shutdownRun) signal() {
	p.step(StepSignalTerminate, 0, func() (StepOutcome, string) {
		at, err := p.s.k.SetEventAt(p.s.term)
		if err != nil {
			return StepFailed, err.Error()
		}
		p.s.mu.Lock()
		p.s.termState.Signaled, p.s.termState.SignaledAt = true, at
		p.s.mu.Unlock()
		return StepOK, ""
	})
}

func (p *shutdownRun) closeTerminate() {
	p.step(StepCloseTerminate, 0, func() (StepOutcome, string) {
		at, err := p.s.k.CloseHandleBy(p.by, p.s.term)
		if err != nil {
			return StepFailed, err.Error()
		}
		p.s.mu.Lock()
		p.s.termState.Closed, p.s.termState.ClosedAt = true, at
		p.s.mu.Unlock()
		return StepOK, ""
	})
}

// run is StopSockets under the server's policy. It runs on the UI thread,
// as eMule's does (OnClose → StopSockets); see Server.Shutdown.
func (p *shutdownRun) run() {
	switch p.rec.Policy {
	case PolicyLegacy:
		p.legacy()
	case PolicyFixedNoPump:
		p.fixed(false)
	case PolicyHardened:
		p.hardened()
	default:
		p.fixed(true)
	}
}

// legacy is StopSockets before the fix:
//
//	StopSSL();
//	SetEvent(s_hTerminate);
//	if (WaitForSingleObject(listener, 1300) == WAIT_TIMEOUT)
//		TerminateThread(listener);
//	CloseHandle(s_hTerminate);
func (p *shutdownRun) legacy() {
	k := p.s.k
	p.step(StepFreeTLS, 0, func() (StepOutcome, string) { return StepOK, "" })
	p.signal()
	p.step(StepJoinListener, legacyListenerJoin, func() (StepOutcome, string) {
		defer func() { _, _ = k.CloseHandleBy(p.by, p.s.lt.Handle()) }()
		if p.join(p.s.lt.Handle(), legacyListenerJoin, false) == 0 {
			return StepOK, ""
		}
		k.TerminateThread(p.s.lt)
		return StepKilled, "listener did not exit in 1300ms: TerminateThread"
	})
	p.closeTerminate()
}

// fixed is StopSockets after the fix (eMuleBB aa66699); pump adds
// e8b69eeb, the one difference between fixed-nopump and fixed:
//
//	SetEvent(s_hTerminate);
//	if (!Join(listener, 10 s)) keep it;             // never TerminateThread
//	for each tracked client thread:                  // one shared budget
//		Join(thread, remaining)                      // pump: in 50 ms slices,
//		                                             // PumpMessages between them
//	if (all exited) CloseHandle(s_hTerminate);
//	else log "termination handle kept open";
func (p *shutdownRun) fixed(pump bool) {
	if p.joinAll(pump) {
		p.closeTerminate()
		return
	}
	p.keepTerminate()
}

// hardened is StopSockets after eMuleBB's R1 fixes: fixed, pumping, with
// the TLS state freed only once every thread that could use it is joined
// (BUG-081). Its other fixes live where the bugs were: the listener's
// bounded accept drain, spawn's tracking order, the client timeout, the
// thread cap and Start's refusal to restart over a failed shutdown.
func (p *shutdownRun) hardened() {
	if !p.joinAll(true) {
		p.keepTerminate()
		return
	}
	p.closeTerminate()
	p.step(StepFreeTLS, 0, func() (StepOutcome, string) { return StepOK, "" })
}

// joinAll signals terminate and joins the listener and then every tracked
// client thread, as the fix does; it reports whether all of them exited.
func (p *shutdownRun) joinAll(pump bool) bool {
	k, s := p.s.k, p.s
	p.signal()
	listenerDone := false
	p.step(StepJoinListener, fixedListenerJoin, func() (StepOutcome, string) {
		if p.join(s.lt.Handle(), fixedListenerJoin, pump) != 0 {
			return StepTimeout, "listener still running after 10s: kept, not terminated"
		}
		listenerDone = true
		_, _ = k.CloseHandleBy(p.by, s.lt.Handle())
		return StepOK, ""
	})
	budget := s.cfg.DrainTimeout
	p.step(StepJoinClients, budget, func() (StepOutcome, string) {
		s.mu.Lock()
		threads := append([]*kernel.Thread(nil), s.tracked...)
		s.mu.Unlock()
		deadline := time.Now().Add(budget)
		var left []*kernel.Thread
		for _, th := range threads {
			if p.join(th.Handle(), time.Until(deadline), pump) == 0 {
				_, _ = k.CloseHandleBy(p.by, th.Handle())
				continue
			}
			left = append(left, th)
		}
		s.mu.Lock()
		s.tracked = left
		s.mu.Unlock()
		for _, th := range left {
			p.rec.Stragglers = append(p.rec.Stragglers, th.ID())
		}
		if len(left) > 0 {
			return StepTimeout, fmt.Sprintf("%d of %d client threads still alive after %v: %v",
				len(left), len(threads), budget, p.rec.Stragglers)
		}
		return StepOK, fmt.Sprintf("%d client threads joined", len(threads))
	})
	return listenerDone && len(p.rec.Stragglers) == 0
}

// keepTerminate leaks terminate on purpose: a straggler may still wait on
// it, and must find a valid, signalled object there.
func (p *shutdownRun) keepTerminate() {
	p.step(StepCloseTerminate, 0, func() (StepOutcome, string) {
		p.s.mu.Lock()
		p.s.termState.KeptOpen = true
		p.s.mu.Unlock()
		return StepKeptOpen, fmt.Sprintf("termination handle kept open: %d client thread(s) alive", len(p.rec.Stragglers))
	})
}

// uiPumpSlice is e8b69eeb's slice: the join waits this long at most before
// it pumps the UI thread's messages again.
const uiPumpSlice = 50 * time.Millisecond

// join is StopSockets' wait of up to d for a thread object. StopSockets
// runs on the UI thread, so while it waits no SendMessage to the UI thread
// is answered, unless it pumps: then it waits in uiPumpSlice slices and
// handles the messages that arrived between them. A slice also ends when
// one of the UI thread's own timers is due (the release of the held
// requests, a slow request's answer), so they are answered on time rather
// than at the next slice: the held requests at trigger + InflightFor.
func (p *shutdownRun) join(h kernel.Handle, d time.Duration, pump bool) kernel.WaitResult {
	d = max(d, 0)
	if !pump {
		return p.s.k.Join(p.by, h, d)
	}
	deadline := time.Now().Add(d)
	for {
		p.s.ui.pump()
		left := max(time.Until(deadline), 0)
		slice := p.s.ui.untilDue(min(left, uiPumpSlice))
		if r := p.s.k.Join(p.by, h, slice); r != kernel.WaitTimeout || slice == left {
			return r
		}
	}
}
