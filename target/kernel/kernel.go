// Package kernel is a small model of the Win32 objects eMule's Web UI
// server is built from: numbered handles, manual- and auto-reset events,
// waitable thread objects and WaitForMultipleObjects in its wait-any form.
//
// Go's channels and select do not behave like these objects (select picks a
// ready case at random, a closed channel stays readable), and the bug this
// project hunts lives exactly in the differences: the lowest signalled index
// wins a wait-any, a closed handle value is recycled for the next object, and
// closing a handle someone waits on is undefined. So the model keeps one
// mutex and explicit waiter lists, and records every close, every failed
// wait and every undefined act with a timestamp from one monotonic clock,
// taken under the same lock, so the order of the records is the order of the
// events.
//
// The rules modelled, each recorded where a real program would misbehave:
//
//   - A handle is only a number. Every call resolves it by value, so a stale
//     copy of a closed and recycled value reaches whatever object owns the
//     value now: a wait waits on it, SetEvent signals it, and CloseHandle
//     closes it (the classic double close, which Win32 does not refuse).
//     Each such use is a stale-handle violation naming the object the copy
//     was issued for and the one it reached. A value that names nothing is
//     an invalid handle: the call fails, and a wait naming it fails whole.
//   - WaitForMultipleObjects refuses a set it documents as invalid: no
//     handle, more than MaxWaitObjects, or the same handle twice. The wait
//     returns WAIT_FAILED at once and is recorded as an invalid-wait
//     violation. (Windows itself enforces the duplicate rule only for
//     wait-all; the documentation forbids it for every wait, and so does
//     the model, so that a wait the documentation calls invalid never
//     passes unnoticed.)
//   - Closing a handle a wait is blocked on is undefined: it is recorded as
//     a violation and then either keeps the waiter blocked or fails its
//     wait (Options.OnPendingClose).
//   - TerminateThread cannot stop a goroutine; it is a kill flag honoured at
//     the thread's next wait, and always a violation.
//
// Joins carry knowledge. A close of a shared event is safe only if, for
// every thread that could still wait on it, the closer knows that thread
// has exited, and in Win32 the only way to know is to wait on the thread's
// object and see it signalled. So every wait that returns a signalled
// thread object teaches the waiter that the thread has exited, and
// everything that thread knew at its exit: a listener that reaps finished
// client threads, then is joined by shutdown, passes what it reaped on. A
// CloseRecord keeps what its closer knew at the close, so a report can name
// the client threads the closer had not joined (Record.UnjoinedAt) even
// when every one of them happened to be gone already: timing luck is not a
// join. A caller that is not a modelled thread but whose joins matter (the
// goroutine running a shutdown policy, as eMule's StopSockets runs on the
// UI thread, which the server did not create) takes an identity from Actor;
// the only anonymous caller left is one whose knowledge nobody needs.
package kernel

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"shutdowntest/internal/join"
)

// Handle names a kernel object the way a Win32 HANDLE does: by a small
// number that the table resolves on every use. The generation is never
// shown; the kernel uses it only to notice that a stale copy of a value now
// names a different, recycled object, which a real program cannot tell.
type Handle struct {
	v   uint32
	gen uint64
}

// Value is the handle's number as Win32 would print it.
func (h Handle) Value() uint32 { return h.v }

// IsZero reports whether h is the null handle.
func (h Handle) IsZero() bool { return h.v == 0 }

func (h Handle) String() string { return fmt.Sprintf("0x%x", h.v) }

// Infinite is the INFINITE timeout of a wait.
const Infinite time.Duration = -1

// MaxWaitObjects is MAXIMUM_WAIT_OBJECTS: the most handles one wait takes.
const MaxWaitObjects = 64

// WaitResult is the outcome of a wait: an index (0 or more) into the handles
// waited on, or one of the negative results below.
type WaitResult int

const (
	// WaitFailed is WAIT_FAILED: a handle in the set was closed or invalid,
	// or the set itself was invalid (empty, too long, a handle twice).
	WaitFailed WaitResult = -1
	// WaitTimeout is WAIT_TIMEOUT.
	WaitTimeout WaitResult = -2
	// WaitReleased means the kernel was released at the end of a run; the
	// thread must end. It has no Win32 counterpart: it is how the model
	// guarantees that no goroutine outlives a run, whatever a policy did.
	WaitReleased WaitResult = -3
	// WaitKilled means TerminateThread was called on the waiting thread;
	// the model honours it at the thread's next checkpoint, a wait.
	WaitKilled WaitResult = -4
)

func (r WaitResult) String() string {
	switch r {
	case WaitFailed:
		return "WAIT_FAILED"
	case WaitTimeout:
		return "WAIT_TIMEOUT"
	case WaitReleased:
		return "RELEASED"
	case WaitKilled:
		return "KILLED"
	}
	return fmt.Sprintf("WAIT_OBJECT_0+%d", int(r))
}

// PendingClose says what a wait that is blocked on a handle does when that
// handle is closed under it. Win32 leaves this undefined; both choices are
// recorded as a violation.
type PendingClose int

const (
	// PendingKeepsWaiting leaves the waiter blocked on an object that can no
	// longer be signalled (the "hang" seen in the field).
	PendingKeepsWaiting PendingClose = iota
	// PendingFails wakes the waiter with WaitFailed.
	PendingFails
)

// Options configure a Kernel.
type Options struct {
	// NoReuse turns off the LIFO reuse of closed handle values.
	NoReuse bool
	// OnPendingClose is what a blocked wait does when its handle is closed.
	OnPendingClose PendingClose
}

type objKind int

const (
	kindEvent objKind = iota
	kindThread
)

func (k objKind) String() string {
	if k == kindThread {
		return "thread"
	}
	return "event"
}

type object struct {
	h        Handle
	name     string
	kind     objKind
	manual   bool // manual-reset event; thread objects behave as manual
	signaled bool
	waiters  map[*waiter]struct{}
	thread   *Thread // for thread objects
}

// waiter is one blocked WaitAny call.
type waiter struct {
	thread  *Thread
	objs    []*object
	handles []Handle
	wake    chan WaitResult // buffered 1; written once under the kernel lock
	done    bool
	seq     uint64
}

// Kernel is one model of the Win32 object manager. Use a fresh one per run.
type Kernel struct {
	opts  Options
	start time.Time

	mu           sync.Mutex
	table        map[uint32]*object
	free         []uint32 // closed values, reused last-in first-out
	next         uint32
	gen          uint64
	seq          uint64
	stamp        uint64 // orders creations, exits and closes
	aliveClients int
	clientExits  uint64 // client threads exited, ever
	// clientsChanged is closed, and cleared, when a client thread is
	// created or exits; AliveClients makes it when someone asks.
	clientsChanged chan struct{}
	released       bool
	pending        map[*waiter]struct{}
	threads        []*Thread
	nextTID        int
	closes         []CloseRecord
	failures       []WaitFailure
	viol           []Violation
	// gone names every closed object by its generation, so a stale
	// copy of its value can be reported with what it was issued for.
	gone map[uint64]string
	wg   sync.WaitGroup
}

// New returns an empty kernel whose clock starts now.
func New(opts Options) *Kernel {
	return &Kernel{
		opts:    opts,
		start:   time.Now(),
		table:   make(map[uint32]*object),
		pending: make(map[*waiter]struct{}),
		gone:    make(map[uint64]string),
		next:    0x40,
	}
}

// Now is the kernel's monotonic clock: the time since New.
func (k *Kernel) Now() time.Duration { return time.Since(k.start) }

// Start is the wall-clock instant the kernel clock counts from.
func (k *Kernel) Start() time.Time { return k.start }

// alloc takes a handle value: the most recently closed one when reuse is on,
// as the Windows handle table does, else a fresh one. Handle values are
// multiples of four, as in Win32.
func (k *Kernel) alloc(o *object) Handle {
	var v uint32
	if n := len(k.free); n > 0 && !k.opts.NoReuse {
		v = k.free[n-1]
		k.free = k.free[:n-1]
	} else {
		v = k.next
		k.next += 4
	}
	k.gen++
	o.h = Handle{v: v, gen: k.gen}
	k.table[v] = o
	return o.h
}

// CreateEvent creates a manual-reset (manual) or auto-reset event.
func (k *Kernel) CreateEvent(name string, manual, initial bool) Handle {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.alloc(&object{name: name, kind: kindEvent, manual: manual, signaled: initial})
}

// resolve looks h up as Win32 does, by value alone. stale reports that the
// value now names a different object than the one h was issued for.
func (k *Kernel) resolve(h Handle) (o *object, stale bool) {
	o = k.table[h.v]
	if o == nil {
		return nil, false
	}
	return o, o.h.gen != h.gen
}

// staleLocked records a use of h that reached o, the object that owns h's
// value now, although h was issued for an object since closed. act says
// what the use was and did, in a phrase that reads after the handle.
func (k *Kernel) staleLocked(tid int, who string, h Handle, act string, o *object) {
	k.viol = append(k.viol, Violation{At: k.Now(), Kind: ViolationStaleHandle, Thread: tid, Handle: h.v,
		Detail: fmt.Sprintf("%s used %v, a stale handle to %s (closed), and %s %s, which now owns the value",
			who, h, k.gone[h.gen], act, o.name)})
}

// event resolves h for SetEvent or ResetEvent. A stale copy of a recycled
// value reaches the object that owns the value now, as on Windows, and is
// recorded; a value that names nothing, or no event, is refused.
func (k *Kernel) event(op string, h Handle) (*object, error) {
	o, stale := k.resolve(h)
	if o == nil {
		return nil, fmt.Errorf("%s %v: invalid handle", op, h)
	}
	if stale {
		k.staleLocked(0, op, h, "reached", o)
	}
	if o.kind != kindEvent {
		return nil, fmt.Errorf("%s %v: invalid handle (a %v, not an event)", op, h, o.kind)
	}
	return o, nil
}

// SetEvent signals an event. A manual-reset event releases every waiter and
// stays signalled; an auto-reset event releases one waiter, or stays
// signalled until one wait consumes it.
func (k *Kernel) SetEvent(h Handle) error {
	_, err := k.SetEventAt(h)
	return err
}

// ResetEvent clears an event.
func (k *Kernel) ResetEvent(h Handle) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	o, err := k.event("ResetEvent", h)
	if err != nil {
		return err
	}
	o.signaled = false
	return nil
}

// satisfy wakes the waiters of o that o's new signal completes. Each woken
// wait is re-evaluated over its whole set so that the lowest signalled
// index still wins, as it does in WaitForMultipleObjects.
func (k *Kernel) satisfy(o *object) {
	ws := make([]*waiter, 0, len(o.waiters))
	for w := range o.waiters {
		ws = append(ws, w)
	}
	// First come, first served, so that which waiter an auto-reset event
	// releases does not depend on map order.
	sort.Slice(ws, func(i, j int) bool { return ws[i].seq < ws[j].seq })
	for _, w := range ws {
		if !o.signaled {
			return // an auto-reset event was consumed
		}
		if idx := k.pick(w.objs); idx >= 0 {
			k.finish(w, WaitResult(idx))
		}
	}
}

// pick returns the lowest index whose object is signalled, consuming it if
// it is an auto-reset event, or -1.
func (k *Kernel) pick(objs []*object) int {
	for i, o := range objs {
		if o != nil && o.signaled {
			if o.kind == kindEvent && !o.manual {
				o.signaled = false
			}
			return i
		}
	}
	return -1
}

// finish completes a pending wait: it leaves every waiter list and gets its
// result; a wait won by a thread object teaches its waiter that thread's
// exit.
func (k *Kernel) finish(w *waiter, r WaitResult) {
	if w.done {
		return
	}
	if r >= 0 {
		w.thread.learn(w.objs[r])
	}
	w.done = true
	delete(k.pending, w)
	for _, o := range w.objs {
		if o != nil {
			delete(o.waiters, w)
		}
	}
	if w.thread != nil {
		w.thread.blocked = nil
		if w.thread.wait == w {
			// Cleared here, under the lock the finisher holds, so the
			// woken thread need not take it again on its way out.
			w.thread.wait = nil
		}
	}
	w.wake <- r
}

// CloseHandle closes h for a caller that does not name itself; see
// CloseHandleBy.
func (k *Kernel) CloseHandle(h Handle) error {
	_, err := k.CloseHandleBy(nil, h)
	return err
}

// closeLocked closes o. by is the closer (nil: anonymous) and how says
// how it closed ("auto-delete"), or is empty for a CloseHandle call.
func (k *Kernel) closeLocked(o *object, by *Thread, how string) {
	now := k.Now()
	k.stamp++
	// Which client threads were alive is kept as a count and a stamp, not
	// a list: a list per close costs O(threads) each, O(threads²) for a
	// whole shutdown. Record.AliveAt derives the list from the stamps.
	// What the closer knew is kept the same way: its known list only
	// grows, so a prefix of it is what it knew at this instant.
	rec := CloseRecord{Handle: o.h.v, Name: o.name, Kind: o.kind.String(), At: now, By: how,
		Stamp: k.stamp, AliveCount: k.aliveClients}
	if by != nil {
		n := len(by.known)
		rec.Closer, rec.Joined = by.id, by.known[:n:n]
		if rec.By == "" {
			rec.By = by.name
		}
	}
	for w := range o.waiters {
		if w.thread != nil {
			rec.Blocked = append(rec.Blocked, w.thread.id)
		} else {
			rec.Blocked = append(rec.Blocked, 0)
		}
	}
	sort.Ints(rec.Blocked)
	k.closes = append(k.closes, rec)
	if len(o.waiters) > 0 {
		closer := tidOf(by)
		if how == "auto-delete" {
			closer = o.thread.id // an exiting thread closes its own handle
		}
		k.viol = append(k.viol, Violation{At: now, Kind: ViolationCloseWhileWaiting, Thread: closer, Handle: o.h.v,
			Detail: fmt.Sprintf("%s %v closed while %d wait(s) pending on it", o.name, o.h, len(o.waiters))})
	}
	delete(k.table, o.h.v)
	k.free = append(k.free, o.h.v)
	k.gone[o.h.gen] = o.name
	for w := range o.waiters {
		if k.opts.OnPendingClose == PendingFails {
			k.finish(w, WaitFailed)
			k.failures = append(k.failures, WaitFailure{At: now, Thread: tidOf(w.thread), Handle: o.h.v, Name: o.name, Pending: true})
		} else {
			// The waiter stays blocked; the closed object can never signal
			// it again, so it leaves the object's list and the waiter's set.
			delete(o.waiters, w)
			for i, wo := range w.objs {
				if wo == o {
					w.objs[i] = nil
				}
			}
		}
	}
}

func tidOf(t *Thread) int {
	if t == nil {
		return 0
	}
	return t.id
}

// who names a caller in a violation: a modelled thread by its number, an
// actor by its name.
func who(t *Thread) string {
	if t != nil && t.obj == nil {
		return t.name
	}
	return fmt.Sprintf("thread %d", tidOf(t))
}

// invalidSet says why WaitForMultipleObjects would refuse hs, and which
// value it names twice, if that is why; "" when hs is a valid set.
func invalidSet(hs []Handle) (why string, twice uint32) {
	switch {
	case len(hs) == 0:
		return "no handles", 0
	case len(hs) > MaxWaitObjects:
		return fmt.Sprintf("%d handles, more than %d", len(hs), MaxWaitObjects), 0
	}
	for i, h := range hs {
		for _, g := range hs[:i] {
			if g.v == h.v {
				return fmt.Sprintf("%v twice", h), h.v
			}
		}
	}
	return "", 0
}

// WaitAny is WaitForMultipleObjects with bWaitAll false. A set Win32
// refuses (empty, over MaxWaitObjects, a handle twice) fails at once and is
// recorded. The handles are resolved once on entry: a closed handle fails
// the whole wait and is recorded; a value that was closed and recycled is
// waited on as the new object (as Win32 would) and recorded as a stale
// wait. If several objects are signalled the lowest index wins, and only an
// auto-reset winner is consumed. A win by a thread object is a join: t
// learns that thread's exit (see the package comment). t may be nil for a
// caller that is not a modelled thread and whose joins count for nothing.
func (k *Kernel) WaitAny(t *Thread, timeout time.Duration, hs ...Handle) WaitResult {
	k.mu.Lock()
	if k.released || t != nil && t.released {
		k.mu.Unlock()
		return WaitReleased
	}
	if t != nil && t.killed {
		k.mu.Unlock()
		return WaitKilled
	}
	if why, twice := invalidSet(hs); why != "" {
		now := k.Now()
		k.failures = append(k.failures, WaitFailure{At: now, Thread: tidOf(t), Handle: twice, Invalid: why})
		k.viol = append(k.viol, Violation{At: now, Kind: ViolationInvalidWait, Thread: tidOf(t), Handle: twice,
			Detail: fmt.Sprintf("%s waited on %s: %s, WAIT_FAILED", who(t), handleList(hs), why)})
		k.mu.Unlock()
		return WaitFailed
	}
	objs := make([]*object, len(hs))
	for i, h := range hs {
		o, stale := k.resolve(h)
		if o == nil {
			now := k.Now()
			k.failures = append(k.failures, WaitFailure{At: now, Thread: tidOf(t), Handle: h.v})
			k.viol = append(k.viol, Violation{At: now, Kind: ViolationWaitOnClosed, Thread: tidOf(t), Handle: h.v,
				Detail: fmt.Sprintf("%s waited on %v, a closed handle: WAIT_FAILED", who(t), h)})
			k.mu.Unlock()
			return WaitFailed
		}
		if stale {
			k.failures = append(k.failures, WaitFailure{At: k.Now(), Thread: tidOf(t), Handle: h.v, Name: o.name, Recycled: true})
			k.staleLocked(tidOf(t), who(t), h, "waited on", o)
		}
		objs[i] = o
	}
	if idx := k.pick(objs); idx >= 0 {
		t.learn(objs[idx])
		k.mu.Unlock()
		return WaitResult(idx)
	}
	if timeout == 0 {
		k.mu.Unlock()
		return WaitTimeout
	}
	k.seq++
	w := &waiter{thread: t, objs: objs, handles: hs, wake: make(chan WaitResult, 1), seq: k.seq}
	for _, o := range objs {
		if o.waiters == nil {
			// Made at the first wait: most objects of a large run (the
			// threads' own) are never waited on while it holds.
			o.waiters = make(map[*waiter]struct{})
		}
		o.waiters[w] = struct{}{}
	}
	k.pending[w] = struct{}{}
	if t != nil {
		t.blocked = hs
		t.wait = w
	}
	k.mu.Unlock()

	var timer <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case r := <-w.wake:
		return r
	case <-timer:
		k.mu.Lock()
		if !w.done {
			k.finish(w, WaitTimeout)
		}
		k.mu.Unlock()
		return <-w.wake
	}
}

// handleList prints a wait's handle set as the call passed it.
func handleList(hs []Handle) string {
	vs := make([]string, len(hs))
	for i, h := range hs {
		vs[i] = h.String()
	}
	return "{" + strings.Join(vs, ", ") + "}"
}

// Release ends the run: every pending wait returns WaitReleased, every later
// wait returns it at once, and every thread that has not exited is marked
// forced. Release is idempotent.
func (k *Kernel) Release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.released {
		return
	}
	k.released = true
	k.releaseLocked(k.threads)
	for w := range k.pending {
		k.finish(w, WaitReleased)
	}
}

// ReleaseThreads ends the part of a run that ts are: as Release, but only
// for their waits. A kernel shared by successive server generations (a
// restart in one process) outlives each of them, and one generation's end
// must not release the next one's threads.
func (k *Kernel) ReleaseThreads(ts []*Thread) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.releaseLocked(ts)
}

// releaseLocked marks ts released and forced (those not yet exited), and
// ends their pending waits.
func (k *Kernel) releaseLocked(ts []*Thread) {
	now := k.Now()
	for _, t := range ts {
		if t.released {
			continue
		}
		t.released = true
		if t.exited {
			continue
		}
		t.forced = true
		k.viol = append(k.viol, Violation{At: now, Kind: ViolationForced, Thread: t.id, Handle: t.obj.h.v,
			Detail: fmt.Sprintf("thread %d (%s) still running in %s when the run ended", t.id, t.name, t.state)})
		if t.wait != nil {
			k.finish(t.wait, WaitReleased)
		}
	}
}

// Released reports whether Release was called.
func (k *Kernel) Released() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.released
}

// WaitThreads waits up to d for every thread goroutine to return and reports
// whether they all did.
func (k *Kernel) WaitThreads(d time.Duration) bool { return join.Within(&k.wg, d) }
