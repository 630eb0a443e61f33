// Package target is the embedded system under test: a model of eMule's Web
// UI server (WebSocket.cpp) over real loopback sockets, built on the Win32
// semantics of package kernel. One listener thread accepts connections and
// starts one accepted-client thread per socket; every thread waits on a
// shared manual-reset terminate event; a shutdown policy decides in which
// order terminate is signalled, threads are joined and the event is closed.
// The buggy pre-fix order (legacy) and the fix (fixed) are both here so the
// tool can show that it catches the one and passes the other.
package target

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"shutdowntest/internal/join"
	"shutdowntest/target/kernel"
)

// State is a thread state of the model. It is the kernel's type, so that
// the states the kernel enters itself (spawning, exited) and the model's
// are one vocabulary.
type State = kernel.State

// Thread states, in the model's words: an accepted-client thread's, and
// the listener's, which waits and then accepts.
const (
	StateSpawning       = kernel.StateSpawning
	StateInit     State = "init"
	StateWait     State = "wait"
	StateAccept   State = "accept" // the listener, taking queued connections
	StateRead     State = "read"
	StateProcess  State = "process"
	StateSend     State = "send"
	StateLinger   State = "linger"
	StateCleanup  State = "cleanup"
	StateExited         = kernel.StateExited
)

// States lists every state a thread of the server enters, in their usual
// order.
var States = []State{StateSpawning, StateInit, StateWait, StateAccept, StateRead, StateProcess,
	StateSend, StateLinger, StateCleanup, StateExited}

// Names of the kernel objects that readers of a record look for.
const (
	// ThreadListener names the listener thread; ThreadClient every
	// accepted-client thread.
	ThreadListener = "listener"
	ThreadClient   = "client"
	// EventTerminate names the shared terminate event.
	EventTerminate = "terminate"
)

// Lifecycle is the server's phase as its REST API reports it.
type Lifecycle int32

// The lifecycle phases.
const (
	Starting Lifecycle = iota
	Running
	ShuttingDown
	Done
)

func (l Lifecycle) String() string {
	return [...]string{"starting", "running", "shuttingdown", "done"}[l]
}

// HoldHeader marks a request that the UI thread keeps in process until
// InflightFor after the shutdown trigger: it is how a test puts any number
// of requests in flight at the trigger.
const HoldHeader = "X-Shutdowntest-Hold"

// Config configures a Server. The zero value of a field means its default.
type Config struct {
	// Addr to listen on; default 127.0.0.1:0 (a free loopback port).
	Addr string
	// Policy is the shutdown discipline; default fixed.
	Policy Policy
	// DrainTimeout is fixed's shared budget for joining client threads;
	// default 10s, as in the fix.
	DrainTimeout time.Duration
	// InflightFor is how long after the trigger held requests are answered;
	// default 300ms.
	InflightFor time.Duration
	// StreamEvery is the period of the WebSocket stats stream; default 50ms.
	StreamEvery time.Duration
	// CloseWait bounds the wait for a WebSocket client's close frame after
	// the server sent close 1001; default 2s.
	CloseWait time.Duration
	// IOTimeout bounds every socket write; default 5s.
	IOTimeout time.Duration
	// APIKey is the REST key; empty means the default key. Password is the
	// Web UI password; empty means the default.
	APIKey   string
	Password string
	// Kernel options: handle reuse and what a wait does when its handle is
	// closed under it.
	Kernel kernel.Options
	// Log, when set, gets one line per request as the UI thread takes it:
	// how an observer outside the process learns that a request is in
	// process, past the shutting-down check. Nil: no log.
	Log io.Writer
}

// Defaults for Config.
const (
	DefaultAPIKey       = "shutdowntest-key"
	DefaultPassword     = "shutdowntest"
	DefaultSession      = "5eb63bbbe01eeed0"
	defaultDrainTimeout = 10 * time.Second
	legacyListenerJoin  = 1300 * time.Millisecond
	fixedListenerJoin   = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Policy == "" {
		c.Policy = PolicyFixed
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = defaultDrainTimeout
	}
	if c.InflightFor <= 0 {
		c.InflightFor = 300 * time.Millisecond
	}
	if c.StreamEvery <= 0 {
		c.StreamEvery = 50 * time.Millisecond
	}
	if c.CloseWait <= 0 {
		c.CloseWait = 2 * time.Second
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = 5 * time.Second
	}
	if c.APIKey == "" {
		c.APIKey = DefaultAPIKey
	}
	if c.Password == "" {
		c.Password = DefaultPassword
	}
	return c
}

// Server is one generation of the modelled Web UI server. Use it once:
// Start, Shutdown, Close.
type Server struct {
	cfg    Config
	k      *kernel.Kernel
	ln     net.Listener
	term   kernel.Handle
	accept kernel.Handle
	lt     *kernel.Thread
	ui     *uiThread
	routes *router
	stats  *uiState

	lifecycle   atomic.Int32
	openSockets atomic.Int64
	accepted    atomic.Int64
	served      atomic.Int64

	mu      sync.Mutex
	queue   []net.Conn // accepted by the accept pump, not yet taken by the listener
	tracked []*kernel.Thread
	socks   map[*socketData]struct{}
	held    map[int]bool // threads whose request the UI thread holds
	// triggeredAt is when Shutdown was first called (valid once the
	// lifecycle is ShuttingDown).
	triggeredAt time.Duration
	shutdown    ShutdownRecord
	steps       []Step // of the running shutdown, as each ends
	termState   TerminateTimes
	wg          sync.WaitGroup // accept pump, socket pumps, UI thread
	acceptEnd   chan struct{}  // closed when the accept pump returns

	started   atomic.Bool
	stopping  atomic.Bool
	stopDone  chan struct{}
	closeOnce sync.Once
	record    Record
}

// TerminateTimes is what the server did with the terminate event, and
// when: the part its live state and its record share.
type TerminateTimes struct {
	Signaled   bool
	SignaledAt time.Duration
	Closed     bool
	ClosedAt   time.Duration
	KeptOpen   bool
}

// New returns a server that is not yet listening.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if _, err := ParsePolicy(string(cfg.Policy)); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, k: kernel.New(cfg.Kernel), socks: make(map[*socketData]struct{}), held: make(map[int]bool),
		stopDone: make(chan struct{}), stats: newUIState()}
	s.routes = newRouter(s)
	return s, nil
}

// Start binds the listening socket and starts the UI and listener threads.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("server already started")
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("bind %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.openSockets.Add(1)
	s.term = s.k.CreateEvent(EventTerminate, true, false)
	s.accept = s.k.CreateEvent("accept event", false, false)
	s.ui = startUI(s, s.cfg.InflightFor)
	s.wg.Add(1)
	s.acceptEnd = make(chan struct{})
	// The accept pump plays WSAEventSelect(FD_ACCEPT) for the listener
	// thread; it ends when the listening socket is closed.
	go func() {
		defer s.wg.Done()
		defer close(s.acceptEnd)
		s.acceptPump()
	}()
	s.lt = s.k.CreateThread(kernel.ThreadOptions{Name: ThreadListener}, s.listen)
	s.lifecycle.Store(int32(Running))
	return nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Policy is the shutdown policy in force.
func (s *Server) Policy() Policy { return s.cfg.Policy }

// Now is the server's clock (the kernel's): the time since New.
func (s *Server) Now() time.Duration { return s.k.Now() }

// Since converts a wall-clock instant to the server's clock.
func (s *Server) Since(t time.Time) time.Duration { return t.Sub(s.k.Start()) }

// Terminate is the terminate event's handle.
func (s *Server) Terminate() kernel.Handle { return s.term }

func (s *Server) acceptPump() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.openSockets.Add(1)
		s.accepted.Add(1)
		s.mu.Lock()
		s.queue = append(s.queue, c)
		s.mu.Unlock()
		if s.k.SetEvent(s.accept) != nil {
			// The listener thread has gone and closed its event: nobody
			// will take this connection. Close it unserved.
			s.dropQueued()
		}
	}
}

// takeQueued hands over the connections the accept pump has queued.
func (s *Server) takeQueued() []net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

func (s *Server) dropQueued() {
	for _, c := range s.takeQueued() {
		_ = c.Close()
		s.openSockets.Add(-1)
	}
}

// listen is the listener thread. Accept activity is index 0 of its wait, so
// an accept storm keeps it accepting even after terminate is signalled, as
// in eMule.
func (s *Server) listen(t *kernel.Thread) {
	defer func() {
		t.Enter(StateCleanup)
		_ = s.ln.Close()
		s.openSockets.Add(-1)
		// The pump must be gone before its event is closed: a late
		// SetEvent on a recycled handle value would signal a stranger.
		select {
		case <-s.acceptEnd:
		case <-time.After(5 * time.Second):
		}
		_ = s.k.CloseHandle(s.accept)
		s.dropQueued()
	}()
	for {
		t.Enter(StateWait)
		if s.k.WaitAny(t, kernel.Infinite, s.accept, s.term) != 0 {
			return
		}
		t.Enter(StateAccept)
		for _, c := range s.takeQueued() {
			s.spawn(c)
		}
		s.reap(t)
	}
}

// spawn starts one accepted-client thread. The fix tracks it so shutdown
// can join it; before the fix it auto-deletes and nobody can.
func (s *Server) spawn(c net.Conn) {
	sd := s.newSocketData(c)
	tracked := s.cfg.Policy.tracksThreads()
	th := s.k.CreateThread(kernel.ThreadOptions{Name: ThreadClient, Client: true, AutoDelete: !tracked, Peer: sd.peer},
		func(t *kernel.Thread) { s.serve(t, sd) })
	if tracked {
		s.mu.Lock()
		s.tracked = append(s.tracked, th)
		s.mu.Unlock()
	}
}

// reap closes the handles of tracked threads that have exited, as the fix
// does on every listener wake. The listener's poll of each thread object
// is a join: shutdown, joining the listener, learns these exits from it.
func (s *Server) reap(listener *kernel.Thread) {
	s.mu.Lock()
	defer s.mu.Unlock()
	live := s.tracked[:0]
	for _, th := range s.tracked {
		if s.k.WaitAny(listener, 0, th.Handle()) == 0 {
			_, _ = s.k.CloseHandleBy(listener, th.Handle())
			continue
		}
		live = append(live, th)
	}
	s.tracked = live
}

// Lifecycle is the server's phase.
func (s *Server) Lifecycle() Lifecycle { return Lifecycle(s.lifecycle.Load()) }

// Shutdown runs the policy's StopSockets once and returns its record. A
// second call returns at once with ok false, whether or not the first has
// finished.
func (s *Server) Shutdown() (rec ShutdownRecord, ok bool) {
	if !s.stopping.CompareAndSwap(false, true) {
		return ShutdownRecord{}, false
	}
	defer close(s.stopDone)
	if s.ui == nil {
		// Never started (or the bind failed): nothing to stop. No steps
		// ran, so the record does not count as a completed shutdown.
		return ShutdownRecord{Policy: s.cfg.Policy}, true
	}
	trigger := s.k.Now()
	s.mu.Lock()
	s.triggeredAt = trigger
	s.mu.Unlock()
	s.lifecycle.Store(int32(ShuttingDown))
	s.ui.trigger()
	p := &shutdownRun{s: s, by: s.k.Actor("shutdown"), rec: ShutdownRecord{Policy: s.cfg.Policy, Trigger: trigger}}
	switch s.cfg.Policy {
	case PolicyLegacy:
		p.legacy()
	default:
		p.fixed()
	}
	p.rec.Returned = s.k.Now()
	s.lifecycle.Store(int32(Done))
	s.mu.Lock()
	s.shutdown = p.rec
	s.mu.Unlock()
	return p.rec, true
}

// setHeld marks a thread's request as parked in the UI thread or not.
func (s *Server) setHeld(tid int, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.held[tid] = true
	} else {
		delete(s.held, tid)
	}
}

// Triggered reports when Shutdown was first called, if it was.
func (s *Server) Triggered() (time.Duration, bool) {
	if s.Lifecycle() < ShuttingDown {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.triggeredAt, true
}

// ShutdownDone is closed when the first Shutdown call returns.
func (s *Server) ShutdownDone() <-chan struct{} { return s.stopDone }

// Resources counts what the server holds right now, naming the open
// handles (one reading, so the count and the names agree).
func (s *Server) Resources() Resources {
	s.mu.Lock()
	sd := len(s.socks)
	s.mu.Unlock()
	names := s.k.OpenHandles()
	return Resources{OpenSockets: int(s.openSockets.Load()), SocketData: sd, OpenHandles: len(names), Handles: names}
}

// Close ends the run: it takes the resource count the server left behind,
// then releases every pending wait in the kernel (threads still alive are
// recorded as forced), stops the UI thread, closes every socket and waits,
// bounded, for every goroutine the server started. It returns the full
// record. Close is idempotent.
func (s *Server) Close() Record {
	s.closeOnce.Do(func() {
		left := s.Resources()
		s.k.Release()
		if s.ui != nil {
			s.ui.stop()
		}
		if s.ln != nil {
			_ = s.ln.Close()
		}
		s.mu.Lock()
		socks := make([]*socketData, 0, len(s.socks))
		for sd := range s.socks {
			socks = append(socks, sd)
		}
		s.mu.Unlock()
		for _, sd := range socks {
			_ = sd.Close()
		}
		threadsEnded := s.k.WaitThreads(5 * time.Second)
		goroutinesEnded := join.Within(&s.wg, 5*time.Second)
		kr := s.k.Record()
		s.mu.Lock()
		s.record = Record{
			Policy:          s.cfg.Policy,
			Addr:            s.addrOrEmpty(),
			Shutdown:        s.shutdown,
			Kernel:          kr,
			Left:            left,
			Terminate:       s.terminateRecord(kr),
			ThreadsEnded:    threadsEnded,
			GoroutinesEnded: goroutinesEnded,
			Accepted:        s.accepted.Load(),
		}
		s.mu.Unlock()
	})
	return s.record
}

func (s *Server) addrOrEmpty() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// terminateRecord derives the terminate event's story from the kernel's
// own record, not the server's word for it. Called with s.mu held.
func (s *Server) terminateRecord(kr kernel.Record) TerminateRecord {
	return newTerminateRecord(s.term.Value(), s.termState, kr)
}

// newTerminateRecord is the terminate event's story: handle value h, the
// server's times for it, and the kernel's record of the close and the
// waits. The close and who was alive at it come from the kernel's order
// stamps; a thread whose exit carries the close's own instant let go in
// that instant and is not alive at it, so every thread the record lists
// is also alive at ClosedAt by the thread timeline (created at or before
// it, exited after it or never), and no reader has to reconcile the two.
func newTerminateRecord(h uint32, times TerminateTimes, kr kernel.Record) TerminateRecord {
	tr := TerminateRecord{Handle: h, TerminateTimes: times}
	tr.Closed, tr.ClosedAt = false, 0
	for _, c := range kr.Closes {
		if c.Handle == h && c.Name == EventTerminate {
			tr.Closed, tr.ClosedAt = true, c.At
			exitedAt := map[int]time.Duration{}
			for _, t := range kr.Threads {
				if t.Exited {
					exitedAt[t.ID] = t.ExitedAt
				}
			}
			for _, id := range kr.AliveAt(c) {
				if at, ok := exitedAt[id]; !ok || at > c.At {
					tr.AliveAtClose = append(tr.AliveAtClose, id)
				}
			}
			tr.BlockedAtClose = c.Blocked
			break
		}
	}
	if tr.Closed {
		for _, f := range kr.WaitFailures {
			if f.Handle == h && f.At >= tr.ClosedAt {
				tr.WaitsAfterClose = append(tr.WaitsAfterClose, f)
			}
		}
	}
	return tr
}

// Snapshot is a cheap copy of the server's live state, for a view that
// polls it many times a second.
type Snapshot struct {
	At        time.Duration
	Lifecycle Lifecycle
	Addr      string
	Threads   []ThreadState
	Terminate TerminateState
	Resources Resources
	Accepted  int64
	Served    int64
	// Steps are the shutdown's steps that have ended so far. Steps,
	// Violations and WaitFailures only grow, so a buffer reused between
	// calls copies just what is new, and copies of it stay valid.
	Steps []Step
	// Violations and WaitFailures are the kernel's records so far.
	Violations   []kernel.Violation
	WaitFailures []kernel.WaitFailure

	view kernel.View // reused between calls
}

// ThreadState is one client thread's live state.
type ThreadState struct {
	ID     int
	Peer   string
	State  State
	Since  time.Duration
	OnTerm bool // blocked right now in a wait that includes terminate
	// Held: the thread's request is parked in the UI thread, until
	// trigger + InflightFor or for a slow request's ms (in process, and
	// past the shutdown check).
	Held bool
}

// TerminateState is the terminate event's live state.
type TerminateState struct {
	Handle uint32
	TerminateTimes
	Waiters      int // threads blocked on it now
	AliveClients int // client threads not yet exited
}

// Snapshot copies the live state; buf may be reused between calls.
func (s *Server) Snapshot(buf *Snapshot) {
	s.k.View(&buf.view)
	v := &buf.view
	buf.At = v.Now
	buf.Lifecycle = s.Lifecycle()
	buf.Addr = s.addrOrEmpty()
	buf.Threads = buf.Threads[:0]
	t := TerminateState{Handle: s.term.Value()}
	for _, th := range v.Threads {
		if !th.Client {
			continue
		}
		on := th.BlockedOn(s.term)
		if on {
			t.Waiters++
		}
		if !th.Exited {
			t.AliveClients++
		}
		buf.Threads = append(buf.Threads, ThreadState{ID: th.ID, Peer: th.Peer, State: th.State, Since: th.Since, OnTerm: on})
	}
	buf.Resources = Resources{OpenSockets: int(s.openSockets.Load()), OpenHandles: v.OpenHandles}
	s.mu.Lock()
	t.TerminateTimes = s.termState
	buf.Steps = append(buf.Steps, s.steps[min(len(buf.Steps), len(s.steps)):]...)
	buf.Resources.SocketData = len(s.socks)
	for i := range buf.Threads {
		buf.Threads[i].Held = s.held[buf.Threads[i].ID]
	}
	s.mu.Unlock()
	buf.Terminate = t
	buf.Accepted = s.accepted.Load()
	buf.Served = s.served.Load()
	buf.Violations, buf.WaitFailures = v.Violations, v.WaitFailures
}

// Resources are what the server holds.
type Resources struct {
	OpenSockets int
	SocketData  int
	OpenHandles int
	// Handles names the open handles (not in a Snapshot, which only
	// counts them).
	Handles []string
}

// TerminateRecord is the terminate event's whole story, decided here once:
// reports and views read it and derive none of it again.
type TerminateRecord struct {
	Handle uint32
	TerminateTimes
	// AliveAtClose are the client threads not yet exited when it closed,
	// by the kernel's order (see newTerminateRecord), sorted;
	// BlockedAtClose those blocked in a wait on it.
	AliveAtClose   []int
	BlockedAtClose []int
	// WaitsAfterClose are the waits that named its value after the close.
	WaitsAfterClose []kernel.WaitFailure
}

// Record is everything one server generation recorded.
type Record struct {
	Policy    Policy
	Addr      string
	Shutdown  ShutdownRecord
	Terminate TerminateRecord
	Kernel    kernel.Record
	// Left is what the server still held when the run ended, before Close
	// forced anything.
	Left Resources
	// ThreadsEnded and GoroutinesEnded say whether Close saw every kernel
	// thread and every helper goroutine end within its bound.
	ThreadsEnded    bool
	GoroutinesEnded bool
	Accepted        int64
}

// ClientThreads returns the kernel records of the accepted-client threads,
// by id.
func (r Record) ClientThreads() []kernel.ThreadRecord {
	var out []kernel.ThreadRecord
	for _, t := range r.Kernel.Threads {
		if t.Client {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
