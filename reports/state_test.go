package reports

import (
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// stateIteration is an external iteration whose state endpoint said: one
// client thread, exiting at exit, terminate closed at 20ms with alive at
// the close, shutdown returned at 20ms; err is the stream's end.
func stateIteration(exit time.Duration, alive []int, err string) *load.Iteration {
	ms := time.Millisecond
	it := &load.Iteration{Trigger: 10 * ms, ObservedUntil: 50 * ms, Ready: true, ShutdownReturned: true,
		External: &load.ExternalRecord{State: &load.StateRecord{Err: err}}}
	it.Server.Kernel.Threads = []kernel.ThreadRecord{{ID: 1, Client: true, Exited: true, ExitedAt: exit,
		States: []kernel.StateRecord{{State: "wait", At: 0}, {State: "exited", At: exit}}}}
	it.Server.Terminate = target.TerminateRecord{TerminateTimes: target.TerminateTimes{Signaled: true, SignaledAt: 10 * ms,
		Closed: true, ClosedAt: 20 * ms}, AliveAtClose: alive}
	it.Server.Shutdown = target.ShutdownRecord{Trigger: 10 * ms, Returned: 20 * ms,
		Steps: []target.Step{{Name: "shutdown", Start: 10 * ms, End: 20 * ms, Outcome: target.StepOK}}}
	return it
}

// The server-side checks judge an external target by its state
// endpoint's facts with the embedded model's judges; a stream cut before
// its final record keeps a failure it showed, but claims no pass.
func TestFromState(t *testing.T) {
	ms := time.Millisecond
	judge := externalJudges[CheckTerminateOutlivedWaiters]
	for _, c := range []struct {
		name string
		it   *load.Iteration
		want Status
		in   string
	}{
		{"clean", stateIteration(15*ms, nil, ""), StatusPass, "after every client thread exited"},
		{"closed under a live thread", stateIteration(30*ms, []int{1}, ""), StatusFail, "1 client thread was alive (1)"},
		{"clean but cut", stateIteration(15*ms, nil, "the stream ended before its final record"), StatusSkip, "state endpoint: the stream ended before its final record"},
		{"failed and cut", stateIteration(30*ms, []int{1}, "the stream ended before its final record"), StatusFail, "client thread was alive"},
	} {
		got := judge(c.it)
		if got.Status != c.want || !strings.Contains(got.Detail, c.in) {
			t.Errorf("%s: %s %q, want %s with %q", c.name, got.Status, got.Detail, c.want, c.in)
		}
	}
	leak := externalJudges[CheckNoThreadLeak](stateIteration(30*ms, []int{1}, ""))
	if leak.Status != StatusFail || !strings.Contains(leak.Detail, "thread 1 in wait (exited t+0.020s)") {
		t.Errorf("no-thread-leak: %s %q", leak.Status, leak.Detail)
	}
	none := stateIteration(15*ms, nil, "")
	none.External.State = nil
	for _, id := range []string{CheckTerminateOutlivedWaiters, CheckShutdownCompleted, CheckNoThreadLeak} {
		if c := externalJudges[id](none); c.Status != StatusSkip || !strings.Contains(c.Detail, "--state-url") {
			t.Errorf("%s without a state endpoint: %s %q", id, c.Status, c.Detail)
		}
	}
}
