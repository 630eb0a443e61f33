package kernel

import (
	"sort"
	"time"
)

// ViolationKind names what a Violation was.
type ViolationKind string

// Violation kinds. Each is an act Win32 documents as undefined or harmful.
const (
	ViolationCloseWhileWaiting ViolationKind = "close-while-waiting"
	ViolationStaleHandle       ViolationKind = "stale-handle"
	ViolationWaitOnClosed      ViolationKind = "wait-on-closed"
	ViolationTerminateThread   ViolationKind = "terminate-thread"
	ViolationInvalidWait       ViolationKind = "invalid-wait"
	ViolationForced            ViolationKind = "forced-release"
)

// StateRecord is one entry of a thread's state history. Repeats counts how
// many more times the thread cycled back into this state from the one
// before it (a WebSocket thread's wait ⇄ send ticks): wait, send with
// Repeats 2 is wait, send, wait, send, wait, send. The last entry is the
// thread's current state.
type StateRecord struct {
	State   State
	At      time.Duration
	Repeats int
}

// ThreadRecord is everything the kernel saw of one thread.
type ThreadRecord struct {
	ID       int
	Name     string
	Client   bool
	Peer     string
	Handle   uint32
	States   []StateRecord
	Exited   bool
	ExitedAt time.Duration
	Forced   bool
	Killed   bool
	// Created and ExitStamp are the kernel's order stamps of the
	// thread's creation and exit (0: not exited).
	Created   uint64
	ExitStamp uint64
}

// CloseRecord is one CloseHandle, with who could still wait at that instant.
type CloseRecord struct {
	Handle uint32
	Name   string
	Kind   string
	At     time.Duration
	// By is "auto-delete" for a thread handle closed at its exit, else
	// the closer's name ("" for a caller that did not name itself).
	By string
	// Closer is the number of the thread that closed it (0: an actor or a
	// caller that did not name itself). Joined are the threads the closer
	// knew to have exited at the close, by its joins (see the package
	// comment); Record.UnjoinedAt names the client threads it did not.
	// Joined is shared with later records: never modify it.
	Closer int
	Joined []int
	// AliveCount is how many client threads had not exited at the close;
	// Record.AliveAt names them.
	AliveCount int
	// Stamp orders the close against thread creations and exits.
	Stamp uint64
	// Blocked are the threads blocked in a wait on the handle (0: a caller
	// that is not a modelled thread).
	Blocked []int
}

// WaitFailure is a wait that touched a closed or recycled handle.
type WaitFailure struct {
	At     time.Duration
	Thread int
	Handle uint32
	// Name is the object the value named when the wait ran, if any.
	Name string
	// Recycled: the value had been closed and now names another object;
	// the wait went on, on the wrong object, as it would on Windows.
	Recycled bool
	// Pending: the wait was already blocked when the handle was closed.
	Pending bool
	// Invalid says why the set itself was refused ("no handles", "65
	// handles, more than 64", "0x40 twice"); Handle is then the value
	// named twice, or 0.
	Invalid string
}

// Violation is an undefined or harmful act the kernel saw. Thread is the
// thread it concerns: the one that waited, was killed or was forced, or
// whose exit closed its own handle (0: a caller that is not a modelled
// thread, such as the shutdown sequence closing a handle). Handle is the
// value the act named.
type Violation struct {
	At     time.Duration
	Kind   ViolationKind
	Thread int
	Handle uint32
	Detail string
}

// Record is a copy of everything the kernel recorded.
type Record struct {
	Threads      []ThreadRecord
	Closes       []CloseRecord
	WaitFailures []WaitFailure
	Violations   []Violation
	// OpenHandles lists the objects still open, by name.
	OpenHandles []string
}

// Record copies the kernel's records under its lock.
func (k *Kernel) Record() Record {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := Record{
		Closes:       append([]CloseRecord(nil), k.closes...),
		WaitFailures: append([]WaitFailure(nil), k.failures...),
		Violations:   append([]Violation(nil), k.viol...),
	}
	for _, t := range k.threads {
		r.Threads = append(r.Threads, ThreadRecord{
			ID: t.id, Name: t.name, Client: t.client, Peer: t.peer, Handle: t.obj.h.v,
			States: append([]StateRecord(nil), t.hist...),
			Exited: t.exited, ExitedAt: t.exitedAt, Forced: t.forced, Killed: t.killed,
			Created: t.created, ExitStamp: t.exitStamp,
		})
	}
	for _, o := range k.table {
		r.OpenHandles = append(r.OpenHandles, o.name)
	}
	sort.Strings(r.OpenHandles)
	return r
}

// AliveAt names the client threads that had not exited when c happened:
// created before it and not exited before it, by the kernel's own order.
func (r Record) AliveAt(c CloseRecord) []int {
	var ids []int
	for _, t := range r.Threads {
		if t.Client && t.Created < c.Stamp && (t.ExitStamp == 0 || t.ExitStamp > c.Stamp) {
			ids = append(ids, t.ID)
		}
	}
	sort.Ints(ids)
	return ids
}

// UnjoinedAt names the client threads created before c whose exit c's
// closer had not learnt by a join: whether they were alive or gone at the
// close, nothing told the closer they could no longer wait on what it
// closed.
func (r Record) UnjoinedAt(c CloseRecord) []int {
	joined := make(map[int]bool, len(c.Joined))
	for _, id := range c.Joined {
		joined[id] = true
	}
	var ids []int
	for _, t := range r.Threads {
		if t.Client && t.Created < c.Stamp && !joined[t.ID] {
			ids = append(ids, t.ID)
		}
	}
	sort.Ints(ids)
	return ids
}

// OpenHandles names the objects open now, sorted.
func (k *Kernel) OpenHandles() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	names := make([]string, 0, len(k.table))
	for _, o := range k.table {
		names = append(names, o.name)
	}
	sort.Strings(names)
	return names
}

// ThreadView is the live state of one thread.
type ThreadView struct {
	ID     int
	Name   string
	Client bool
	Peer   string
	State  State
	Since  time.Duration
	// Blocked is the set of handles the thread is blocked on right now.
	Blocked []Handle
	Exited  bool
}

// BlockedOn reports whether the thread is blocked in a wait that names h.
func (v ThreadView) BlockedOn(h Handle) bool {
	for _, b := range v.Blocked {
		if b.v == h.v {
			return true
		}
	}
	return false
}

// View is a cheap live copy of the kernel: a value copied under the lock.
type View struct {
	Now         time.Duration
	Threads     []ThreadView
	OpenHandles int
	Released    bool
	// Violations and WaitFailures are the kernel's records so far. They
	// only grow, so a View reused between calls copies just what is new,
	// and a copy of an earlier View stays valid.
	Violations   []Violation
	WaitFailures []WaitFailure
}

// View copies the live state into v, reusing its slices.
func (k *Kernel) View(v *View) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v.Now = k.Now()
	v.Threads = v.Threads[:0]
	for _, t := range k.threads {
		v.Threads = append(v.Threads, ThreadView{ID: t.id, Name: t.name, Client: t.client, Peer: t.peer,
			State: t.state, Since: t.since, Blocked: t.blocked, Exited: t.exited})
	}
	v.OpenHandles = len(k.table)
	v.Released = k.released
	v.Violations = append(v.Violations, k.viol[min(len(v.Violations), len(k.viol)):]...)
	v.WaitFailures = append(v.WaitFailures, k.failures[min(len(v.WaitFailures), len(k.failures)):]...)
}
