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
	Status Status `json:"status"`
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

// Status is a check's result.
type Status string

// Check statuses.
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	// StatusSkip: there was nothing to observe (no client of that role,
	// no probe), so the criterion was neither met nor broken.
	StatusSkip Status = "skip"
)

// Verdict is a run's or an iteration's result.
type Verdict string

// Verdicts. Pass and fail come from the checks; error is for what could
// not be judged.
const (
	VerdictPass Verdict = "pass"
	VerdictFail Verdict = "fail"
	// VerdictError: the run (or an iteration) could not be carried out,
	// so it proves nothing either way.
	VerdictError Verdict = "error"
)

// Check IDs. Their order, the sentence each is judged by and the function
// that judges it are the registry's (criteria), and nowhere else.
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
	CheckNoKernelViolations       = "no-kernel-violations"
	CheckNoBusySpin               = "no-busy-spin"
	CheckDrainWithin              = "drain-within"
	CheckNoGrowth                 = "no-growth"
)

// criterion is one acceptance check: its id, the sentence saying when it
// passes (README.md's check table shows exactly these, a test holds them
// together), and the function that judges one iteration by it. The
// function leaves the ID to Evaluate, so an id and its judge cannot come
// apart.
type criterion struct {
	id       string
	passes   string
	evaluate func(*load.Iteration) Check
}

// criteria is the check registry: every check, in the order every report
// shows them. The fix's acceptance criteria (design doc §1) come first,
// then what the tool adds around them.
var criteria = []criterion{
	{CheckTerminateOutlivedWaiters, "the terminate handle was never closed while a client thread was alive, nor before the closer had joined every client thread (a close after threads that had merely happened to exit fails too: \"all had exited by luck\"), and no wait touched it after the close. This is the eMule bug.", checkTerminate},
	{CheckShutdownCompleted, "shutdown returned, and every step of the policy ran to its end within its budget (a join that timed out, a `TerminateThread`, or a terminate handle kept open fails it)", checkShutdown},
	{CheckNoThreadLeak, "no client thread was alive after shutdown returned; stragglers are named", checkThreadLeak},
	{CheckInflightCompleted, "every request in flight at the trigger got its whole, correct response (status 200, content type, body shape, `Connection: close`, body length equal to Content-Length)", checkInflight},
	{CheckIdleClosed, "every idle (lingering) and silent connection was ended by the server after the trigger, cleanly (not reset, not left hanging)", checkIdle},
	{CheckWSCloseGoingAway, "every WebSocket client received a close frame with code 1001 (1006 means no close frame came)", checkWSClose},
	{CheckNoAdmissionAfterTrigger, "a connection attempted after the trigger was refused, closed unserved, or answered 503", checkAdmission},
	{CheckRoutingUnchanged, "before the trigger every route answered as in `load/routes.golden.json` (status, content type, body shape)", checkRouting},
	{CheckResourcesReleased, "the server held no socket, SocketData or handle afterwards (a terminate handle kept open on purpose is allowed and reported), and no thread killed by `TerminateThread` held anything (its cleanup never ran: what it held is named); on Linux the process's socket descriptors agree with the server's count while holding and return to the baseline at the end", checkResources},
	{CheckNoKernelViolations, "the server committed no act the model kernel records as undefined or harmful (a close while a wait is pending, a wait on a closed handle, a stale handle, `TerminateThread`, and any kind added later); each is named with its kind, thread, handle and time. The harness's own forced release at the end of a run is reported but does not fail it", checkViolations},
	{CheckProcessExited, "an external server's process exited by itself within `--drain-timeout` of the trigger with status 0 or the one `--expect-exit` names, or kept running as `--expect-exit none` says (skip for the embedded target, and without a launched process or `--pid`)", checkProcessExited},
	{CheckPortReleased, "once an external server's process exited, its port refused connections and could be bound again (skip for the embedded target, and when no exit was seen)", checkPortReleased},
	{CheckNoBusySpin, "no client thread's TLS handshake or read loop went round more than 250 times without a wait (BUG-081: such a loop pins a core and terminate cannot interrupt it); skip without `--https`", checkBusySpin},
	{CheckServerClosedConnections, "every client connection of an external server was closed by its process while it was alive (an OS sample taken before the exit found its server socket gone from the process's descriptors or in FIN_WAIT and the like; CLOSE_WAIT is the client's close), not by the kernel at its exit or kill (skip for the embedded target, without OS samples, and when the exit came within one sampling interval of the closes, where the two cannot be told apart)", skipWith(skipEmbedded)},
	{CheckDrainWithin, "trigger → last client thread exited stayed within `--max-drain` (skip without the flag)", checkDrainWithin},
	{CheckNoFailedRequests, "every request of the steady traffic (`--rate`) that the server had taken on before the trigger (written before it, on a connection whose server thread had begun before it where the server's threads are seen), or served after it, completed: none was reset or cut mid-answer, answered with a 5xx other than a 503 shutting-down answer, or timed out; `--max-failed` allows some. After the trigger a request refused, closed unserved, reset from the listen backlog or answered 503 is admission behaviour, counted apart (skip without `--rate`)", checkFailedRequests},
	{CheckHostileHandled, "every hostile client was answered with the error or dropped as its role's row of [Hostile clients](#hostile-clients) says, and its server thread ended by itself: before the trigger for a role the server rejects at once, by the end of the drain for a lasting one (skip without hostile clients)", checkHostile},
}

// runCriterion is a check of the run as a whole (a trend over its
// iterations), judged from the iterations as the report records them.
type runCriterion struct {
	id       string
	passes   string
	evaluate func([]Iteration, []Trend) Check
}

// runCriteria are the checks of the run as a whole, shown after the
// registry's (criteria); README.md's check table lists them after those.
var runCriteria = []runCriterion{
	{CheckNoGrowth, "no resource sampled after each iteration (the live heap after a GC, goroutines, open descriptors, the server's kernel handles) keeps rising through the run, by the robust fit described under [Soak](#soak); skip below 20 iterations after a warm-up of 5. It judges the run as a whole, not each iteration", checkNoGrowth},
}

// evaluateRun judges the run's iterations, as the report records them,
// and their trends, by every check of the run as a whole, in runCriteria's
// order.
func evaluateRun(its []Iteration, ts []Trend) []Check {
	out := make([]Check, len(runCriteria))
	for i, cr := range runCriteria {
		out[i] = cr.evaluate(its, ts)
		out[i].ID = cr.id
	}
	return out
}

// runChecks are the report's checks of the run as a whole.
func (r Report) runChecks() []Check {
	var out []Check
	for _, c := range r.Checks {
		for _, cr := range runCriteria {
			if c.ID == cr.id {
				out = append(out, c)
			}
		}
	}
	return out
}

// maxListed bounds how many offenders one detail names: a run may hold
// thousands of clients and a detail must stay one readable line.
const maxListed = 5

// Evaluate judges one iteration by every check of the registry, in its
// order (an external target by externalJudges). It reads only what was
// recorded; an interrupted iteration is judged on what it got to record (a
// client still pending is not completed).
func Evaluate(it *load.Iteration) []Check { return evaluate(withClientThreads(it)) }

// evaluate is Evaluate of an iteration whose client threads are listed
// (withClientThreads).
func evaluate(it *load.Iteration) []Check {
	out := make([]Check, len(criteria))
	for i, cr := range criteria {
		out[i] = judge(cr, it)(it)
		out[i].ID = cr.id
	}
	return out
}

// withClientThreads is it with its server record's client threads listed
// once, for the many readers of one report; it leaves it unchanged.
func withClientThreads(it *load.Iteration) *load.Iteration {
	fr := *it
	fr.Server = it.Server.WithClientThreads()
	return &fr
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

// VerdictOf is pass when no check failed, else fail.
func VerdictOf(checks []Check) Verdict {
	for _, c := range checks {
		if c.Status == StatusFail || !c.Pass {
			return VerdictFail
		}
	}
	return VerdictPass
}

// IterationVerdict is one iteration's verdict from its checks. It fails
// when a check failed. An iteration whose clients were never all in place
// was not observed through the shutdown, so it is never a pass: when an
// interrupt cut the wait short it fails (no sign-off), and otherwise it
// could not be carried out (error; the engine stops the run there).
func IterationVerdict(it *load.Iteration, checks []Check) Verdict {
	switch {
	case VerdictOf(checks) == VerdictFail:
		return VerdictFail
	case !it.Ready && it.Interrupted:
		return VerdictFail
	case !it.Ready:
		return VerdictError
	}
	return VerdictPass
}

// newCheck is a check's result; Evaluate gives it the check's ID.
func newCheck(status Status, observed int, format string, args ...any) Check {
	return Check{Status: status, Pass: status != StatusFail, Observed: observed,
		Detail: oneLine(fmt.Sprintf(format, args...))}
}

// oneLine keeps a detail on one line even when a recorded error text
// (from a socket, a handler) carries newlines.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// checkTerminate is the fix's first criterion: the terminate handle is
// never closed while an accepted-client thread can still wait on it. Who
// was alive at the close is the record's list (target.TerminateRecord),
// which agrees with the report's exited_ms and closed_ms by construction.
func checkTerminate(it *load.Iteration) Check {
	tr := it.Server.Terminate
	n := len(it.Server.ClientThreads())
	if !tr.Signaled && !tr.Closed && !tr.KeptOpen && !it.ShutdownReturned {
		return newCheck(StatusSkip, n, "terminate was never signalled: shutdown did not run")
	}
	if tr.Closed {
		if !terminateOf(it).ClosedUnsafely() {
			if n == 0 {
				return newCheck(StatusPass, n, "closed at %s; no client thread ran", at(it, tr.ClosedAt))
			}
			return newCheck(StatusPass, n, "closed at %s after every client thread exited", at(it, tr.ClosedAt))
		}
		var bad []string
		alive := tr.AliveAtClose
		switch unjoined := tr.Unjoined; {
		case len(alive) > 0:
			s := fmt.Sprintf("closed at %s while %s alive (%s)", at(it, tr.ClosedAt),
				plural(len(alive), "client thread was", "client threads were"), joinInts(alive))
			if b := len(tr.BlockedAtClose); b > 0 {
				s += fmt.Sprintf(", %d blocked in a wait on it", b)
			}
			bad = append(bad, s)
		case len(unjoined) > 0:
			// Every thread had gone, but the closer did not know it:
			// the same close a moment earlier is the bug.
			bad = append(bad, fmt.Sprintf("closed at %s without joining %s (%s); all had exited by luck", at(it, tr.ClosedAt),
				plural(len(unjoined), "client thread", "client threads"), joinInts(unjoined)))
		}
		if w := tr.WaitsAfterClose; len(w) > 0 {
			s := fmt.Sprintf("%s after close (%s) by %s", plural(len(w), "wait", "waits"),
				waitKinds(w), plural2(len(waitThreads(w)), "thread", "threads", joinInts(waitThreads(w))))
			if len(bad) == 0 {
				s = fmt.Sprintf("closed at %s; %s", at(it, tr.ClosedAt), s)
			}
			bad = append(bad, s)
		}
		return newCheck(StatusFail, n, "%s", strings.Join(bad, "; "))
	}
	if tr.KeptOpen {
		return newCheck(StatusPass, n, "kept open (%s alive), never closed under a waiter",
			plural(len(keptOpenAlive(it)), "client thread", "client threads"))
	}
	// Signalled but neither closed nor deliberately kept: shutdown did not
	// get that far while we watched. Nothing was closed under a waiter in
	// the observed window; shutdown-completed reports why it stopped.
	return newCheck(StatusPass, n, "not closed by %s (%s), never closed under a waiter",
		at(it, it.ObservedUntil), notReturnedWhy(it))
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

// stragglers are the client threads alive after shutdown returned: not
// exited, or exited later than the return. Without a return, they are the
// threads alive when observation stopped.
func stragglers(it *load.Iteration) []int {
	t := it.ObservedUntil
	if it.ShutdownReturned {
		t = it.Server.Shutdown.Returned
	}
	return it.Server.AliveAfter(t)
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
	sr := it.Server.Shutdown
	n := len(sr.Steps)
	if !it.ShutdownReturned {
		return newCheck(StatusFail, n, "%s (observed until %s)", notReturnedWhy(it), at(it, it.ObservedUntil))
	}
	if n == 0 {
		return newCheck(StatusFail, n, "shutdown returned at %s with no step recorded", at(it, sr.Returned))
	}
	if !sr.Completed() {
		var bad []string
		for _, st := range sr.Steps {
			if st.Outcome == target.StepOK {
				continue
			}
			s := fmt.Sprintf("%s: %s", st.Name, st.Outcome)
			if st.Detail != "" {
				s += " (" + st.Detail + ")"
			}
			if st.Outcome == target.StepKilled && len(it.Server.Leaks) > 0 {
				s += "; leaked: " + leakWords(it.Server.Leaks)
			}
			bad = append(bad, s)
		}
		return newCheck(StatusFail, n, "%d of %d steps not ok: %s", len(bad), n, strings.Join(bad, "; "))
	}
	return newCheck(StatusPass, n, "%s in %s", plural(n, "step", "steps"), dur(sr.Returned-sr.Trigger))
}

// checkThreadLeak: no accepted-client thread is alive once shutdown has
// returned, so the process could unload the code those threads run.
func checkThreadLeak(it *load.Iteration) Check {
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
		return newCheck(StatusFail, n, "%s", s)
	}
	ret := it.Server.Shutdown.Returned
	if ids := stragglers(it); len(ids) > 0 {
		return newCheck(StatusFail, n, "%d of %d client threads outlived shutdown (returned %s): %s",
			len(ids), n, at(it, ret), describe(ids, ret))
	}
	if n == 0 {
		return newCheck(StatusSkip, n, "no client thread ran")
	}
	var last time.Duration
	for _, th := range threads {
		if th.ExitedAt > last {
			last = th.ExitedAt
		}
	}
	return newCheck(StatusPass, n, "all %s exited by %s; shutdown returned %s",
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
		return string(h[i-1].State + "⇄" + h[i].State)
	}
	return string(h[i].State)
}

// clientCheck is the shape shared by the client-outcome checks: every
// client of some roles must end as its role passes (load.Role.Passes).
func clientCheck(it *load.Iteration, roles []load.Role, none, good string) Check {
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
		return newCheck(StatusSkip, 0, "%s", none)
	}
	if !it.Ready {
		// The clients were never all in place, so what the shutdown did
		// to them was not observed; the run reports why (exit 3 or 130).
		return newCheck(StatusSkip, 0, "not observed: the clients were not all in their intended states at the trigger")
	}
	var bad []string
	nbad := 0
	for _, c := range cs {
		if c.Role.Passes(c.Outcome) {
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
		return newCheck(StatusFail, len(cs), "%s; %s", d, strings.Join(bad, "; "))
	}
	return newCheck(StatusPass, len(cs), "%s", d)
}

// checkInflight: a request in process at the trigger is answered in full,
// not cut off (the fix joins the thread instead of abandoning it).
func checkInflight(it *load.Iteration) Check {
	return clientCheck(it, []load.Role{load.RoleInflight}, "no in-flight clients", "whole responses")
}

// checkIdle: a connection parked in linger or wait is closed by the server
// on terminate, not left for the client to time out.
func checkIdle(it *load.Iteration) Check {
	return clientCheck(it, []load.Role{load.RoleIdle, load.RoleSilent},
		"no idle or silent clients", "idle and silent clients closed by the server")
}

// checkWSClose: a WebSocket stream ends with a close frame saying 1001
// (going away); a bare socket close shows as 1006.
func checkWSClose(it *load.Iteration) Check {
	c := clientCheck(it, []load.Role{load.RoleStream}, "no WebSocket clients", "streams got close 1001 (going away)")
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
	n := len(it.Admission)
	if n == 0 {
		return newCheck(StatusSkip, 0, "no admission probes")
	}
	var good, bad []string
	for _, p := range it.Admission {
		s := fmt.Sprintf("%s at %s: %s", p.When, at(it, p.At), p.Outcome)
		if load.NotAdmitted(p.Outcome) {
			good = append(good, s)
			continue
		}
		if p.Detail != "" {
			s += " (" + p.Detail + ")"
		}
		bad = append(bad, s)
	}
	if len(bad) > 0 {
		return newCheck(StatusFail, n, "%d/%d probes admitted or failed: %s", len(bad), n, capJoin(bad, "; "))
	}
	return newCheck(StatusPass, n, "%d/%d probes not admitted: %s", n, n, capJoin(good, ", "))
}

// checkRouting: the fix changes no route: each probe sent before the
// trigger got the status, content type and body shape it expected.
func checkRouting(it *load.Iteration) Check {
	n := len(it.Routes)
	if n == 0 {
		return newCheck(StatusSkip, 0, "no route probes")
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
		return newCheck(StatusFail, n, "%d of %d routes changed: %s", len(bad), n, capJoin(bad, "; "))
	}
	return newCheck(StatusPass, n, "%d/%d routes unchanged", n, n)
}

// checkResources: every socket, SocketData and handle is released, except
// the terminate handle the fix leaks on purpose when it keeps it open; the
// kernel threads and helper goroutines ended; and, where the OS lets us
// count, the process's own socket fds agree. Observed counts the
// measurements taken.
func checkResources(it *load.Iteration) Check {
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
		if kept && h == target.EventTerminate && !keptSeen {
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
	if l := it.Server.Leaks; len(l) > 0 {
		// TerminateThread ran none of the thread's cleanup: what it held
		// is never released by the server, whatever Close forced later.
		bad = append(bad, "leaked by TerminateThread: "+leakWords(l))
	}
	if !it.Server.ThreadsEnded {
		bad = append(bad, "kernel threads still running after close")
	}
	if !it.Server.GoroutinesEnded {
		bad = append(bad, "helper goroutines still running after close")
	}
	fd := it.FDs
	if fd.Available {
		observed++
		if fd.After != 0 {
			bad = append(bad, fmt.Sprintf("%d socket fds still open after the run", fd.After))
		}
		if fdsCountedAtHold(it) {
			observed++
			if fd.AtHold != fd.ExpectedAtHold {
				bad = append(bad, fmt.Sprintf("%d socket fds at hold, server and clients accounted for %d", fd.AtHold, fd.ExpectedAtHold))
			} else if fd.After == 0 {
				notes = append(notes, fmt.Sprintf("fds: %d at hold as accounted, 0 after", fd.AtHold))
			}
		} else {
			note := "fds: not counted at hold (the clients were never all in place)"
			if fd.After == 0 {
				note += ", 0 after"
			}
			notes = append(notes, note)
		}
	} else {
		why := fd.Why
		if why == "" {
			why = "not recorded"
		}
		notes = append(notes, "fd cross-check unavailable: "+why)
	}
	if len(bad) > 0 {
		return newCheck(StatusFail, observed, "%s", strings.Join(append(bad, notes...), "; "))
	}
	return newCheck(StatusPass, observed, "%s", strings.Join(append([]string{
		"0 sockets, 0 SocketData, no stray handles; threads and goroutines ended"}, notes...), "; "))
}

// fdsCountedAtHold: the engine counts the socket fds at hold once every
// client is in place, so an iteration that never got ready has no count
// (its zeros are not a measurement).
func fdsCountedAtHold(it *load.Iteration) bool {
	return it.FDs.Available && it.Ready
}

// checkViolations: the server commits no act Win32 leaves undefined or
// calls harmful. Every kind the kernel records counts, so a kind added to
// the kernel later fails this check with no change here, except the
// harness's own forced release at the end of a run: that one is the
// tool's act, not the server's (no-thread-leak names the threads it
// freed), and is reported beside the verdict, not in it. Observed is every
// violation recorded.
func checkViolations(it *load.Iteration) Check {
	all := it.Server.Kernel.Violations
	var bad []string
	forced := 0
	for _, v := range all {
		if v.Kind == kernel.ViolationForced {
			forced++
			continue
		}
		who := "outside any modelled thread"
		if v.Thread != 0 {
			who = fmt.Sprintf("by thread %d", v.Thread)
		}
		bad = append(bad, fmt.Sprintf("%s at %s %s on handle %#x", v.Kind, at(it, v.At), who, v.Handle))
	}
	note := ""
	if forced > 0 {
		note = fmt.Sprintf("; %s at the end of the run (the harness's, not counted)",
			plural(forced, "forced release", "forced releases"))
	}
	if len(bad) > 0 {
		return newCheck(StatusFail, len(all), "%s by the server: %s%s",
			plural(len(bad), "violation", "violations"), capJoin(bad, "; "), note)
	}
	return newCheck(StatusPass, len(all), "no violation by the server%s", note)
}

// checkDrainWithin holds shutdown to a budget: trigger → last client
// thread exited must not exceed --max-drain. Without the flag it skips.
func checkDrainWithin(it *load.Iteration) Check {
	if it.MaxDrain <= 0 {
		return newCheck(StatusSkip, 0, "no --max-drain given")
	}
	n := len(it.Server.ClientThreads())
	last, ok := lastThreadExit(it)
	if !ok {
		return newCheck(StatusFail, n, "the drain never finished: a client thread did not exit on its own (budget %v)", it.MaxDrain)
	}
	return drainBudget(n, "last client thread exited", last-it.Trigger, it.MaxDrain)
}

// drainBudget judges a drain that took took (from the trigger) against
// --max-drain; what says what ended it.
func drainBudget(observed int, what string, took, budget time.Duration) Check {
	if took > budget {
		return newCheck(StatusFail, observed, "%s at t+%.3fs, over the %v budget", what, took.Seconds(), budget)
	}
	return newCheck(StatusPass, observed, "%s at t+%.3fs, within %v", what, took.Seconds(), budget)
}

// maxSpinTurns is no-busy-spin's bound on one thread's turns without a
// wait (its criterion sentence says the number). A handshake with a client
// that keeps up spins for one round trip before hardened: a few turns at
// the model's pace (target's spinPace, about a millisecond a turn on
// Linux). A client that dribbles its bytes for a quarter of a second or
// more goes past it.
const maxSpinTurns = 250

// checkBusySpin: no TLS loop of a client thread went round without a wait
// past maxSpinTurns. Without TLS there is no such loop: skip.
func checkBusySpin(it *load.Iteration) Check {
	rec := it.Server
	if !rec.TLS {
		return newCheck(StatusSkip, 0, "the server did not speak TLS (no --https)")
	}
	n := len(rec.ClientThreads())
	var over []string
	for _, sp := range rec.Spins {
		if sp.Turns > maxSpinTurns {
			over = append(over, fmt.Sprintf("thread %d %d turns from %s to %s", sp.Thread, sp.Turns, at(it, sp.First), at(it, sp.Last)))
		}
	}
	if len(over) > 0 {
		return newCheck(StatusFail, n, "%s spun over %d turns without a wait, out of terminate's reach: %s",
			plural(len(over), "thread", "threads"), maxSpinTurns, capJoin(over, "; "))
	}
	if m := rec.MaxSpin(); m.Turns > 0 {
		return newCheck(StatusPass, n, "no thread spun over %d turns (most: thread %d, %d)", maxSpinTurns, m.Thread, m.Turns)
	}
	return newCheck(StatusPass, n, "no TLS loop went round without a wait")
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
