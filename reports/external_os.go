package reports

import (
	"fmt"
	"slices"
	"time"

	"shutdowntest/load"
	"shutdowntest/load/osobs"
)

// CheckServerClosedConnections judges, from the OS samples of an external
// server's process, who closed its clients' connections: the process
// while it lived, or the kernel at its exit.
const CheckServerClosedConnections = "server-closed-connections"

// osRecord is an external iteration's OS samples, or why there are none.
func osRecord(it *load.Iteration) (*osobs.Record, string) {
	x := it.External
	switch {
	case x == nil:
		return nil, skipEmbedded
	case x.OS == nil && x.PID == 0:
		return nil, "external target without a process to sample (launch it, or give --pid)"
	case x.OS == nil:
		return nil, "OS sampling was off (--no-os-sampling)"
	case !x.OS.Available:
		return nil, "the process could not be sampled: " + x.OS.Why
	}
	return x.OS, ""
}

// checkServerClosed: every client connection's server socket was closed
// by the server (gone from its descriptors, or FIN_WAIT and the like; not
// CLOSE_WAIT, which is the client's close) in a sample taken while the
// process was alive. One still open in the last sample before the exit
// was closed either by the
// server just before it exited or by the kernel at the exit; the samples
// cannot tell which, and the check says so (skip) rather than guess. One
// still open when the tool killed the process, or when observation
// ended for a process that keeps running, was not closed by the server.
func checkServerClosed(it *load.Iteration) Check {
	rec, why := osRecord(it)
	if rec == nil {
		return newCheck(StatusSkip, 0, "%s", why)
	}
	x := it.External
	exitAt, exited := x.Exit.At, x.Exit.Exited
	if !exited && rec.HasGone {
		exitAt, exited = rec.GoneAt, true
	}
	var closed, untold, bad []string
	var lastClose time.Duration
	locals := make([]string, 0, len(it.Clients))
	for _, c := range it.Clients {
		locals = append(locals, c.Local)
	}
	conns := rec.Conns(locals) // one pass over the samples for every client
	for _, c := range it.Clients {
		if c.Local == "" {
			continue
		}
		cn := conns[c.Local]
		name := fmt.Sprintf("client %d", c.ID)
		switch {
		case !cn.Seen:
			continue
		case cn.Closed && cn.ClosedAlive && !(x.Exit.Killed && cn.ClosedAt >= x.Exit.KilledAt):
			closed = append(closed, name)
			lastClose = max(lastClose, cn.ClosedAt)
		case cn.Closed && cn.ClosedAlive:
			// Seen closed while the process still showed, but only after
			// the tool had sent its kill: the kernel closed it.
			bad = append(bad, fmt.Sprintf("%s open until the tool killed the process at %s (closed by the kernel)", name, at(it, x.Exit.KilledAt)))
		case x.KeepsRunning || !exited:
			bad = append(bad, fmt.Sprintf("%s still open on the server (%s at %s) when observation ended", name, cn.States[len(cn.States)-1].State, at(it, cn.LastOpen)))
		case x.Exit.Killed:
			bad = append(bad, fmt.Sprintf("%s open until the tool killed the process at %s (closed by the kernel)", name, at(it, exitAt)))
		default:
			untold = append(untold, fmt.Sprintf("%s open at %s", name, at(it, cn.LastOpen)))
		}
	}
	n := len(closed) + len(untold) + len(bad)
	switch {
	case len(bad) > 0:
		return newCheck(StatusFail, n, "%d of %d client connections not closed by the server process: %s", len(bad), n, capJoin(bad, "; "))
	case len(untold) > 0:
		return newCheck(StatusSkip, n, "cannot tell for %d of %d client connections: still open in the last sample before the process exited at %s, within one sampling interval (%s) of it, so the server's close and the kernel's at exit look the same: %s",
			len(untold), n, at(it, exitAt), dur(rec.Interval), capJoin(untold, "; "))
	case n == 0:
		return newCheck(StatusSkip, 0, "no client connection was seen in the samples")
	}
	end := "the process kept running"
	if exited {
		end = "the process exited at " + at(it, exitAt)
	}
	return newCheck(StatusPass, n, "%d/%d client connections closed by the server process while it lived (last seen closed at %s); %s", n, n, at(it, lastClose), end)
}

// checkThreadLeakExternal: for a server that keeps running after the
// trigger, the threads and sockets created after the baseline sample that
// are still there once the port has closed and --settle has passed are
// leaks. A server that exits takes its threads with it.
func checkThreadLeakExternal(it *load.Iteration) Check {
	rec, why := osRecord(it)
	x := it.External
	switch {
	case rec == nil:
		return newCheck(StatusSkip, 0, "%s", why)
	case !x.KeepsRunning:
		return newCheck(StatusSkip, 0, "the process exits after the trigger, and its threads with it (server-closed-connections judges its connections; --expect-exit none judges leaks)")
	case !rec.HasFinal:
		return newCheck(StatusSkip, 0, "the port never closed while observed: there is no moment after which a thread must be gone")
	}
	final := &rec.Samples[rec.Final]
	base := &rec.Samples[rec.Baseline]
	born, opened := rec.Born(final), rec.Opened(final)
	when := fmt.Sprintf("at %s (port closed %s, --settle %s)", at(it, final.At), at(it, x.Series.FirstRefused), dur(x.Settle))
	// A new thread is a client's leaked thread only if a sample saw it
	// serve a connection (blocked on one's descriptor). A runtime's or a
	// pool's threads (a Go server's netpoller, say) come and stay for
	// reasons of their own: they are named, not judged.
	serving := connectionThreads(rec)
	var leaked, others []osobs.Thread
	for _, t := range born {
		if serving[t.TID] {
			leaked = append(leaked, t)
		} else {
			others = append(others, t)
		}
	}
	born = leaked
	note := ""
	if len(others) > 0 {
		note = fmt.Sprintf("; %s never seen serving a connection, not counted: %s", plural(len(others), "other new thread", "other new threads"),
			capJoin(threadWords(others), ", "))
	}
	if len(born)+len(opened) == 0 {
		return newCheck(StatusPass, len(final.Threads), "no thread or socket created after the baseline to serve a client (%d threads, %d sockets) was left %s%s",
			len(base.Threads), len(base.Sockets), when, note)
	}
	words := threadWords(born)
	for _, k := range opened {
		words = append(words, fmt.Sprintf("socket fd %d %s peer %s", k.FD, k.TCPState, k.Peer))
	}
	return newCheck(StatusFail, len(born)+len(opened), "%s and %s created after the baseline still there %s: %s%s",
		plural(len(born), "thread", "threads"), plural(len(opened), "socket", "sockets"), when, capJoin(words, ", "), note)
}

// threadWords names threads with what they were blocked in.
func threadWords(ts []osobs.Thread) []string {
	words := make([]string, 0, len(ts))
	for _, t := range ts {
		w := fmt.Sprintf("thread %d", t.TID)
		if b := t.BlockedIn(); b != "" {
			w += " in " + b
		}
		if t.FD >= 0 {
			w += fmt.Sprintf(" (fd %d)", t.FD)
		}
		words = append(words, w)
	}
	return words
}

// connectionThreads are the threads some sample saw blocked on the
// descriptor of a connection (a socket that is not the listener) in their
// own process.
func connectionThreads(rec *osobs.Record) map[int]bool {
	type fd struct{ pid, fd int }
	out := map[int]bool{}
	for i := range rec.Samples {
		s := &rec.Samples[i]
		conn := map[fd]bool{}
		for _, k := range s.Sockets {
			if k.FD >= 0 && k.TCPState != osobs.StateListen {
				conn[fd{k.PID, k.FD}] = true
			}
		}
		for _, t := range s.Threads {
			if t.FD >= 0 && conn[fd{t.PID, t.FD}] {
				out[t.TID] = true
			}
		}
	}
	return out
}

// OS is what sampling an external server's process showed, in the JSON
// report: how it was sampled and at what cost, whether its threads serve
// one connection each, and one lane per server socket or thread with its
// state's changes (times in ms after the trigger).
type OS struct {
	Available bool   `json:"available"`
	Why       string `json:"why"`
	PID       int    `json:"pid"`
	// Processes is the most processes of the tree (the launched one and
	// its descendants) one sample followed; ProcessesCut the most it
	// left out past its bound.
	Processes    int    `json:"processes"`
	ProcessesCut int    `json:"processes_cut"`
	Method       string `json:"method"`
	Taken        int    `json:"samples_taken"`
	// CostUS is the mean wall time of one sample, IntervalMS the longest
	// pause between two while draining.
	CostUS     float64 `json:"cost_per_sample_us"`
	IntervalMS float64 `json:"interval_ms"`
	MaxSockets int     `json:"max_sockets"`
	// ThreadPerConnection: a thread was seen blocked on a client
	// connection's descriptor; Model says in words what was seen.
	ThreadPerConnection bool     `json:"thread_per_connection"`
	Model               string   `json:"model"`
	BaselineThreads     int      `json:"baseline_threads"`
	Lanes               []OSLane `json:"lanes"`
}

// OSLane is one server socket or thread over the samples.
type OSLane struct {
	Kind   string `json:"kind"` // socket or thread
	ID     string `json:"id"`   // "fd 7 ← 127.0.0.1:40000", "thread 1234"
	PID    int    `json:"pid"`  // its process
	Client *int   `json:"client"`
	// Segments are its states from FromMS to ToMS (the last sample that
	// saw it so); gone ends the lane.
	Segments []OSSegment `json:"segments"`
}

// OSSegment is one state of a lane.
type OSSegment struct {
	State  string  `json:"state"`
	FromMS float64 `json:"from_ms"`
	ToMS   float64 `json:"to_ms"`
}

// ServerSide is a client's connection inside the server process, in the
// JSON report: its server socket's last state and process, and the
// thread serving it.
type ServerSide struct {
	PID       int    `json:"pid"`
	Socket    string `json:"socket"`
	Thread    *int   `json:"thread"`
	BlockedIn string `json:"blocked_in"`
}

func serverSideOf(c load.ClientResult) *ServerSide {
	s := c.Server
	if s.Socket == "" {
		return nil
	}
	out := &ServerSide{PID: s.PID, Socket: s.Socket, BlockedIn: s.BlockedIn}
	if s.Thread != 0 {
		tid := s.Thread
		out.Thread = &tid
	}
	return out
}

// osBlock builds the JSON's os block of an external iteration; nil when
// nothing was sampled.
func osBlock(it *load.Iteration) *OS {
	x := it.External
	if x == nil || x.OS == nil {
		return nil
	}
	rec := x.OS
	o := &OS{Available: rec.Available, Why: rec.Why, PID: rec.PID, Processes: rec.Processes, ProcessesCut: rec.Cut, Method: rec.Method, Taken: rec.Taken,
		CostUS: float64(rec.MeanCost().Microseconds()), IntervalMS: ms(rec.Interval), MaxSockets: rec.MaxSockets, Lanes: []OSLane{}}
	if !rec.Available || len(rec.Samples) == 0 {
		return o
	}
	o.BaselineThreads = len(rec.Samples[rec.Baseline].Threads)
	rel := func(d time.Duration) float64 { return ms(d - it.Trigger) }
	byPeer := map[string]int{}
	for _, c := range it.Clients {
		if c.Local == "" {
			continue
		}
		byPeer[c.Local] = c.ID
		if c.Server.Thread != 0 {
			o.ThreadPerConnection = true
		}
	}
	o.Model = "no thread was seen blocked on a client connection's descriptor: an event loop or a runtime (Go) multiplexes the connections, so there is no thread per client to show"
	if o.ThreadPerConnection {
		o.Model = "thread per connection: each client's server thread was seen blocked on its connection's descriptor"
	}
	o.Lanes = osLanes(rec, rel, byPeer)
	return o
}

// osLanes turns the samples into one lane per socket and per thread that
// was not in the baseline (the server's own threads before any client
// stay out, so the lanes are the clients' part), in order of appearance.
func osLanes(rec *osobs.Record, rel func(time.Duration) float64, byPeer map[string]int) []OSLane {
	type laneAt struct {
		lane *OSLane
		open bool
	}
	lanes := map[string]*laneAt{}
	var order []string
	base := map[int]bool{}
	for _, t := range rec.Samples[rec.Baseline].Threads {
		base[t.TID] = true
	}
	see := func(key, kind, id string, pid int, client *int, state string, s *osobs.Sample) {
		l := lanes[key]
		if l == nil {
			l = &laneAt{lane: &OSLane{Kind: kind, ID: id, PID: pid, Client: client}}
			lanes[key] = l
			order = append(order, key)
		}
		segs := &l.lane.Segments
		if n := len(*segs); n > 0 && (*segs)[n-1].State == state {
			(*segs)[n-1].ToMS = rel(s.Until)
		} else {
			*segs = append(*segs, OSSegment{State: state, FromMS: rel(s.At), ToMS: rel(s.Until)})
		}
		l.open = state != osobs.StateGone
	}
	for i := range rec.Samples {
		s := &rec.Samples[i]
		present := map[string]bool{}
		for _, k := range s.Sockets {
			key := "s" + k.Key()
			present[key] = true
			var client *int
			if id, ok := byPeer[k.Peer]; ok {
				client = &id
			}
			see(key, "socket", socketName(k), k.PID, client, k.TCPState, s)
		}
		for _, t := range s.Threads {
			if base[t.TID] {
				continue
			}
			key := fmt.Sprintf("t%d", t.TID)
			present[key] = true
			state := t.Syscall
			if state == "" {
				state = "running"
			}
			see(key, "thread", fmt.Sprintf("thread %d", t.TID), t.PID, nil, state, s)
		}
		for _, key := range order {
			if l := lanes[key]; l.open && !present[key] {
				see(key, l.lane.Kind, l.lane.ID, l.lane.PID, l.lane.Client, osobs.StateGone, s)
			}
		}
	}
	out := make([]OSLane, 0, len(order))
	for _, key := range order {
		out = append(out, *lanes[key].lane)
	}
	return out
}

func socketName(k osobs.Socket) string {
	name := "socket"
	if k.FD >= 0 {
		name = fmt.Sprintf("fd %d", k.FD)
	}
	if k.TCPState == osobs.StateListen {
		return name + " listener " + k.Local
	}
	return name + " ← " + k.Peer
}

// osDrain fills an external iteration's drain figures from the samples:
// the listener gone, the last client socket gone, the last thread created
// after the baseline gone, and the process's exit.
func osDrain(it *load.Iteration, d *Drain) {
	rel := func(t time.Duration) *float64 { v := ms(t - it.Trigger); return &v }
	if x := it.External; x.PID != 0 && x.Exit.Exited && !x.Exit.Killed {
		d.ProcessExitMS = rel(x.Exit.At)
	}
	rec, _ := osRecord(it)
	if rec == nil || len(rec.Samples) == 0 {
		return
	}
	listening, sockets, threads := true, true, true
	for i := range rec.Samples {
		s := &rec.Samples[i]
		if s.At < it.Trigger {
			continue
		}
		if listening && !s.Listening() {
			listening, d.ListenerClosedMS = false, rel(s.At)
		}
		if sockets && !slices.ContainsFunc(s.Sockets, func(k osobs.Socket) bool { return k.TCPState != osobs.StateListen }) {
			sockets, d.LastSocketClosedMS = false, rel(s.At)
		}
		if threads && len(rec.Born(s)) == 0 {
			threads, d.LastThreadExitMS = false, rel(s.At)
		}
	}
}

// osLine is the summary's line for the samples: of which processes, how,
// at what cost, and whether the threads serve one connection each.
func osLine(o *OS) string {
	if !o.Available {
		return "os samples: none (" + o.Why + ")"
	}
	model := "threads not per connection (event loop or runtime)"
	if o.ThreadPerConnection {
		model = "thread per connection"
	}
	who := fmt.Sprintf("pid %d", o.PID)
	if o.Processes > 1 {
		who += fmt.Sprintf(" and its descendants (%d processes at most)", o.Processes)
	}
	if o.ProcessesCut > 0 {
		who += fmt.Sprintf(" (%d more processes left out)", o.ProcessesCut)
	}
	return fmt.Sprintf("os samples: %s by %s, %d samples at %s each, every %s while draining, %d sockets at most; %s",
		who, o.Method, o.Taken, dur(time.Duration(o.CostUS)*time.Microsecond), dur(time.Duration(o.IntervalMS*float64(time.Millisecond))), o.MaxSockets, model)
}
