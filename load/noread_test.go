package load

import (
	"testing"
	"time"

	"shutdowntest/target"
)

// TestWSNoReadBacksTheSendUp: a ws-noread client backs its stream thread
// up into a send blocked on terminate, which lasts through a hold of many
// write timeouts (that send waits for its client, unbounded) and which
// terminate abandons at once: the thread ends by itself within a 1 s
// drain, and the client's outcome is that end. Without the pad the thread
// never gets there (TestHostileRoleAloneOnFixed/ws-noread then fails too).
func TestWSNoReadBacksTheSendUp(t *testing.T) {
	const ioTimeout = 100 * time.Millisecond
	cfg := Config{Policy: target.PolicyFixed, Hold: true, DrainTimeout: time.Second,
		ReadyTimeout: 5 * time.Second, Iterations: 1, Seed: 1,
		Target: target.Config{StreamEvery: 10 * time.Millisecond, IOTimeout: ioTimeout}}
	cfg.Mix.SetHostile("ws-noread", 1)
	lr := startRun(t, cfg)

	// thread is the client's server thread in a holding snapshot.
	thread := func(s Snapshot) (target.ThreadState, bool) {
		if s.Phase != PhaseHolding || len(s.Clients) != 1 || s.Clients[0].Local == "" {
			return target.ThreadState{}, false
		}
		for _, th := range s.Server.Threads {
			if th.Peer == s.Clients[0].Local {
				return th, true
			}
		}
		return target.ThreadState{}, false
	}
	first := lr.await("the ws-noread thread blocked in send on terminate", func(s Snapshot) bool {
		th, ok := thread(s)
		return ok && th.State == target.StateSend && th.OnTerm
	})
	th, _ := thread(first)
	// Still backed up long after the write timeout: the same thread lives
	// on and is found blocked in send again 5 write timeouts later. (The
	// kernel may grow the socket's send buffer by itself, so a message can
	// go through between two blocks: the thread is not held in one send
	// the whole time, but a write timeout never ends it.)
	lr.await("the thread blocked in send 5 write timeouts later", func(s Snapshot) bool {
		now, ok := thread(s)
		if !ok || now.ID != th.ID || now.State == target.StateExited {
			t.Fatalf("at %v: thread %+v; want thread %d still serving the stream", s.Server.At, now, th.ID)
		}
		return s.Server.At >= first.Server.At+5*ioTimeout && now.State == target.StateSend && now.OnTerm
	})
	lr.r.Trigger()
	res, err := lr.wait()
	if err != nil {
		t.Fatal(err)
	}
	it := res.Iterations[0]
	if !it.Ready || !it.ShutdownReturned || !it.Server.Shutdown.Completed() {
		t.Errorf("ready %v, shutdown returned %v, completed %v: %+v",
			it.Ready, it.ShutdownReturned, it.Server.Shutdown.Completed(), it.Server.Shutdown.Steps)
	}
	c := it.Clients[0]
	if c.Outcome != OutcomeClosed || c.Thread != th.ID {
		t.Errorf("client: outcome %s (%s), thread %d; want closed by thread %d", c.Outcome, c.Detail, c.Thread, th.ID)
	}
	for _, rec := range it.Server.Kernel.Threads {
		if rec.ID != th.ID {
			continue
		}
		if !rec.Exited || rec.Forced || rec.ExitedAt < it.Trigger || rec.ExitedAt-it.Trigger > 500*time.Millisecond {
			t.Errorf("thread %d: exited %v at %v, forced %v; want by itself within 500ms of the trigger at %v",
				rec.ID, rec.Exited, rec.ExitedAt, rec.Forced, it.Trigger)
		}
		// Its last state before the trigger was send: the trigger came
		// while it was blocked.
		var last target.State
		for _, st := range rec.States {
			if st.At <= it.Trigger {
				last = st.State
			}
		}
		if last != target.StateSend {
			t.Errorf("thread %d was in %s at the trigger, want send", rec.ID, last)
		}
		return
	}
	t.Errorf("no record of thread %d", th.ID)
}

// TestWSNoReadReadinessRemembersTheBlock: a look finds a backed-up send
// inside its wait only about half the time (between two waits it tries
// the socket again), so with many such clients no one look would find
// them all there. Readiness remembers the sight while the thread stays in
// send, and forgets it once the thread leaves.
func TestWSNoReadReadinessRemembersTheBlock(t *testing.T) {
	h := hostileByRole["ws-noread"]
	c := &client{ready: true}
	send, wait := target.StateSend, target.StateWait
	for i, look := range []struct {
		state  target.State
		onTerm bool
		ready  bool
	}{
		{send, false, false}, // sending, never seen blocked
		{wait, true, false},  // blocked, but in the period's wait
		{send, false, false},
		{send, true, true}, // blocked in send
		{send, false, true},
		{send, false, true},
		{send, true, true},
		{wait, true, false}, // the send went through after all
		{send, false, false},
		{send, true, true},
	} {
		th := target.ThreadState{ID: 7, State: look.state, OnTerm: look.onTerm}
		if why := hostileNotReady(h, c, th, true); (why == "") != look.ready {
			t.Errorf("look %d (%s, on terminate %v): not ready %q, want ready %v", i+1, look.state, look.onTerm, why, look.ready)
		}
	}
}
