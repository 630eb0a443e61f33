package reports

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// The fixtures are hand-built records on a server clock whose trigger is
// at 1s: after(310) is t+0.310s.
const trig = time.Second

func after(msec float64) time.Duration {
	return trig + time.Duration(msec*float64(time.Millisecond))
}

// mix is the six-client mix of the fixtures: client ids 1..6 are http
// idle, http inflight, rest idle, rest inflight, ws, tcp silent, served by
// client threads 2..7 (thread 1 is the listener).
var mix = load.Mix{HTTPIdle: 1, HTTPInflight: 1, RESTIdle: 1, RESTInflight: 1, WS: 1, Silent: 1}

func peerOf(tid int) string { return fmt.Sprintf("127.0.0.1:%d", 40000+tid) }

// doneThread is a client thread that went through a request and exited
// at exit, parked in park before cleanup.
func doneThread(id int, park target.State, exit time.Duration) kernel.ThreadRecord {
	return kernel.ThreadRecord{
		ID: id, Name: target.ThreadClient, Client: true, Peer: peerOf(id), Handle: uint32(0x100 + 4*id),
		States: []kernel.StateRecord{
			{State: target.StateSpawning, At: after(-200)},
			{State: target.StateInit, At: after(-199)},
			{State: target.StateWait, At: after(-198)},
			{State: target.StateRead, At: after(-197)},
			{State: park, At: after(-196)},
			{State: target.StateCleanup, At: exit},
			{State: target.StateExited, At: exit},
		},
		Exited: true, ExitedAt: exit,
	}
}

// cleanIteration is a fixed-policy run that passes everything: every
// client thread exits by t+0.305s, terminate is closed at t+0.310s.
func cleanIteration() load.Iteration {
	listener := kernel.ThreadRecord{ID: 1, Name: target.ThreadListener, Handle: 0x48,
		States: []kernel.StateRecord{{State: target.StateSpawning}, {State: target.StateWait, At: 1}, {State: target.StateExited, At: after(1)}},
		Exited: true, ExitedAt: after(1)}
	threads := []kernel.ThreadRecord{listener}
	parks := []target.State{target.StateLinger, target.StateProcess, target.StateLinger, target.StateProcess, target.StateSend, target.StateWait}
	for i, park := range parks {
		threads = append(threads, doneThread(i+2, park, after(300+float64(i))))
	}
	var clients []load.ClientResult
	outcomes := map[load.Role]load.Outcome{load.RoleIdle: load.OutcomeClosed, load.RoleInflight: load.OutcomeCompleted,
		load.RoleStream: load.WSClose(1001), load.RoleSilent: load.OutcomeClosed}
	for _, sp := range mix.Specs() {
		c := load.ClientResult{Spec: sp, Local: peerOf(sp.ID + 1), Thread: sp.ID + 1,
			Outcome: outcomes[sp.Role], EndedAt: after(300 + float64(sp.ID))}
		if sp.Kind == load.KindWS {
			c.Messages = 12
		}
		clients = append(clients, c)
	}
	return load.Iteration{
		N: 1, Addr: "127.0.0.1:41000", Trigger: trig,
		ObservedUntil: after(320), AllEnded: true, ShutdownReturned: true, Ready: true,
		Server: target.Record{
			Policy: target.PolicyFixed, Addr: "127.0.0.1:41000",
			Shutdown: target.ShutdownRecord{Policy: target.PolicyFixed, Trigger: trig, Returned: after(311),
				Steps: []target.Step{
					{Name: target.StepSignalTerminate, Start: trig, End: trig, Outcome: target.StepOK},
					{Name: target.StepJoinListener, Start: trig, End: after(1), Budget: 10 * time.Second, Outcome: target.StepOK},
					{Name: target.StepJoinClients, Start: after(1), End: after(310), Budget: 10 * time.Second, Outcome: target.StepOK, Detail: "6 client threads joined"},
					{Name: target.StepCloseTerminate, Start: after(310), End: after(310), Outcome: target.StepOK},
				}},
			Terminate: target.TerminateRecord{Handle: 0x40, TerminateTimes: target.TerminateTimes{Signaled: true, SignaledAt: trig, Closed: true, ClosedAt: after(310)}},
			Kernel: kernel.Record{Threads: threads,
				Closes: []kernel.CloseRecord{{Handle: 0x40, Name: target.EventTerminate, Kind: "event", At: after(310)}}},
			ThreadsEnded: true, GoroutinesEnded: true, Accepted: 6,
		},
		Clients: clients,
		Routes: []load.RouteProbe{
			{Name: "GET /api/v1/app", Expected: load.RouteShape{Status: 200, ContentType: "application/json; charset=utf-8", Shape: "data.name"},
				Observed: load.RouteShape{Status: 200, ContentType: "application/json; charset=utf-8", Shape: "data.name"}},
			{Name: "GET /?w=transfer", Expected: load.RouteShape{Status: 200, ContentType: "text/html", Shape: "Transfers"},
				Observed: load.RouteShape{Status: 200, ContentType: "text/html", Shape: "Transfers"}},
		},
		Admission: []load.AdmissionProbe{
			{When: load.WhenAtTrigger, At: after(0.5), Outcome: load.AdmissionUnavailable, Detail: "503"},
			{When: load.WhenAfterReturn, At: after(312), Outcome: load.AdmissionRefused},
		},
		FDs: load.FDCheck{Available: true, Base: 4, AtHold: 13, ExpectedAtHold: 13, After: 0},
	}
}

// legacyIteration is the pre-fix bug: terminate closed at t+0.004s while
// client threads 2 and 4 are still alive (busy in process), and both later
// wait on the closed value and get WAIT_FAILED.
func legacyIteration() load.Iteration {
	it := cleanIteration()
	s := &it.Server
	for i := range s.Kernel.Threads {
		th := &s.Kernel.Threads[i]
		if !th.Client {
			continue
		}
		exit := after(2)
		if th.ID == 2 || th.ID == 4 {
			exit = after(310)
		}
		*th = doneThread(th.ID, target.StateProcess, exit)
	}
	closeUnderLiveThreads(s)
	return it
}

// closeUnderLiveThreads writes legacy's shutdown into s: the listener is
// joined by t+3.9ms and terminate closed at t+4ms, no client thread
// joined, while client threads 2 and 4 are alive; both later wait on the
// closed value and fail.
func closeUnderLiveThreads(s *target.Record) {
	s.Policy = target.PolicyLegacy
	s.Shutdown = target.ShutdownRecord{Policy: target.PolicyLegacy, Trigger: trig, Returned: after(4.1),
		Steps: []target.Step{
			{Name: target.StepFreeTLS, Start: trig, End: trig, Outcome: target.StepOK},
			{Name: target.StepSignalTerminate, Start: trig, End: trig, Outcome: target.StepOK},
			{Name: target.StepJoinListener, Start: trig, End: after(3.9), Budget: 1300 * time.Millisecond, Outcome: target.StepOK},
			{Name: target.StepCloseTerminate, Start: after(4), End: after(4), Outcome: target.StepOK},
		}}
	fails := []kernel.WaitFailure{{At: after(305), Thread: 2, Handle: 0x40}, {At: after(306), Thread: 4, Handle: 0x40}}
	s.Terminate = target.TerminateRecord{Handle: 0x40,
		TerminateTimes: target.TerminateTimes{Signaled: true, SignaledAt: trig, Closed: true, ClosedAt: after(4)},
		AliveAtClose:   []int{2, 4}, WaitsAfterClose: fails, Unjoined: []int{2, 3, 4, 5, 6, 7}}
	s.Kernel.Closes = []kernel.CloseRecord{{Handle: 0x40, Name: target.EventTerminate, Kind: "event", At: after(4), AliveCount: 2}}
	s.Kernel.WaitFailures = fails
	s.Kernel.Violations = []kernel.Violation{
		{At: after(305), Kind: kernel.ViolationWaitOnClosed, Thread: 2, Handle: 0x40, Detail: "thread 2 waited on 0x40, a closed handle: WAIT_FAILED"},
		{At: after(306), Kind: kernel.ViolationWaitOnClosed, Thread: 4, Handle: 0x40, Detail: "thread 4 waited on 0x40, a closed handle: WAIT_FAILED"},
	}
}

// killListener makes the listener's join a TerminateThread that caught it
// in accept, holding its socket and accept event (nothing else changed, so
// each check's own words about it can be told apart).
func killListener(it *load.Iteration) {
	it.Server.Shutdown.Steps[1].Outcome = target.StepKilled
	it.Server.Shutdown.Steps[1].Detail = "listener did not exit in 1300ms: TerminateThread"
	it.Server.Leaks = []target.Leak{{Thread: 1, Name: target.ThreadListener, State: target.StateAccept,
		Held: []string{"listening socket", "accept event"}}}
}

// keptOpenIteration is the fix with in-flight requests held longer than
// the 100ms join budget: threads 3 and 5 (the in-flight clients) are still
// in process at the timeout, terminate is kept open, and they exit at
// t+0.500s, after shutdown returned at t+0.101s.
func keptOpenIteration() load.Iteration {
	it := cleanIteration()
	s := &it.Server
	for i := range s.Kernel.Threads {
		th := &s.Kernel.Threads[i]
		if th.ID == 3 || th.ID == 5 {
			*th = doneThread(th.ID, target.StateProcess, after(500))
		} else if th.Client {
			*th = doneThread(th.ID, th.States[4].State, after(50))
		}
	}
	s.Shutdown = target.ShutdownRecord{Policy: target.PolicyFixed, Trigger: trig, Returned: after(101),
		Stragglers: []int{3, 5},
		Steps: []target.Step{
			{Name: target.StepSignalTerminate, Start: trig, End: trig, Outcome: target.StepOK},
			{Name: target.StepJoinListener, Start: trig, End: after(1), Budget: 10 * time.Second, Outcome: target.StepOK},
			{Name: target.StepJoinClients, Start: after(1), End: after(101), Budget: 100 * time.Millisecond, Outcome: target.StepTimeout,
				Detail: "2 of 6 client threads still alive after 100ms: [3 5]"},
			{Name: target.StepCloseTerminate, Start: after(101), End: after(101), Outcome: target.StepKeptOpen,
				Detail: "termination handle kept open: 2 client thread(s) alive"},
		}}
	s.Terminate = target.TerminateRecord{Handle: 0x40, TerminateTimes: target.TerminateTimes{Signaled: true, SignaledAt: trig, KeptOpen: true}}
	s.Kernel.Closes = nil
	s.Left = target.Resources{OpenHandles: 1, Handles: []string{target.EventTerminate}}
	return it
}

func find(t *testing.T, checks []Check, id string) Check {
	t.Helper()
	for _, c := range checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s in %v", id, checks)
	return Check{}
}

func assertCheck(t *testing.T, c Check, status Status, observed int, want, notWant []string) {
	t.Helper()
	if c.Status != status {
		t.Errorf("%s: status %q, want %q (detail %q)", c.ID, c.Status, status, c.Detail)
	}
	if c.Pass != (status != StatusFail) {
		t.Errorf("%s: pass %v with status %q", c.ID, c.Pass, status)
	}
	if c.Observed != observed {
		t.Errorf("%s: observed %d, want %d", c.ID, c.Observed, observed)
	}
	for _, w := range want {
		if !strings.Contains(c.Detail, w) {
			t.Errorf("%s: detail %q lacks %q", c.ID, c.Detail, w)
		}
	}
	for _, w := range notWant {
		if strings.Contains(c.Detail, w) {
			t.Errorf("%s: detail %q must not contain %q", c.ID, c.Detail, w)
		}
	}
	if strings.ContainsAny(c.Detail, "\n\r") {
		t.Errorf("%s: detail is not one line: %q", c.ID, c.Detail)
	}
}

// checkIDs are the registry's ids, in its order.
func checkIDs() []string {
	ids := make([]string, len(criteria))
	for i, cr := range criteria {
		ids[i] = cr.id
	}
	return ids
}

// checkIndex is where check id stands in a run's checks: the registry's
// iteration checks, then the run's own. Tests read reports by it, so a
// check added to the registry moves no expectation by hand.
func checkIndex(t testing.TB, id string) int {
	t.Helper()
	for i, cid := range checkIDs() {
		if cid == id {
			return i
		}
	}
	for i, rc := range runCriteria {
		if rc.id == id {
			return len(criteria) + i
		}
	}
	t.Fatalf("no check %s in the registry", id)
	return -1
}

// allChecks is how many checks a run reports: every iteration check,
// aggregated, and the run's own.
var allChecks = len(criteria) + len(runCriteria)

func TestEvaluateOrder(t *testing.T) {
	checkIDs := checkIDs()
	if len(checkIDs) != 17 || checkIDs[14] != CheckDrainWithin || checkIDs[15] != CheckNoFailedRequests || checkIDs[16] != CheckHostileHandled {
		t.Fatalf("check ids %v: drain-within is the fifteenth, no-failed-requests the sixteenth, hostile-handled the seventeenth", checkIDs)
	}
	// Without --max-drain, drain-within has no budget to hold the run to
	// and skips; with one the clean run passes every check but the
	// external target's, which skip on the embedded one.
	for _, maxDrain := range []time.Duration{0, time.Second} {
		it := cleanIteration()
		it.MaxDrain = maxDrain
		got := Evaluate(&it)
		if len(got) != len(checkIDs) {
			t.Fatalf("%d checks, want %d", len(got), len(checkIDs))
		}
		for i, c := range got {
			if c.ID != checkIDs[i] {
				t.Errorf("check %d is %s, want %s", i, c.ID, checkIDs[i])
			}
			want := StatusPass
			if (c.ID == CheckDrainWithin && maxDrain == 0) || c.ID == CheckProcessExited || c.ID == CheckPortReleased || c.ID == CheckHostileHandled || c.ID == CheckNoBusySpin || c.ID == CheckServerClosedConnections || c.ID == CheckNoFailedRequests {
				want = StatusSkip // no budget; no external process; no hostile client; no --https; no --rate
			}
			if c.Status != want {
				t.Errorf("clean run, max drain %v: %s is %s, want %s: %s", maxDrain, c.ID, c.Status, want, c.Detail)
			}
		}
		if v := VerdictOf(got); v != VerdictPass {
			t.Errorf("clean run verdict %s", v)
		}
	}
}

func TestChecks(t *testing.T) {
	type tc struct {
		name     string
		base     func() load.Iteration
		mutate   func(*load.Iteration)
		status   Status
		observed int
		want     []string
		notWant  []string
	}
	setClient := func(id int, o load.Outcome, detail string) func(*load.Iteration) {
		return func(it *load.Iteration) {
			it.Clients[id-1].Outcome, it.Clients[id-1].Detail = o, detail
		}
	}
	dropRole := func(roles ...load.Role) func(*load.Iteration) {
		return func(it *load.Iteration) {
			var keep []load.ClientResult
		next:
			for _, c := range it.Clients {
				for _, r := range roles {
					if c.Role == r {
						continue next
					}
				}
				keep = append(keep, c)
			}
			it.Clients = keep
		}
	}
	cases := map[string][]tc{
		CheckTerminateOutlivedWaiters: {
			{name: "closed after every thread exited", status: StatusPass, observed: 6,
				want: []string{"closed at t+0.310s after every client thread exited"}},
			{name: "legacy closed under live threads", base: legacyIteration, status: StatusFail, observed: 6,
				want: []string{"closed at t+0.004s while 2 client threads were alive (2, 4)", "2 waits after close (WAIT_FAILED)", "threads 2, 4"}},
			{name: "the record's list is the story", status: StatusFail, observed: 6,
				mutate: func(it *load.Iteration) {
					// The record says thread 7 was alive at the close; no
					// recount of the timeline second-guesses it.
					it.Server.Terminate.AliveAtClose = []int{7}
				},
				want: []string{"while 1 client thread was alive (7)"}},
			{name: "a thread started after the close waits on a recycled value", status: StatusFail, observed: 6,
				mutate: func(it *load.Iteration) {
					it.Server.Terminate.WaitsAfterClose = []kernel.WaitFailure{{At: after(400), Thread: 9, Handle: 0x40, Recycled: true}}
				},
				want: []string{"closed at t+0.310s", "1 wait after close (on a recycled handle) by thread 9"}},
			{name: "closed without joining, every thread gone by luck", status: StatusFail, observed: 6,
				mutate:  func(it *load.Iteration) { it.Server.Terminate.Unjoined = []int{2, 3, 4, 5, 6, 7} },
				want:    []string{"closed at t+0.310s without joining 6 client threads (2, 3, 4, 5, 6, and 1 more); all had exited by luck"},
				notWant: []string{"alive"}},
			{name: "alive at the close says alive, not luck", base: legacyIteration, status: StatusFail, observed: 6,
				mutate:  func(it *load.Iteration) { it.Server.Terminate.Unjoined = []int{2, 3, 4} },
				want:    []string{"while 2 client threads were alive (2, 4)"},
				notWant: []string{"luck"}},
			{name: "blocked waiters are counted", base: legacyIteration, status: StatusFail, observed: 6,
				mutate: func(it *load.Iteration) { it.Server.Terminate.BlockedAtClose = []int{4} },
				want:   []string{"1 blocked in a wait on it"}},
			{name: "kept open", base: keptOpenIteration, status: StatusPass, observed: 6,
				want: []string{"kept open (2 client threads alive), never closed under a waiter"}},
			{name: "signalled, shutdown hung", status: StatusPass, observed: 6,
				mutate: func(it *load.Iteration) {
					it.ShutdownReturned = false
					it.Server.Terminate.Closed, it.Server.Terminate.ClosedAt = false, 0
				},
				want: []string{"not closed by t+0.320s", "shutdown did not return"}},
			{name: "shutdown never ran", status: StatusSkip, observed: 6,
				mutate: func(it *load.Iteration) {
					it.ShutdownReturned, it.Interrupted = false, true
					it.Server.Terminate = target.TerminateRecord{Handle: 0x40}
				},
				want: []string{"never signalled"}},
		},
		CheckNoKernelViolations: {
			{name: "none", status: StatusPass, observed: 0, want: []string{"no violation by the server"},
				notWant: []string{"forced"}},
			{name: "legacy: waits on the closed terminate", base: legacyIteration, status: StatusFail, observed: 2,
				want: []string{"2 violations by the server", "wait-on-closed at t+0.305s by thread 2 on handle 0x40",
					"wait-on-closed at t+0.306s by thread 4 on handle 0x40"}},
			{name: "the harness's forced release does not count", status: StatusPass, observed: 1,
				mutate: func(it *load.Iteration) {
					it.Server.Kernel.Violations = []kernel.Violation{{At: after(320), Kind: kernel.ViolationForced, Thread: 7, Handle: 0x11c}}
				},
				want: []string{"no violation by the server; 1 forced release at the end of the run (the harness's, not counted)"}},
			{name: "any other kind counts, a new one too", status: StatusFail, observed: 4,
				mutate: func(it *load.Iteration) {
					it.Server.Kernel.Violations = []kernel.Violation{
						{At: after(2), Kind: kernel.ViolationCloseWhileWaiting, Handle: 0x58},
						{At: after(3), Kind: kernel.ViolationTerminateThread, Thread: 1, Handle: 0x48},
						{At: after(4), Kind: "double-free", Thread: 3, Handle: 0x60},
						{At: after(320), Kind: kernel.ViolationForced, Thread: 7, Handle: 0x11c},
					}
				},
				want: []string{"3 violations by the server",
					"close-while-waiting at t+0.002s outside any modelled thread on handle 0x58",
					"terminate-thread at t+0.003s by thread 1 on handle 0x48", "double-free at t+0.004s by thread 3 on handle 0x60",
					"1 forced release at the end of the run"}},
		},
		CheckShutdownCompleted: {
			{name: "all steps ok", status: StatusPass, observed: 4, want: []string{"4 steps in 311ms"}},
			{name: "listener killed, its leak named", status: StatusFail, observed: 4, mutate: killListener,
				want: []string{"join-listener: killed (listener did not exit in 1300ms: TerminateThread); leaked: thread 1 (listener) killed in accept held listening socket, accept event"}},
			{name: "kept open after a join timeout", base: keptOpenIteration, status: StatusFail, observed: 4,
				want: []string{"2 of 4 steps not ok", "join-clients: timeout (2 of 6 client threads still alive after 100ms: [3 5])",
					"close-terminate: kept-open"}},
			{name: "did not return", status: StatusFail, observed: 0,
				mutate: func(it *load.Iteration) { it.ShutdownReturned = false; it.Server.Shutdown = target.ShutdownRecord{} },
				want:   []string{"shutdown did not return by the deadline", "observed until t+0.320s"}},
			{name: "interrupted", status: StatusFail, observed: 0,
				mutate: func(it *load.Iteration) {
					it.ShutdownReturned, it.Interrupted = false, true
					it.Server.Shutdown = target.ShutdownRecord{}
				},
				want: []string{"interrupted"}},
			{name: "returned without steps", status: StatusFail, observed: 0,
				mutate: func(it *load.Iteration) { it.Server.Shutdown.Steps = nil },
				want:   []string{"no step recorded"}},
		},
		CheckNoThreadLeak: {
			{name: "all exited before return", status: StatusPass, observed: 6,
				want: []string{"all 6 client threads exited by t+0.305s", "returned t+0.311s"}},
			{name: "kept open: stragglers named", base: keptOpenIteration, status: StatusFail, observed: 6,
				want: []string{"2 of 6 client threads outlived shutdown (returned t+0.101s)",
					"thread 3 in process (exited t+0.500s)", "thread 5 in process (exited t+0.500s)"},
				notWant: []string{"thread 2 ", "thread 4 "}},
			{name: "legacy: threads outlive shutdown", base: legacyIteration, status: StatusFail, observed: 6,
				want: []string{"2 of 6 client threads outlived shutdown", "thread 2 in process", "thread 4 in process"}},
			{name: "never exited, forced", status: StatusFail, observed: 6,
				mutate: func(it *load.Iteration) {
					th := &it.Server.Kernel.Threads[6]
					th.States = th.States[:5]
					th.Exited, th.ExitedAt = false, 0
					it.Server.Kernel.Threads[5] = doneThread(6, target.StateSend, after(900))
					it.Server.Kernel.Threads[5].Forced = true
				},
				want: []string{"thread 6 in send (forced at close)", "thread 7 in wait (never exited)"}},
			{name: "cycling state at return", status: StatusFail, observed: 6,
				mutate: func(it *load.Iteration) {
					th := &it.Server.Kernel.Threads[5]
					th.States = append(th.States[:4:4],
						kernel.StateRecord{State: target.StateWait, At: after(-196)},
						kernel.StateRecord{State: target.StateSend, At: after(-195), Repeats: 40},
						kernel.StateRecord{State: target.StateCleanup, At: after(600)},
						kernel.StateRecord{State: target.StateExited, At: after(600)})
					th.ExitedAt = after(600)
				},
				want: []string{"thread 6 in wait⇄send (exited t+0.600s)"}},
			{name: "did not return", status: StatusFail, observed: 6,
				mutate: func(it *load.Iteration) {
					it.ShutdownReturned = false
					it.Server.Kernel.Threads[2] = doneThread(3, target.StateProcess, after(900))
				},
				want: []string{"shutdown did not return by the deadline", "1 client thread alive at t+0.320s: thread 3 in process"}},
			{name: "no client threads", status: StatusSkip, observed: 0,
				mutate: func(it *load.Iteration) { it.Server.Kernel.Threads = it.Server.Kernel.Threads[:1] },
				want:   []string{"no client thread"}},
		},
		CheckInflightCompleted: {
			{name: "all whole", status: StatusPass, observed: 2, want: []string{"2/2 whole responses"}},
			{name: "one timed out", status: StatusFail, observed: 2,
				mutate: setClient(4, load.OutcomeTimeout, "no response by the deadline"),
				want:   []string{"1/2 whole responses; client 4: timeout (no response by the deadline)"}},
			{name: "interrupted: pending is not completed", status: StatusFail, observed: 2,
				mutate: func(it *load.Iteration) {
					it.Interrupted = true
					setClient(2, load.OutcomePending, "")(it)
				},
				want: []string{"1/2", "client 2: pending"}, notWant: []string{"pending ("}},
			{name: "none", status: StatusSkip, observed: 0, mutate: dropRole(load.RoleInflight),
				want: []string{"no in-flight clients"}},
		},
		CheckIdleClosed: {
			{name: "all closed", status: StatusPass, observed: 3, want: []string{"3/3 idle and silent clients closed"}},
			{name: "a reset and a timeout", status: StatusFail, observed: 3,
				mutate: func(it *load.Iteration) {
					setClient(1, load.OutcomeReset, "connection reset by peer")(it)
					setClient(6, load.OutcomeTimeout, "line1\nline2")(it)
				},
				want: []string{"1/3", "client 1: reset (connection reset by peer)", "client 6: timeout (line1 line2)"}},
			{name: "none", status: StatusSkip, observed: 0, mutate: dropRole(load.RoleIdle, load.RoleSilent),
				want: []string{"no idle or silent clients"}},
		},
		CheckWSCloseGoingAway: {
			{name: "1001", status: StatusPass, observed: 1, want: []string{"1/1 streams got close 1001 (going away) after 12 messages"}},
			{name: "bare close", status: StatusFail, observed: 1,
				mutate: setClient(5, load.WSClose(1006), "no close frame"),
				want:   []string{"0/1", "client 5: ws-close-1006 (no close frame)"}},
			{name: "none", status: StatusSkip, observed: 0, mutate: dropRole(load.RoleStream),
				want: []string{"no WebSocket clients"}},
		},
		CheckNoAdmissionAfterTrigger: {
			{name: "not admitted", status: StatusPass, observed: 2,
				want: []string{"2/2 probes not admitted", "at-trigger at t+0.001s: unavailable", "after-return at t+0.312s: refused"}},
			{name: "served after return", status: StatusFail, observed: 2,
				mutate: func(it *load.Iteration) {
					it.Admission[1].Outcome, it.Admission[1].Detail = load.AdmissionServed, "200 OK"
				},
				want: []string{"1/2 probes admitted or failed", "after-return at t+0.312s: served (200 OK)"}},
			{name: "probe error", status: StatusFail, observed: 2,
				mutate: func(it *load.Iteration) { it.Admission[0].Outcome = load.AdmissionError },
				want:   []string{"at-trigger at t+0.001s: error"}},
			{name: "none", status: StatusSkip, observed: 0,
				mutate: func(it *load.Iteration) { it.Admission = nil }, want: []string{"no admission probes"}},
		},
		CheckRoutingUnchanged: {
			{name: "unchanged", status: StatusPass, observed: 2, want: []string{"2/2 routes unchanged"}},
			{name: "status and shape changed", status: StatusFail, observed: 2,
				mutate: func(it *load.Iteration) {
					it.Routes[0].Observed.Status = 404
					it.Routes[0].Observed.Shape = "error.code"
				},
				want: []string{"1 of 2 routes changed", "GET /api/v1/app: status 200→404", `shape "data.name"→"error.code"`}},
			{name: "probe error", status: StatusFail, observed: 2,
				mutate: func(it *load.Iteration) { it.Routes[1].Err = "read: EOF" },
				want:   []string{"GET /?w=transfer: error: read: EOF"}},
			{name: "none", status: StatusSkip, observed: 0,
				mutate: func(it *load.Iteration) { it.Routes = nil }, want: []string{"no route probes"}},
		},
		CheckResourcesReleased: {
			{name: "all released, fds agree", status: StatusPass, observed: 7,
				want: []string{"0 sockets", "fds: 13 at hold as accounted, 0 after"}, notWant: []string{"unavailable"}},
			{name: "what a killed thread held", status: StatusFail, observed: 7, mutate: killListener,
				want: []string{"leaked by TerminateThread: thread 1 (listener) killed in accept held listening socket, accept event"}},
			{name: "kept-open terminate is allowed", base: keptOpenIteration, status: StatusPass, observed: 7,
				want: []string{"terminate handle kept open on purpose"}},
			{name: "terminate left open without keeping it", status: StatusFail, observed: 7,
				mutate: func(it *load.Iteration) {
					it.Server.Left = target.Resources{OpenHandles: 1, Handles: []string{target.EventTerminate}}
				},
				want: []string{"1 handle left open: terminate"}},
			{name: "kept open plus a thread handle", base: keptOpenIteration, status: StatusFail, observed: 7,
				mutate: func(it *load.Iteration) {
					it.Server.Left = target.Resources{OpenHandles: 3, Handles: []string{target.EventTerminate, "thread 3", "thread 5"}}
				},
				want: []string{"2 handles left open: thread 3, thread 5", "terminate handle kept open on purpose"}},
			{name: "handles held until the forced close", status: StatusFail, observed: 7,
				mutate: func(it *load.Iteration) { it.Server.Left.OpenHandles = 2 },
				want:   []string{"2 handles open at the end of the run"}},
			{name: "sockets and SocketData", status: StatusFail, observed: 7,
				mutate: func(it *load.Iteration) { it.Server.Left.OpenSockets, it.Server.Left.SocketData = 2, 1 },
				want:   []string{"2 sockets open", "1 SocketData not freed"}},
			{name: "fds after and at hold disagree", status: StatusFail, observed: 7,
				mutate:  func(it *load.Iteration) { it.FDs.After, it.FDs.AtHold = 1, 14 },
				want:    []string{"1 socket fds still open", "14 socket fds at hold, server and clients accounted for 13"},
				notWant: []string{"as accounted"}},
			{name: "fds never counted at hold are said, not claimed", status: StatusPass, observed: 6,
				mutate: func(it *load.Iteration) {
					// Not ready: the engine never took the count at hold.
					it.Ready, it.FDs.AtHold, it.FDs.ExpectedAtHold = false, 0, 0
				},
				want: []string{"fds: not counted at hold (the clients were never all in place), 0 after"}, notWant: []string{"as accounted"}},
			{name: "fds after are still checked when not counted at hold", status: StatusFail, observed: 6,
				mutate: func(it *load.Iteration) {
					it.Ready, it.FDs.AtHold, it.FDs.ExpectedAtHold, it.FDs.After = false, 0, 0, 2
				},
				want: []string{"2 socket fds still open after the run", "not counted at hold"}, notWant: []string{"as accounted"}},
			{name: "fd check unavailable is said, not claimed", status: StatusPass, observed: 5,
				mutate: func(it *load.Iteration) { it.FDs = load.FDCheck{Why: "not linux"} },
				want:   []string{"fd cross-check unavailable: not linux"}, notWant: []string{"fds:"}},
			{name: "threads and goroutines did not end", status: StatusFail, observed: 7,
				mutate: func(it *load.Iteration) { it.Server.ThreadsEnded, it.Server.GoroutinesEnded = false, false },
				want:   []string{"kernel threads still running", "helper goroutines still running"}},
		},
	}
	for _, id := range checkIDs() {
		for _, c := range cases[id] {
			t.Run(id+"/"+c.name, func(t *testing.T) {
				base := c.base
				if base == nil {
					base = cleanIteration
				}
				it := base()
				if c.mutate != nil {
					c.mutate(&it)
				}
				assertCheck(t, find(t, Evaluate(&it), id), c.status, c.observed, c.want, c.notWant)
			})
		}
	}
	for id, cs := range cases {
		hasPass, hasFail := false, false
		for _, c := range cs {
			hasPass = hasPass || c.status == StatusPass
			hasFail = hasFail || c.status == StatusFail
		}
		if !hasPass || !hasFail {
			t.Errorf("%s: the table needs a passing and a failing case", id)
		}
	}
}

// The legacy record must be caught by the signal check, with the count of
// live threads in its detail; the kept-open one must pass it but fail the
// leak check, naming the stragglers.
func TestLegacyAndKeptOpen(t *testing.T) {
	leg := legacyIteration()
	c := find(t, Evaluate(&leg), CheckTerminateOutlivedWaiters)
	if c.Pass || !strings.Contains(c.Detail, "2 client threads") {
		t.Errorf("legacy: %+v", c)
	}
	kept := keptOpenIteration()
	checks := Evaluate(&kept)
	if c := find(t, checks, CheckTerminateOutlivedWaiters); !c.Pass || c.Status != StatusPass {
		t.Errorf("kept open must pass the signal check: %+v", c)
	}
	c = find(t, checks, CheckNoThreadLeak)
	if c.Pass || !strings.Contains(c.Detail, "thread 3") || !strings.Contains(c.Detail, "thread 5") {
		t.Errorf("kept open must fail the leak check naming 3 and 5: %+v", c)
	}
	if VerdictOf(checks) != VerdictFail {
		t.Error("kept-open verdict must be fail")
	}
}

func TestStateAt(t *testing.T) {
	h := []kernel.StateRecord{{State: target.StateSpawning, At: 0}, {State: target.StateWait, At: 10}, {State: target.StateSend, At: 20, Repeats: 3}, {State: target.StateLinger, At: 30}}
	for _, tc := range []struct {
		at   time.Duration
		want string
	}{{-1, "not yet created"}, {0, "spawning"}, {15, "wait"}, {20, "wait⇄send"}, {29, "wait⇄send"}, {30, "linger"}, {99, "linger"}} {
		if got := stateAt(h, tc.at); got != tc.want {
			t.Errorf("stateAt(%d) = %q, want %q", tc.at, got, tc.want)
		}
	}
}

func TestAggregate(t *testing.T) {
	mk := func(id string, status Status, obs int, detail string) Check {
		return Check{ID: id, Status: status, Pass: status != StatusFail, Observed: obs, Detail: detail}
	}
	per := [][]Check{
		{mk("a", StatusPass, 2, "a1"), mk("b", StatusSkip, 0, "none"), mk("c", StatusPass, 1, "c1"), mk("d", StatusSkip, 0, "d1")},
		{mk("a", StatusFail, 2, "a2 bad"), mk("b", StatusSkip, 0, "none"), mk("c", StatusSkip, 0, "c2"), mk("d", StatusSkip, 0, "d2")},
		{mk("a", StatusFail, 3, "a3 bad"), mk("b", StatusSkip, 0, "none"), mk("c", StatusPass, 4, "c3"), mk("d", StatusSkip, 0, "d3")},
	}
	got := Aggregate(per)
	want := []struct {
		id     string
		status Status
		obs    int
		detail string
	}{
		{"a", StatusFail, 7, "failed in 2 of 3 iterations; first (iteration 2): a2 bad"},
		{"b", StatusSkip, 0, "skipped in 3 of 3 iterations; last: none"},
		{"c", StatusPass, 5, "passed in 2 of 3 iterations (skipped in 1); last: c3"},
		{"d", StatusSkip, 0, "skipped in 3 of 3 iterations; last: d3"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d checks: %+v", len(got), got)
	}
	passed := []int{1, 0, 2, 0}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Status != w.status || g.Observed != w.obs || g.Detail != w.detail || g.Pass != (w.status != StatusFail) {
			t.Errorf("check %d = %+v, want %+v", i, g, w)
		}
		if g.PassedIterations == nil || g.Iterations == nil || *g.PassedIterations != passed[i] || *g.Iterations != 3 {
			t.Errorf("check %s: passed iterations %v of %v, want %d of 3", g.ID, g.PassedIterations, g.Iterations, passed[i])
		}
	}
	for _, c := range per[0] {
		if c.PassedIterations != nil || c.Iterations != nil {
			t.Errorf("Aggregate must not touch its input: %+v", c)
		}
	}
	all := Aggregate([][]Check{{mk("a", StatusPass, 1, "x")}, {mk("a", StatusPass, 1, "y")}})
	if all[0].Detail != "passed in 2 of 2 iterations; last: y" || all[0].Observed != 2 ||
		*all[0].PassedIterations != 2 || *all[0].Iterations != 2 {
		t.Errorf("all pass: %+v", all[0])
	}
	if VerdictOf(got) != VerdictFail || VerdictOf(all) != VerdictPass || VerdictOf(nil) != VerdictPass {
		t.Error("verdicts")
	}
	if VerdictOf([]Check{mk("s", StatusSkip, 0, "")}) != VerdictPass {
		t.Error("a skip is not a failure")
	}
}

// Clients that never all got in place were not observed through the
// shutdown: their checks skip rather than fail or pass.
func TestClientChecksSkipWhenNotReady(t *testing.T) {
	it := cleanIteration()
	it.Ready = false
	for _, c := range Evaluate(&it) {
		switch c.ID {
		case CheckInflightCompleted, CheckIdleClosed, CheckWSCloseGoingAway:
			if c.Status != StatusSkip || !strings.Contains(c.Detail, "not observed") {
				t.Errorf("%s: %s %q, want skip, not observed", c.ID, c.Status, c.Detail)
			}
		}
	}
}

// A run reads as a pass only when every check that could be observed was
// observed and passed: an iteration whose clients never got in place is an
// error (or, interrupted, a failure), and a run that could not be carried
// out is an error whatever it saw.
func TestUnobservedIsNoPass(t *testing.T) {
	notReady := cleanIteration()
	notReady.Ready = false
	if v := IterationVerdict(&notReady, Evaluate(&notReady)); v != VerdictError {
		t.Errorf("not ready: iteration verdict %q, want error", v)
	}
	notReady.Interrupted = true
	if v := IterationVerdict(&notReady, Evaluate(&notReady)); v != VerdictFail {
		t.Errorf("not ready, interrupted: iteration verdict %q, want fail", v)
	}
	clean := cleanIteration()
	if v := IterationVerdict(&clean, Evaluate(&clean)); v != VerdictPass {
		t.Errorf("clean: iteration verdict %q, want pass", v)
	}

	runErr := &load.RunError{Iteration: 1, Phase: load.PhaseHolding, Err: errors.New("iteration 1: 1 client(s) not ready after 1ns: client 1")}
	notReady.Interrupted = false
	for name, res := range map[string]*load.Result{
		"not ready": testResult(notReady), "after a passing iteration": testResult(cleanIteration(), notReady), "nothing recorded": nil,
	} {
		r := Build(res, runErr, ToolInfo{})
		if r.Verdict != VerdictError || r.Error == nil || *r.Error != (RunError{Iteration: 1, Phase: "holding", Message: runErr.Error()}) {
			t.Errorf("%s: verdict %q, error %+v", name, r.Verdict, r.Error)
		}
	}
	// Without the engine's error the iteration still does not pass.
	if r := Build(testResult(notReady), nil, ToolInfo{}); r.Verdict != VerdictFail || r.Iterations[0].Verdict != VerdictError || r.Error != nil {
		t.Errorf("not ready, no run error: verdict %q, iteration %q, error %+v", r.Verdict, r.Iterations[0].Verdict, r.Error)
	}
	// An error that is not the engine's says so.
	if e := Build(nil, errors.New("boom"), ToolInfo{}).Error; e == nil || e.Phase != "unknown" || e.Message != "boom" {
		t.Errorf("plain error: %+v", e)
	}
	if v := Build(testResult(), nil, ToolInfo{}).Verdict; v != VerdictFail {
		t.Errorf("zero iterations: verdict %q, want fail", v)
	}
}

// A fixed run that is clean but for one wait on a closed handle that is
// not terminate (so terminate-outlived-waiters cannot see it) fails: the
// violation fails no-kernel-violations, and with it the verdict.
func TestViolationFailsTheVerdict(t *testing.T) {
	it := cleanIteration()
	it.Server.Kernel.Violations = []kernel.Violation{{At: after(120), Kind: kernel.ViolationWaitOnClosed, Thread: 5, Handle: 0x58,
		Detail: "thread 5 waited on 0x58, a closed handle: WAIT_FAILED"}}
	r := Build(testResult(it), nil, ToolInfo{})
	if r.Verdict != VerdictFail {
		t.Errorf("verdict %q, want fail", r.Verdict)
	}
	for _, c := range r.Iterations[0].Checks {
		want := c.Status
		if c.ID == CheckNoKernelViolations {
			want = StatusFail
			if !strings.Contains(c.Detail, "wait-on-closed at t+0.120s by thread 5 on handle 0x58") {
				t.Errorf("detail %q", c.Detail)
			}
		} else if c.Status == StatusFail {
			t.Errorf("%s fails too: %s", c.ID, c.Detail)
		}
		if c.Status != want {
			t.Errorf("%s: %s, want %s", c.ID, c.Status, want)
		}
	}
}

// An interrupted run is never a pass, even when every check it saw passed.
func TestInterruptedRunIsNoPass(t *testing.T) {
	res := &load.Result{Iterations: []load.Iteration{cleanIteration()}, Interrupted: true}
	if v := Build(res, nil, ToolInfo{}).Verdict; v != VerdictFail {
		t.Errorf("verdict %q, want fail", v)
	}
	res.Interrupted = false
	if v := Build(res, nil, ToolInfo{}).Verdict; v != VerdictPass {
		t.Errorf("verdict %q without the interrupt, want pass", v)
	}
}
