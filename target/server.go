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
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"shutdowntest/internal/join"
	"shutdowntest/internal/readwatch"
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
	// StreamDelay is how long a stream waits before its first message;
	// default none: it is sent at once.
	StreamEvery time.Duration
	StreamDelay time.Duration
	// CloseWait bounds the wait for a WebSocket client's close frame after
	// the server sent close 1001; default 2s.
	CloseWait time.Duration
	// IOTimeout bounds every socket write but a stream message's, which
	// waits for its client as reads and linger do (ClientTimeout); default
	// 5s.
	IOTimeout time.Duration
	// ClientTimeout is hardened's client I/O timeout: it bounds the wait
	// for a request's bytes and linger, and ends the connection when it
	// runs out; default 30s. Other policies wait without a bound, as eMule
	// did.
	ClientTimeout time.Duration
	// MaxThreads is hardened's cap on live accepted-client threads: a
	// connection over it is answered 503 with Retry-After by the listener
	// and closed; default 256.
	MaxThreads int
	// Faults are the failures to inject (see Fault). SpawnFaultAt is the
	// accepted connection, counted from 1 in accept order, that a spawn
	// fault hits; default 1.
	Faults       []Fault
	SpawnFaultAt int64
	// APIKey is the REST key; empty means the default key. Password is the
	// Web UI password; empty means the default.
	APIKey   string
	Password string
	// Kernel is the handle table the server's objects live in. nil: a new
	// one with KernelOptions, owned by the server. A kernel passed in is
	// shared with the generations before and after this one in the same
	// process (a restart), so this generation's objects may take values an
	// earlier one freed; its owner releases it (kernel.Release) at the end.
	Kernel *kernel.Kernel
	// KernelOptions: handle reuse and what a wait does when its handle is
	// closed under it.
	KernelOptions kernel.Options
	// TLS makes the server speak TLS on every accepted socket, with a
	// self-signed ECDSA certificate for 127.0.0.1, ::1 and localhost made
	// at Start (Server.RootCAs verifies it).
	TLS bool
	// Log, when set, gets one line per request as the UI thread takes it:
	// how an observer outside the process learns that a request is in
	// process, past the shutting-down check. Nil: no log.
	Log io.Writer
}

// Defaults for Config.
const (
	DefaultAPIKey        = "shutdowntest-key"
	DefaultPassword      = "shutdowntest"
	DefaultSession       = "5eb63bbbe01eeed0"
	defaultDrainTimeout  = 10 * time.Second
	legacyListenerJoin   = 1300 * time.Millisecond
	fixedListenerJoin    = 10 * time.Second
	defaultClientTimeout = 30 * time.Second
	defaultMaxThreads    = 256
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
	if c.ClientTimeout <= 0 {
		c.ClientTimeout = defaultClientTimeout
	}
	if c.MaxThreads <= 0 {
		c.MaxThreads = defaultMaxThreads
	}
	if c.SpawnFaultAt <= 0 {
		c.SpawnFaultAt = 1
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
	// tlsConfig and roots are the TLS state (nil without Config.TLS).
	tlsConfig *tls.Config
	roots     *x509.CertPool

	ownKernel bool // the server made k, and releases it in Close
	// closing is closed when Close begins: a stuck handler returns then.
	closing chan struct{}
	// gmu guards gdone, which Close sets before it waits for wg: a helper
	// goroutine is added to wg only under gmu and only while gdone is
	// false, so no Add can race Close's Wait (a thread spawned by a killed
	// listener may still be starting when Close runs).
	gmu   sync.Mutex
	gdone bool
	watch *readwatch.Watcher // under gmu; see watcher
	stuck atomic.Bool        // the stuck-handler fault has taken its request

	lifecycle   atomic.Int32
	openSockets atomic.Int64
	accepted    atomic.Int64
	spawned     atomic.Int64 // connections the listener took, in order
	served      atomic.Int64

	mu      sync.Mutex
	queue   []net.Conn // accepted by the accept pump, not yet taken by the listener
	tracked []*kernel.Thread
	// reapedExits is the kernel's count of client-thread exits at the
	// listener's last poll of the tracked threads (reap).
	reapedExits uint64
	threads     []*kernel.Thread // every thread this generation created
	leaks       []Leak
	faults      []FaultEvent
	refused     int64
	socks       map[*socketData]struct{}
	held        map[int]bool // threads whose request the UI thread holds
	// spins are the turns of TLS loops that did not wait, by thread;
	// handshaking the threads in a TLS handshake now.
	spins       map[int]*Spin
	handshaking map[int]bool
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
	stamped   chan struct{} // closed once triggeredAt is set
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
	for _, f := range cfg.Faults {
		if _, err := ParseFault(string(f)); err != nil {
			return nil, err
		}
	}
	if slices.Contains(cfg.Faults, FaultSlowTLS) && !cfg.TLS {
		return nil, errors.New("fault slow-tls needs TLS: the server must speak it for a handshake to be slow")
	}
	s := &Server{cfg: cfg, k: cfg.Kernel, socks: make(map[*socketData]struct{}), held: make(map[int]bool),
		spins: make(map[int]*Spin), handshaking: make(map[int]bool),
		stamped: make(chan struct{}), stopDone: make(chan struct{}), closing: make(chan struct{}), stats: newUIState()}
	if s.k == nil {
		s.k, s.ownKernel = kernel.New(cfg.KernelOptions), true
	}
	s.routes = newRouter(s)
	return s, nil
}

// Start binds the listening socket and starts the UI and listener threads.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("server already started")
	}
	if s.cfg.Policy == PolicyHardened {
		if err := s.restartable(); err != nil {
			return err
		}
	}
	if err := s.startTLS(); err != nil {
		return err
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
	s.acceptEnd = make(chan struct{})
	// The accept pump plays WSAEventSelect(FD_ACCEPT) for the listener
	// thread; it ends when the listening socket is closed.
	s.goHelper(func() {
		defer close(s.acceptEnd)
		s.acceptPump()
	})
	s.lt = s.k.CreateThread(kernel.ThreadOptions{Name: ThreadListener}, s.listen)
	s.mu.Lock()
	s.threads = append(s.threads, s.lt)
	s.mu.Unlock()
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

// Kernel is the handle table the server lives in: pass it as the next
// generation's Config.Kernel to model a restart in the same process.
func (s *Server) Kernel() *kernel.Kernel { return s.k }

// restartable is hardened's StartSockets guard (BUG-088): a start over an
// earlier generation whose shutdown failed (a thread of it still alive, or
// its terminate event kept open) would overwrite state that thread still
// uses, so it fails closed instead, and the subsystem stays stopped.
func (s *Server) restartable() error {
	var v kernel.View
	s.k.View(&v)
	alive := 0
	for _, th := range v.Threads {
		if !th.Exited {
			alive++
		}
	}
	kept := slices.Contains(s.k.OpenHandles(), EventTerminate)
	if alive == 0 && !kept {
		return nil
	}
	return fmt.Errorf("start refused: an earlier shutdown failed (%d thread(s) alive, terminate kept open %v); "+
		"the Web UI server stays stopped until the process exits", alive, kept)
}

// hasFault reports whether f is injected.
func (s *Server) hasFault(f Fault) bool { return slices.Contains(s.cfg.Faults, f) }

func (s *Server) recordFault(ev FaultEvent) {
	ev.At = s.k.Now()
	s.mu.Lock()
	s.faults = append(s.faults, ev)
	s.mu.Unlock()
}

// Leak is what a thread killed by TerminateThread held: the thread's own
// cleanup never ran, so nothing of it was released.
type Leak struct {
	Thread int
	Name   string
	State  State // where the kill caught it
	Held   []string
}

// cleanup runs a thread's cleanup, unless TerminateThread killed the
// thread: then, as in Win32, none of it runs and what the thread held is
// recorded as leaked (Close still releases it, so the run ends clean).
func (s *Server) cleanup(t *kernel.Thread, held func() []string, release func()) {
	if t.Killed() {
		l := Leak{Thread: t.ID(), Name: t.Name(), State: t.State(), Held: held()}
		s.mu.Lock()
		s.leaks = append(s.leaks, l)
		s.mu.Unlock()
		return
	}
	t.Enter(StateCleanup)
	release()
}

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
	defer s.cleanup(t, func() []string {
		s.mu.Lock()
		queued := len(s.queue)
		s.mu.Unlock()
		return []string{"listening socket", "accept event", fmt.Sprintf("%d accepted connection(s) not served", queued)}
	}, func() {
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
	})
	for {
		t.Enter(StateWait)
		if s.k.WaitAny(t, kernel.Infinite, s.accept, s.term) != 0 {
			return
		}
		t.Enter(StateAccept)
		s.reap(t)
		if !s.drainAccepted(t) {
			return
		}
	}
}

// stormAcceptCost is what the listener spends on each connection it takes
// under the accept-storm fault: accept(), the SocketData, WSAEventSelect
// and a thread's creation, on a machine a storm keeps busy. Without it the
// model's listener takes a connection far faster than a loopback client
// makes one, and no storm could keep its queue from running empty.
const stormAcceptCost = 2 * time.Millisecond

// drainAccepted takes connections, as eMule's accept() loop does, until
// none is pending, and starts a thread for each. Before hardened the loop
// never looks at terminate: under a storm a connection is always pending,
// and between wakes the accept event wins at index 0, so the listener never
// sees terminate (BUG-080). Hardened checks terminate between accepts and
// reports false when it is signalled; so does every policy once the thread
// is killed, TerminateThread's checkpoint. What is left queued is closed by
// the listener's cleanup, or, if it was killed, by Close.
func (s *Server) drainAccepted(t *kernel.Thread) bool {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return true
		}
		c := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		if t.Killed() || s.cfg.Policy == PolicyHardened && s.k.WaitAny(t, 0, s.term) == 0 {
			s.mu.Lock()
			s.queue = append([]net.Conn{c}, s.queue...)
			s.mu.Unlock()
			return false
		}
		if s.hasFault(FaultAcceptStorm) {
			time.Sleep(stormAcceptCost)
		}
		s.spawn(c)
	}
}

// spawn starts one accepted-client thread. The fix tracks it so shutdown
// can join it; before the fix it auto-deletes and nobody can. The spawn
// faults hit the connection Config.SpawnFaultAt.
func (s *Server) spawn(c net.Conn) {
	sd := s.newSocketData(c)
	n := s.spawned.Add(1)
	policy := s.cfg.Policy
	if policy == PolicyHardened && s.overCap() {
		s.refuse(sd)
		return
	}
	fault := Fault("")
	for _, f := range []Fault{FaultSpawnFail, FaultSpawnWindow} {
		if n == s.cfg.SpawnFaultAt && s.hasFault(f) {
			fault = f
		}
	}
	run := func(t *kernel.Thread) { s.serve(t, sd) }
	opts := kernel.ThreadOptions{Name: ThreadClient, Client: true, AutoDelete: !policy.tracksThreads(), Peer: sd.peer}
	ev := FaultEvent{Fault: fault, Peer: sd.peer}
	switch {
	case fault == FaultSpawnFail:
		// CreateThread failed: no thread. Since the fix every failure
		// path closes the socket and frees the SocketData; before it,
		// both leak.
		ev.Detail = "thread creation failed: socket and SocketData leaked"
		if policy.tracksThreads() {
			_ = sd.Close()
			sd.free()
			ev.Detail = "thread creation failed: socket closed, SocketData freed"
		}
		s.recordFault(ev)
	case policy == PolicyHardened:
		// BUG-095's fix: the thread is tracked before it can run, so a
		// tracking failure leaves no thread to lose.
		if fault == FaultSpawnWindow {
			_ = sd.Close()
			sd.free()
			ev.Detail = "tracking failed before the thread started: socket closed, SocketData freed"
			s.recordFault(ev)
			return
		}
		s.mu.Lock()
		th := s.k.CreateThread(opts, run)
		s.tracked = append(s.tracked, th)
		s.threads = append(s.threads, th)
		s.mu.Unlock()
	default:
		// Started first, tracked after: the thread can run before it is
		// tracked, and a failure to track it leaves it running unseen.
		th := s.k.CreateThread(opts, run)
		s.mu.Lock()
		s.threads = append(s.threads, th)
		switch {
		case fault == FaultSpawnWindow:
			ev.Thread = th.ID()
			ev.Detail = fmt.Sprintf("tracking failed after thread %d started: it runs untracked", th.ID())
			if !policy.tracksThreads() {
				ev.Detail = fmt.Sprintf("thread %d is never tracked (auto-delete): nothing to fail", th.ID())
			}
		case policy.tracksThreads():
			s.tracked = append(s.tracked, th)
		}
		s.mu.Unlock()
		if fault != "" {
			s.recordFault(ev)
		}
	}
}

// overCap reports whether hardened's thread cap is reached. Called by the
// listener after reap, so the tracked list holds only live threads or
// threads that exited since.
func (s *Server) overCap() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tracked) >= s.cfg.MaxThreads
}

// overloaded is the listener's whole answer over the cap.
const overloaded = "HTTP/1.1 503 Service Unavailable\r\nServer: eMule\r\nRetry-After: 1\r\n" +
	"Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nserver busy\n"

// refuse answers a connection over the cap with 503 and closes it. The
// listener writes it itself, a few bytes to a fresh socket, bounded.
func (s *Server) refuse(sd *socketData) {
	_ = sd.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = io.WriteString(sd.conn, overloaded)
	_ = sd.Close()
	sd.free()
	s.mu.Lock()
	s.refused++
	s.mu.Unlock()
}

// reap closes the handles of tracked threads that have exited, as the fix
// does on every listener wake. The listener's poll of each thread object
// is a join: shutdown, joining the listener, learns these exits from it.
//
// A wake with no client thread exited since the last poll skips it: each
// thread's wait would time out with no effect, and the poll of thousands
// of threads on each of thousands of wakes, each wait under the kernel
// lock, was most of what held 9,900 clients from being ready.
func (s *Server) reap(listener *kernel.Thread) {
	exits := s.k.ClientExits()
	s.mu.Lock()
	defer s.mu.Unlock()
	if exits == s.reapedExits {
		return
	}
	s.reapedExits = exits
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
	close(s.stamped)
	p := &shutdownRun{s: s, by: s.k.Actor("shutdown"), rec: ShutdownRecord{Policy: s.cfg.Policy, Trigger: trigger}}
	// StopSockets returns on the UI thread, which may then at once answer
	// the requests it held: the return is stamped there, before it can,
	// not on this goroutine after the handoff (a thread that exits in
	// between would otherwise look joined).
	s.ui.shutdown(s.k.Start().Add(trigger), func() {
		p.run()
		p.rec.Returned = s.k.Now()
	})
	s.lifecycle.Store(int32(Done))
	s.mu.Lock()
	s.shutdown = p.rec
	s.mu.Unlock()
	return p.rec, true
}

// setHeld marks a thread's request as parked in the UI thread or not.
func (s *Server) setHeld(tid int, on bool) { s.mark(s.held, tid, on) }

// mark adds a thread to one of the server's sets of threads, or removes it.
func (s *Server) mark(set map[int]bool, tid int, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		set[tid] = true
	} else {
		delete(set, tid)
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

// watcher is the server's one watcher of its sockets' reads (the pumps),
// made at the first accepted socket; nil once Close has begun.
func (s *Server) watcher() *readwatch.Watcher {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if s.gdone {
		return nil
	}
	if s.watch == nil {
		s.watch = readwatch.New()
	}
	return s.watch
}

// goHelper starts f as a helper goroutine that Close waits for, and
// reports whether it did: once Close has begun, nothing new starts.
func (s *Server) goHelper(f func()) bool {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if s.gdone {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// TriggerStamped is closed once Triggered reports the trigger: a caller
// that started Shutdown on another goroutine waits on it for the stamp.
// A server that never started is never stamped.
func (s *Server) TriggerStamped() <-chan struct{} { return s.stamped }

// ShutdownDone is closed when the first Shutdown call returns.
func (s *Server) ShutdownDone() <-chan struct{} { return s.stopDone }

// AliveClients reports how many client threads have not exited, and a
// channel closed when that count next changes: a wait for the drain's end
// wakes on it instead of polling snapshots.
func (s *Server) AliveClients() (n int, changed <-chan struct{}) { return s.k.AliveClients() }

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
		s.gmu.Lock()
		s.gdone = true
		s.gmu.Unlock()
		left := s.Resources()
		close(s.closing)
		s.mu.Lock()
		threads := append([]*kernel.Thread(nil), s.threads...)
		s.mu.Unlock()
		if s.ownKernel {
			s.k.Release()
		} else {
			s.k.ReleaseThreads(threads)
		}
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
		threadsEnded := threadsDone(threads, 5*time.Second)
		goroutinesEnded := join.Within(&s.wg, 5*time.Second)
		if s.watch != nil { // every socket is closed: no pump watches any more
			goroutinesEnded = s.watch.Close() && goroutinesEnded
		}
		// A listener killed by TerminateThread left its queue behind; the
		// pump has ended with the listening socket, so nothing adds to it.
		s.dropQueued()
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
			Leaks:           s.leaks,
			Faults:          s.faults,
			Refused:         s.refused,
			TLS:             s.cfg.TLS,
			Spins:           s.spinRecord(),
		}
		s.mu.Unlock()
	})
	return s.record
}

// threadsDone waits up to d, in all, for every thread's goroutine to return
// and reports whether they all did.
func threadsDone(ts []*kernel.Thread, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for _, t := range ts {
		select {
		case <-t.Done():
		case <-deadline.C:
			return false
		}
	}
	return true
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
			tr.Unjoined = kr.UnjoinedAt(c)
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
	// Handshake: the thread is in a TLS handshake now; Spins counts the
	// turns its TLS loops went round without a wait so far.
	Handshake bool
	Spins     int64
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
		id := buf.Threads[i].ID
		buf.Threads[i].Held = s.held[id]
		buf.Threads[i].Handshake = s.handshaking[id]
		buf.Threads[i].Spins = 0
		if sp := s.spins[id]; sp != nil {
			buf.Threads[i].Spins = sp.Turns
		}
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
	// Unjoined are the client threads created before the close whose exit
	// the closer had not learnt by a join (kernel.Record.UnjoinedAt),
	// sorted: alive or not, nothing told it they could no longer wait on
	// terminate, so the close was safe by luck at best.
	Unjoined []int
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
	// Leaks are what threads killed by TerminateThread held (their
	// cleanup never ran); Faults the injected faults and what came of
	// them; Refused the connections hardened answered 503 over its cap.
	Leaks   []Leak
	Faults  []FaultEvent
	Refused int64
	// TLS says the server spoke TLS; Spins are the threads whose TLS loops
	// went round without a wait (BUG-081), by thread.
	TLS   bool
	Spins []Spin

	// clients is ClientThreads, listed once by WithClientThreads for a
	// reader that asks many times; nil: listed at each call.
	clients []kernel.ThreadRecord
}

// MaxSpin is the spin with the most turns (zero when no thread spun).
func (r Record) MaxSpin() Spin {
	var m Spin
	for _, sp := range r.Spins {
		if sp.Turns > m.Turns {
			m = sp
		}
	}
	return m
}

// ClientThreads returns the kernel records of the accepted-client threads,
// by id: a list of its own, unless the record is WithClientThreads', which
// shares one.
func (r Record) ClientThreads() []kernel.ThreadRecord {
	if r.clients != nil {
		return r.clients
	}
	return clientThreadsOf(r.Kernel)
}

// AliveAfter names the client threads still alive after t, by id: not
// exited, or exited later. Shutdown's stragglers are those alive after it
// returned.
func (r Record) AliveAfter(t time.Duration) []int {
	var ids []int
	for _, th := range r.ClientThreads() {
		if !th.Exited || th.ExitedAt > t {
			ids = append(ids, th.ID)
		}
	}
	return ids
}

// WithClientThreads returns r with its client threads listed once, for a
// reader that asks for them many times and changes nothing: the checks
// ask a dozen times a report, and at 9,900 clients each list was 2 MB.
// Its ClientThreads share that list, and do not see a change made to
// Kernel.Threads after.
func (r Record) WithClientThreads() Record {
	r.clients = clientThreadsOf(r.Kernel)
	return r
}

func clientThreadsOf(kr kernel.Record) []kernel.ThreadRecord {
	n := 0
	for _, t := range kr.Threads {
		if t.Client {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]kernel.ThreadRecord, 0, n)
	for _, t := range kr.Threads {
		if t.Client {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
