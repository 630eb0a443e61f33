package kernel

import "testing"

// Every violation names the thread it concerns and the handle value it
// named, so a report can say who did what to which object without
// parsing the detail.
func TestViolationsNameThreadAndHandle(t *testing.T) {
	k := newKernel(t, Options{NoReuse: true})
	gone := k.CreateEvent("gone", true, false)
	never := k.CreateEvent("never", true, false)
	if err := k.CloseHandle(gone); err != nil {
		t.Fatal(err)
	}
	out := make(chan result, 3)
	waiter := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, gone)
	recv(t, out)
	blocked := startWaiter(k, ThreadOptions{Name: "b"}, Infinite, out, never)
	waitFor(t, "thread blocked", blockedOn(k, blocked, never))
	if err := k.CloseHandle(never); err != nil { // by a caller that is no modelled thread
		t.Fatal(err)
	}
	victim := startWaiter(k, ThreadOptions{Name: "v"}, Infinite, out, k.CreateEvent("idle", true, false))
	waitFor(t, "victim blocked", func() bool { return len(view(k, victim).Blocked) > 0 })
	k.TerminateThread(victim)
	recv(t, out)

	rec := k.Record()
	for _, c := range []struct {
		kind   ViolationKind
		thread int
		handle uint32
	}{
		{ViolationWaitOnClosed, waiter.ID(), gone.Value()},
		{ViolationCloseWhileWaiting, 0, never.Value()},
		{ViolationTerminateThread, victim.ID(), victim.Handle().Value()},
	} {
		v := violations(rec, c.kind)
		if len(v) != 1 || v[0].Thread != c.thread || v[0].Handle != c.handle {
			t.Errorf("%s: %+v, want one by thread %d on %#x", c.kind, v, c.thread, c.handle)
		}
	}
}
