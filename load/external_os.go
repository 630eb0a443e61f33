package load

import (
	"net"
	"strconv"
	"time"

	"shutdowntest/load/osobs"
)

// ServerSide is what the OS samples showed of a client's connection inside
// an external server's process tree (see osobs): its server socket's
// state and process and, for a thread-per-connection server, the thread
// blocked on that socket's descriptor and what it was blocked in. Empty
// when not sampled.
type ServerSide struct {
	// PID is the process holding the server socket: the launched one,
	// or a worker it started.
	PID int
	// Socket is the server socket's last state seen: ESTABLISHED,
	// CLOSE_WAIT, FIN_WAIT2, …, or gone; empty when no sample had it.
	Socket string
	// Thread is the server thread serving it (0: none seen), BlockedIn
	// what it was last seen blocked in.
	Thread    int
	BlockedIn string
}

// startSampling starts sampling the server's process, when there is one,
// for the whole iteration; the first sample is the baseline, taken before
// any client opens. Where it cannot be sampled the record says why.
func (e *extIteration) startSampling() {
	if e.proc == nil || e.x.NoSampling {
		return
	}
	port := uint16(0)
	if _, p, err := net.SplitHostPort(e.addr); err == nil {
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			port = uint16(n)
		}
	}
	s, err := osobs.Start(e.proc.pid, port, e.clock)
	if err != nil {
		e.rec.OS = &osobs.Record{PID: e.proc.pid, Why: err.Error()}
		return
	}
	e.sampler = s
}

// settle waits, for a server expected to keep running, until Settle has
// passed since its port closed (within deadline), and then takes the
// sample the leak check reads: threads and sockets created after the
// baseline and still there are leaks. Without a closed port there is no
// such sample, and the check says why.
func (e *extIteration) settle(deadline time.Time) {
	if e.sampler == nil || !e.x.KeepsRunning || !e.rec.Series.HasFirstRefused || closed(e.ctl.abort) {
		return
	}
	wait := min(time.Until(e.origin.Add(e.rec.Series.FirstRefused+e.x.Settle)), time.Until(deadline))
	select {
	case <-e.ctl.abort:
		return
	case <-time.After(wait):
	}
	e.sampler.Final()
}

// liveSide is a client's server side for a live snapshot: the latest
// sample's, or once a socket seen before is no longer there, that one
// gone (with the thread that served it), as the whole record will say.
func (e *extIteration) liveSide(latest map[string]osobs.Conn, local string) ServerSide {
	s := sideOf(latest[local])
	if local == "" || latest == nil {
		return s
	}
	if e.sides == nil {
		e.sides = map[string]ServerSide{}
	}
	before, seen := e.sides[local]
	switch {
	case s.Socket != "":
		if s.Thread == 0 {
			s.Thread, s.BlockedIn = before.Thread, before.BlockedIn
		}
	case seen:
		s = before
		s.Socket = osobs.StateGone
	default:
		return s
	}
	e.sides[local] = s
	return s
}

// sideOf is a client's server side as the samples show its connection:
// from the latest sample while running, from the whole record at the end.
func sideOf(c osobs.Conn) ServerSide {
	return ServerSide{PID: c.PID, Socket: c.State(), Thread: c.Thread, BlockedIn: c.BlockedIn}
}

// conns are the clients' connections as rec shows them, by local address
// (Record.Conns: one pass over its samples for all of them).
func (e *extIteration) conns(rec *osobs.Record) map[string]osobs.Conn {
	if rec == nil {
		return nil
	}
	locals := make([]string, 0, len(e.clients))
	for _, c := range e.clients {
		if l := c.localAddr(); l != "" {
			locals = append(locals, l)
		}
	}
	return rec.Conns(locals)
}
