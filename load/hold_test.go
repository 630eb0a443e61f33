package load

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"shutdowntest/target"
)

// Tests of the live-view controls: the Runner's Trigger, Adjust and Abort,
// and Config.Hold and ShutdownAfter. Every wait here is bounded by
// waitBound; snapshots, not sleeps, say where the run is.

const waitBound = 10 * time.Second

// liveRun is a Runner watched through its snapshots.
type liveRun struct {
	t       *testing.T
	r       *Runner
	ctx     context.Context
	cancel  context.CancelFunc
	snaps   chan Snapshot
	started bool
	done    chan struct{} // closed once Wait has returned
	res     *Result       // valid once done is closed
	err     error
}

// newRun makes a Runner of cfg that has not started. The cleanup cancels
// the run (which ends a hold) and waits, bounded, for it to end, so no
// goroutine outlives the test even when it fails half-way. Every snapshot
// the test reads, or leaves unread, is checked against its phase (check).
func newRun(t *testing.T, cfg Config) *liveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lr := &liveRun{t: t, ctx: ctx, cancel: cancel, snaps: make(chan Snapshot, 4096), done: make(chan struct{})}
	lr.r = NewRunner(cfg, Observer{Snapshots: lr.snaps})
	t.Cleanup(func() {
		cancel()
		if !lr.started {
			return
		}
		select {
		case <-lr.done:
			lr.drained() // checks what the test left unread
		case <-time.After(30 * time.Second):
			t.Errorf("the run did not end within 30s of the cancel")
		}
	})
	return lr
}

// start starts the run, and a goroutine that waits for it: it ends when
// the run does, which the cleanup's cancel bounds.
func (lr *liveRun) start() *liveRun {
	lr.started = true
	lr.r.Start(lr.ctx)
	go func() {
		defer close(lr.done)
		lr.res, lr.err = lr.r.Wait()
	}()
	return lr
}

// startRun starts a run of cfg (see newRun).
func startRun(t *testing.T, cfg Config) *liveRun {
	t.Helper()
	return newRun(t, cfg).start()
}

// await returns the first snapshot that satisfies cond. It fails the test
// if Run returns first or waitBound passes.
func (lr *liveRun) await(what string, cond func(Snapshot) bool) Snapshot {
	lr.t.Helper()
	deadline := time.After(waitBound)
	var last Snapshot
	for {
		select {
		case s := <-lr.snaps:
			lr.check(s)
			if cond(s) {
				return s
			}
			last = s
		case <-lr.done:
			lr.t.Fatalf("Run returned (err %v) before a snapshot with %s", lr.err, what)
		case <-deadline:
			lr.t.Fatalf("waited %v for a snapshot with %s; last: iteration %d, phase %s, not ready %d, mix %+v",
				waitBound, what, last.Iteration, last.Phase, last.NotReady, last.Mix)
		}
	}
}

// check holds every snapshot to what its phase says: before the trigger
// (starting, holding) no trigger and a server still running; after it a
// trigger stamp.
func (lr *liveRun) check(s Snapshot) {
	lr.t.Helper()
	switch s.Phase {
	case PhaseStarting, PhaseHolding:
		if s.Trigger != 0 || s.Server.Lifecycle != target.Running || len(s.Server.Steps) != 0 {
			lr.t.Errorf("iteration %d, phase %s: trigger %v, lifecycle %v, steps %v; want no trigger yet",
				s.Iteration, s.Phase, s.Trigger, s.Server.Lifecycle, len(s.Server.Steps))
		}
	case PhaseDraining, PhaseDrained:
		if s.Trigger == 0 || s.Server.Lifecycle < target.ShuttingDown {
			lr.t.Errorf("iteration %d, phase %s: trigger %v, lifecycle %v; want the trigger stamped",
				s.Iteration, s.Phase, s.Trigger, s.Server.Lifecycle)
		}
	default:
		lr.t.Errorf("unknown phase %q", s.Phase)
	}
}

// wait waits for Run to return.
func (lr *liveRun) wait() (*Result, error) {
	lr.t.Helper()
	select {
	case <-lr.done:
		return lr.res, lr.err
	case <-time.After(waitBound):
		lr.t.Fatalf("Run did not return within %v", waitBound)
		return nil, nil
	}
}

// drained returns the snapshots left in the channel once Run returned.
func (lr *liveRun) drained() []Snapshot {
	var out []Snapshot
	for {
		select {
		case s := <-lr.snaps:
			lr.check(s)
			out = append(out, s)
		default:
			return out
		}
	}
}

// adjust asks the run for a, failing the test if the queue is full.
func (lr *liveRun) adjust(a Adjust) {
	lr.t.Helper()
	if !lr.r.Adjust(a) {
		lr.t.Fatalf("Adjust(%+v) dropped: the queue is full", a)
	}
}

// heldReady: the iteration holds with every client ready and no trigger.
func heldReady(n int) func(Snapshot) bool {
	return func(s Snapshot) bool {
		return s.Iteration == n && s.Phase == PhaseHolding && s.NotReady == 0 && s.ReadyAt > 0
	}
}

// checkHeldSnapshot checks a snapshot taken while the clients hold.
func checkHeldSnapshot(t *testing.T, s Snapshot, mix Mix) {
	t.Helper()
	if s.Trigger != 0 || s.Server.Lifecycle != target.Running || len(s.Server.Steps) != 0 {
		t.Errorf("holding snapshot: trigger %v, lifecycle %v, steps %+v; want no trigger yet",
			s.Trigger, s.Server.Lifecycle, s.Server.Steps)
	}
	if s.Mix != mix || len(s.Clients) != mix.Total() {
		t.Errorf("holding snapshot: mix %+v with %d clients, want %+v", s.Mix, len(s.Clients), mix)
	}
	if s.ReadyAt > s.Server.At {
		t.Errorf("ready at %v, after the snapshot's own time %v", s.ReadyAt, s.Server.At)
	}
	for _, c := range s.Clients {
		if c.Outcome != OutcomePending || c.Local == "" {
			t.Errorf("holding snapshot: client %d (%s %s) outcome %s (%s), local %q", c.ID, c.Kind, c.Role, c.Outcome, c.Detail, c.Local)
		}
	}
}

// checkClean checks a fixed-policy iteration that ran every client to a
// clean end.
func checkClean(t *testing.T, it Iteration) {
	t.Helper()
	if !it.Ready || !it.AllEnded || !it.ShutdownReturned || !it.Server.Shutdown.Completed() {
		t.Errorf("iteration %d: ready %v, all ended %v, shutdown returned %v, completed %v: %+v",
			it.N, it.Ready, it.AllEnded, it.ShutdownReturned, it.Server.Shutdown.Completed(), it.Server.Shutdown.Steps)
	}
	if len(it.Clients) != it.Mix.Total() {
		t.Errorf("iteration %d: %d clients, mix %+v", it.N, len(it.Clients), it.Mix)
	}
	for _, c := range it.Clients {
		want := map[Role]Outcome{RoleIdle: OutcomeClosed, RoleInflight: OutcomeCompleted,
			RoleStream: WSClose(1001), RoleSilent: OutcomeClosed}[c.Role]
		if c.Outcome != want {
			t.Errorf("iteration %d: client %d (%s %s): outcome %s (%s), want %s", it.N, c.ID, c.Kind, c.Role, c.Outcome, c.Detail, want)
		}
		if c.Thread == 0 {
			t.Errorf("iteration %d: client %d: no server thread mapped", it.N, c.ID)
		}
	}
	tr := it.Server.Terminate
	if !tr.Closed || tr.KeptOpen || len(tr.AliveAtClose) != 0 || len(tr.WaitsAfterClose) != 0 {
		t.Errorf("iteration %d: terminate %+v", it.N, tr)
	}
	if it.FDs.Available && (it.FDs.After != 0 || it.FDs.AtHold != it.FDs.ExpectedAtHold) {
		t.Errorf("iteration %d: fd cross-check %+v", it.N, it.FDs)
	}
}

func clientIDs(cs []ClientResult) []int {
	var ids []int
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestTriggerHolds: with Config.Hold the clients hold, ready, until
// Trigger, and only then does the server shut down.
func TestTriggerHolds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		preload bool // Trigger is called before the run starts
	}{
		{"triggered while holding", false},
		{"triggered before the run", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := small(target.PolicyFixed)
			cfg.Hold = true
			lr := newRun(t, cfg)
			if tc.preload {
				lr.r.Trigger()
			}
			lr.start()
			var last Snapshot
			if !tc.preload {
				// Ready and holding, then still holding: several snapshots
				// later (a snapshot every 50ms) nothing has triggered.
				first := lr.await("every client ready while holding", heldReady(1))
				checkHeldSnapshot(t, first, cfg.Mix)
				last = first
				for i := range 3 {
					last = lr.await("a later holding snapshot", func(s Snapshot) bool {
						return s.Server.At > last.Server.At
					})
					if !heldReady(1)(last) {
						t.Fatalf("snapshot %d after the first ready one: phase %s, not ready %d, trigger %v; want still holding",
							i+1, last.Phase, last.NotReady, last.Trigger)
					}
					checkHeldSnapshot(t, last, cfg.Mix)
					if last.ReadyAt != first.ReadyAt {
						t.Errorf("ready at moved from %v to %v while holding", first.ReadyAt, last.ReadyAt)
					}
				}
				lr.r.Trigger()
			}
			res, err := lr.wait()
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Iterations) != 1 || res.Interrupted {
				t.Fatalf("%d iterations, interrupted %v", len(res.Iterations), res.Interrupted)
			}
			if len(lr.r.trigger) != 0 {
				t.Errorf("the trigger was not taken")
			}
			it := res.Iterations[0]
			checkClean(t, it)
			var readyAt time.Duration
			for _, s := range lr.drained() {
				if s.ReadyAt > 0 {
					readyAt = s.ReadyAt
				}
				if s.Phase == PhaseDraining && s.Trigger != it.Trigger {
					t.Errorf("draining snapshot with trigger %v, iteration's is %v", s.Trigger, it.Trigger)
				}
			}
			if readyAt == 0 {
				readyAt = last.ReadyAt
			}
			if readyAt == 0 || it.Trigger < readyAt {
				t.Errorf("trigger at %v, clients ready at %v: the trigger came before they were", it.Trigger, readyAt)
			}
			if !tc.preload && it.Trigger < last.Server.At {
				t.Errorf("trigger at %v, before the last holding snapshot at %v", it.Trigger, last.Server.At)
			}
			if it.Mix != cfg.Mix || res.Config.Mix != cfg.Mix {
				t.Errorf("mix %+v, result's %+v; want the configured %+v", it.Mix, res.Config.Mix, cfg.Mix)
			}
		})
	}
}

// TestShutdownAfter triggers by itself once the clients have held for
// ShutdownAfter.
func TestShutdownAfter(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.ShutdownAfter = 200 * time.Millisecond
	lr := startRun(t, cfg)
	res, err := lr.wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Iterations) != 1 {
		t.Fatalf("%d iterations", len(res.Iterations))
	}
	it := res.Iterations[0]
	checkClean(t, it)
	var readyAt time.Duration
	held := false
	for _, s := range lr.drained() {
		if s.ReadyAt > 0 {
			if readyAt != 0 && s.ReadyAt != readyAt {
				t.Errorf("ready at moved from %v to %v", readyAt, s.ReadyAt)
			}
			readyAt = s.ReadyAt
		}
		if heldReady(1)(s) {
			held = true
			checkHeldSnapshot(t, s, cfg.Mix)
		}
	}
	if !held || readyAt == 0 {
		t.Fatalf("no snapshot held with every client ready (ready at %v)", readyAt)
	}
	if d := it.Trigger - readyAt; d < cfg.ShutdownAfter {
		t.Errorf("trigger %v after the clients were ready, want at least ShutdownAfter %v", d, cfg.ShutdownAfter)
	}
}

// TestAdjustWhileHolding adds and removes clients while they hold; the
// iteration runs, and reports, the adjusted mix.
func TestAdjustWhileHolding(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.Hold = true
	lr := startRun(t, cfg)
	first := lr.await("every client ready while holding", heldReady(1))
	checkHeldSnapshot(t, first, cfg.Mix)
	if ids := clientIDs(first.Clients); !slices.Equal(ids, []int{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("client ids %v", ids)
	}
	// Client 1 is the only http idle client: the one a -1 removes.
	removed := first.Clients[0]
	if removed.Kind != KindHTTP || removed.Role != RoleIdle {
		t.Fatalf("client 1 is %s %s", removed.Kind, removed.Role)
	}

	lr.adjust(Adjust{KindTCP, RoleSilent, 2})
	lr.adjust(Adjust{KindHTTP, RoleIdle, -1})
	lr.adjust(Adjust{KindHTTP, RoleInflight, -1}) // in flight: ignored
	lr.adjust(Adjust{KindHTTP, RoleIdle, -1})     // past zero: ignored
	lr.adjust(Adjust{KindTCP, RoleIdle, 1})       // no such client: ignored
	want := cfg.Mix
	want.Silent += 2
	want.HTTPIdle = 0

	adjusted := lr.await("the adjusted mix, every client ready", func(s Snapshot) bool {
		return s.Phase == PhaseHolding && s.Mix == want && s.NotReady == 0
	})
	checkHeldSnapshot(t, adjusted, want)
	if ids := clientIDs(adjusted.Clients); !slices.Equal(ids, []int{2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("client ids after the adjust %v, want 2..8", ids)
	}
	// The removed client's server thread exited before readiness was
	// declared again.
	for _, th := range adjusted.Server.Threads {
		if th.Peer == removed.Local && th.State != target.StateExited {
			t.Errorf("removed client's thread %d in %s while the rest are ready", th.ID, th.State)
		}
	}
	lr.r.Trigger()

	res, err := lr.wait()
	if err != nil {
		t.Fatal(err)
	}
	it := res.Iterations[0]
	if it.Mix != want || res.Config.Mix != want {
		t.Errorf("iteration mix %+v, result's %+v; want %+v", it.Mix, res.Config.Mix, want)
	}
	checkClean(t, it)
	var got []Spec
	for _, c := range it.Clients {
		got = append(got, c.Spec)
	}
	wantSpecs := []Spec{{2, KindHTTP, RoleInflight}, {3, KindREST, RoleIdle}, {4, KindREST, RoleInflight},
		{5, KindWS, RoleStream}, {6, KindTCP, RoleSilent}, {7, KindTCP, RoleSilent}, {8, KindTCP, RoleSilent}}
	if !slices.Equal(got, wantSpecs) {
		t.Errorf("clients %+v, want %+v", got, wantSpecs)
	}
	// The removed client's thread left before the trigger, cleanly.
	found := false
	for _, th := range it.Server.ClientThreads() {
		if th.Peer != removed.Local {
			continue
		}
		found = true
		if !th.Exited || th.Forced || th.ExitedAt >= it.Trigger {
			t.Errorf("removed client's thread %d: exited %v at %v, forced %v; trigger at %v",
				th.ID, th.Exited, th.ExitedAt, th.Forced, it.Trigger)
		}
	}
	if !found {
		t.Errorf("no server thread recorded for the removed client %s", removed.Local)
	}
}

// TestAdjustCarriesToNextIteration: a mix changed while iteration 1 held
// is the mix iteration 2 starts from.
func TestAdjustCarriesToNextIteration(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.Iterations = 2
	cfg.Hold = true
	lr := startRun(t, cfg)

	checkHeldSnapshot(t, lr.await("iteration 1 ready while holding", heldReady(1)), cfg.Mix)
	lr.adjust(Adjust{KindREST, RoleIdle, 1})
	lr.adjust(Adjust{KindWS, RoleStream, -1})
	want := cfg.Mix
	want.RESTIdle++
	want.WS = 0
	lr.await("iteration 1 adjusted and ready", func(s Snapshot) bool {
		return s.Iteration == 1 && s.Phase == PhaseHolding && s.Mix == want && s.NotReady == 0
	})
	lr.r.Trigger()

	// Iteration 2 starts from the adjusted mix, and holds again.
	s2 := lr.await("iteration 2 ready while holding", heldReady(2))
	checkHeldSnapshot(t, s2, want)
	if s2.Of != 2 {
		t.Errorf("snapshot says iteration %d of %d", s2.Iteration, s2.Of)
	}
	lr.r.Trigger()

	res, err := lr.wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Iterations) != 2 || res.Interrupted {
		t.Fatalf("%d iterations, interrupted %v", len(res.Iterations), res.Interrupted)
	}
	for _, it := range res.Iterations {
		if it.Mix != want {
			t.Errorf("iteration %d mix %+v, want %+v", it.N, it.Mix, want)
		}
		checkClean(t, it)
	}
	if res.Config.Mix != want {
		t.Errorf("result's mix %+v, want %+v", res.Config.Mix, want)
	}
	// Iteration 2 numbers its clients afresh, in mix order.
	var got []Spec
	for _, c := range res.Iterations[1].Clients {
		got = append(got, c.Spec)
	}
	if !slices.Equal(got, want.Specs()) {
		t.Errorf("iteration 2 clients %+v, want %+v", got, want.Specs())
	}
}

// TestCancelWhileHolding: Ctrl-C while the clients hold still shuts the
// server down, reports the iteration as interrupted, and starts no other.
func TestCancelWhileHolding(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.Iterations = 2
	cfg.Hold = true
	lr := startRun(t, cfg)
	lr.await("every client ready while holding", heldReady(1))
	lr.cancel()
	res, err := lr.wait()
	if err != nil {
		t.Fatalf("cancelled while holding: err %v, want none", err)
	}
	if !res.Interrupted || len(res.Iterations) != 1 {
		t.Fatalf("interrupted %v, %d iterations; want interrupted after 1", res.Interrupted, len(res.Iterations))
	}
	it := res.Iterations[0]
	if !it.Interrupted {
		t.Errorf("iteration not marked interrupted")
	}
	// The clients were ready when the hold ended: the shutdown is a real
	// one, observed to the end.
	checkClean(t, it)
}

// Abort ends the watching of a drain at once: in-flight requests held for
// far longer are not waited for, and the iteration says it was cut short.
func TestAbortEndsTheDrainWatch(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.InflightFor = time.Minute // the drain would take a minute
	cfg.DrainTimeout = 2 * time.Minute
	lr := startRun(t, cfg)
	lr.await("the drain under way", func(s Snapshot) bool { return s.Phase == PhaseDraining })
	lr.r.Abort()
	res, err := lr.wait()
	if err != nil {
		t.Fatal(err)
	}
	it := res.Iterations[0]
	if !it.Interrupted || !res.Interrupted || it.AllEnded {
		t.Errorf("interrupted %v/%v, all ended %v: want an interrupted, unfinished iteration", it.Interrupted, res.Interrupted, it.AllEnded)
	}
	for _, c := range it.Clients {
		if c.Role == RoleInflight && c.Outcome == OutcomeCompleted {
			t.Errorf("client %d completed: the drain was watched to its end", c.ID)
		}
	}
}

// Triggers asked for before the engine takes one are one request: the
// first iteration triggers, and the second holds until a Trigger of its
// own.
func TestPendingTriggersCoalesce(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.Hold, cfg.Iterations = true, 2
	lr := newRun(t, cfg)
	for range 3 {
		lr.r.Trigger() // never blocks
	}
	lr.start()
	held := lr.await("iteration 2 ready while holding", heldReady(2))
	for i := range 3 {
		held = lr.await("a later snapshot", func(s Snapshot) bool { return s.Server.At > held.Server.At })
		if !heldReady(2)(held) {
			t.Fatalf("snapshot %d after iteration 2 was ready: iteration %d, phase %s; want still holding", i+1, held.Iteration, held.Phase)
		}
	}
	lr.r.Trigger()
	res, err := lr.wait()
	if err != nil || len(res.Iterations) != 2 || res.Interrupted {
		t.Fatalf("err %v, %d iterations, interrupted %v", err, len(res.Iterations), res.Interrupted)
	}
	for _, it := range res.Iterations {
		checkClean(t, it)
	}
}

// Adjust never blocks: past adjustQueue changes waiting it drops one and
// says so; the engine takes the queue while the clients hold, and takes
// changes again after.
func TestAdjustQueueIsBounded(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.Hold = true
	lr := newRun(t, cfg)
	lr.adjust(Adjust{KindTCP, RoleSilent, 1})
	for range adjustQueue - 1 {
		lr.adjust(Adjust{KindTCP, RoleIdle, 1}) // no such client: ignored
	}
	if lr.r.Adjust(Adjust{KindTCP, RoleSilent, 1}) {
		t.Fatalf("Adjust took a change past the %d queued", adjustQueue)
	}
	lr.start()
	want := cfg.Mix
	want.Silent++
	lr.await("the queued change applied, every client ready", func(s Snapshot) bool {
		return s.Phase == PhaseHolding && s.Mix == want && s.NotReady == 0
	})
	lr.adjust(Adjust{KindTCP, RoleIdle, 1}) // the queue was taken
	lr.r.Trigger()
	res, err := lr.wait()
	if err != nil {
		t.Fatal(err)
	}
	if it := res.Iterations[0]; it.Mix != want || res.Config.Mix != want {
		t.Errorf("mix %+v, result's %+v; want %+v: the dropped change must not apply", it.Mix, res.Config.Mix, want)
	}
	checkClean(t, res.Iterations[0])
}

// Abort may be called many times, at once, and stops a holding run
// without a cancel; Wait may be called more than once, at once, and
// every call returns the same result.
func TestAbortIsIdempotentAndWaitRepeats(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.Hold, cfg.Iterations = true, 2
	lr := startRun(t, cfg)
	lr.await("every client ready while holding", heldReady(1))
	type result struct {
		res *Result
		err error
	}
	waits := make(chan result, 2)
	for range 2 {
		go func() { // ends when the run does, which the Abort below bounds
			res, err := lr.r.Wait()
			waits <- result{res, err}
		}()
	}
	var aborts sync.WaitGroup
	for range 8 {
		aborts.Add(1)
		go func() {
			defer aborts.Done()
			lr.r.Abort()
			lr.r.Abort()
		}()
	}
	aborts.Wait()
	res, err := lr.wait()
	if err != nil || res == nil || !res.Interrupted || len(res.Iterations) != 1 || !res.Iterations[0].Interrupted {
		t.Fatalf("err %v, result %+v; want one interrupted iteration", err, res)
	}
	for range 2 {
		select {
		case w := <-waits:
			if w.res != res || w.err != err {
				t.Errorf("another Wait returned %p, %v; the first %p, %v", w.res, w.err, res, err)
			}
		case <-time.After(waitBound):
			t.Fatal("a second Wait did not return")
		}
	}
	lr.r.Abort() // after the end: nothing left to stop
	if again, _ := lr.r.Wait(); again != res {
		t.Error("Wait after the end returned another result")
	}
}

// Abort before Start: the run still starts its server, closes it at once
// and reports the iteration interrupted, not failed to carry out.
func TestAbortBeforeStart(t *testing.T) {
	cfg := small(target.PolicyFixed)
	cfg.Hold = true
	lr := newRun(t, cfg)
	lr.r.Abort()
	lr.start()
	res, err := lr.wait()
	if err != nil || !res.Interrupted || len(res.Iterations) != 1 || !res.Iterations[0].Interrupted {
		t.Fatalf("err %v, interrupted %v, %d iterations", err, res.Interrupted, len(res.Iterations))
	}
}
