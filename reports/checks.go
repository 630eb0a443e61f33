// Package reports turns what a run recorded into verdicts and documents:
// the acceptance checks of the eMule shutdown fix (and a drain budget), a JSON report and a
// compact text summary. Every check is computed only from recorded facts
// (load.Iteration and the target's Record), never from live state, so a
// report read later says exactly what the verdict was built on, and a
// reader can re-derive each verdict from the report's own timeline.
package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// Check is one acceptance criterion's verdict on one iteration, or on the
// whole run once aggregated.
type Check struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Pass is false only when Status is fail: a skip did not fail.
	Pass bool `json:"pass"`
	// Observed is how many things the check looked at (threads, clients,
	// probes, steps or resource counts, depending on the check).
	Observed int `json:"observed"`
	// PassedIterations and Iterations are set on aggregated checks only:
	// in how many iterations the check passed, of how many.
	PassedIterations *int `json:"passed_iterations,omitempty"`
	Iterations       *int `json:"iterations,omitempty"`
	// Detail is one line, with the numbers the verdict rests on.
	Detail string `json:"detail"`
}

// Check statuses.
const (
	StatusPass = "pass"
	StatusFail = "fail"
	// StatusSkip: there was nothing to observe (no client of that role,
	// no probe), so the criterion was neither met nor broken.
	StatusSkip = "skip"
)

// Check IDs, in the order Evaluate returns them: the fix's acceptance
// criteria (design doc §1) first, then what the tool adds around them.
const (
	CheckTerminateOutlivedWaiters = "terminate-outlived-waiters"
	CheckShutdownCompleted        = "shutdown-completed"
	CheckNoThreadLeak             = "no-thread-leak"
	CheckInflightCompleted        = "inflight-completed"
	CheckIdleClosed               = "idle-closed"
	CheckWSCloseGoingAway         = "ws-close-going-away"
	CheckNoAdmissionAfterTrigger  = "no-admission-after-trigger"
	CheckRoutingUnchanged         = "routing-unchanged"
	CheckResourcesReleased        = "resources-released"
	CheckDrainWithin              = "drain-within"
)

var checkIDs = []string{
	CheckTerminateOutlivedWaiters, CheckShutdownCompleted, CheckNoThreadLeak,
	CheckInflightCompleted, CheckIdleClosed, CheckWSCloseGoingAway,
	CheckNoAdmissionAfterTrigger, CheckRoutingUnchanged, CheckResourcesReleased, CheckDrainWithin,
}

// maxListed bounds how many offenders one detail names: a run may hold
// thousands of clients and a detail must stay one readable line.
const maxListed = 5

// Evaluate runs every check on one iteration, in the order of the
// Check* constants. It reads only what was recorded; an interrupted
// iteration is judged on what it got to record (a client still pending is
// not completed).
func Evaluate(it *load.Iteration) []Check {
	return []Check{
		checkTerminate(it),
		checkShutdown(it),
		checkThreadLeak(it),
		checkInflight(it),
		checkIdle(it),
		checkWSClose(it),
		checkAdmission(it),
		checkRouting(it),
		checkResources(it),
		checkDrainWithin(it),
	}
}

// Aggregate folds the checks of several iterations into one per ID, in the
// order IDs first appear. A check fails if it failed in any iteration
// (naming the first), is skipped if it was skipped in every one, and passes
// otherwise; Observed is summed.
func Aggregate(per [][]Check) []Check {
	type acc struct {
		c                 Check
		n, failed, passed int
		first             int
		firstDetail       string
		last              string
	}
	var order []string
	byID := map[string]*acc{}
	for i, checks := range per {
		for _, c := range checks {
			a := byID[c.ID]
			if a == nil {
				a = &acc{c: Check{ID: c.ID}}
				byID[c.ID] = a
				order = append(order, c.ID)
			}
			a.n++
			a.c.Observed += c.Observed
			switch c.Status {
			case StatusFail:
				if a.failed == 0 {
					a.first, a.firstDetail = i+1, c.Detail
				}
				a.failed++
			case StatusPass:
				a.passed++
				a.last = c.Detail
			default:
				if a.passed == 0 {
					a.last = c.Detail
				}
			}
		}
	}
	out := make([]Check, 0, len(order))
	for _, id := range order {
		a := byID[id]
		c := a.c
		switch {
		case a.failed > 0:
			c.Status, c.Pass = StatusFail, false
			c.Detail = fmt.Sprintf("failed in %d of %d iterations; first (iteration %d): %s",
				a.failed, a.n, a.first, a.firstDetail)
		case a.passed == 0:
			c.Status, c.Pass = StatusSkip, true
			c.Detail = fmt.Sprintf("skipped in %d of %d iterations; last: %s", a.n, a.n, a.last)
		default:
			c.Status, c.Pass = StatusPass, true
			c.Detail = fmt.Sprintf("passed in %d of %d iterations", a.passed, a.n)
			if skipped := a.n - a.passed; skipped > 0 {
				c.Detail += fmt.Sprintf(" (skipped in %d)", skipped)
			}
			c.Detail += "; last: " + a.last
		}
		passed, n := a.passed, a.n
		c.PassedIterations, c.Iterations = &passed, &n
		out = append(out, c)
	}
	return out
}

// Verdict is "pass" when no check failed, else "fail".
func Verdict(checks []Check) string {
	for _, c := range checks {
		if c.Status == StatusFail || !c.Pass {
			return StatusFail
		}
	}
	return StatusPass
}

func newCheck(id, status string, observed int, format string, args ...any) Check {
	return Check{ID: id, Status: status, Pass: status != StatusFail, Observed: observed,
		Detail: oneLine(fmt.Sprintf(format, args...))}
}

// oneLine keeps a detail on one line even when a recorded error text
// (from a socket, a handler) carries newlines.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// checkTerminate is the fix's first criterion: the terminate handle is
// never closed while an accepted-client thread can still wait on it. A
// thread is alive at the close if it had been created by then and had not
// exited; the kernel's own list (AliveAtClose) is taken under its lock and
// is joined with that timeline so that the verdict agrees with the
// report's exited_ms and closed_ms.
func checkTerminate(it *load.Iteration) Check {
	const id = CheckTerminateOutlivedWaiters
	tr := it.Server.Terminate
	n := len(it.Server.ClientThreads())
	if !tr.Signaled && !tr.Closed && !tr.KeptOpen && !it.ShutdownReturned {
		return newCheck(id, StatusSkip, n, "terminate was never signalled: shutdown did not run")
	}
	if tr.Closed {
		var bad []string
		alive := aliveAtClose(it)
		if len(alive) > 0 {
			s := fmt.Sprintf("closed at %s while %s alive (%s)", at(it, tr.ClosedAt),
				plural(len(alive), "client thread was", "client threads were"), joinInts(alive))
			if b := len(tr.BlockedAtClose); b > 0 {
				s += fmt.Sprintf(", %d blocked in a wait on it", b)
			}
			bad = append(bad, s)
		}
		if w := tr.WaitsAfterClose; len(w) > 0 {
			s := fmt.Sprintf("%s after close (%s) by %s", plural(len(w), "wait", "waits"),
				waitKinds(w), plural2(len(waitThreads(w)), "thread", "threads", joinInts(waitThreads(w))))
			if len(alive) == 0 {
				s = fmt.Sprintf("closed at %s; %s", at(it, tr.ClosedAt), s)
			}
			bad = append(bad, s)
		}
		if len(bad) > 0 {
			return newCheck(id, StatusFail, n, "%s", strings.Join(bad, "; "))
		}
		if n == 0 {
			return newCheck(id, StatusPass, n, "closed at %s; no client thread ran", at(it, tr.ClosedAt))
		}
		return newCheck(id, StatusPass, n, "closed at %s after every client thread exited", at(it, tr.ClosedAt))
	}
	if tr.KeptOpen {
		return newCheck(id, StatusPass, n, "kept open (%s alive), never closed under a waiter",
			plural(len(keptOpenAlive(it)), "client thread", "client threads"))
	}
	// Signalled but neither closed nor deliberately kept: shutdown did not
	// get that far while we watched. Nothing was closed under a waiter in
	// the observed window; shutdown-completed reports why it stopped.
	return newCheck(id, StatusPass, n, "not closed by %s (%s), never closed under a waiter",
		at(it, it.ObservedUntil), notReturnedWhy(it))
}

// aliveAtClose is the union of the kernel's list of client threads alive at
// the terminate close and those the thread timeline shows alive then.
func aliveAtClose(it *load.Iteration) []int {
	tr := it.Server.Terminate
	set := map[int]bool{}
	for _, id := range tr.AliveAtClose {
		set[id] = true
	}
	for _, th := range it.Server.ClientThreads() {
		if aliveAt(th, tr.ClosedAt) {
			set[th.ID] = true
		}
	}
	return sortedKeys(set)
}

// keptOpenAlive are the client threads the kept-open handle protects: those
// alive when shutdown returned (or, if it never did, when observation
// stopped), falling back on the policy's own straggler list.
func keptOpenAlive(it *load.Iteration) []int {
	if ids := stragglers(it); len(ids) > 0 {
		return ids
	}
	return append([]int(nil), it.Server.Shutdown.Stragglers...)
}

// aliveAt: created at or before t and not exited by t. A thread that exits
// at the very instant of t has let go.
func aliveAt(th kernel.ThreadRecord, t time.Duration) bool {
	if len(th.States) > 0 && th.States[0].At > t {
		return false
	}
	return !th.Exited || th.ExitedAt > t
}

// stragglers are the client threads alive after shutdown returned: not
// exited, or exited later than the return. Without a return, they are the
// threads alive when observation stopped.
func stragglers(it *load.Iteration) []int {
	t := it.ObservedUntil
	if it.ShutdownReturned {
		t = it.Server.Shutdown.Returned
	}
	var ids []int
	for _, th := range it.Server.ClientThreads() {
		if !th.Exited || th.ExitedAt > t {
			ids = append(ids, th.ID)
		}
	}
	return ids
}

func waitKinds(w []kernel.WaitFailure) string {
	failed, recycled := 0, 0
	for _, f := range w {
		if f.Recycled {
			recycled++
		} else {
			failed++
		}
	}
	switch {
	case recycled == 0:
		return "WAIT_FAILED"
	case failed == 0:
		return "on a recycled handle"
	default:
		return fmt.Sprintf("%d WAIT_FAILED, %d on a recycled handle", failed, recycled)
	}
}

func waitThreads(w []kernel.WaitFailure) []int {
	set := map[int]bool{}
	for _, f := range w {
		set[f.Thread] = true
	}
	return sortedKeys(set)
}

func notReturnedWhy(it *load.Iteration) string {
	if it.Interrupted {
		return "run interrupted before shutdown returned"
	}
	return "shutdown did not return by the deadline"
}

// checkShutdown: StopSockets returned and every step ran to its end within
// its budget.
func checkShutdown(it *load.Iteration) Check {
	const id = CheckShutdownCompleted
	sr := it.Server.Shutdown
	n := len(sr.Steps)
	if !it.ShutdownReturned {
		return newCheck(id, StatusFail, n, "%s (observed until %s)", notReturnedWhy(it), at(it, it.ObservedUntil))
	}
	if n == 0 {
		return newCheck(id, StatusFail, n, "shutdown returned at %s with no step recorded", at(it, sr.Returned))
	}
	if !sr.Completed() {
		var bad []string
		for _, st := range sr.Steps {
			if st.Outcome == target.StepOK {
				continue
			}
			s := st.Name + ": " + st.Outcome
			if st.Detail != "" {
				s += " (" + st.Detail + ")"
			}
			bad = append(bad, s)
		}
		return newCheck(id, StatusFail, n, "%d of %d steps not ok: %s", len(bad), n, strings.Join(bad, "; "))
	}
	return newCheck(id, StatusPass, n, "%s in %s", plural(n, "step", "steps"), dur(sr.Returned-sr.Trigger))
}

// checkThreadLeak: no accepted-client thread is alive once shutdown has
// returned, so the process could unload the code those threads run.
func checkThreadLeak(it *load.Iteration) Check {
	const id = CheckNoThreadLeak
	threads := it.Server.ClientThreads()
	n := len(threads)
	byID := map[int]kernel.ThreadRecord{}
	for _, th := range threads {
		byID[th.ID] = th
	}
	describe := func(ids []int, t time.Duration) string {
		var parts []string
		for i, tid := range ids {
			if i == maxListed {
				parts = append(parts, fmt.Sprintf("and %d more", len(ids)-maxListed))
				break
			}
			th := byID[tid]
			s := fmt.Sprintf("thread %d in %s", tid, stateAt(th.States, t))
			switch {
			case th.Forced:
				s += " (forced at close)"
			case th.Exited:
				s += " (exited " + at(it, th.ExitedAt) + ")"
			default:
				s += " (never exited)"
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ", ")
	}
	if !it.ShutdownReturned {
		s := "shutdown did not return by the deadline"
		if it.Interrupted {
			s = "shutdown did not return before the run was interrupted"
		}
		if ids := stragglers(it); len(ids) > 0 {
			s += fmt.Sprintf("; %s alive at %s: %s", plural(len(ids), "client thread", "client threads"),
				at(it, it.ObservedUntil), describe(ids, it.ObservedUntil))
		}
		return newCheck(id, StatusFail, n, "%s", s)
	}
	ret := it.Server.Shutdown.Returned
	if ids := stragglers(it); len(ids) > 0 {
		return newCheck(id, StatusFail, n, "%d of %d client threads outlived shutdown (returned %s): %s",
			len(ids), n, at(it, ret), describe(ids, ret))
	}
	if n == 0 {
		return newCheck(id, StatusSkip, n, "no client thread ran")
	}
	var last time.Duration
	for _, th := range threads {
		if th.ExitedAt > last {
			last = th.ExitedAt
		}
	}
	return newCheck(id, StatusPass, n, "all %s exited by %s; shutdown returned %s",
		plural(n, "client thread", "client threads"), at(it, last), at(it, ret))
}

// stateAt is the state a thread was in at t, from its folded history. An
// entry with Repeats stands for a cycle with the entry before it (wait ⇄
// send) whose individual turns were not stamped, so inside that span the
// state is only known to be one of the two.
func stateAt(h []kernel.StateRecord, t time.Duration) string {
	i := sort.Search(len(h), func(i int) bool { return h[i].At > t }) - 1
	if i < 0 {
		return "not yet created"
	}
	if h[i].Repeats > 0 && i > 0 {
		return h[i-1].State + "⇄" + h[i].State
	}
	return h[i].State
}

// clientCheck is the shape shared by the client-outcome checks: every
// client of some roles must end in one of the wanted outcomes.
func clientCheck(it *load.Iteration, id string, roles []load.Role, ok func(load.Outcome) bool,
	none, good string) Check {
	var cs []load.ClientResult
	for _, c := range it.Clients {
		for _, r := range roles {
			if c.Role == r {
				cs = append(cs, c)
				break
			}
		}
	}
	if len(cs) == 0 {
		return newCheck(id, StatusSkip, 0, "%s", none)
	}
	if !it.Ready {
		// The clients were never all in place, so what the shutdown did
		// to them was not observed; the run reports why (exit 3 or 130).
		return newCheck(id, StatusSkip, 0, "not observed: the clients were not all in their intended states at the trigger")
	}
	var bad []string
	nbad := 0
	for _, c := range cs {
		if ok(c.Outcome) {
			continue
		}
		nbad++
		if nbad > maxListed {
			continue
		}
		s := fmt.Sprintf("client %d: %s", c.ID, c.Outcome)
		if c.Detail != "" {
			s += " (" + c.Detail + ")"
		}
		bad = append(bad, s)
	}
	if nbad > maxListed {
		bad = append(bad, fmt.Sprintf("and %d more", nbad-maxListed))
	}
	d := fmt.Sprintf("%d/%d %s", len(cs)-nbad, len(cs), good)
	if nbad > 0 {
		return newCheck(id, StatusFail, len(cs), "%s; %s", d, strings.Join(bad, "; "))
	}
	return newCheck(id, StatusPass, len(cs), "%s", d)
}

// checkInflight: a request in process at the trigger is answered in full,
// not cut off (the fix joins the thread instead of abandoning it).
func checkInflight(it *load.Iteration) Check {
	return clientCheck(it, CheckInflightCompleted, []load.Role{load.RoleInflight},
		func(o load.Outcome) bool { return o == load.OutcomeCompleted },
		"no in-flight clients", "whole responses")
}

// checkIdle: a connection parked in linger or wait is closed by the server
// on terminate, not left for the client to time out.
func checkIdle(it *load.Iteration) Check {
	return clientCheck(it, CheckIdleClosed, []load.Role{load.RoleIdle, load.RoleSilent},
		func(o load.Outcome) bool { return o == load.OutcomeClosed },
		"no idle or silent clients", "idle and silent clients closed by the server")
}

// checkWSClose: a WebSocket stream ends with a close frame saying 1001
// (going away); a bare socket close shows as 1006.
func checkWSClose(it *load.Iteration) Check {
	c := clientCheck(it, CheckWSCloseGoingAway, []load.Role{load.RoleStream},
		func(o load.Outcome) bool { return o == load.WSClose(1001) },
		"no WebSocket clients", "streams got close 1001 (going away)")
	if c.Status == StatusPass {
		msgs := 0
		for _, cl := range it.Clients {
			if cl.Role == load.RoleStream {
				msgs += cl.Messages
			}
		}
		c.Detail += fmt.Sprintf(" after %s", plural(msgs, "message", "messages"))
	}
	return c
}

// checkAdmission: once shutdown is triggered no new connection is served;
// a refused connect, an unserved close or a 503 all count as not admitted.
func checkAdmission(it *load.Iteration) Check {
	const id = CheckNoAdmissionAfterTrigger
	n := len(it.Admission)
	if n == 0 {
		return newCheck(id, StatusSkip, 0, "no admission probes")
	}
	var good, bad []string
	for _, p := range it.Admission {
		s := fmt.Sprintf("%s at %s: %s", p.When, at(it, p.At), p.Outcome)
		switch p.Outcome {
		case load.AdmissionRefused, load.AdmissionClosed, load.AdmissionUnavailable:
			good = append(good, s)
			continue
		}
		if p.Detail != "" {
			s += " (" + p.Detail + ")"
		}
		bad = append(bad, s)
	}
	if len(bad) > 0 {
		return newCheck(id, StatusFail, n, "%d/%d probes admitted or failed: %s", len(bad), n, capJoin(bad, "; "))
	}
	return newCheck(id, StatusPass, n, "%d/%d probes not admitted: %s", n, n, capJoin(good, ", "))
}

// checkRouting: the fix changes no route: each probe sent before the
// trigger got the status, content type and body shape it expected.
func checkRouting(it *load.Iteration) Check {
	const id = CheckRoutingUnchanged
	n := len(it.Routes)
	if n == 0 {
		return newCheck(id, StatusSkip, 0, "no route probes")
	}
	var bad []string
	for _, r := range it.Routes {
		if r.Err != "" {
			bad = append(bad, r.Name+": error: "+r.Err)
			continue
		}
		var diffs []string
		e, o := r.Expected, r.Observed
		if e.Status != o.Status {
			diffs = append(diffs, fmt.Sprintf("status %d→%d", e.Status, o.Status))
		}
		if e.ContentType != o.ContentType {
			diffs = append(diffs, fmt.Sprintf("content type %q→%q", e.ContentType, o.ContentType))
		}
		if e.Shape != o.Shape {
			diffs = append(diffs, fmt.Sprintf("shape %q→%q", e.Shape, o.Shape))
		}
		if len(diffs) > 0 {
			bad = append(bad, r.Name+": "+strings.Join(diffs, ", "))
		}
	}
	if len(bad) > 0 {
		return newCheck(id, StatusFail, n, "%d of %d routes changed: %s", len(bad), n, capJoin(bad, "; "))
	}
	return newCheck(id, StatusPass, n, "%d/%d routes unchanged", n, n)
}

// terminateName is the kernel object name of the terminate event.
const terminateName = "terminate"

// checkResources: every socket, SocketData and handle is released, except
// the terminate handle the fix leaks on purpose when it keeps it open; the
// kernel threads and helper goroutines ended; and, where the OS lets us
// count, the process's own socket fds agree. Observed counts the
// measurements taken.
func checkResources(it *load.Iteration) Check {
	const id = CheckResourcesReleased
	left := it.Server.Left
	kept := it.Server.Terminate.KeptOpen
	var bad, notes []string
	observed := 5
	if left.OpenSockets != 0 {
		bad = append(bad, fmt.Sprintf("%s open", plural(left.OpenSockets, "socket", "sockets")))
	}
	if left.SocketData != 0 {
		bad = append(bad, fmt.Sprintf("%d SocketData not freed", left.SocketData))
	}
	var extra []string
	keptSeen := false
	for _, h := range left.Handles {
		if kept && h == terminateName && !keptSeen {
			keptSeen = true
			continue
		}
		extra = append(extra, h)
	}
	allowed := 0
	if kept {
		allowed = 1
		notes = append(notes, "terminate handle kept open on purpose")
	}
	switch {
	case len(extra) > 0:
		bad = append(bad, fmt.Sprintf("%s left open: %s", plural(len(extra), "handle", "handles"), capJoin(extra, ", ")))
	case left.OpenHandles > allowed:
		// The count was taken before Close released anything; the names
		// after. A handle in the first and not the second was held at the
		// end of the run and only let go because Close forced it.
		bad = append(bad, fmt.Sprintf("%s open at the end of the run (released only by the forced close)",
			plural(left.OpenHandles, "handle", "handles")))
	}
	if !it.Server.ThreadsEnded {
		bad = append(bad, "kernel threads still running after close")
	}
	if !it.Server.GoroutinesEnded {
		bad = append(bad, "helper goroutines still running after close")
	}
	fd := it.FDs
	if fd.Available {
		observed += 2
		if fd.After != 0 {
			bad = append(bad, fmt.Sprintf("%d socket fds still open after the run", fd.After))
		}
		if fd.AtHold != fd.ExpectedAtHold {
			bad = append(bad, fmt.Sprintf("%d socket fds at hold, server and clients accounted for %d", fd.AtHold, fd.ExpectedAtHold))
		}
		if fd.After == 0 && fd.AtHold == fd.ExpectedAtHold {
			notes = append(notes, fmt.Sprintf("fds: %d at hold as accounted, 0 after", fd.AtHold))
		}
	} else {
		why := fd.Why
		if why == "" {
			why = "not recorded"
		}
		notes = append(notes, "fd cross-check unavailable: "+why)
	}
	if len(bad) > 0 {
		return newCheck(id, StatusFail, observed, "%s", strings.Join(append(bad, notes...), "; "))
	}
	return newCheck(id, StatusPass, observed, "%s", strings.Join(append([]string{
		"0 sockets, 0 SocketData, no stray handles; threads and goroutines ended"}, notes...), "; "))
}

// at formats a server-clock instant relative to the iteration's trigger,
// to the millisecond, as the text and details show it: t+0.305s.
func at(it *load.Iteration, d time.Duration) string {
	return relSeconds(d - it.Trigger)
}

func relSeconds(d time.Duration) string {
	s := math.Round(float64(d)/float64(time.Millisecond)) / 1000
	if s == 0 {
		s = 0 // no "t-0.000s"
	}
	return fmt.Sprintf("t%+.3fs", s)
}

// dur formats a span to a useful precision: 3.1ms, 10.002s.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// plural2 is a noun followed by a list: "thread 2", "threads 2, 4".
func plural2(n int, one, many, list string) string {
	if n == 1 {
		return one + " " + list
	}
	return many + " " + list
}

func joinInts(ids []int) string { return listIDs(ids, maxListed) }

// listIDs lists ids, at most limit of them, then "and N more": a detail
// line, not a dump.
func listIDs(ids []int, limit int) string {
	parts := make([]string, 0, min(len(ids), limit)+1)
	for i, id := range ids {
		if i == limit {
			parts = append(parts, fmt.Sprintf("and %d more", len(ids)-limit))
			break
		}
		parts = append(parts, strconv.Itoa(id))
	}
	return strings.Join(parts, ", ")
}

func capJoin(items []string, sep string) string {
	if len(items) > maxListed {
		items = append(items[:maxListed:maxListed], fmt.Sprintf("and %d more", len(items)-maxListed))
	}
	return strings.Join(items, sep)
}

func sortedKeys(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}
