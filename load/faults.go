package load

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"shutdowntest/target"
)

// FaultPortBusy is the one fault the engine injects without the server's
// help: another listener takes the server's port first, so the bind fails
// and the run cannot be carried out (exit 3).
const FaultPortBusy target.Fault = "port-busy"

// Faults lists every fault a run can inject: the server's (target.Faults)
// and the engine's own.
var Faults = append(slices.Clip(target.Faults), FaultPortBusy)

// FaultBugs says which bug of the eMuleBB series each fault exposes, for
// --help and the README.
var FaultBugs = map[target.Fault]string{
	target.FaultAcceptStorm:  "connections keep arriving through the shutdown; the accept event keeps winning over terminate (BUG-080: legacy's TerminateThread)",
	target.FaultRestart:      "a second server generation starts in the same process, on the same handle table, while the old client threads may be alive (BUG-088)",
	target.FaultSpawnWindow:  "a client thread runs before it is tracked and tracking fails, so no join covers it (BUG-095)",
	target.FaultSpawnFail:    "creating a client thread fails: its socket must be closed and its SocketData freed (BUG-079's failure path)",
	target.FaultStuckHandler: "a request handler never returns, so its thread never sees terminate",
	target.FaultSlowTLS:      "a client sends its TLS handshake a byte at a time; before hardened the thread spins on WANT_READ out of terminate's reach (BUG-081; needs --https)",
	FaultPortBusy:            "the server's port is taken: the bind fails, one line, exit 3",
}

// ParseFault checks a fault name against Faults.
func ParseFault(s string) (target.Fault, error) { return target.ParseName("fault", s, Faults) }

// hasFault reports whether the run injects f.
func (c Config) hasFault(f target.Fault) bool { return slices.Contains(c.Faults, f) }

// serverFaults are the faults the server itself takes as knobs.
func (c Config) serverFaults() []target.Fault {
	var out []target.Fault
	for _, f := range c.Faults {
		if slices.Contains(target.Faults, f) {
			out = append(out, f)
		}
	}
	return out
}

// Storm bounds: two dialling workers, and at most stormLimit connections in
// one iteration, so the storm's sockets stay well inside the open-file
// limit while it outlasts any join budget a run can watch (the listener
// takes each one at target's modelled accept cost).
const (
	stormWorkers = 2
	stormLimit   = 4000
)

// stormRun is the accept-storm fault's client side under way.
type stormRun struct {
	stop  chan struct{}
	done  chan struct{}
	made  int64
	from  time.Duration
	until time.Duration
	once  sync.Once
}

// startStorm starts target.Storm against the server. Its goroutine ends
// when end is called (the engine calls it once shutdown has returned, at
// the end of observation, and in finish) or at stormLimit connections.
func (r *iteration) startStorm() {
	s := &stormRun{stop: make(chan struct{}), done: make(chan struct{}), from: r.srv.Now()}
	r.storm = s
	addr := r.srv.Addr()
	go func() {
		defer close(s.done)
		s.made = target.Storm(addr, stormWorkers, stormLimit, s.stop)
	}()
	// Let it build up before the trigger, bounded: the point is a
	// listener that is busy accepting when terminate is signalled.
	r.waitUntil(r.ctl.abort, time.Second, func() bool { return r.snap.Accepted >= 50 })
}

// endStorm stops the storm and waits for it; the first call records it.
func (r *iteration) endStorm() {
	s := r.storm
	if s == nil {
		return
	}
	s.once.Do(func() {
		close(s.stop)
		<-s.done // every dial is bounded (target.Storm)
		s.until = r.srv.Now()
		r.genMu.Lock()
		defer r.genMu.Unlock()
		r.it.FaultEvents = append(r.it.FaultEvents, target.FaultEvent{At: s.from, Fault: target.FaultAcceptStorm,
			Detail: fmt.Sprintf("%d connections made from t%+.3fs to t%+.3fs (%d workers)", s.made,
				(s.from - r.trigger).Seconds(), (s.until - r.trigger).Seconds(), stormWorkers)})
	})
}

// faultProbe is the connection the spawn faults hit: the first the server
// accepts (target.Config.SpawnFaultAt 1), made before the route probes.
// It asks for the status and, if answered, holds the connection open like
// an idle client; if the server closed it, it is closed; if nothing came
// within its bound (a thread that was never created), it stays open, as a
// client would wait.
type faultProbe struct {
	conn  net.Conn
	local string
	open  bool
}

// faultProbeWait bounds how long the fault probe waits for an answer.
const faultProbeWait = 300 * time.Millisecond

func (r *iteration) startFaultProbe() {
	conn, err := dial(r.srv.Addr(), r.creds.tls)
	if err != nil {
		return
	}
	p := &faultProbe{conn: conn, local: conn.LocalAddr().String(), open: true}
	r.probe = p
	r.it.FaultProbe = p.local
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.srv.Addr()+"/api/v1/status", nil)
	req.Header.Set("X-API-Key", r.creds.apiKey)
	_ = conn.SetDeadline(time.Now().Add(faultProbeWait))
	if req.Write(conn) != nil {
		return
	}
	resp, _, err := readResponse(bufio.NewReader(conn), req)
	_ = conn.SetDeadline(time.Time{})
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return // nothing answered: hold on
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		_ = conn.Close()
		p.open = false
	}
}

// closeFaultProbe ends the fault probe's connection.
func (r *iteration) closeFaultProbe() {
	if r.probe != nil && r.probe.open {
		_ = r.probe.conn.Close()
		r.probe.open = false
	}
}

// restart is the restart fault: once the first generation's shutdown has
// returned, a second generation starts on the same kernel, while the old
// client threads may still be alive; it is shut down and closed before the
// first (newest first), and what it did is a fault event.
func (r *iteration) restart() {
	r.genMu.Lock()
	defer r.genMu.Unlock()
	if r.genDone {
		return
	}
	r.genDone = true
	tc := r.cfg.targetConfig()
	tc.Addr, tc.Kernel, tc.Faults = "", r.srv.Kernel(), nil
	ev := target.FaultEvent{At: r.srv.Now(), Fault: target.FaultRestart}
	srv, err := target.New(tc)
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		ev.Detail = "generation 2 did not start: " + err.Error()
		r.it.FaultEvents = append(r.it.FaultEvents, ev)
		return
	}
	r.gen2 = srv
	term, old := srv.Terminate().Value(), r.srv.Terminate().Value()
	ev.Detail = fmt.Sprintf("generation 2 started on %s; its terminate is %#x", srv.Addr(), term)
	if term == old {
		ev.Detail += ", generation 1's closed value"
	}
	r.it.FaultEvents = append(r.it.FaultEvents, ev)
}

// endRestart shuts the second generation down and closes it.
func (r *iteration) endRestart() {
	r.genMu.Lock()
	defer r.genMu.Unlock()
	r.genDone = true
	if r.gen2 == nil {
		return
	}
	srec, _ := r.gen2.Shutdown()
	r.gen2.Close()
	outcome := "completed"
	if !srec.Completed() {
		outcome = "did not complete"
	}
	r.it.FaultEvents = append(r.it.FaultEvents, target.FaultEvent{At: r.srv.Now(), Fault: target.FaultRestart,
		Detail: "generation 2 shut down and closed: its shutdown " + outcome})
	r.gen2 = nil
}

// occupy takes a free loopback port for the port-busy fault and returns
// its address; the listener is closed when the iteration ends.
func (r *iteration) occupy() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("port-busy: take a port: %w", err)
	}
	r.blocker = ln
	return ln.Addr().String(), nil
}
