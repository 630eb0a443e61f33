package kernel

import (
	"fmt"
	"time"
)

// ThreadOptions describe a thread to create.
type ThreadOptions struct {
	// Name is shown in records ("listener", "client").
	Name string
	// Client marks an accepted-client thread: the kernel reports, for every
	// close, which client threads were still alive.
	Client bool
	// AutoDelete closes the thread's handle when it exits, as MFC's
	// CWinThread does by default; such a thread cannot be joined.
	AutoDelete bool
	// Peer is the remote address the thread serves, if any.
	Peer string
}

// Thread is a modelled OS thread: a goroutine with a waitable thread object
// that is signalled when it exits.
type Thread struct {
	k          *Kernel
	id         int
	name       string
	client     bool
	autoDelete bool
	peer       string
	obj        *object
	done       chan struct{} // closed when the thread's goroutine has returned

	// Guarded by k.mu.
	state    State
	since    time.Duration
	hist     []StateRecord
	exited   bool
	exitedAt time.Duration
	forced   bool
	killed   bool
	released bool // by Release or ReleaseThreads: every wait returns WaitReleased
	blocked  []Handle
	wait     *waiter
	// created and exitStamp order this thread's birth and death against
	// every close (see Record.AliveAt).
	created   uint64
	exitStamp uint64
	// known lists the threads this one has seen exit, in the order it
	// learnt them: by its own joins and through what each joined thread
	// knew at its exit. It only grows, so a close keeps a prefix of it
	// (CloseRecord.Joined) without a copy; knows is its index.
	known []int
	knows map[int]struct{}
}

// Name is the name the thread was created with.
func (t *Thread) Name() string { return t.name }

// ID is the thread's number in this kernel, from 1.
func (t *Thread) ID() int { return t.id }

// Handle is the handle the thread object was created with. For an
// auto-deleting thread it is closed when the thread exits. An actor has no
// thread object: its handle is the null handle.
func (t *Thread) Handle() Handle {
	if t.obj == nil {
		return Handle{}
	}
	return t.obj.h
}

// Actor returns an identity for a caller the kernel did not start but whose
// joins matter: the goroutine that runs a shutdown policy, as eMule's
// StopSockets runs on the UI thread. Pass it to WaitAny, Join and
// CloseHandleBy, so that what it joined is known at what it closes. An
// actor is no thread of the run: it has number 0 (as every caller that is
// not a modelled thread), no thread object, so nobody can join it, and no
// record or state of its own; it is named by name in violations.
func (k *Kernel) Actor(name string) *Thread { return &Thread{k: k, name: name} }

// learn records, under the kernel lock, that t's wait was won by o: if o
// is a thread object, its thread has exited, and t now knows that and
// everything that thread knew at its exit. Nothing is learnt by a nil
// caller, or from an event.
func (t *Thread) learn(o *object) {
	if t == nil || o.kind != kindThread {
		return
	}
	t.know(o.thread.id)
	for _, id := range o.thread.known {
		t.know(id)
	}
}

func (t *Thread) know(id int) {
	if _, ok := t.knows[id]; ok {
		return
	}
	if t.knows == nil {
		t.knows = make(map[int]struct{})
	}
	t.knows[id] = struct{}{}
	t.known = append(t.known, id)
}

// State is a thread's state, in the words of the model that runs it. The
// kernel knows only the first and the last; package target names the rest
// and lists them all (target.States).
type State string

// StateSpawning is the state of a thread that was created but has not run.
const StateSpawning State = "spawning"

// StateExited is the state of a thread whose function returned.
const StateExited State = "exited"

// CreateThread creates a thread in state "spawning" and runs fn on it. The
// goroutine ends when fn returns; fn must return once a wait gives
// WaitReleased or WaitKilled.
func (k *Kernel) CreateThread(opts ThreadOptions, fn func(t *Thread)) *Thread {
	k.mu.Lock()
	k.nextTID++
	t := &Thread{k: k, id: k.nextTID, name: opts.Name, client: opts.Client,
		autoDelete: opts.AutoDelete, peer: opts.Peer, done: make(chan struct{})}
	t.obj = &object{name: fmt.Sprintf("thread %d", t.id), kind: kindThread, manual: true, thread: t}
	k.alloc(t.obj)
	now := k.Now()
	t.state, t.since = StateSpawning, now
	t.hist = []StateRecord{{State: StateSpawning, At: now}}
	k.threads = append(k.threads, t)
	k.stamp++
	t.created = k.stamp
	if t.client {
		k.aliveClients++
		k.clientsChangedLocked()
	}
	k.wg.Add(1)
	k.mu.Unlock()
	// The thread's goroutine: it ends when fn returns, which every fn in
	// this project does once a wait reports WaitReleased.
	go func() {
		defer k.wg.Done()
		defer close(t.done)
		defer t.exit()
		fn(t)
	}()
	return t
}

// ClientExits counts the client threads that have exited, ever: a poll of
// thread objects that finds it unchanged since its last look finds no
// newly signalled one.
func (k *Kernel) ClientExits() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.clientExits
}

// AliveClients reports how many client threads have not exited, and a
// channel closed at the next change of that count. A waiter for the last
// exit wakes on it, where polling a View would copy every thread each
// time: with thousands of threads that copy is what makes a poll slow.
func (k *Kernel) AliveClients() (n int, changed <-chan struct{}) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.clientsChanged == nil {
		k.clientsChanged = make(chan struct{})
	}
	return k.aliveClients, k.clientsChanged
}

func (k *Kernel) clientsChangedLocked() {
	if k.clientsChanged != nil {
		close(k.clientsChanged)
		k.clientsChanged = nil
	}
}

// exit stamps the exit under the kernel lock, signals the thread object and,
// for an auto-deleting thread, closes its handle in the same instant.
func (t *Thread) exit() {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	t.enterLocked(StateExited)
	t.exited, t.exitedAt = true, t.since
	k.stamp++
	t.exitStamp = k.stamp
	if t.client {
		k.aliveClients--
		k.clientExits++
		k.clientsChangedLocked()
	}
	t.obj.signaled = true
	k.satisfy(t.obj)
	if t.autoDelete {
		if o, stale := k.resolve(t.obj.h); o == t.obj && !stale {
			k.closeLocked(t.obj, t, "auto-delete")
		}
	}
}

// Enter moves the thread to a new state, stamped with the kernel clock. A
// cycle between two states (wait, send, wait, send …) is kept as one entry
// with a repeat count rather than thousands of entries.
func (t *Thread) Enter(state State) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	t.enterLocked(state)
}

// enterLocked keeps the history lossless: its last entry is always the
// current state, and replaying it (each Repeats as that many more turns
// from the entry before) gives back every state entered.
func (t *Thread) enterLocked(state State) {
	now := t.k.Now()
	prev := t.state
	t.state, t.since = state, now
	n := len(t.hist)
	if n >= 3 && t.hist[n-1].State == prev && t.hist[n-2].State == state && t.hist[n-3].State == prev {
		// A B A, and now B again: one more turn of the cycle. B's entry
		// counts it and the trailing A folds back into the cycle.
		t.hist = t.hist[:n-1]
		t.hist[n-2].Repeats++
		return
	}
	t.hist = append(t.hist, StateRecord{State: state, At: now})
}

// State is the thread's current state.
func (t *Thread) State() State {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.state
}

// Done is closed when the thread's goroutine has returned. An actor has
// no goroutine: its Done is nil.
func (t *Thread) Done() <-chan struct{} { return t.done }

// Killed reports whether TerminateThread was called on the thread. A killed
// thread's function must return without running its own cleanup: the real
// call runs none of it, so what the thread held stays held (leaked).
func (t *Thread) Killed() bool {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	return t.killed
}

// TerminateThread asks the thread to die, as Win32 TerminateThread does.
// A goroutine cannot be killed, so the model honours it at the thread's
// next wait (or at once if it is blocked in one), and always records it as
// a violation: the real call leaves locks held and memory leaked.
func (k *Kernel) TerminateThread(t *Thread) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if t.exited || t.killed {
		return
	}
	t.killed = true
	k.viol = append(k.viol, Violation{At: k.Now(), Kind: ViolationTerminateThread, Thread: t.id, Handle: t.obj.h.v,
		Detail: fmt.Sprintf("TerminateThread on thread %d (%s) in %s", t.id, t.name, t.state)})
	if t.wait != nil {
		k.finish(t.wait, WaitKilled)
	}
}

// Join is by's wait of up to d for the thread object behind h to be
// signalled; when it is, by knows that thread has exited.
func (k *Kernel) Join(by *Thread, h Handle, d time.Duration) WaitResult {
	return k.WaitAny(by, d, h)
}
