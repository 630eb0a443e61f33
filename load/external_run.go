package load

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"shutdowntest/internal/join"
	"shutdowntest/internal/readwatch"
	"shutdowntest/load/osobs"
	"shutdowntest/target"
)

// Bounds of an external iteration.
const (
	// admissionEvery is the pace of the new connections tried from the
	// trigger on, until one is refused.
	admissionEvery = 20 * time.Millisecond
	// readyEvery is the pace of the readiness requests to a launched
	// server.
	readyEvery = 20 * time.Millisecond
	// triggerWait bounds the trigger's own request or command.
	triggerWait = 10 * time.Second
)

// extIteration is one iteration against an external target: the same
// phases as the embedded one (start, hold, trigger, observe), with what
// the clients see and what the server's process did as the record.
type extIteration struct {
	cfg      Config
	x        *External
	n        int
	ctl      *Runner
	obs      Observer
	origin   time.Time    // the iteration's clock starts here
	addr     string       // host:port
	proc     *proc        // nil: no process to watch
	state    *stateStream // nil: no state endpoint
	stateURL string       // as run, the ports filled in
	keep     *keepAlive
	env      *env
	clients  []*client
	wg       sync.WaitGroup // client and probe goroutines
	it       *Iteration
	rec      *ExternalRecord
	phase    Phase
	trigger  time.Duration
	readyAt  time.Duration
	missing  int
	lastPub  time.Time
	lastPh   Phase
	sampler  *osobs.Sampler        // nil: no OS sampling
	sides    map[string]ServerSide // the clients' server sides live samples showed, by local address
	// tooFast are the in-flight clients answered before the trigger.
	tooFast []int
	// clockEst receives the clock estimate of a shared test (nil: none
	// taken).
	clockEst chan ClockEstimate
	rate     *rateRun // nil without Config.Rate
}

func (e *extIteration) clock(t time.Time) time.Duration { return t.Sub(e.origin) }

func (e *extIteration) now() time.Duration { return e.clock(time.Now()) }

// runExternal runs iteration n against cfg.External.
func runExternal(ctx context.Context, ctl *Runner, cfg Config, n int) (*Iteration, error) {
	x := cfg.External
	e := &extIteration{cfg: cfg, x: x, n: n, ctl: ctl, obs: ctl.obs, origin: time.Now(), phase: PhaseStarting}
	e.rec = &ExternalRecord{Trigger: x.Trigger, KeepsRunning: x.KeepsRunning, ExpectExit: x.ExpectExit,
		DrainTimeout: cfg.DrainTimeout, Grace: x.AdmissionGrace, PID: x.PID, Settle: x.Settle, Sync: newSync(x)}
	e.it = &Iteration{N: n, MaxDrain: cfg.MaxDrain, Mix: cfg.Mix, External: e.rec,
		FDs: FDCheck{Why: "external target: the server's sockets are in its own process"}}
	if err := e.start(); err != nil {
		e.finish()
		return e.it, &RunError{Iteration: n, Phase: PhaseStarting, Err: err}
	}
	runErr := e.run(ctx)
	e.finish()
	if len(e.tooFast) > 0 && runErr == nil {
		runErr = &RunError{Iteration: n, Phase: PhaseHolding, Err: fmt.Errorf(
			"in-flight client(s) %s answered before the trigger: the --slow path is too fast (it must take longer than the time to trigger)",
			strings.Trim(fmt.Sprint(e.tooFast), "[]"))}
	}
	if ctx.Err() != nil {
		e.it.Interrupted = true
	}
	return e.it, runErr
}

// start fills in the port, launches or attaches to the process and waits
// for a launched server to answer.
func (e *extIteration) start() error {
	x := e.x
	rawURL, command := x.URL, append([]string(nil), x.Command...)
	e.stateURL = x.StateURL
	for _, ph := range []struct {
		placeholder string
		url         *string
	}{{PortPlaceholder, &rawURL}, {StatePortPlaceholder, &e.stateURL}} {
		if !strings.Contains(*ph.url, ph.placeholder) && !strings.Contains(strings.Join(command, " "), ph.placeholder) {
			continue
		}
		host, err := TargetHost(*ph.url)
		if err != nil {
			return err
		}
		port, err := freePort(host)
		if err != nil {
			return err
		}
		*ph.url = strings.ReplaceAll(*ph.url, ph.placeholder, port)
		for i := range command {
			command[i] = strings.ReplaceAll(command[i], ph.placeholder, port)
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("target url: %w", err)
	}
	e.addr = u.Host
	if u.Port() == "" {
		e.addr = net.JoinHostPort(u.Hostname(), "80")
	}
	e.rec.URL, e.rec.Command, e.it.Addr = rawURL, command, e.addr
	if e.obs.Listening != nil {
		e.obs.Listening(e.n, e.addr)
	}
	switch {
	case len(command) > 0:
		if x.ServerLog != nil {
			fmt.Fprintf(x.ServerLog, "== shutdowntest iteration %d: %s\n", e.n, strings.Join(command, " "))
		}
		p, err := launch(command, x.ServerLog)
		if err != nil {
			return err
		}
		e.proc, e.rec.PID, e.rec.Launched = p, p.pid, true
		if err := e.waitServing(); err != nil {
			return err
		}
	case x.PID != 0:
		p, err := attach(x.PID)
		if err != nil {
			return fmt.Errorf("--pid: %w", err)
		}
		e.proc = p
	}
	e.startSampling()
	return nil
}

// TargetHost is the host of a target (or state) URL, read from the
// literal text with the port placeholders filled in, so that no name is
// looked up.
func TargetHost(rawURL string) (string, error) {
	u, err := url.Parse(strings.NewReplacer(PortPlaceholder, "1", StatePortPlaceholder, "1").Replace(rawURL))
	if err != nil {
		return "", fmt.Errorf("target url: %w", err)
	}
	return u.Hostname(), nil
}

// freePort is a port nothing listens on at host now: the kernel's pick
// for a listener that is closed again at once.
func freePort(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("pick a free port on %s: %w", host, err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, nil
}

// waitServing waits, within the ready timeout, for a launched server to
// answer its readiness path with a 2xx, on a fresh connection each time.
func (e *extIteration) waitServing() error {
	deadline := time.Now().Add(e.cfg.ReadyTimeout)
	last := "no answer"
	for {
		if e.proc.exited() {
			ex, _, _ := e.proc.end()
			return fmt.Errorf("the server exited before it was ready (%s); %s", ex.Detail, e.proc.out.lastWords())
		}
		req := externalRequest(e.x, e.addr, e.x.ReadyPath, KindHTTP)
		req.Close = true
		resp, _, _, err := roundTrip(e.addr, nil, req, time.Second)
		switch {
		case err == nil && resp.StatusCode >= 200 && resp.StatusCode <= 299:
			return nil
		case err == nil:
			last = "status " + resp.Status
		default:
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not answer %s with a 2xx within --ready-timeout %v (last: %s); %s",
				e.x.ReadyPath, e.cfg.ReadyTimeout, last, e.proc.out.lastWords())
		}
		<-time.After(readyEvery)
	}
}

// run opens the clients, holds them, triggers and observes.
func (e *extIteration) run(ctx context.Context) error {
	if e.stateURL != "" {
		// Before the clients, so that the threads serving them are seen
		// from their start.
		s, err := openState(e.stateURL, e.cfg.ReadyTimeout, e.clock, &e.wg)
		if err != nil {
			return &RunError{Iteration: e.n, Phase: PhaseStarting, Err: err}
		}
		e.state = s
	}
	e.startClock()
	e.keep, e.rec.KeepAlive = openKeepAlive(e.x, e.addr)
	e.env = &env{addr: e.addr, clock: e.clock, dialSem: make(chan struct{}, 64), ext: e.x, watch: readwatch.New()}
	for _, sp := range e.it.Mix.Specs() {
		c := newClient(sp, e.env)
		e.clients = append(e.clients, c)
		e.wg.Add(1)
		// Ends when its connection ends or at halt (finish).
		go func() {
			defer e.wg.Done()
			c.runExternal()
		}()
	}
	e.missing = len(e.clients)
	e.phase = PhaseHolding
	var missing []string
	isReady := func() bool {
		missing = e.notReady()
		return len(missing) == 0
	}
	ready := e.waitUntil(ctx.Done(), e.readyWait(), isReady)
	if ready && e.cfg.Rate != nil {
		e.startRate()
	}
	if shared := !e.x.TriggerAt.IsZero(); shared || ready && (e.cfg.Hold || e.cfg.holdFor(e.cfg.ShutdownAfter) > 0) {
		// A shared test triggers at its instant, ready or not: the other
		// runners count on it. Its readiness is the last seen before the
		// instant: by the time it could be looked at again, another
		// runner's trigger may have ended the clients.
		ready = e.hold(ctx, isReady)
		if !shared {
			ready = isReady()
		}
	}
	e.it.Ready = ready
	trigErr := e.triggerAndObserve(ctx)
	switch {
	case trigErr != nil:
		return &RunError{Iteration: e.n, Phase: PhaseDraining, Err: trigErr}
	case !ready && ctx.Err() == nil:
		return &RunError{Iteration: e.n, Phase: PhaseHolding,
			Err: &NotReadyError{Iteration: e.n, Waited: e.cfg.ReadyTimeout, Missing: missing}}
	}
	return nil
}

// notReady lists the clients not yet in their intended state, as far as
// the client side can tell: an in-flight request sent and not answered,
// an idle client holding after its response (or closed by the server
// after it, which it keeps no connection alive for), a stream open, a
// silent connection made.
func (e *extIteration) notReady() []string {
	var missing []string
	for _, c := range e.clients {
		// One lock, no copy of the client's history, and its name made
		// only when missing: the look is made every 2 ms while thousands
		// of clients connect.
		c.mu.Lock()
		ready, ended, outcome, detail := c.ready, c.ended, c.outcome, c.detail
		c.mu.Unlock()
		name := func() string { return fmt.Sprintf("client %d (%s %s)", c.ID, c.Kind, c.Role) }
		switch {
		case !ended && !ready:
			missing = append(missing, name()+" not ready")
		case !ended:
		case outcome == OutcomeClosed && c.Role == RoleIdle:
			// Closed after its response: reported so, not waited for.
		case outcome == OutcomeCompleted && c.Role == RoleInflight:
			// Answered already: waiting longer cannot put it in flight;
			// the run is an error once observed (the slow path is too
			// fast), so the trigger comes at once.
		default:
			missing = append(missing, fmt.Sprintf("%s ended: %s %s", name(), outcome, detail))
		}
	}
	e.missing = len(missing)
	if e.missing == 0 && e.readyAt == 0 {
		e.readyAt = e.now()
	}
	return missing
}

// waitUntil polls cond every pollEvery until it holds, d passes or stop
// is closed, publishing snapshots on the way.
func (e *extIteration) waitUntil(stop <-chan struct{}, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		e.publish()
		if cond() {
			return true
		}
		if time.Now().After(deadline) || closed(stop) {
			return false
		}
		select {
		case <-stop:
		case <-time.After(pollEvery):
		}
	}
}

// hold keeps the clients holding until Runner.Trigger, ShutdownAfter, the
// agreed instant of a shared test or ctx, and says whether isReady held
// when last looked at. Changes to the mix are not taken for an external
// target (its view is a later change); they are drained so the queue
// never fills.
func (e *extIteration) hold(ctx context.Context, isReady func() bool) bool {
	var after <-chan time.Time
	manual := e.ctl.trigger
	switch {
	case !e.x.TriggerAt.IsZero():
		// Only the agreed instant triggers a shared test.
		t := time.NewTimer(time.Until(e.x.TriggerAt))
		defer t.Stop()
		after, manual = t.C, nil
	case e.cfg.holdFor(e.cfg.ShutdownAfter) > 0:
		t := time.NewTimer(e.cfg.holdFor(e.cfg.ShutdownAfter))
		defer t.Stop()
		after = t.C
	}
	tick := time.NewTicker(snapshotEvery)
	defer tick.Stop()
	for {
		ready := isReady()
		e.publish()
		select {
		case <-ctx.Done():
			return ready
		case <-manual:
			return ready
		case <-after:
			return ready
		case <-e.ctl.adjust:
		case <-tick.C:
		}
	}
}

// triggerAndObserve triggers shutdown, tries new connections and the
// kept-alive one, and observes until every client has ended, the process
// has exited (unless it is expected to keep running) and the admission
// series has ended, or trigger + drain timeout. An error says the trigger
// could not be carried out.
func (e *extIteration) triggerAndObserve(ctx context.Context) error {
	if ctx.Err() != nil {
		e.it.Interrupted = true
	}
	if e.sampler != nil {
		e.sampler.Drain()
	}
	e.trigger = e.triggerInstant()
	e.phase = PhaseDraining
	if e.rate != nil {
		e.rate.triggerAt(e.trigger, e.cfg.DrainTimeout)
	}
	stop := make(chan struct{})
	seriesDone := make(chan struct{})
	var series []AdmissionProbe
	e.wg.Add(1)
	// Tries a new connection every admissionEvery until one is refused
	// or observation ends (stop); each attempt is bounded by its own
	// timeouts.
	go func() {
		defer e.wg.Done()
		defer close(seriesDone)
		series = e.admissionSeries(stop)
	}()
	trigErr := e.fire()
	if s := e.rec.Sync; s != nil && !s.TriggerAt.IsZero() && e.x.Trigger.Kind != TriggerNone {
		s.Fired = e.now()
	}
	var keepProbe []AdmissionProbe
	if e.keep != nil {
		keepProbe = append(keepProbe, e.keep.probe(e.x, e.addr, e.clock))
	}
	deadline := e.origin.Add(e.trigger + e.cfg.DrainTimeout)
	observed := func() bool {
		return closed(seriesDone) && e.allEnded() && (e.state == nil || e.state.done())
	}
	// A process expected to keep running is watched to the deadline: it
	// must still run then, not only when its clients have ended (a server
	// exits some time after it closed them).
	ended := e.waitUntil(e.ctl.abort, time.Until(deadline), func() bool {
		return observed() && (e.proc == nil || e.proc.exited())
	})
	e.it.AllEnded = ended || e.x.KeepsRunning && observed()
	if closed(e.ctl.abort) {
		e.it.Interrupted = true
	}
	if e.rate != nil {
		e.rate.stop("the drain had ended")
	}
	close(stop)
	<-seriesDone
	e.it.Admission = append(summarise(series, &e.rec.Series), keepProbe...)
	e.settle(deadline)
	e.it.ObservedUntil = e.now()
	e.phase = PhaseDrained
	return trigErr
}

// fire carries out the trigger, and records what it did.
func (e *extIteration) fire() error {
	t := e.x.Trigger
	switch t.Kind {
	case TriggerNone:
		e.rec.TriggerDetail = "none: another runner triggers at " + e.x.TriggerAt.UTC().Format(time.RFC3339Nano)
	case TriggerSignal, TriggerCtrlBreak:
		if e.proc == nil {
			return errNoProcess
		}
		var err error
		if t.Kind == TriggerSignal {
			err = sendSignal(e.proc.pid, t.Signal)
		} else {
			err = sendCtrlBreak(e.proc.pid)
		}
		if err != nil {
			return fmt.Errorf("trigger %s to process %d: %w", t, e.proc.pid, err)
		}
		e.rec.TriggerDetail = fmt.Sprintf("sent %s to process %d", t, e.proc.pid)
	case TriggerHTTP:
		req, err := http.NewRequest(t.Method, "http://"+e.addr+t.Path, strings.NewReader(t.Body))
		if err != nil {
			return fmt.Errorf("trigger %s: %w", t, err)
		}
		if t.Body == "" {
			req.Body, req.ContentLength = nil, 0
		}
		addHeaders(req, e.x.Header)
		req.Close = true
		resp, _, _, err := roundTrip(e.addr, nil, req, triggerWait)
		if err != nil {
			return fmt.Errorf("trigger %s: %w", t, err)
		}
		e.rec.TriggerDetail = fmt.Sprintf("%s %s answered %s", t.Method, t.Path, resp.Status)
	case TriggerCmd:
		ctx, cancel := context.WithTimeout(context.Background(), triggerWait)
		defer cancel()
		line := e.commandLine(t.Command)
		cmd := shellCommand(ctx, line)
		cmd.WaitDelay = outputWait
		out, err := cmd.CombinedOutput()
		words := strings.Join(strings.Fields(string(out)), " ")
		if len(words) > outputLineMax {
			words = words[:outputLineMax] + "…"
		}
		if err != nil {
			return fmt.Errorf("trigger %s: %w (ran %q, output: %q)", t, err, line, words)
		}
		e.rec.TriggerDetail = fmt.Sprintf("ran %q: exited 0 (output: %q)", line, words)
	}
	return nil
}

// commandLine is a cmd: trigger's command with PIDPlaceholder replaced by
// the server's process id and PortPlaceholder by its port, the two things
// a command cannot otherwise learn when the tool picked them.
func (e *extIteration) commandLine(command string) string {
	_, port, _ := net.SplitHostPort(e.addr)
	pid := ""
	if e.proc != nil {
		pid = strconv.Itoa(e.proc.pid)
	}
	return strings.NewReplacer(PIDPlaceholder, pid, PortPlaceholder, port).Replace(command)
}

// admissionSeries tries a new connection every admissionEvery from the
// trigger on until one is refused, or stop.
func (e *extIteration) admissionSeries(stop <-chan struct{}) []AdmissionProbe {
	var out []AdmissionProbe
	tick := time.NewTicker(admissionEvery)
	defer tick.Stop()
	for {
		req := externalRequest(e.x, e.addr, e.x.Page, KindHTTP)
		req.Close = true
		p := tryAdmission(e.addr, req, WhenAtTrigger, e.clock)
		out = append(out, p)
		if p.Outcome == AdmissionRefused {
			return out
		}
		select {
		case <-stop:
			return out
		case <-tick.C:
		}
	}
}

// summarise keeps of the series its first attempt, its last admitted and
// its first refused one, and sums it up in s.
func summarise(series []AdmissionProbe, s *AdmissionSeries) []AdmissionProbe {
	var out []AdmissionProbe
	var last *AdmissionProbe
	for i := range series {
		p := series[i]
		s.Attempts++
		if !NotAdmitted(p.Outcome) {
			s.Admitted++
			if p.Outcome == AdmissionServed {
				last = &series[i]
			}
		}
		if p.Outcome == AdmissionRefused && !s.HasFirstRefused {
			s.FirstRefused, s.HasFirstRefused = p.At, true
		}
	}
	if len(series) > 0 {
		out = append(out, series[0])
	}
	if last != nil {
		s.LastAdmitted, s.HasLastAdmitted = last.At, true
		if last != &series[0] {
			p := *last
			p.When = WhenLastAdmitted
			out = append(out, p)
		}
	}
	if n := len(series); s.HasFirstRefused && n > 1 {
		p := series[n-1]
		p.When = WhenFirstRefused
		out = append(out, p)
	}
	return out
}

// allEnded: every client has an outcome.
func (e *extIteration) allEnded() bool {
	for _, c := range e.clients {
		c.mu.Lock()
		ended := c.ended
		c.mu.Unlock()
		if !ended {
			return false
		}
	}
	return true
}

// finish ends observation: outcomes are frozen first, so that what the
// tool does next (killing the process, closing connections) is no
// client's outcome; then the process is made to end (killed past the
// deadline, or at the end when it keeps running), its port is checked,
// and the clients are closed.
func (e *extIteration) finish() {
	for _, c := range e.clients {
		c.freeze()
	}
	if e.rate != nil {
		e.rate.halt(closed(e.ctl.abort)) // before the process is made to end
	}
	if e.proc != nil {
		exit, at, killAt := e.proc.end()
		if exit.Exited && !at.IsZero() {
			exit.At = e.clock(at)
		}
		if exit.Killed {
			exit.KilledAt = e.clock(killAt)
		}
		e.rec.Exit = exit
		e.rec.Output, e.rec.OutputLines = e.proc.out.last()
		if e.sampler != nil {
			e.rec.OS = e.sampler.Stop()
		}
		if exit.Exited && !e.x.KeepsRunning {
			e.rec.Port = portCheck(e.addr)
		}
		e.proc.release()
	}
	if e.state != nil {
		sr := e.state.end(stateEndWait)
		e.rec.State = &sr
		e.it.Server, e.it.ShutdownReturned = sr.Record()
		e.it.Server.Addr = e.addr
	}
	for _, c := range e.clients {
		c.halt()
	}
	join.Within(&e.wg, 10*time.Second)
	if e.env != nil {
		e.env.watch.Close() // every client has ended or halted
	}
	e.takeClock()
	threads := e.it.Server.ClientThreads() // made once: 2 MB at 9,900 clients
	e.it.Trigger = e.trigger
	if e.rate != nil {
		drained := e.it.ObservedUntil
		if e.rec.Exit.Exited {
			drained = e.rec.Exit.At
		}
		e.it.Rate = e.rate.finish(e.trigger, drained, threads, e.state != nil)
	}
	// The thread serving each client, by the peer the state endpoint
	// names: the client's own socket address.
	byPeer := map[string]int{}
	for _, th := range threads {
		byPeer[th.Peer] = th.ID
	}
	conns := e.conns(e.rec.OS)
	for _, c := range e.clients {
		cr := c.view()
		if cr.Local != "" {
			cr.Thread = byPeer[cr.Local]
		}
		switch {
		case cr.Outcome == OutcomePending:
			cr.Outcome, cr.Detail = OutcomeTimeout, "not ended by the deadline"
		case cr.Outcome == OutcomeTimeout || cr.EndedAt >= e.trigger:
		case c.Role == RoleIdle && cr.Outcome == OutcomeClosed:
			cr.Outcome = OutcomeClosedAfterResponse
			cr.Detail = fmt.Sprintf("closed by the server after its response, before the trigger (%s)", strings.TrimSuffix(strings.TrimPrefix(cr.Detail, "closed by the server ("), ")"))
		case c.Role == RoleInflight && cr.Outcome == OutcomeCompleted:
			e.tooFast = append(e.tooFast, c.ID)
			cr.Outcome, cr.Detail = OutcomeError, fmt.Sprintf("completed %.3fs before the trigger: the --slow path is too fast", (e.trigger-cr.EndedAt).Seconds())
		default:
			cr.Outcome, cr.Detail = OutcomeError, fmt.Sprintf("ended before the trigger (%s): %s", cr.Outcome, cr.Detail)
		}
		cr.Server = sideOf(conns[cr.Local])
		e.it.Clients = append(e.it.Clients, cr)
	}
	e.publish()
}

// portCheck looks at the server's port after its process has ended: a
// connection must be refused and a listener must be able to bind it.
func portCheck(addr string) PortCheck {
	pc := PortCheck{Checked: true}
	var words []string
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	switch {
	case err == nil:
		conn.Close()
		words = append(words, "a connection was accepted")
	case isRefused(err):
		pc.Refused = true
		words = append(words, "connections refused")
	default:
		words = append(words, "connect: "+err.Error())
	}
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
		pc.Bindable = true
		words = append(words, "bound again")
	} else {
		words = append(words, "bind: "+err.Error())
	}
	pc.Detail = strings.Join(words, ", ")
	return pc
}

// publish sends a snapshot to the live view at most every snapshotEvery,
// and at once when the phase changes. The server part holds only what is
// known of an external target: its address and the time.
func (e *extIteration) publish() {
	if e.obs.Snapshots == nil || (time.Since(e.lastPub) < snapshotEvery && e.phase == e.lastPh) {
		return
	}
	e.lastPub, e.lastPh = time.Now(), e.phase
	s := Snapshot{Iteration: e.n, Of: e.cfg.Iterations, Phase: e.phase, Trigger: e.trigger, Mix: e.it.Mix,
		NotReady: e.missing, ReadyAt: e.readyAt, Server: target.Snapshot{At: e.now(), Addr: e.addr}}
	// A copy: the record goes on being filled in on this goroutine while
	// the view reads the snapshot on its own.
	rec := *e.rec
	if e.proc != nil && !rec.Exit.Exited {
		rec.Exit, rec.Exit.At = e.proc.peek(e.clock)
	}
	s.External = &rec
	if e.rate != nil {
		t := e.rate.tally()
		s.Rate = &t
	}
	if e.state != nil {
		e.state.live(&s.Server)
	}
	var latest map[string]osobs.Conn
	if e.sampler != nil {
		// The view draws the server panel from the latest sample (it keeps
		// its own history of counts); the whole record comes with the result.
		rec := &osobs.Record{PID: e.proc.pid, Available: true, Samples: []osobs.Sample{e.sampler.Latest()}}
		s.External.OS = rec
		latest = e.conns(rec)
	}
	for _, c := range e.clients {
		cr := c.view()
		cr.Server = e.liveSide(latest, cr.Local)
		s.Clients = append(s.Clients, cr)
	}
	select {
	case e.obs.Snapshots <- s:
	default:
	}
}

// ExitDeadline is the instant (iteration clock) by which the process had
// to exit by itself.
func (r *ExternalRecord) ExitDeadline(trigger time.Duration) time.Duration {
	return trigger + r.DrainTimeout
}
