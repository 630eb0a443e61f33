package kernel

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"shutdowntest/internal/await"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const deadline = 5 * time.Second

// newKernel returns a kernel that is released, and whose threads are waited
// for, when the test ends, so no goroutine outlives it.
func newKernel(t *testing.T, opts Options) *Kernel {
	t.Helper()
	k := New(opts)
	t.Cleanup(func() {
		k.Release()
		if !k.WaitThreads(deadline) {
			t.Error("thread goroutines did not end after Release")
		}
	})
	return k
}

// waitFor waits, at most deadline, for cond.
func waitFor(t *testing.T, what string, cond func() bool) { await.Until(t, deadline, what, cond) }

// view returns the live view of thread th.
func view(k *Kernel, th *Thread) ThreadView {
	var v View
	k.View(&v)
	for _, tv := range v.Threads {
		if tv.ID == th.ID() {
			return tv
		}
	}
	return ThreadView{}
}

func blockedOn(k *Kernel, th *Thread, h Handle) func() bool {
	return func() bool { return view(k, th).BlockedOn(h) }
}

func exited(k *Kernel, th *Thread) func() bool {
	return func() bool { return view(k, th).Exited }
}

// pendingWaits counts the waits blocked right now, those of callers that
// are not modelled threads included.
func pendingWaits(k *Kernel) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.pending)
}

// signaled reports whether the object h was issued for is open and
// signalled.
func signaled(k *Kernel, h Handle) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	o, stale := k.resolve(h)
	return o != nil && !stale && o.signaled
}

type result struct {
	id int
	r  WaitResult
}

// startWaiter starts a thread that makes one wait and reports its result.
func startWaiter(k *Kernel, opts ThreadOptions, timeout time.Duration, out chan<- result, hs ...Handle) *Thread {
	return k.CreateThread(opts, func(t *Thread) {
		out <- result{t.ID(), k.WaitAny(t, timeout, hs...)}
	})
}

// joiner runs a wait by a caller that is not a modelled thread; the
// goroutine ends when the wait does, at the latest at Release.
func joiner(k *Kernel, timeout time.Duration, out chan<- result, hs ...Handle) {
	go func() { out <- result{0, k.WaitAny(nil, timeout, hs...)} }()
}

// bounded runs a wait by a caller that is not a modelled thread on its own
// goroutine, so that a kernel that wrongly blocks fails the test instead of
// hanging it (Release at cleanup then ends the goroutine).
func bounded(t *testing.T, wait func() WaitResult) WaitResult {
	t.Helper()
	out := make(chan result, 1)
	go func() { out <- result{0, wait()} }()
	return recv(t, out).r
}

func waitNil(t *testing.T, k *Kernel, timeout time.Duration, hs ...Handle) WaitResult {
	t.Helper()
	return bounded(t, func() WaitResult { return k.WaitAny(nil, timeout, hs...) })
}

func joinThread(t *testing.T, k *Kernel, h Handle, timeout time.Duration) WaitResult {
	t.Helper()
	return bounded(t, func() WaitResult { return k.Join(nil, h, timeout) })
}

func recv(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(deadline):
		t.Fatal("timed out waiting for a wait to return")
	}
	return result{}
}

func noRecv(t *testing.T, ch <-chan result) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("unexpected wake: thread %d got %v", r.id, r.r)
	default:
	}
}

func violations(r Record, kind ViolationKind) []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if v.Kind == kind {
			out = append(out, v)
		}
	}
	return out
}

func closeOf(t *testing.T, r Record, h Handle) CloseRecord {
	t.Helper()
	var found []CloseRecord
	for _, c := range r.Closes {
		if c.Handle == h.Value() {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one close record for %v, got %+v", h, found)
	}
	return found[0]
}

func threadRec(t *testing.T, r Record, th *Thread) ThreadRecord {
	t.Helper()
	for _, tr := range r.Threads {
		if tr.ID == th.ID() {
			return tr
		}
	}
	t.Fatalf("no record of thread %d", th.ID())
	return ThreadRecord{}
}

func TestHandleValues(t *testing.T) {
	t.Run("multiples of four, reused LIFO", func(t *testing.T) {
		k := newKernel(t, Options{})
		a := k.CreateEvent("a", true, false)
		b := k.CreateEvent("b", true, false)
		c := k.CreateEvent("c", true, false)
		seen := map[uint32]bool{}
		for _, h := range []Handle{a, b, c} {
			if h.IsZero() || h.Value()%4 != 0 || seen[h.Value()] {
				t.Fatalf("bad handle value %v (seen %v)", h, seen)
			}
			seen[h.Value()] = true
		}
		if err := k.CloseHandle(a); err != nil {
			t.Fatal(err)
		}
		if err := k.CloseHandle(b); err != nil {
			t.Fatal(err)
		}
		if got := k.CreateEvent("b2", true, false); got.Value() != b.Value() {
			t.Errorf("first create after closing a then b: got %v, want b's %v", got, b)
		}
		if got := k.CreateEvent("a2", true, false); got.Value() != a.Value() {
			t.Errorf("second create: got %v, want a's %v", got, a)
		}
		if got := k.CreateEvent("d", true, false); seen[got.Value()] || got.Value()%4 != 0 {
			t.Errorf("free list empty: want a fresh value, got %v", got)
		}
		// Thread objects share the table.
		if err := k.CloseHandle(c); err != nil {
			t.Fatal(err)
		}
		th := k.CreateThread(ThreadOptions{Name: "t"}, func(*Thread) {})
		if th.Handle().Value() != c.Value() {
			t.Errorf("thread handle: got %v, want recycled %v", th.Handle(), c)
		}
	})
	t.Run("NoReuse never reuses", func(t *testing.T) {
		k := newKernel(t, Options{NoReuse: true})
		seen := map[uint32]bool{}
		for i := range 20 {
			h := k.CreateEvent("e", i%2 == 0, false)
			if h.IsZero() || h.Value()%4 != 0 || seen[h.Value()] {
				t.Fatalf("create %d: value %v zero, unaligned or reused", i, h)
			}
			seen[h.Value()] = true
			if i%3 != 2 {
				if err := k.CloseHandle(h); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func TestManualResetEvent(t *testing.T) {
	k := newKernel(t, Options{})
	ev := k.CreateEvent("manual", true, false)
	out := make(chan result, 3)
	var ths []*Thread
	for range 3 {
		th := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, ev)
		waitFor(t, "waiter blocked", blockedOn(k, th, ev))
		ths = append(ths, th)
	}
	noRecv(t, out)
	if err := k.SetEvent(ev); err != nil {
		t.Fatal(err)
	}
	woke := map[int]bool{}
	for range ths {
		r := recv(t, out)
		if r.r != 0 {
			t.Errorf("thread %d: got %v, want WAIT_OBJECT_0", r.id, r.r)
		}
		woke[r.id] = true
	}
	if len(woke) != 3 {
		t.Errorf("woken threads %v, want all three", woke)
	}
	for i := range 3 {
		if r := waitNil(t, k, 0, ev); r != 0 {
			t.Fatalf("wait %d after Set: got %v, want WAIT_OBJECT_0 (manual stays set)", i, r)
		}
	}
	if err := k.ResetEvent(ev); err != nil {
		t.Fatal(err)
	}
	if r := waitNil(t, k, 0, ev); r != WaitTimeout {
		t.Errorf("wait after Reset: got %v, want WAIT_TIMEOUT", r)
	}
}

func TestAutoResetEvent(t *testing.T) {
	t.Run("Set releases exactly the first waiter", func(t *testing.T) {
		k := newKernel(t, Options{})
		ev := k.CreateEvent("auto", false, false)
		out := make(chan result, 2)
		first := startWaiter(k, ThreadOptions{Name: "first"}, Infinite, out, ev)
		waitFor(t, "first blocked", blockedOn(k, first, ev))
		second := startWaiter(k, ThreadOptions{Name: "second"}, Infinite, out, ev)
		waitFor(t, "second blocked", blockedOn(k, second, ev))

		if err := k.SetEvent(ev); err != nil {
			t.Fatal(err)
		}
		if r := recv(t, out); r.id != first.ID() || r.r != 0 {
			t.Fatalf("got %+v, want thread %d with WAIT_OBJECT_0", r, first.ID())
		}
		if !view(k, second).BlockedOn(ev) {
			t.Error("second waiter was released too")
		}
		noRecv(t, out)
		if signaled(k, ev) {
			t.Error("auto-reset event still signalled after releasing a waiter")
		}
		if err := k.SetEvent(ev); err != nil {
			t.Fatal(err)
		}
		if r := recv(t, out); r.id != second.ID() || r.r != 0 {
			t.Fatalf("got %+v, want thread %d with WAIT_OBJECT_0", r, second.ID())
		}
		if signaled(k, ev) {
			t.Error("auto-reset event still signalled after the second release")
		}
	})
	for _, tc := range []struct {
		name    string
		initial bool
		set     bool
	}{
		{"Set with no waiter stays signalled", false, true},
		{"created signalled", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKernel(t, Options{})
			ev := k.CreateEvent("auto", false, tc.initial)
			if tc.set {
				if err := k.SetEvent(ev); err != nil {
					t.Fatal(err)
				}
			}
			if !signaled(k, ev) {
				t.Fatal("event not signalled")
			}
			if r := waitNil(t, k, 0, ev); r != 0 {
				t.Fatalf("first wait: got %v, want WAIT_OBJECT_0", r)
			}
			if r := waitNil(t, k, 0, ev); r != WaitTimeout {
				t.Errorf("second wait: got %v, want WAIT_TIMEOUT (consumed)", r)
			}
		})
	}
}

func TestWaitAnyLowestIndexWins(t *testing.T) {
	type ev struct{ manual, set bool }
	for _, tc := range []struct {
		name      string
		evs       []ev
		want      WaitResult
		remaining []bool // signalled after the wait
	}{
		{"auto, auto: lowest wins, only it consumed", []ev{{false, true}, {false, true}}, 0, []bool{false, true}},
		{"manual, auto: manual winner not consumed", []ev{{true, true}, {false, true}}, 0, []bool{true, true}},
		{"auto, manual", []ev{{false, true}, {true, true}}, 0, []bool{false, true}},
		{"manual, manual", []ev{{true, true}, {true, true}}, 0, []bool{true, true}},
		{"only index 1 set", []ev{{false, false}, {false, true}}, 1, []bool{false, false}},
		{"index 2 beats nothing lower", []ev{{true, false}, {false, false}, {true, true}, {false, true}}, 2, []bool{false, false, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKernel(t, Options{})
			var hs []Handle
			for _, e := range tc.evs {
				hs = append(hs, k.CreateEvent("e", e.manual, e.set))
			}
			if r := waitNil(t, k, 0, hs...); r != tc.want {
				t.Fatalf("got %v, want %v", r, tc.want)
			}
			for i, h := range hs {
				if got := signaled(k, h); got != tc.remaining[i] {
					t.Errorf("index %d signalled = %v, want %v", i, got, tc.remaining[i])
				}
			}
		})
	}
	t.Run("blocked wait woken by a higher index", func(t *testing.T) {
		k := newKernel(t, Options{})
		low := k.CreateEvent("low", true, false)
		high := k.CreateEvent("high", false, false)
		out := make(chan result, 1)
		th := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, low, high)
		waitFor(t, "waiter blocked", blockedOn(k, th, high))
		if err := k.SetEvent(high); err != nil {
			t.Fatal(err)
		}
		if r := recv(t, out); r.r != 1 {
			t.Errorf("got %v, want WAIT_OBJECT_0+1", r.r)
		}
		if signaled(k, high) {
			t.Error("auto-reset winner not consumed")
		}
	})
}

func TestWaitOnClosedHandleFails(t *testing.T) {
	// No reuse: the thread created below must not take the closed value.
	k := newKernel(t, Options{NoReuse: true})
	ready := k.CreateEvent("ready", false, true)
	gone := k.CreateEvent("gone", true, true)
	if err := k.CloseHandle(gone); err != nil {
		t.Fatal(err)
	}
	// The handles are resolved on entry: a closed one fails the whole wait,
	// even if a lower index is signalled, and nothing is consumed.
	if r := waitNil(t, k, Infinite, ready, gone); r != WaitFailed {
		t.Fatalf("got %v, want WAIT_FAILED", r)
	}
	if !signaled(k, ready) {
		t.Error("failed wait consumed the auto-reset event")
	}
	out := make(chan result, 1)
	th := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, gone)
	if r := recv(t, out); r.r != WaitFailed {
		t.Fatalf("thread wait: got %v, want WAIT_FAILED", r.r)
	}
	want := []WaitFailure{
		{Thread: 0, Handle: gone.Value()},
		{Thread: th.ID(), Handle: gone.Value()},
	}
	got := k.Record().WaitFailures
	for i := range got {
		got[i].At = 0
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WaitFailures = %+v, want %+v", got, want)
	}
	// Waiting on a closed handle is a bug of the waiter: each is also a
	// violation, so it shows in the report where it happened.
	v := k.Record().Violations
	if len(v) != 2 || v[0].Kind != ViolationWaitOnClosed || v[1].Kind != ViolationWaitOnClosed {
		t.Errorf("violations %+v, want two %s", v, ViolationWaitOnClosed)
	}
}

func TestCloseWhileWaiting(t *testing.T) {
	t.Run("PendingFails", func(t *testing.T) {
		k := newKernel(t, Options{OnPendingClose: PendingFails})
		ev := k.CreateEvent("conn", false, false)
		other := k.CreateEvent("other", true, false)
		out := make(chan result, 1)
		th := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, other, ev)
		waitFor(t, "waiter blocked", blockedOn(k, th, ev))
		if err := k.CloseHandle(ev); err != nil {
			t.Fatal(err)
		}
		if r := recv(t, out); r.r != WaitFailed {
			t.Fatalf("got %v, want WAIT_FAILED", r.r)
		}
		rec := k.Record()
		if c := closeOf(t, rec, ev); !slices.Equal(c.Blocked, []int{th.ID()}) {
			t.Errorf("Blocked = %v, want [%d]", c.Blocked, th.ID())
		}
		if v := violations(rec, ViolationCloseWhileWaiting); len(v) != 1 {
			t.Errorf("close-while-waiting violations = %+v, want one", v)
		}
		if len(rec.WaitFailures) != 1 || !rec.WaitFailures[0].Pending || rec.WaitFailures[0].Thread != th.ID() ||
			rec.WaitFailures[0].Handle != ev.Value() {
			t.Errorf("WaitFailures = %+v, want one pending failure of thread %d on %v", rec.WaitFailures, th.ID(), ev)
		}
		if pendingWaits(k) != 0 || view(k, th).Blocked != nil {
			t.Error("failed wait left pending state behind")
		}
	})
	t.Run("PendingKeepsWaiting", func(t *testing.T) {
		k := newKernel(t, Options{OnPendingClose: PendingKeepsWaiting})
		ev := k.CreateEvent("conn", false, false)
		out := make(chan result, 2)
		th := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, ev)
		joiner(k, Infinite, out, ev)
		waitFor(t, "both waits pending", func() bool { return pendingWaits(k) == 2 && view(k, th).BlockedOn(ev) })
		if err := k.CloseHandle(ev); err != nil {
			t.Fatal(err)
		}
		rec := k.Record()
		if c := closeOf(t, rec, ev); !slices.Equal(c.Blocked, []int{0, th.ID()}) {
			t.Errorf("Blocked = %v, want [0 %d]", c.Blocked, th.ID())
		}
		if v := violations(rec, ViolationCloseWhileWaiting); len(v) != 1 {
			t.Errorf("close-while-waiting violations = %+v, want one", v)
		}
		if len(rec.WaitFailures) != 0 {
			t.Errorf("WaitFailures = %+v, want none", rec.WaitFailures)
		}
		noRecv(t, out)
		if !view(k, th).BlockedOn(ev) || pendingWaits(k) != 2 {
			t.Error("waiters no longer blocked after the close")
		}
		// A new object on the recycled value must not reach the old waits.
		ev2 := k.CreateEvent("conn2", true, true)
		if ev2.Value() != ev.Value() {
			t.Fatalf("value not recycled: %v vs %v", ev2, ev)
		}
		if err := k.SetEvent(ev2); err != nil {
			t.Fatal(err)
		}
		if !view(k, th).BlockedOn(ev) || pendingWaits(k) != 2 {
			t.Error("a Set on the recycled value reached the old waits")
		}
		k.Release()
		for range 2 {
			if r := recv(t, out); r.r != WaitReleased {
				t.Errorf("wait of %d: got %v, want RELEASED", r.id, r.r)
			}
		}
	})
	t.Run("closed thread object never wins the wait", func(t *testing.T) {
		k := newKernel(t, Options{OnPendingClose: PendingKeepsWaiting})
		gate := make(chan struct{})
		worker := k.CreateThread(ThreadOptions{Name: "worker"}, func(*Thread) { <-gate })
		ev := k.CreateEvent("ev", false, false)
		out := make(chan result, 1)
		w := startWaiter(k, ThreadOptions{Name: "joiner"}, Infinite, out, worker.Handle(), ev)
		waitFor(t, "joiner blocked", blockedOn(k, w, ev))
		if err := k.CloseHandle(worker.Handle()); err != nil {
			t.Fatal(err)
		}
		close(gate)
		waitFor(t, "worker exited", exited(k, worker))
		if !view(k, w).BlockedOn(ev) {
			t.Fatal("the closed thread handle released the wait at the thread's exit")
		}
		if err := k.SetEvent(ev); err != nil {
			t.Fatal(err)
		}
		if r := recv(t, out); r.r != 1 {
			t.Errorf("got %v, want WAIT_OBJECT_0+1: the closed thread handle cannot signal the wait", r.r)
		}
	})
}

func TestRecycledValue(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		set     bool
		want    WaitResult
	}{
		{"new object signalled", Infinite, true, 0},
		{"new object unsignalled, poll", 0, false, WaitTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKernel(t, Options{})
			old := k.CreateEvent("old", false, false)
			if err := k.CloseHandle(old); err != nil {
				t.Fatal(err)
			}
			fresh := k.CreateEvent("new", false, tc.set)
			if fresh.Value() != old.Value() {
				t.Fatalf("value not recycled: %v vs %v", fresh, old)
			}
			out := make(chan result, 1)
			th := startWaiter(k, ThreadOptions{Name: "w"}, tc.timeout, out, old)
			if r := recv(t, out); r.r != tc.want {
				t.Fatalf("stale wait: got %v, want %v", r.r, tc.want)
			}
			if tc.set && signaled(k, fresh) {
				t.Error("stale wait did not consume the new auto-reset object")
			}
			rec := k.Record()
			want := []WaitFailure{{Thread: th.ID(), Handle: old.Value(), Name: "new", Recycled: true}}
			got := rec.WaitFailures
			for i := range got {
				got[i].At = 0
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("WaitFailures = %+v, want %+v", got, want)
			}
			if v := violations(rec, ViolationStaleHandle); len(v) != 1 {
				t.Errorf("stale-handle violations = %+v, want one", v)
			}
		})
	}
}

// The clients alive at a close are kept as a count and an order stamp in the
// CloseRecord; Record.AliveAt names them later, so the answer must not move
// with threads created or exited after the close.
func TestCloseRecordAliveClients(t *testing.T) {
	k := newKernel(t, Options{})
	block := k.CreateEvent("block", true, false)
	unrelated := k.CreateEvent("unrelated", true, false)
	out := make(chan result, 4)
	done := startWaiter(k, ThreadOptions{Name: "client", Client: true}, 0, out, block)
	if r := recv(t, out); r.r != WaitTimeout {
		t.Fatalf("poll: got %v", r.r)
	}
	if joinThread(t, k, done.Handle(), deadline) != 0 {
		t.Fatal("exited client not joined")
	}
	client := startWaiter(k, ThreadOptions{Name: "client", Client: true, Peer: "127.0.0.1:1"}, Infinite, out, block)
	listener := startWaiter(k, ThreadOptions{Name: "listener"}, Infinite, out, block)
	waitFor(t, "client blocked", blockedOn(k, client, block))
	waitFor(t, "listener blocked", blockedOn(k, listener, block))
	if err := k.CloseHandle(unrelated); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		rec := k.Record()
		c := closeOf(t, rec, unrelated)
		if got := rec.AliveAt(c); !slices.Equal(got, []int{client.ID()}) {
			t.Errorf("%s: AliveAt = %v, want [%d]", when, got, client.ID())
		}
		if c.AliveCount != 1 {
			t.Errorf("%s: AliveCount = %d, want 1", when, c.AliveCount)
		}
		if len(c.Blocked) != 0 || c.Name != "unrelated" || c.Kind != "event" || c.By != "" {
			t.Errorf("%s: close record %+v", when, c)
		}
		if len(violations(rec, ViolationCloseWhileWaiting)) != 0 {
			t.Errorf("%s: violations %+v, want none", when, rec.Violations)
		}
	}
	check("at once")
	// A client born after the close, and the alive one exiting after it,
	// change nothing.
	late := startWaiter(k, ThreadOptions{Name: "client", Client: true}, Infinite, out, block)
	waitFor(t, "late client blocked", blockedOn(k, late, block))
	if err := k.SetEvent(block); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		recv(t, out)
	}
	for _, th := range []*Thread{client, listener, late} {
		waitFor(t, "thread exited", exited(k, th))
	}
	check("after later creations and exits")
}

func TestThreadObject(t *testing.T) {
	t.Run("join", func(t *testing.T) {
		k := newKernel(t, Options{})
		ev := k.CreateEvent("go", true, false)
		out := make(chan result, 2)
		th := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, ev)
		h := th.Handle()
		if r := joinThread(t, k, h, 0); r != WaitTimeout {
			t.Errorf("poll join of a running thread: got %v", r)
		}
		if r := joinThread(t, k, h, 10*time.Millisecond); r != WaitTimeout {
			t.Errorf("timed join of a running thread: got %v", r)
		}
		joined := make(chan result, 1)
		joiner(k, Infinite, joined, h)
		waitFor(t, "join pending", func() bool { return pendingWaits(k) == 2 })
		if err := k.SetEvent(ev); err != nil {
			t.Fatal(err)
		}
		if r := recv(t, out); r.r != 0 {
			t.Fatalf("thread wait: got %v", r.r)
		}
		if r := recv(t, joined); r.r != 0 {
			t.Errorf("pending join: got %v, want WAIT_OBJECT_0", r.r)
		}
		for i := range 2 {
			if r := joinThread(t, k, h, 0); r != 0 {
				t.Errorf("join %d after exit: got %v, want WAIT_OBJECT_0", i, r)
			}
		}
		tr := threadRec(t, k.Record(), th)
		if !tr.Exited || tr.Forced || tr.Killed {
			t.Errorf("record %+v", tr)
		}
	})
	t.Run("auto-delete", func(t *testing.T) {
		k := newKernel(t, Options{})
		ev := k.CreateEvent("go", true, false)
		out := make(chan result, 1)
		th := startWaiter(k, ThreadOptions{Name: "w", AutoDelete: true}, Infinite, out, ev)
		h := th.Handle()
		joined := make(chan result, 1)
		joiner(k, Infinite, joined, h)
		waitFor(t, "join pending", func() bool { return pendingWaits(k) == 2 })
		if err := k.SetEvent(ev); err != nil {
			t.Fatal(err)
		}
		recv(t, out)
		waitFor(t, "thread exited", exited(k, th))
		// The object is signalled before its handle closes: a join already
		// pending completes, and the close finds no waiter.
		if r := recv(t, joined); r.r != 0 {
			t.Errorf("pending join: got %v, want WAIT_OBJECT_0", r.r)
		}
		rec := k.Record()
		c := closeOf(t, rec, h)
		if c.By != "auto-delete" || c.Kind != "thread" || len(c.Blocked) != 0 {
			t.Errorf("close record %+v", c)
		}
		if len(rec.Violations) != 0 {
			t.Errorf("violations %+v, want none", rec.Violations)
		}
		if r := joinThread(t, k, h, 0); r != WaitFailed {
			t.Errorf("join after auto-delete: got %v, want WAIT_FAILED", r)
		}
		if slices.Contains(k.Record().OpenHandles, c.Name) {
			t.Errorf("%s still open", c.Name)
		}
		if err := k.CloseHandle(h); err == nil {
			t.Error("second close of an auto-deleted handle succeeded")
		}
	})
}

func TestTerminateThread(t *testing.T) {
	t.Run("blocked in a wait", func(t *testing.T) {
		k := newKernel(t, Options{})
		ev := k.CreateEvent("never", true, false)
		ready := k.CreateEvent("ready", false, true)
		out := make(chan result, 2)
		th := k.CreateThread(ThreadOptions{Name: "w"}, func(t *Thread) {
			out <- result{1, k.WaitAny(t, Infinite, ev)}
			out <- result{2, k.WaitAny(t, Infinite, ready)}
		})
		waitFor(t, "thread blocked", blockedOn(k, th, ev))
		k.TerminateThread(th)
		if r := recv(t, out); r.r != WaitKilled {
			t.Errorf("blocked wait: got %v, want KILLED", r.r)
		}
		if r := recv(t, out); r.r != WaitKilled {
			t.Errorf("later wait: got %v, want KILLED", r.r)
		}
		if !signaled(k, ready) {
			t.Error("a killed thread's wait consumed an event")
		}
		waitFor(t, "thread exited", exited(k, th))
		k.TerminateThread(th) // already dead: no second record
		rec := k.Record()
		if v := violations(rec, ViolationTerminateThread); len(v) != 1 {
			t.Errorf("terminate violations = %+v, want one", v)
		}
		if tr := threadRec(t, rec, th); !tr.Killed || !tr.Exited {
			t.Errorf("record %+v", tr)
		}
	})
	t.Run("outside a wait: honoured at the next one", func(t *testing.T) {
		k := newKernel(t, Options{})
		ready := k.CreateEvent("ready", true, true)
		gate := make(chan struct{})
		out := make(chan result, 1)
		th := k.CreateThread(ThreadOptions{Name: "w"}, func(t *Thread) {
			t.Enter("process")
			<-gate
			out <- result{t.ID(), k.WaitAny(t, Infinite, ready)}
		})
		waitFor(t, "thread in process", func() bool { return view(k, th).State == "process" })
		k.TerminateThread(th)
		close(gate)
		if r := recv(t, out); r.r != WaitKilled {
			t.Errorf("got %v, want KILLED", r.r)
		}
		if v := violations(k.Record(), ViolationTerminateThread); len(v) != 1 {
			t.Errorf("terminate violations = %+v, want one", v)
		}
	})
}

func TestRelease(t *testing.T) {
	k := newKernel(t, Options{})
	ev := k.CreateEvent("never", true, false)
	out := make(chan result, 3)
	quick := startWaiter(k, ThreadOptions{Name: "quick"}, 0, out, ev)
	recv(t, out)
	if joinThread(t, k, quick.Handle(), deadline) != 0 {
		t.Fatal("quick thread not joined")
	}
	stuck := startWaiter(k, ThreadOptions{Name: "stuck", Client: true}, Infinite, out, ev)
	joiner(k, Infinite, out, stuck.Handle())
	waitFor(t, "both waits pending", func() bool { return pendingWaits(k) == 2 && view(k, stuck).BlockedOn(ev) })

	k.Release()
	k.Release() // idempotent
	for range 2 {
		if r := recv(t, out); r.r != WaitReleased {
			t.Errorf("pending wait of %d: got %v, want RELEASED", r.id, r.r)
		}
	}
	if err := k.SetEvent(ev); err != nil {
		t.Fatal(err)
	}
	if r := waitNil(t, k, Infinite, ev); r != WaitReleased {
		t.Errorf("wait after Release: got %v, want RELEASED", r)
	}
	if !k.Released() {
		t.Error("Released() = false")
	}
	if !k.WaitThreads(deadline) {
		t.Fatal("WaitThreads = false after Release")
	}
	rec := k.Record()
	if tr := threadRec(t, rec, stuck); !tr.Forced || !tr.Exited {
		t.Errorf("stuck thread record %+v, want forced and exited", tr)
	}
	if tr := threadRec(t, rec, quick); tr.Forced {
		t.Errorf("quick thread record %+v, want not forced", tr)
	}
	if v := violations(rec, ViolationForced); len(v) != 1 {
		t.Errorf("forced violations = %+v, want one", v)
	}
	if pendingWaits(k) != 0 {
		t.Error("pending waits left after Release")
	}
}

func TestTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     bool
		timeout time.Duration
		want    WaitResult
	}{
		{"poll unsignalled", false, 0, WaitTimeout},
		{"poll signalled", true, 0, 0},
		{"finite unsignalled", false, 20 * time.Millisecond, WaitTimeout},
		{"finite signalled", true, 20 * time.Millisecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKernel(t, Options{})
			ev := k.CreateEvent("auto", false, tc.set)
			out := make(chan result, 1)
			start := time.Now()
			th := startWaiter(k, ThreadOptions{Name: "w"}, tc.timeout, out, ev)
			r := recv(t, out)
			if r.r != tc.want {
				t.Fatalf("got %v, want %v", r.r, tc.want)
			}
			if r.r == WaitTimeout && time.Since(start) < tc.timeout {
				t.Errorf("timed out after %v, before %v", time.Since(start), tc.timeout)
			}
			// A timed-out wait leaves no waiter behind to eat a later signal.
			if pendingWaits(k) != 0 || view(k, th).Blocked != nil {
				t.Error("wait left pending state behind")
			}
			if err := k.SetEvent(ev); err != nil {
				t.Fatal(err)
			}
			if !signaled(k, ev) {
				t.Error("a finished wait consumed a later Set")
			}
		})
	}
}

// expand replays a history into the states it compresses.
func expand(hist []StateRecord) []State {
	var out []State
	for i, e := range hist {
		out = append(out, e.State)
		for range e.Repeats {
			out = append(out, hist[i-1].State, e.State)
		}
	}
	return out
}

func TestEnterCycleCompression(t *testing.T) {
	type sr struct {
		s State
		r int
	}
	many := []State{"wait"}
	for range 500 {
		many = append(many, "send", "wait")
	}
	many = append(many, "linger")
	for _, tc := range []struct {
		name string
		seq  []State
		want []sr
	}{
		{"no cycle", []State{"init", "wait", "read", "process", "send", "linger"},
			[]sr{{"spawning", 0}, {"init", 0}, {"wait", 0}, {"read", 0}, {"process", 0}, {"send", 0}, {"linger", 0}, {"exited", 0}}},
		{"one return is not yet a cycle", []State{"wait", "send", "wait", "linger"},
			[]sr{{"spawning", 0}, {"wait", 0}, {"send", 0}, {"wait", 0}, {"linger", 0}, {"exited", 0}}},
		{"cycle left from send", []State{"wait", "send", "wait", "send", "linger"},
			[]sr{{"spawning", 0}, {"wait", 0}, {"send", 1}, {"linger", 0}, {"exited", 0}}},
		{"cycle left from wait", []State{"wait", "send", "wait", "send", "wait", "linger"},
			[]sr{{"spawning", 0}, {"wait", 0}, {"send", 1}, {"wait", 0}, {"linger", 0}, {"exited", 0}}},
		{"long cycle", many,
			[]sr{{"spawning", 0}, {"wait", 0}, {"send", 499}, {"wait", 0}, {"linger", 0}, {"exited", 0}}},
		{"two cycles", []State{"wait", "send", "wait", "send", "read", "process", "read", "process", "read"},
			[]sr{{"spawning", 0}, {"wait", 0}, {"send", 1}, {"read", 0}, {"process", 1}, {"read", 0}, {"exited", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKernel(t, Options{})
			th := k.CreateThread(ThreadOptions{Name: "ws"}, func(th *Thread) {
				for i, s := range tc.seq {
					th.Enter(s)
					// While the thread lives, the last entry is where it is.
					h := k.Record().Threads[0].States
					if last := h[len(h)-1].State; last != s || th.State() != s {
						t.Errorf("after step %d (%s): last history entry %q, State() %q", i, s, last, th.State())
						return
					}
				}
			})
			if r := joinThread(t, k, th.Handle(), deadline); r != 0 {
				t.Fatalf("join: %v", r)
			}
			hist := threadRec(t, k.Record(), th).States
			var got []sr
			for i, e := range hist {
				got = append(got, sr{e.State, e.Repeats})
				if i > 0 && e.At < hist[i-1].At {
					t.Errorf("entry %d At %v before entry %d At %v", i, e.At, i-1, hist[i-1].At)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("history %v, want %v", got, tc.want)
			}
			full := append(append([]State{StateSpawning}, tc.seq...), StateExited)
			if e := expand(hist); !slices.Equal(e, full) {
				i := 0
				for i < len(e) && i < len(full) && e[i] == full[i] {
					i++
				}
				t.Errorf("history replays %d states, want %d; first difference at %d", len(e), len(full), i)
			}
		})
	}
}

func TestExitStampedBeforeLaterClose(t *testing.T) {
	t.Run("join then close", func(t *testing.T) {
		k := newKernel(t, Options{})
		th := k.CreateThread(ThreadOptions{Name: "w"}, func(t *Thread) { t.Enter("cleanup") })
		if r := joinThread(t, k, th.Handle(), deadline); r != 0 {
			t.Fatalf("join: %v", r)
		}
		if err := k.CloseHandle(th.Handle()); err != nil {
			t.Fatal(err)
		}
		rec := k.Record()
		tr, c := threadRec(t, rec, th), closeOf(t, rec, th.Handle())
		if !tr.Exited || tr.ExitedAt > c.At {
			t.Errorf("ExitedAt %v after close At %v (exited %v)", tr.ExitedAt, c.At, tr.Exited)
		}
		if last := tr.States[len(tr.States)-1]; last.State != StateExited || last.At != tr.ExitedAt {
			t.Errorf("last state %+v, want exited at %v", last, tr.ExitedAt)
		}
	})
	t.Run("auto-delete", func(t *testing.T) {
		k := newKernel(t, Options{})
		th := k.CreateThread(ThreadOptions{Name: "w", AutoDelete: true}, func(*Thread) {})
		waitFor(t, "thread exited", exited(k, th))
		rec := k.Record()
		tr, c := threadRec(t, rec, th), closeOf(t, rec, th.Handle())
		if tr.ExitedAt > c.At {
			t.Errorf("ExitedAt %v after auto-delete close At %v", tr.ExitedAt, c.At)
		}
	})
}

func TestView(t *testing.T) {
	k := newKernel(t, Options{})
	conn := k.CreateEvent("conn", false, false)
	term := k.CreateEvent("terminate", true, false)
	unrelated := k.CreateEvent("unrelated", true, false)
	gate := make(chan struct{})
	out := make(chan result, 1)
	th := k.CreateThread(ThreadOptions{Name: "client", Client: true, Peer: "127.0.0.1:9"}, func(t *Thread) {
		t.Enter("wait")
		out <- result{t.ID(), k.WaitAny(t, Infinite, conn, term)}
		<-gate
	})
	waitFor(t, "thread blocked", blockedOn(k, th, conn))
	v := view(k, th)
	if !v.BlockedOn(term) || v.BlockedOn(unrelated) || v.State != "wait" || !v.Client || v.Peer != "127.0.0.1:9" || v.Exited {
		t.Errorf("view while blocked %+v", v)
	}
	if err := k.SetEvent(conn); err != nil {
		t.Fatal(err)
	}
	// The wake is done under the kernel lock: no polling needed.
	if v := view(k, th); len(v.Blocked) != 0 || v.BlockedOn(conn) || v.BlockedOn(term) || v.Exited {
		t.Errorf("view after wake %+v", v)
	}
	if r := recv(t, out); r.r != 0 {
		t.Errorf("got %v", r.r)
	}
	var all View
	k.View(&all)
	if all.OpenHandles != 4 || all.Released || len(all.Threads) != 1 {
		t.Errorf("view %+v", all)
	}
	close(gate)
	waitFor(t, "thread exited", exited(k, th))
	if v := view(k, th); v.State != StateExited {
		t.Errorf("state after exit %q", v.State)
	}
}

func TestStampedCalls(t *testing.T) {
	k := newKernel(t, Options{})
	ev := k.CreateEvent("auto", false, false)
	out := make(chan result, 1)
	th := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, ev)
	waitFor(t, "waiter blocked", blockedOn(k, th, ev))
	before := k.Now()
	at, err := k.SetEventAt(ev)
	if err != nil {
		t.Fatal(err)
	}
	if at < before || at > k.Now() {
		t.Errorf("SetEventAt instant %v outside [%v, now]", at, before)
	}
	if r := recv(t, out); r.r != 0 {
		t.Errorf("got %v, want WAIT_OBJECT_0", r.r)
	}
	if signaled(k, ev) {
		t.Error("auto-reset event still set after releasing its waiter")
	}
	if _, err := k.SetEventAt(th.Handle()); err == nil {
		t.Error("SetEventAt on a thread handle succeeded")
	}
	closedAt, err := k.CloseHandleBy(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	if c := closeOf(t, k.Record(), ev); c.At != closedAt {
		t.Errorf("CloseHandleBy returned %v, record says %v", closedAt, c.At)
	}
	if _, err := k.CloseHandleBy(nil, ev); err == nil {
		t.Error("second CloseHandleBy of a freed value succeeded")
	}
	if _, err := k.SetEventAt(ev); err == nil {
		t.Error("SetEventAt on a closed handle succeeded")
	}
}

// TestInvalidWait: a set WaitForMultipleObjects documents as invalid fails
// at once, whatever is signalled in it, consumes nothing, and is recorded
// as a wait failure and a violation of its own naming the thread and the
// set.
func TestInvalidWait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(a, b Handle, many []Handle) []Handle
		why   string
		twice bool
	}{
		{"no handles", func(Handle, Handle, []Handle) []Handle { return nil }, "no handles", false},
		{"more than 64", func(_, _ Handle, many []Handle) []Handle { return many }, "65 handles, more than 64", false},
		{"a handle twice", func(a, b Handle, _ []Handle) []Handle { return []Handle{a, b, a} }, "twice", true},
		{"a handle twice, adjacent", func(a, b Handle, _ []Handle) []Handle { return []Handle{b, a, a} }, "twice", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKernel(t, Options{})
			// a is signalled and auto-reset: a wait that ran would win
			// it at index 0 and consume it.
			a := k.CreateEvent("a", false, true)
			b := k.CreateEvent("b", true, false)
			many := []Handle{a}
			for range MaxWaitObjects {
				many = append(many, k.CreateEvent("e", true, false))
			}
			hs := tc.set(a, b, many)
			out := make(chan result, 1)
			th := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, hs...)
			if r := recv(t, out); r.r != WaitFailed {
				t.Fatalf("got %v, want WAIT_FAILED", r.r)
			}
			if !signaled(k, a) {
				t.Error("the refused wait consumed a signalled auto-reset event")
			}
			rec := k.Record()
			if len(rec.WaitFailures) != 1 {
				t.Fatalf("WaitFailures = %+v, want one", rec.WaitFailures)
			}
			f := rec.WaitFailures[0]
			wantHandle := uint32(0)
			if tc.twice {
				wantHandle = a.Value()
			}
			if f.Thread != th.ID() || f.Handle != wantHandle || !strings.Contains(f.Invalid, tc.why) || f.Recycled || f.Pending {
				t.Errorf("wait failure %+v, want thread %d, handle %#x, invalid %q", f, th.ID(), wantHandle, tc.why)
			}
			v := violations(rec, ViolationInvalidWait)
			if len(v) != 1 || len(rec.Violations) != 1 {
				t.Fatalf("violations %+v, want one %s", rec.Violations, ViolationInvalidWait)
			}
			if v[0].At != f.At || !strings.Contains(v[0].Detail, fmt.Sprintf("thread %d", th.ID())) ||
				!strings.Contains(v[0].Detail, handleList(hs)) || !strings.Contains(v[0].Detail, tc.why) {
				t.Errorf("violation %+v does not name thread %d, the set %s and %q", v[0], th.ID(), handleList(hs), tc.why)
			}
		})
	}
	t.Run("64 distinct handles are a valid set", func(t *testing.T) {
		k := newKernel(t, Options{})
		var hs []Handle
		for range MaxWaitObjects - 1 {
			hs = append(hs, k.CreateEvent("e", true, false))
		}
		hs = append(hs, k.CreateEvent("last", true, true))
		if r := waitNil(t, k, 0, hs...); r != WaitResult(MaxWaitObjects-1) {
			t.Errorf("got %v, want WAIT_OBJECT_0+%d", r, MaxWaitObjects-1)
		}
		if rec := k.Record(); len(rec.Violations) != 0 || len(rec.WaitFailures) != 0 {
			t.Errorf("a valid wait recorded %+v %+v", rec.Violations, rec.WaitFailures)
		}
	})
}

// recycle closes an event named old and creates one named new on its value,
// returning the stale copy and the new handle.
func recycle(t *testing.T, k *Kernel, manual, initial bool) (old, fresh Handle) {
	t.Helper()
	old = k.CreateEvent("old", manual, false)
	if err := k.CloseHandle(old); err != nil {
		t.Fatal(err)
	}
	fresh = k.CreateEvent("new", manual, initial)
	if fresh.Value() != old.Value() {
		t.Fatalf("value not recycled: %v vs %v", fresh, old)
	}
	return old, fresh
}

// staleNamesBoth checks for exactly one stale-handle violation, naming the
// object the copy was issued for and the one it reached.
func staleNamesBoth(t *testing.T, rec Record) {
	t.Helper()
	v := violations(rec, ViolationStaleHandle)
	if len(v) != 1 || !strings.Contains(v[0].Detail, "stale handle to old") || !strings.Contains(v[0].Detail, "new, which now owns") {
		t.Errorf("stale-handle violations %+v, want one naming old and new", v)
	}
}

// TestStaleSetEvent: SetEvent through a stale copy signals the object that
// owns the value now, as Windows does, and is recorded.
func TestStaleSetEvent(t *testing.T) {
	k := newKernel(t, Options{})
	old, fresh := recycle(t, k, false, false)
	out := make(chan result, 1)
	th := startWaiter(k, ThreadOptions{Name: "w"}, Infinite, out, fresh)
	waitFor(t, "waiter blocked on the new event", blockedOn(k, th, fresh))
	if err := k.SetEvent(old); err != nil {
		t.Fatalf("SetEvent through the stale copy: %v, want the new event signalled", err)
	}
	if r := recv(t, out); r.r != 0 {
		t.Errorf("waiter on the new event: got %v, want WAIT_OBJECT_0", r.r)
	}
	staleNamesBoth(t, k.Record())
	// ResetEvent resolves the same way.
	if err := k.SetEvent(fresh); err != nil {
		t.Fatal(err)
	}
	if err := k.ResetEvent(old); err != nil || signaled(k, fresh) {
		t.Errorf("ResetEvent through the stale copy: err %v, new event still signalled %v", err, signaled(k, fresh))
	}
	if n := len(violations(k.Record(), ViolationStaleHandle)); n != 2 {
		t.Errorf("%d stale-handle violations after SetEvent and ResetEvent, want 2", n)
	}
}

// TestStaleCloseHandle: CloseHandle through a stale copy closes the object
// that owns the value now (the double close) and is recorded; Win32 does
// not refuse it.
func TestStaleCloseHandle(t *testing.T) {
	k := newKernel(t, Options{})
	old, fresh := recycle(t, k, true, true)
	closer := k.Actor("closer")
	if _, err := k.CloseHandleBy(closer, old); err != nil {
		t.Fatalf("CloseHandle through the stale copy: %v, want the new event closed", err)
	}
	rec := k.Record()
	if len(rec.Closes) != 2 || rec.Closes[1].Name != "new" || rec.Closes[1].By != "closer" {
		t.Fatalf("closes %+v, want old's, then new's by closer", rec.Closes)
	}
	staleNamesBoth(t, rec)
	if !strings.Contains(violations(rec, ViolationStaleHandle)[0].Detail, "closer used") {
		t.Errorf("violation does not name the closer: %+v", rec.Violations)
	}
	if slices.Contains(rec.OpenHandles, "new") {
		t.Errorf("new event still open: %v", rec.OpenHandles)
	}
	if r := waitNil(t, k, 0, fresh); r != WaitFailed {
		t.Errorf("wait on the doubly closed value: got %v, want WAIT_FAILED", r)
	}
	if err := k.CloseHandle(old); err == nil {
		t.Error("a third close, of a value that names nothing, succeeded")
	}
}

// exitedClient starts a client thread that returns at once and waits until
// it has exited; nobody joins it.
func exitedClient(t *testing.T, k *Kernel) *Thread {
	t.Helper()
	th := k.CreateThread(ThreadOptions{Name: "client", Client: true}, func(*Thread) {})
	waitFor(t, "client exited", exited(k, th))
	return th
}

// closeBy closes a fresh event by by and returns the close record and the
// kernel record taken after it.
func closeBy(t *testing.T, k *Kernel, by *Thread) (CloseRecord, Record) {
	t.Helper()
	ev := k.CreateEvent("shared", true, true)
	if _, err := k.CloseHandleBy(by, ev); err != nil {
		t.Fatal(err)
	}
	rec := k.Record()
	return closeOf(t, rec, ev), rec
}

func ids(ths ...*Thread) []int {
	out := make([]int, len(ths))
	for i, th := range ths {
		out[i] = th.ID()
	}
	slices.Sort(out)
	return out
}

// TestJoinsAtClose: a close records what its closer knew, by its joins, of
// the client threads' exits. Exits it only happened to come after are not
// knowledge.
func TestJoinsAtClose(t *testing.T) {
	t.Run("exited by luck is not joined", func(t *testing.T) {
		k := newKernel(t, Options{})
		a, b := exitedClient(t, k), exitedClient(t, k)
		c, rec := closeBy(t, k, k.Actor("shutdown"))
		if got := rec.AliveAt(c); len(got) != 0 {
			t.Errorf("AliveAt = %v, want none: both had exited", got)
		}
		if got := rec.UnjoinedAt(c); !slices.Equal(got, ids(a, b)) {
			t.Errorf("UnjoinedAt = %v, want %v", got, ids(a, b))
		}
		if c.Closer != 0 || c.By != "shutdown" || len(c.Joined) != 0 {
			t.Errorf("close record %+v, want by shutdown (thread 0) knowing nothing", c)
		}
	})
	t.Run("a poll and a pending join both count", func(t *testing.T) {
		k := newKernel(t, Options{})
		polled := exitedClient(t, k)
		gate := k.CreateEvent("gate", true, false)
		out := make(chan result, 1)
		pending := startWaiter(k, ThreadOptions{Name: "client", Client: true}, Infinite, out, gate)
		other := exitedClient(t, k)
		closer := k.Actor("shutdown")
		if r := bounded(t, func() WaitResult { return k.Join(closer, polled.Handle(), 0) }); r != 0 {
			t.Fatalf("poll of an exited thread: %v", r)
		}
		joined := make(chan result, 1)
		go func() { joined <- result{0, k.Join(closer, pending.Handle(), Infinite)} }()
		waitFor(t, "join pending", func() bool { return pendingWaits(k) == 2 })
		if err := k.SetEvent(gate); err != nil {
			t.Fatal(err)
		}
		recv(t, out)
		if r := recv(t, joined); r.r != 0 {
			t.Fatalf("pending join: %v", r.r)
		}
		c, rec := closeBy(t, k, closer)
		if got := rec.UnjoinedAt(c); !slices.Equal(got, []int{other.ID()}) {
			t.Errorf("UnjoinedAt = %v, want only the unjoined %d", got, other.ID())
		}
	})
	t.Run("a timed-out or failed join teaches nothing", func(t *testing.T) {
		k := newKernel(t, Options{NoReuse: true})
		gate := k.CreateEvent("gate", true, false)
		out := make(chan result, 1)
		slow := startWaiter(k, ThreadOptions{Name: "client", Client: true}, Infinite, out, gate)
		gone := k.CreateThread(ThreadOptions{Name: "client", Client: true, AutoDelete: true}, func(*Thread) {})
		waitFor(t, "auto-deleting client exited", exited(k, gone))
		closer := k.Actor("shutdown")
		if r := bounded(t, func() WaitResult { return k.Join(closer, slow.Handle(), time.Millisecond) }); r != WaitTimeout {
			t.Fatalf("join of a running thread: %v", r)
		}
		if r := bounded(t, func() WaitResult { return k.Join(closer, gone.Handle(), 0) }); r != WaitFailed {
			t.Fatalf("join of an auto-deleted thread: %v", r)
		}
		if err := k.SetEvent(gate); err != nil {
			t.Fatal(err)
		}
		recv(t, out)
		waitFor(t, "slow client exited", exited(k, slow))
		c, rec := closeBy(t, k, closer)
		if got := rec.UnjoinedAt(c); !slices.Equal(got, ids(slow, gone)) {
			t.Errorf("UnjoinedAt = %v, want %v", got, ids(slow, gone))
		}
	})
	t.Run("transitive: what a joined thread knew at its exit", func(t *testing.T) {
		k := newKernel(t, Options{})
		reaped := exitedClient(t, k)
		missed := exitedClient(t, k)
		// The listener reaps one finished client by polling its thread
		// object, then exits; missed exits too but is never polled.
		listener := k.CreateThread(ThreadOptions{Name: "listener"}, func(l *Thread) {
			k.WaitAny(l, 0, reaped.Handle())
		})
		closer := k.Actor("shutdown")
		if r := bounded(t, func() WaitResult { return k.Join(closer, listener.Handle(), deadline) }); r != 0 {
			t.Fatalf("join of the listener: %v", r)
		}
		c, rec := closeBy(t, k, closer)
		if got := rec.UnjoinedAt(c); !slices.Equal(got, []int{missed.ID()}) {
			t.Errorf("UnjoinedAt = %v, want only %d, which the listener never reaped", got, missed.ID())
		}
		if !slices.Contains(c.Joined, listener.ID()) || !slices.Contains(c.Joined, reaped.ID()) {
			t.Errorf("Joined = %v, want the listener %d and, through it, %d", c.Joined, listener.ID(), reaped.ID())
		}
	})
	t.Run("a modelled closer, and the answer fixed at the close", func(t *testing.T) {
		k := newKernel(t, Options{})
		early := exitedClient(t, k)
		first := k.CreateEvent("first", true, true)
		second := k.CreateEvent("second", true, true)
		step := k.CreateEvent("step", false, false)
		lateH := make(chan Handle, 1)
		closed := make(chan error, 2)
		closeErr := func() error {
			select {
			case err := <-closed:
				return err
			case <-time.After(deadline):
				return errors.New("timed out waiting for the closer")
			}
		}
		closer := k.CreateThread(ThreadOptions{Name: "closer"}, func(me *Thread) {
			k.WaitAny(me, Infinite, early.Handle())
			_, err := k.CloseHandleBy(me, first)
			closed <- err
			// It learns one more exit after the first close, then closes
			// again: the first close's answer must not move.
			k.WaitAny(me, Infinite, step)
			select {
			case h := <-lateH:
				k.WaitAny(me, Infinite, h)
			case <-time.After(deadline): // the test failed before sending
			}
			_, err = k.CloseHandleBy(me, second)
			closed <- err
		})
		if err := closeErr(); err != nil {
			t.Fatalf("first close: %v", err)
		}
		late := exitedClient(t, k) // born after the first close: not its business
		lateH <- late.Handle()
		if err := k.SetEvent(step); err != nil {
			t.Fatal(err)
		}
		if err := closeErr(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		rec := k.Record()
		c1, c2 := closeOf(t, rec, first), closeOf(t, rec, second)
		if c1.Closer != closer.ID() || c1.By != "closer" || !slices.Equal(c1.Joined, []int{early.ID()}) {
			t.Errorf("first close %+v, want closer %d knowing [%d]", c1, closer.ID(), early.ID())
		}
		if got := rec.UnjoinedAt(c1); len(got) != 0 {
			t.Errorf("first close: UnjoinedAt = %v, want none", got)
		}
		if !slices.Equal(c2.Joined, []int{early.ID(), late.ID()}) || len(rec.UnjoinedAt(c2)) != 0 {
			t.Errorf("second close: Joined %v, UnjoinedAt %v; want [%d %d] and none", c2.Joined, rec.UnjoinedAt(c2), early.ID(), late.ID())
		}
	})
	t.Run("an anonymous closer knows nothing", func(t *testing.T) {
		k := newKernel(t, Options{})
		a := exitedClient(t, k)
		if r := joinThread(t, k, a.Handle(), 0); r != 0 {
			t.Fatalf("join: %v", r)
		}
		c, rec := closeBy(t, k, nil)
		if got := rec.UnjoinedAt(c); !slices.Equal(got, []int{a.ID()}) || c.By != "" {
			t.Errorf("UnjoinedAt = %v, By %q; want [%d] and no name", got, c.By, a.ID())
		}
	})
}

func TestActor(t *testing.T) {
	k := newKernel(t, Options{})
	a := k.Actor("shutdown")
	if a.ID() != 0 || !a.Handle().IsZero() {
		t.Errorf("actor id %d, handle %v; want 0 and the null handle", a.ID(), a.Handle())
	}
	gone := k.CreateEvent("gone", true, false)
	if err := k.CloseHandle(gone); err != nil {
		t.Fatal(err)
	}
	if r := bounded(t, func() WaitResult { return k.WaitAny(a, 0, gone) }); r != WaitFailed {
		t.Fatalf("wait on a closed handle: %v", r)
	}
	rec := k.Record()
	if len(rec.Threads) != 0 {
		t.Errorf("threads %+v, want none: an actor is no thread of the run", rec.Threads)
	}
	if v := violations(rec, ViolationWaitOnClosed); len(v) != 1 || !strings.HasPrefix(v[0].Detail, "shutdown waited") {
		t.Errorf("violations %+v, want one naming the actor", v)
	}
}

// TestAliveClientsSignalsChanges: the count of live client threads and
// its change channel, on which a wait for the last exit wakes. Threads
// that are not clients change neither.
func TestAliveClientsSignalsChanges(t *testing.T) {
	k := newKernel(t, Options{})
	n, changed := k.AliveClients()
	if n != 0 {
		t.Fatalf("alive %d before any thread", n)
	}
	release := k.CreateEvent("release", true, false)
	body := func(th *Thread) { k.WaitAny(th, deadline, release) }
	k.CreateThread(ThreadOptions{Name: "listener"}, body)
	select {
	case <-changed:
		t.Fatal("a thread that is not a client changed the count")
	default:
	}
	k.CreateThread(ThreadOptions{Name: "client", Client: true}, body)
	select {
	case <-changed:
	case <-time.After(deadline):
		t.Fatal("creating a client thread did not signal a change")
	}
	n, changed = k.AliveClients()
	if n != 1 {
		t.Fatalf("alive %d after one client thread, want 1", n)
	}
	if err := k.SetEvent(release); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(deadline):
		t.Fatal("the client thread's exit did not signal a change")
	}
	if n, _ = k.AliveClients(); n != 0 {
		t.Fatalf("alive %d after the client thread exited, want 0", n)
	}
}
