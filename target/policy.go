package target

import (
	"fmt"
	"strings"
	"time"

	"shutdowntest/target/kernel"
)

// Policy is a shutdown discipline (StopSockets) of the modelled server.
type Policy string

// The policies. Room is left for fixed-nopump and hardened.
const (
	// PolicyFixed is the fix: signal terminate, join the listener, join
	// every tracked client thread with one shared budget, and close
	// terminate only if none is left; otherwise keep it open.
	PolicyFixed Policy = "fixed"
	// PolicyLegacy is eMule before the fix: signal terminate, join only the
	// listener (1300 ms, then TerminateThread), close terminate.
	PolicyLegacy Policy = "legacy"
)

// Policies lists the policies a user can choose.
var Policies = []Policy{PolicyFixed, PolicyLegacy}

// ParsePolicy checks a policy name.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range Policies {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, len(Policies))
	for i, p := range Policies {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown policy %q (want %s)", s, strings.Join(names, " or "))
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

// legacy is StopSockets before the fix.
func (p *shutdownRun) legacy() {
	k := p.s.k
	p.step(StepFreeTLS, 0, func() (StepOutcome, string) { return StepOK, "" })
	p.signal()
	p.step(StepJoinListener, legacyListenerJoin, func() (StepOutcome, string) {
		defer func() { _, _ = k.CloseHandleBy(p.by, p.s.lt.Handle()) }()
		if k.Join(p.by, p.s.lt.Handle(), legacyListenerJoin) == 0 {
			return StepOK, ""
		}
		k.TerminateThread(p.s.lt)
		return StepKilled, "listener did not exit in 1300ms: TerminateThread"
	})
	p.closeTerminate()
}

// fixed is StopSockets after the fix (eMuleBB aa66699, with the UI pumped).
func (p *shutdownRun) fixed() {
	k, s := p.s.k, p.s
	p.signal()
	listenerDone := false
	p.step(StepJoinListener, fixedListenerJoin, func() (StepOutcome, string) {
		if k.Join(p.by, s.lt.Handle(), fixedListenerJoin) != 0 {
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
			rem := time.Until(deadline)
			if rem < 0 {
				rem = 0
			}
			if k.Join(p.by, th.Handle(), rem) == 0 {
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
	if listenerDone && len(p.rec.Stragglers) == 0 {
		p.closeTerminate()
		return
	}
	p.step(StepCloseTerminate, 0, func() (StepOutcome, string) {
		s.mu.Lock()
		s.termState.KeptOpen = true
		s.mu.Unlock()
		return StepKeptOpen, fmt.Sprintf("termination handle kept open: %d client thread(s) alive", len(p.rec.Stragglers))
	})
}
