package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"shutdowntest/internal/join"
	"shutdowntest/internal/readwatch"
	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// Phase is where an iteration is: what a live view shows, and where a run
// that could not be carried out stopped.
type Phase string

// Phases of an iteration, in order.
const (
	PhaseStarting Phase = "starting" // the server starts; route probes
	PhaseHolding  Phase = "holding"  // clients open, get ready and hold
	PhaseDraining Phase = "shutting down"
	PhaseDrained  Phase = "drained"
)

// Snapshot is what a live view sees, cumulative, several times a second.
type Snapshot struct {
	Iteration int
	Of        int
	Phase     Phase
	Server    target.Snapshot
	Clients   []ClientResult
	Trigger   time.Duration // 0 before the trigger
	// Mix is the mix now (Config.Mix and any Adjust taken).
	Mix Mix
	// NotReady is how many clients were not in their intended state at
	// the last look before the trigger; ReadyAt when they all first were
	// (server clock; 0: not yet).
	NotReady int
	ReadyAt  time.Duration
	// External is what is known so far of an external target (nil for
	// the embedded one): the URL and command as run, the process and,
	// once it has ended, how.
	External *ExternalRecord
	// Rate is the steady traffic so far (nil without it).
	Rate *RateTally
}

// Observer receives what the engine shows while it runs. Every field is
// optional. Snapshots are sent without blocking: a busy consumer misses
// some, never the result, which is Wait's. The functions are called on
// the run's goroutine, which waits for them: they must return soon.
type Observer struct {
	Snapshots chan<- Snapshot
	Progress  func(Iteration)
	// Listening is called as soon as an iteration's server listens, with
	// its address, so that a person can point something at it.
	Listening func(iteration int, addr string)
}

// RunError says a run could not be carried out, and in which iteration
// and phase it stopped. Run returns every such error as a *RunError; Err
// is the cause (a *NotReadyError when clients never got ready).
type RunError struct {
	Iteration int
	Phase     Phase
	Err       error
}

func (e *RunError) Error() string { return e.Err.Error() }

func (e *RunError) Unwrap() error { return e.Err }

// NotReadyError says the run could not be carried out: some clients never
// reached their intended state.
type NotReadyError struct {
	Iteration int
	Waited    time.Duration
	Missing   []string
}

func (e *NotReadyError) Error() string {
	more := ""
	list := e.Missing
	if len(list) > 5 {
		more = fmt.Sprintf(" and %d more", len(list)-5)
		list = list[:5]
	}
	return fmt.Sprintf("iteration %d: %d client(s) not ready after %v: %s%s",
		e.Iteration, len(e.Missing), e.Waited, strings.Join(list, "; "), more)
}

// A wait for a condition looks at the server first after pollFirst, then
// ever less often, down to every pollEvery: a condition that is about to
// hold (a thread on its way to linger) is seen within a fraction of a
// millisecond, and a long wait costs no more than it did at pollEvery.
// snapshotEvery is the live view's rate (20 Hz).
const (
	pollFirst     = 100 * time.Microsecond
	pollEvery     = 2 * time.Millisecond
	snapshotEvery = 50 * time.Millisecond
	pollAtMost    = 200 * time.Millisecond
)

type iteration struct {
	cfg       Config
	n         int
	obs       Observer
	ctl       *Runner // Trigger, Adjust and Abort
	srv       *target.Server
	clients   []*client
	env       *env
	creds     creds
	wg        sync.WaitGroup // client and probe goroutines
	it        *Iteration
	snap      target.Snapshot
	byPeer    map[string]target.ThreadState // threadsByPeer's, reused
	phase     Phase
	trigger   time.Duration
	lastObs   time.Time
	lastPhase Phase
	nextID    int // the id the next client added while holding gets
	missing   int // what notReady last found
	readyAt   time.Duration
	// removed are the clients removed while holding: their threads must
	// exit before the clients are ready. One may connect after its
	// removal, so its address is read at each look.
	removed []*client
	// slowStop ends the slow-tls fault's client (nil without it).
	slowStop chan struct{}
	// What the driven faults (faults.go) have under way.
	storm   *stormRun
	probe   *faultProbe
	blocker net.Listener
	// gen2 is the restart fault's second generation; genMu guards it,
	// genDone (no restart once finish has begun) and it.FaultEvents,
	// which the shutdown goroutine appends to.
	genMu   sync.Mutex
	gen2    *target.Server
	genDone bool
	// rate is the steady traffic (nil without Config.Rate).
	rate *rateRun
}

// targetConfig is the embedded server's configuration for the run: its
// own, with the policy and the budgets the run's flags set.
func (c Config) targetConfig() target.Config {
	tc := c.Target
	tc.Policy, tc.DrainTimeout, tc.InflightFor = c.Policy, c.DrainTimeout, c.InflightFor
	return tc
}

// runIteration runs iteration n of the run ctl steers, its automatic
// trigger moved later by jitter.
func runIteration(ctx context.Context, ctl *Runner, cfg Config, n int, jitter time.Duration) (*Iteration, error) {
	tc := cfg.targetConfig()
	tc.Faults = append(tc.Faults, cfg.serverFaults()...)
	r := &iteration{cfg: cfg, n: n, obs: ctl.obs, ctl: ctl, it: &Iteration{N: n, MaxDrain: cfg.MaxDrain, Mix: cfg.Mix}, phase: PhaseStarting,
		creds: creds{password: orDefault(tc.Password, target.DefaultPassword), apiKey: orDefault(tc.APIKey, target.DefaultAPIKey)}}
	if cfg.hasFault(FaultPortBusy) {
		addr, err := r.occupy()
		if err != nil {
			return nil, &RunError{Iteration: n, Phase: PhaseStarting, Err: err}
		}
		defer r.blocker.Close()
		tc.Addr = addr
	}
	srv, err := target.New(tc)
	if err != nil {
		return nil, &RunError{Iteration: n, Phase: PhaseStarting, Err: fmt.Errorf("configure the embedded server: %w", err)}
	}
	if cfg.Hold && cfg.ShutdownAfter == 0 {
		jitter = 0 // a trigger by hand is not moved
	}
	r.srv, r.it.Jitter = srv, jitter
	base, fdOK, why := target.SocketFDs()
	r.it.FDs = FDCheck{Available: fdOK, Why: why, Base: base}
	if err := srv.Start(); err != nil {
		srv.Close()
		return nil, &RunError{Iteration: n, Phase: PhaseStarting, Err: fmt.Errorf("start the embedded server: %w", err)}
	}
	r.it.Addr = srv.Addr()
	r.creds.tls = clientTLS(srv)
	if r.obs.Listening != nil {
		r.obs.Listening(n, r.it.Addr)
	}
	if cfg.hasFault(target.FaultSpawnFail) || cfg.hasFault(target.FaultSpawnWindow) {
		r.startFaultProbe()
	}
	runErr := r.run(ctx)
	r.finish()
	// A Ctrl-C at any moment of the iteration marks it: observation went
	// on to the end, but the run stops here.
	if ctx.Err() != nil {
		r.it.Interrupted = true
	}
	return r.it, runErr
}

// run drives the phases up to the end of observation.
func (r *iteration) run(ctx context.Context) error {
	routes, session, err := probeRoutes(r.srv.Addr(), r.creds)
	r.it.Routes = routes
	if err != nil {
		r.triggerAndObserve(ctx)
		return &RunError{Iteration: r.n, Phase: PhaseStarting, Err: fmt.Errorf("route probes: %w", err)}
	}
	// The probes' server threads must be gone before the socket count is
	// taken at hold. A connection the tool did not open may stay.
	probes := make(map[string]bool, len(routes))
	for _, p := range routes {
		probes[p.Local] = true
	}
	if !r.waitUntil(ctx.Done(), 5*time.Second, func() bool { return r.liveThreads(probes) == 0 }) && ctx.Err() == nil {
		r.triggerAndObserve(ctx)
		return &RunError{Iteration: r.n, Phase: PhaseStarting, Err: errors.New("route probe threads still alive after 5s")}
	}
	r.env = &env{addr: r.srv.Addr(), session: session, apiKey: r.creds.apiKey, clock: r.srv.Since,
		dialSem: make(chan struct{}, 64), ended: make(chan struct{}, 1), settle: make(chan struct{}, 1), watch: readwatch.New(), seed: seedFor(r.cfg.Seed, r.n), tls: r.creds.tls}
	r.startClients()
	r.phase = PhaseHolding
	var missing []string
	isReady := func() bool {
		missing = r.notReady()
		return len(missing) == 0
	}
	ready := r.waitReady(ctx.Done(), r.cfg.ReadyTimeout, isReady)
	if ready && r.cfg.Rate != nil {
		// The descriptors are counted before the traffic starts: its
		// connections come and go, and would move the count.
		r.fdAtHold()
		r.startRate()
	}
	// Both at most a day (flags), so the sum cannot overflow.
	after := r.cfg.holdFor(r.cfg.ShutdownAfter + r.it.Jitter)
	if ready && (r.cfg.Hold || after > 0) {
		r.hold(ctx, after)
		// Clients added while holding, or one that fell out of its state,
		// get the ready budget again; the usual case passes at once.
		if ctx.Err() == nil {
			ready = r.waitReady(ctx.Done(), r.cfg.ReadyTimeout, isReady)
		} else {
			ready = isReady() // the snapshot hold took last
		}
	}
	if ready && r.rate == nil {
		r.fdAtHold()
	}
	r.it.Ready = ready
	if ready {
		// After the socket count: the fault's connection is not a client's.
		if err := r.startSlowTLS(); err != nil {
			r.triggerAndObserve(ctx)
			return &RunError{Iteration: r.n, Phase: PhaseHolding, Err: err}
		}
	}
	r.triggerAndObserve(ctx)
	if !ready && ctx.Err() == nil {
		return &RunError{Iteration: r.n, Phase: PhaseHolding,
			Err: &NotReadyError{Iteration: r.n, Waited: r.cfg.ReadyTimeout, Missing: missing}}
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// startClients opens every client of the mix.
func (r *iteration) startClients() {
	// Streams connect last: once open, each costs the server a message
	// every StreamEvery, and 1,500 of them open early slowed every
	// connection made after them. The clients keep their order.
	var streams []*client
	for _, sp := range r.it.Mix.Specs() {
		c := r.addClient(sp)
		if sp.Kind == KindWS {
			streams = append(streams, c)
			continue
		}
		r.runClient(c)
	}
	for _, c := range streams {
		r.runClient(c)
	}
	r.nextID = len(r.clients) + 1
	r.missing = len(r.clients) // none is ready until a look says so
}

// startClient opens one client. Its goroutine ends when its connection
// ends or at halt, which finish (or a removal) calls for every client.
func (r *iteration) startClient(sp Spec) {
	r.runClient(r.addClient(sp))
}

// addClient makes one client, not yet running.
func (r *iteration) addClient(sp Spec) *client {
	c := newClient(sp, r.env)
	r.clients = append(r.clients, c)
	return c
}

// runClient starts c's goroutine.
func (r *iteration) runClient(c *client) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		c.run()
	}()
}

// hold keeps the ready clients holding until the trigger: Runner.Trigger,
// d passing (ShutdownAfter and the jitter, when more than 0), or ctx
// ending (Abort cancels it too). It is as long as the person watching
// wants, and ends with them: quitting the view triggers.
func (r *iteration) hold(ctx context.Context, d time.Duration) {
	var after <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		after = t.C
	}
	tick := time.NewTicker(snapshotEvery)
	defer tick.Stop()
	for {
		r.srv.Snapshot(&r.snap)
		r.notReady()
		r.publish()
		select {
		case <-ctx.Done():
			return
		case <-r.ctl.trigger:
			return
		case <-after:
			return
		case a := <-r.ctl.adjust:
			r.adjust(a)
		case <-tick.C:
		}
	}
}

// adjust applies one change to the mix while holding. A new client gets
// the next id; a removed one is the newest of its kind and role, and it
// leaves the iteration at once: its connection closes and its server
// thread must exit before the trigger (notReady waits for that).
func (r *iteration) adjust(a Adjust) {
	if !r.it.Mix.has(a.Kind, a.Role) {
		return // no such client (a TCP client is silent, a WS one streams)
	}
	switch {
	case a.Delta > 0:
		for range a.Delta {
			r.startClient(Spec{ID: r.nextID, Kind: a.Kind, Role: a.Role})
			r.nextID++
			r.it.Mix = r.it.Mix.add(a.Kind, a.Role, 1)
		}
	case a.Delta < 0 && a.Role != RoleInflight:
		for range -a.Delta {
			i := len(r.clients) - 1
			for i >= 0 && (r.clients[i].Kind != a.Kind || r.clients[i].Role != a.Role) {
				i--
			}
			if i < 0 {
				return
			}
			c := r.clients[i]
			c.halt()
			r.removed = append(r.removed, c)
			r.clients = append(r.clients[:i], r.clients[i+1:]...)
			r.it.Mix = r.it.Mix.add(a.Kind, a.Role, -1)
		}
	}
}

// waitUntil polls cond until it holds, d passes or stop is closed,
// publishing snapshots on the way.
func (r *iteration) waitUntil(stop <-chan struct{}, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for poll := pollFirst; ; poll = min(2*poll, pollEvery) {
		t0 := time.Now()
		r.srv.Snapshot(&r.snap)
		took := time.Since(t0)
		r.publish()
		if cond() {
			return true
		}
		if time.Now().After(deadline) || closed(stop) {
			return false
		}
		// A snapshot holds the kernel lock while it copies; with thousands
		// of threads that is a millisecond. Polling no more often than 20
		// times its cost keeps the observer under 5% of the lock. But its
		// cost includes the wait for the lock, which thousands of threads
		// getting ready contend for: one snapshot of 50 ms then put the
		// next look a second later, and the clients' readiness with it.
		// pollAtMost bounds that.
		select {
		case <-stop:
		case <-time.After(min(max(poll, 20*took), pollAtMost)):
		}
	}
}

// waitReady is waitUntil for readiness: it first waits, without a look at
// the server, until every client's own side is done getting ready, then
// looks. At 9,900 clients a look holds the kernel lock for milliseconds
// and was made every 200 ms at most while they connected: the server's
// threads queued behind it, and the last client's readiness waited up to
// a look's interval to be seen. The live view still gets its snapshots.
func (r *iteration) waitReady(stop <-chan struct{}, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(snapshotEvery)
	defer tick.Stop()
	for !r.env.clientsSettled() && time.Now().Before(deadline) {
		select {
		case <-stop:
			return false
		case <-r.env.settle:
		case <-tick.C:
			if r.obs.Snapshots != nil {
				r.srv.Snapshot(&r.snap)
				r.notReady()
				r.publish()
			}
		}
	}
	return r.waitUntil(stop, time.Until(deadline), cond)
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// liveThreads counts the client threads not yet exited that serve one of
// peers' addresses.
func (r *iteration) liveThreads(peers map[string]bool) int {
	n := 0
	for _, t := range r.snap.Threads {
		if t.State != target.StateExited && peers[t.Peer] {
			n++
		}
	}
	return n
}

// threadsByPeer maps a client's local address to its server thread.
// The map is the iteration's, cleared and filled again at each look: a
// look at thousands of clients is made many times while they get ready.
func (r *iteration) threadsByPeer() map[string]target.ThreadState {
	if r.byPeer == nil {
		r.byPeer = make(map[string]target.ThreadState, len(r.snap.Threads))
	}
	clear(r.byPeer)
	for _, t := range r.snap.Threads {
		r.byPeer[t.Peer] = t
	}
	return r.byPeer
}

// wantState is where each role's server thread must be at the trigger.
func wantState(role Role) []target.State {
	switch role {
	case RoleIdle:
		return []target.State{target.StateLinger}
	case RoleInflight:
		return []target.State{target.StateProcess}
	case RoleStream:
		return []target.State{target.StateWait, target.StateSend, target.StateRead}
	default:
		return []target.State{target.StateWait}
	}
}

// notReady lists what keeps the clients from being ready, and counts it
// for the live view. The thread of a client removed while holding must
// exit first. A connection the tool did not open holds nothing up: it is
// judged with the rest after the trigger.
func (r *iteration) notReady() []string {
	threads := r.threadsByPeer()
	var missing []string
	for _, c := range r.clients {
		c.mu.Lock()
		ready, local, ended, outcome, detail := c.ready, c.local, c.ended, c.outcome, c.detail
		c.mu.Unlock()
		want := wantState(c.Role)
		// Named only when missing: a look at thousands of clients is
		// made many times while they get ready.
		name := func() string { return fmt.Sprintf("client %d (%s %s)", c.ID, c.Kind, c.Role) }
		th, seen := threads[local]
		if h := hostileByRole[c.Role]; h != nil {
			if why := hostileNotReady(h, c, th, seen); why != "" {
				missing = append(missing, name()+why)
			}
			continue
		}
		switch {
		case ended:
			missing = append(missing, fmt.Sprintf("%s ended: %s %s", name(), outcome, detail))
		case !ready:
			missing = append(missing, name()+" not ready on the client side")
		case !seen:
			missing = append(missing, name()+" has no server thread")
		case !slices.Contains(want, th.State):
			missing = append(missing, fmt.Sprintf("%s: thread %d in %s, want %s", name(), th.ID, th.State, joinStates(want)))
		case c.Role == RoleInflight && !th.Held:
			// In process is not enough: the handler must be past its
			// shutting-down check, with the request held by the UI thread.
			missing = append(missing, fmt.Sprintf("%s: thread %d in process, request not yet held", name(), th.ID))
		}
	}
	removed := make(map[string]bool, len(r.removed))
	for _, c := range r.removed {
		removed[c.localAddr()] = true
	}
	for _, th := range r.snap.Threads {
		if th.State != target.StateExited && removed[th.Peer] {
			missing = append(missing, fmt.Sprintf("thread %d (%s) serves a removed client and has not exited", th.ID, th.State))
		}
	}
	r.missing = len(missing)
	if r.missing == 0 && r.readyAt == 0 {
		r.readyAt = r.snap.At
	}
	return missing
}

// joinStates lists the states a thread may be in: "wait|send|read".
func joinStates(states []target.State) string {
	words := make([]string, len(states))
	for i, st := range states {
		words[i] = string(st)
	}
	return strings.Join(words, "|")
}

// fdAtHold cross-checks socket accounting while everything holds still:
// the server's sockets plus one per client connection.
func (r *iteration) fdAtHold() {
	if !r.it.FDs.Available {
		return
	}
	n, _, _ := target.SocketFDs()
	open := 0
	for _, c := range r.clients {
		c.mu.Lock()
		if c.conn != nil && !c.ended && !c.released {
			open++
		}
		c.mu.Unlock()
	}
	if r.probe != nil && r.probe.open {
		open++
	}
	r.it.FDs.AtHold = n - r.it.FDs.Base
	r.it.FDs.ExpectedAtHold = r.srv.Resources().OpenSockets + open
}

// triggerAndObserve triggers shutdown and observes until every client and
// client thread has ended, or the deadline.
func (r *iteration) triggerAndObserve(ctx context.Context) {
	if ctx.Err() != nil {
		r.it.Interrupted = true
	}
	if r.cfg.hasFault(target.FaultAcceptStorm) && r.it.Ready {
		r.startStorm()
	}
	r.wg.Add(1)
	// The shutdown call is bounded by the policy's budgets, and by the
	// kernel's release in finish if it is not.
	go func() {
		defer r.wg.Done()
		r.srv.Shutdown()
		if r.cfg.hasFault(target.FaultRestart) {
			// At once, as a StartSockets right after StopSockets would:
			// old threads may still be alive, and the values the first
			// generation just freed are the next to be handed out.
			r.restart()
		}
	}()
	// Shutdown stamps the trigger before anything else; every time in the
	// report is relative to that stamp. The wait for the stamp publishes
	// nothing: a snapshot taken now may already show the shutdown under
	// way, and must not go out as still holding, with no trigger.
	select {
	case <-r.srv.TriggerStamped():
	case <-time.After(time.Second):
	}
	r.trigger, _ = r.srv.Triggered()
	r.phase = PhaseDraining
	if r.rate != nil {
		r.rate.triggerAt(r.trigger, r.cfg.DrainTimeout)
	}
	admission := make(chan AdmissionProbe, 1)
	r.wg.Add(1)
	go func() { // one connection attempt; bounded by its own timeouts
		defer r.wg.Done()
		admission <- probeAdmission(r.srv.Addr(), r.creds.apiKey, WhenAtTrigger, r.srv.Since)
	}()
	// A first Ctrl-C (ctx) still lets the drain be watched to its end;
	// Abort does not.
	r.it.AllEnded = r.waitDrained(r.ctl.abort, r.cfg.DrainTimeout+time.Second)
	if r.rate != nil {
		r.rate.stop("the drain had ended")
	}
	r.endStorm()
	if closed(r.ctl.abort) {
		r.it.Interrupted = true
	}
	r.it.ShutdownReturned = r.shutdownReturned()
	if r.it.ShutdownReturned {
		t0 := time.Now()
		r.srv.Shutdown()
		r.it.SecondShutdown = time.Since(t0)
		r.it.Admission = append(r.it.Admission, probeAdmission(r.srv.Addr(), r.creds.apiKey, WhenAfterReturn, r.srv.Since))
	}
	r.it.Admission = append([]AdmissionProbe{<-admission}, r.it.Admission...)
	r.it.ObservedUntil = r.srv.Now()
	r.phase = PhaseDrained
}

func (r *iteration) shutdownReturned() bool {
	select {
	case <-r.srv.ShutdownDone():
		return true
	default:
		return false
	}
}

// waitDrained waits until shutdown has returned, every client thread has
// exited and every client has an outcome (an idle one's is its server
// thread's), or d passes or stop is closed; it reports whether all ended.
//
// It wakes on those events (ShutdownDone, the server's count of live
// client threads, a client ending) rather than polling snapshots, so
// observation ends as soon as the last of them happens, at any size: a
// snapshot copies every thread under the kernel lock, and a poll paced at
// 20 times its cost fell seconds behind with thousands of clients. The
// live view still gets its snapshots, paced by that rule.
func (r *iteration) waitDrained(stop <-chan struct{}, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	var view *time.Timer
	var viewC <-chan time.Time
	if r.obs.Snapshots != nil {
		view = time.NewTimer(0)
		defer view.Stop()
		viewC = view.C
	}
	var ended <-chan struct{}
	if r.env != nil {
		ended = r.env.ended
	}
	returned := r.srv.ShutdownDone()
	next := 0 // the clients before it are done, which they stay
	for {
		alive, changed := r.srv.AliveClients()
		for next < len(r.clients) && r.clients[next].done() {
			next++
		}
		if alive == 0 && next == len(r.clients) && r.shutdownReturned() {
			return true
		}
		select {
		case <-returned:
			returned = nil // closed: once is enough
			// The listener has been joined or killed: the storm has
			// done its part.
			r.endStorm()
		case <-changed:
		case <-ended:
		case <-viewC:
			t0 := time.Now()
			r.srv.Snapshot(&r.snap)
			view.Reset(max(snapshotEvery, 20*time.Since(t0)))
			r.publish()
		case <-deadline.C:
			return false
		case <-stop:
			return false
		}
	}
}

// finish halts the clients, closes the server and assembles the record.
//
// The order matters. Outcomes are frozen first, at the deadline, so that
// nothing Close does later (releasing threads, closing sockets) can turn a
// client that was still waiting into a clean close. Then the server's
// Close counts what it still held before forcing anything. Only then are
// the clients' connections closed.
func (r *iteration) finish() {
	// The run's end is recorded while most of its memory is garbage: the
	// server's state, the clients', and the goroutine stacks, which Go
	// counts into the heap's goal. With the goal the run left, recording
	// its end grew the heap past the run's own peak (at 9,900 clients, 10
	// MB more); an eager collector reuses the garbage instead.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, c := range r.clients {
		c.freeze()
	}
	if r.rate != nil {
		r.rate.halt(closed(r.ctl.abort)) // before Close can cut what is still in flight
	}
	r.endStorm()
	r.endRestart() // the newest generation first
	rec := r.srv.Close()
	for _, c := range r.clients {
		c.halt()
	}
	if r.slowStop != nil {
		close(r.slowStop)
	}
	r.closeFaultProbe()
	join.Within(&r.wg, 10*time.Second)
	if r.env != nil {
		r.env.watch.Close() // every client has ended or halted
	}
	threads := rec.ClientThreads() // a list of 2 MB at 9,900 clients: made once
	it := r.it
	it.Server = rec
	it.Trigger = r.trigger
	if it.FDs.Available {
		n, _, _ := target.SocketFDs()
		it.FDs.After = n - it.FDs.Base
	}
	byPeer := map[string]kernel.ThreadRecord{}
	for _, t := range threads {
		byPeer[t.Peer] = t
	}
	if r.rate != nil {
		drained := it.ObservedUntil
		if it.ShutdownReturned {
			drained = rec.Shutdown.Returned
		}
		it.Rate = r.rate.finish(it.Trigger, drained, threads, true)
	}
	r.recordForeign(threads)
	// r.clients is in id order already (Mix.Specs).
	for _, c := range r.clients {
		cr := c.view()
		th, served := byPeer[cr.Local]
		cr.Thread = th.ID
		if cr.Outcome != OutcomePending && cr.Outcome != OutcomeTimeout && cr.EndedAt < it.Trigger && !judgedAtOnce(c.Role) {
			// Outcomes are about the shutdown: an ending before it is an
			// error of the setup, whatever it looked like.
			cr.Outcome, cr.Detail = OutcomeError, fmt.Sprintf("ended before the trigger (%s): %s", cr.Outcome, cr.Detail)
		}
		if c.Role == RoleIdle && cr.Outcome == OutcomePending && served {
			// The client held on as it should; how it ended is what its
			// server thread did after the trigger.
			cr.Outcome, cr.Detail, cr.EndedAt = idleOutcome(th, it.Trigger)
		} else if h := hostileByRole[c.Role]; h != nil && h.FromThread && cr.Outcome == OutcomePending && served {
			cr.Outcome, cr.Detail, cr.EndedAt = h.threadOutcome(th, it.Trigger)
		} else if cr.Outcome == OutcomePending {
			cr.Outcome, cr.Detail = OutcomeTimeout, "not ended by the deadline; no server thread was seen for it"
		}
		it.Clients = append(it.Clients, cr)
	}
}

// recordForeign records the clients removed while holding, and the
// connections the tool did not open: every client thread whose peer is
// none of the tool's own sockets.
func (r *iteration) recordForeign(threads []kernel.ThreadRecord) {
	own := map[string]bool{}
	for _, c := range r.clients {
		own[c.localAddr()] = true
	}
	for _, c := range r.removed {
		if l := c.localAddr(); l != "" {
			own[l] = true
			r.it.Removed = append(r.it.Removed, l)
		}
	}
	for _, p := range r.it.Routes {
		own[p.Local] = true
	}
	for _, p := range r.it.Admission {
		own[p.Local] = true
	}
	if r.it.SlowTLS != "" {
		own[r.it.SlowTLS] = true
	}
	if r.it.FaultProbe != "" {
		own[r.it.FaultProbe] = true
	}
	for l := range r.it.Rate.Locals() {
		own[l] = true
	}
	for _, t := range threads {
		if !own[t.Peer] {
			r.it.Foreign = append(r.it.Foreign, t.Peer)
		}
	}
}

// idleOutcome is how an idle client's connection ended: its server thread
// left linger and closed the socket after the trigger (closed), before it
// (error), or never (timeout).
func idleOutcome(t kernel.ThreadRecord, trigger time.Duration) (Outcome, string, time.Duration) {
	var left time.Duration
	lingered := false
	for i, st := range t.States {
		if st.State == target.StateLinger && i+1 < len(t.States) {
			lingered, left = true, t.States[i+1].At
		}
	}
	switch {
	case !t.Exited || t.Forced:
		return OutcomeTimeout, fmt.Sprintf("server thread %d still alive at the deadline", t.ID), 0
	case !lingered:
		return OutcomeError, fmt.Sprintf("server thread %d never lingered", t.ID), t.ExitedAt
	case left < trigger:
		return OutcomeError, fmt.Sprintf("server thread %d left linger %.3fs before the trigger", t.ID, (trigger - left).Seconds()), left
	}
	return OutcomeClosed, fmt.Sprintf("response ok; server thread %d left linger and closed at t+%.3fs", t.ID, (left - trigger).Seconds()), left
}

// publish sends a snapshot to the live view at most every snapshotEvery,
// and at once when the phase changes, dropping it if the view is busy.
func (r *iteration) publish() {
	if r.obs.Snapshots == nil || (time.Since(r.lastObs) < snapshotEvery && r.phase == r.lastPhase) {
		return
	}
	r.lastObs, r.lastPhase = time.Now(), r.phase
	s := Snapshot{Iteration: r.n, Of: r.cfg.Iterations, Phase: r.phase, Trigger: r.trigger,
		Mix: r.it.Mix, NotReady: r.missing, ReadyAt: r.readyAt}
	if r.rate != nil {
		t := r.rate.tally()
		s.Rate = &t
	}
	s.Server = r.snap
	s.Server.Threads = append([]target.ThreadState(nil), r.snap.Threads...)
	for _, c := range r.clients {
		s.Clients = append(s.Clients, c.view())
	}
	select {
	case r.obs.Snapshots <- s:
	default:
	}
}
