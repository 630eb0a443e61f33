package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"shutdowntest/internal/goldenfile"
	"shutdowntest/load"
	"shutdowntest/reports"
	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// The view's golden files are View's output with the ANSI stripped, at a
// fixed size, with the colour profile pinned (TestMain). Rewrite them with
//
//	go test ./tui -run Golden -update

// The fixtures are one iteration on a server clock that starts at 0: route
// probes are served by client threads 2-4, the six clients (Mix.Specs
// order: http idle, http in-flight, rest idle, rest in-flight, ws, tcp
// silent) by threads 5-10, and shutdown is triggered at 3s.
const (
	fxAddr    = "127.0.0.1:40000"
	fxTrigger = 3 * time.Second
	fxTerm    = 0x44 // the terminate event's handle value
)

var fxMix = load.Mix{HTTPIdle: 1, HTTPInflight: 1, RESTIdle: 1, RESTInflight: 1, WS: 1, Silent: 1}

// fxAt is ms after the server started; fxT is ms after the trigger.
func fxAt(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
func fxT(ms float64) time.Duration  { return fxTrigger + fxAt(ms) }

func fxConfig(p target.Policy) load.Config {
	cfg := load.Config{Policy: p, Mix: fxMix, InflightFor: 300 * time.Millisecond, DrainTimeout: 10 * time.Second,
		ReadyTimeout: 10 * time.Second, Iterations: 1}
	if p == target.PolicyFixed {
		cfg.MaxDrain = 2 * time.Second
	}
	return cfg
}

// fxRun is one iteration's whole story under a policy: the records the
// live snapshots are cut from, and the iteration the run ends with.
type fxRun struct {
	policy     target.Policy
	threads    []kernel.ThreadRecord // listener first, then client threads by id
	kinds      map[int]load.Spec     // client thread id → the client it serves
	steps      []target.Step
	returned   time.Duration
	term       target.TerminateTimes
	aliveClose []int
	failures   []kernel.WaitFailure
	violations []kernel.Violation
	clients    []load.ClientResult // as the iteration ends
	admission  []load.AdmissionProbe
	observed   time.Duration
}

func fxState(s target.State, at time.Duration) kernel.StateRecord {
	return kernel.StateRecord{State: s, At: at}
}

func fxLocal(id int) string { return fmt.Sprintf("127.0.0.1:%d", 50000+id) }

// fxExit is when each client thread of a policy leaves and exits; for the
// in-flight and ws threads the states in between are their own.
type fxExit struct{ cleanup, exited time.Duration }

func newFxRun(p target.Policy) *fxRun {
	r := &fxRun{policy: p, kinds: map[int]load.Spec{}}
	legacy := p == target.PolicyLegacy
	listenerExit := fxT(1.1)
	if legacy {
		listenerExit = fxT(3.8)
	}
	r.threads = append(r.threads, kernel.ThreadRecord{ID: 1, Name: target.ThreadListener, Handle: 0x48,
		States: []kernel.StateRecord{fxState(kernel.StateSpawning, fxAt(0.1)), fxState(target.StateWait, fxAt(0.2)),
			fxState(target.StateCleanup, listenerExit-fxAt(0.1)), fxState(target.StateExited, listenerExit)},
		Exited: true, ExitedAt: listenerExit})
	// Route probes: one connection each, served and gone before the clients.
	for i := range 3 {
		s := fxAt(20 + 10*float64(i))
		id := 2 + i
		r.threads = append(r.threads, kernel.ThreadRecord{ID: id, Name: target.ThreadClient, Client: true,
			Peer: fmt.Sprintf("127.0.0.1:%d", 49001+i), Handle: uint32(0x50 + 4*i),
			States: []kernel.StateRecord{fxState(kernel.StateSpawning, s), fxState(target.StateInit, s+fxAt(0.1)),
				fxState(target.StateWait, s+fxAt(0.2)), fxState(target.StateRead, s+fxAt(0.4)),
				fxState(target.StateProcess, s+fxAt(0.5)), fxState(target.StateSend, s+fxAt(0.9)),
				fxState(target.StateLinger, s+fxAt(1.2)), fxState(target.StateCleanup, s+fxAt(1.6)),
				fxState(target.StateExited, s+fxAt(1.7))},
			Exited: true, ExitedAt: s + fxAt(1.7)})
	}
	// When each client's thread leaves: fixed signals terminate and joins
	// every thread; legacy closes terminate at t+4ms, with threads 6-9
	// (http in-flight, rest idle, rest in-flight, ws) still alive.
	exits := map[load.Role]map[load.Kind]fxExit{}
	set := func(k load.Kind, ro load.Role, c, e float64) {
		if exits[ro] == nil {
			exits[ro] = map[load.Kind]fxExit{}
		}
		exits[ro][k] = fxExit{fxT(c), fxT(e)}
	}
	if legacy {
		set(load.KindHTTP, load.RoleIdle, 0.9, 1.0)
		set(load.KindHTTP, load.RoleInflight, 300.8, 300.9)
		set(load.KindREST, load.RoleIdle, 5.1, 5.2)
		set(load.KindREST, load.RoleInflight, 301.1, 301.2)
		set(load.KindWS, load.RoleStream, 6.0, 6.1)
		set(load.KindTCP, load.RoleSilent, 1.4, 1.5)
	} else {
		set(load.KindHTTP, load.RoleIdle, 0.9, 1.0)
		set(load.KindHTTP, load.RoleInflight, 300.7, 300.8)
		set(load.KindREST, load.RoleIdle, 1.1, 1.2)
		set(load.KindREST, load.RoleInflight, 300.9, 301.0)
		set(load.KindWS, load.RoleStream, 2.0, 2.1)
		set(load.KindTCP, load.RoleSilent, 0.6, 0.7)
	}
	for i, sp := range fxMix.Specs() {
		id := 5 + i
		s := fxAt(100 + 2*float64(i))
		x := exits[sp.Role][sp.Kind]
		r.kinds[id] = sp
		st := []kernel.StateRecord{fxState(kernel.StateSpawning, s), fxState(target.StateInit, s+fxAt(0.05)),
			fxState(target.StateWait, s+fxAt(0.1))}
		c := load.ClientResult{Spec: sp, Local: fxLocal(sp.ID), Thread: id,
			States: []load.ClientState{{State: "connecting", At: s - fxAt(0.5)}, {State: "connected", At: s - fxAt(0.2)}}}
		switch sp.Role {
		case load.RoleIdle:
			st = append(st, fxState(target.StateRead, s+fxAt(0.3)), fxState(target.StateProcess, s+fxAt(0.4)),
				fxState(target.StateSend, s+fxAt(0.8)), fxState(target.StateLinger, s+fxAt(1.1)))
			c.States = append(c.States, load.ClientState{State: "request sent", At: s + fxAt(0.2)},
				load.ClientState{State: "response ok", At: s + fxAt(1.0)}, load.ClientState{State: "holding", At: s + fxAt(1.3)})
			c.Outcome, c.EndedAt = load.OutcomeClosed, x.cleanup
			c.Detail = fmt.Sprintf("response ok; server thread %d left linger and closed at t+%.3fs", id, (x.cleanup - fxTrigger).Seconds())
		case load.RoleInflight:
			// Held in process by the UI thread until t+300ms; answered,
			// then linger until the client has read it all.
			send := fxT(300.3)
			if sp.Kind == load.KindREST {
				send = fxT(300.4)
			}
			st = append(st, fxState(target.StateRead, s+fxAt(0.3)), fxState(target.StateProcess, s+fxAt(0.4)),
				fxState(target.StateSend, send), fxState(target.StateLinger, send+fxAt(0.3)))
			c.States = append(c.States, load.ClientState{State: "request sent", At: s + fxAt(0.2)},
				load.ClientState{State: "response ok", At: send + fxAt(0.2)})
			c.Outcome, c.EndedAt = load.OutcomeCompleted, send+fxAt(0.2)
			c.Detail = "200, 5120 bytes"
			if sp.Kind == load.KindREST {
				c.Detail = "200, 412 bytes"
			}
		case load.RoleStream:
			// Upgraded, then a stats message every 50ms; on terminate the
			// thread sends close 1001 and lingers for the client's close.
			st = append(st, fxState(target.StateRead, s+fxAt(0.3)), fxState(target.StateSend, s+fxAt(0.6)),
				fxState(target.StateWait, s+fxAt(0.9)), kernel.StateRecord{State: target.StateSend, At: fxT(-12.5), Repeats: 57},
				fxState(target.StateWait, fxT(-12.4)), fxState(target.StateSend, fxT(0.2)), fxState(target.StateLinger, fxT(0.3)))
			c.States = append(c.States, load.ClientState{State: "open", At: s + fxAt(0.7)})
			c.Outcome, c.EndedAt = load.WSClose(1001), fxT(0.5)
			c.Detail, c.Messages = `close 1001 "server shutting down"`, 58
		case load.RoleSilent:
			c.Outcome, c.EndedAt = load.OutcomeClosed, x.exited
			c.Detail = "silent connection: closed by the server"
		}
		if sp.Role != load.RoleIdle {
			c.States = append(c.States, load.ClientState{State: "ended", At: c.EndedAt})
		}
		st = append(st, fxState(target.StateCleanup, x.cleanup), fxState(target.StateExited, x.exited))
		r.threads = append(r.threads, kernel.ThreadRecord{ID: id, Name: target.ThreadClient, Client: true, Peer: fxLocal(sp.ID),
			Handle: uint32(0x60 + 4*i), States: st, Exited: true, ExitedAt: x.exited})
		r.clients = append(r.clients, c)
	}
	if legacy {
		r.steps = []target.Step{
			{Name: target.StepFreeTLS, Start: fxT(0.02), End: fxT(0.03), Outcome: target.StepOK},
			{Name: target.StepSignalTerminate, Start: fxT(0.05), End: fxT(0.1), Outcome: target.StepOK},
			{Name: target.StepJoinListener, Start: fxT(0.1), End: fxT(3.9), Budget: 1300 * time.Millisecond, Outcome: target.StepOK},
			{Name: target.StepCloseTerminate, Start: fxT(4.0), End: fxT(4.0), Outcome: target.StepOK},
		}
		r.returned = fxT(4.1)
		r.term = target.TerminateTimes{Signaled: true, SignaledAt: fxT(0.08), Closed: true, ClosedAt: fxT(4.0)}
		r.aliveClose = []int{6, 7, 8, 9}
		// The in-flight threads come back from their answer to linger,
		// wait on the closed value and fail.
		r.failures = []kernel.WaitFailure{{At: fxT(300.7), Thread: 6, Handle: fxTerm}, {At: fxT(301.0), Thread: 8, Handle: fxTerm}}
		for _, f := range r.failures {
			r.violations = append(r.violations, kernel.Violation{At: f.At, Kind: kernel.ViolationWaitOnClosed, Thread: f.Thread, Handle: f.Handle,
				Detail: fmt.Sprintf("thread %d waited on %#x, a closed handle: WAIT_FAILED", f.Thread, f.Handle)})
		}
		r.admission = []load.AdmissionProbe{
			{When: load.WhenAtTrigger, At: fxT(0.4), Local: fxLocal(7), Outcome: load.AdmissionClosed, Detail: "closed unserved"},
			{When: load.WhenAfterReturn, At: fxT(4.6), Outcome: load.AdmissionRefused, Detail: "connection refused"},
		}
		r.observed = fxT(302.0)
	} else {
		r.steps = []target.Step{
			{Name: target.StepSignalTerminate, Start: fxT(0.05), End: fxT(0.1), Outcome: target.StepOK},
			{Name: target.StepJoinListener, Start: fxT(0.1), End: fxT(1.2), Budget: 10 * time.Second, Outcome: target.StepOK},
			{Name: target.StepJoinClients, Start: fxT(1.2), End: fxT(301.1), Budget: 10 * time.Second, Outcome: target.StepOK,
				Detail: "6 client threads joined"},
			{Name: target.StepCloseTerminate, Start: fxT(301.2), End: fxT(301.2), Outcome: target.StepOK},
		}
		r.returned = fxT(301.3)
		r.term = target.TerminateTimes{Signaled: true, SignaledAt: fxT(0.08), Closed: true, ClosedAt: fxT(301.2)}
		r.admission = []load.AdmissionProbe{
			{When: load.WhenAtTrigger, At: fxT(0.4), Local: fxLocal(7), Outcome: load.AdmissionClosed, Detail: "closed unserved"},
			{When: load.WhenAfterReturn, At: fxT(301.6), Outcome: load.AdmissionRefused, Detail: "connection refused"},
		}
		r.observed = fxT(303.5)
	}
	return r
}

// readyAt is when every client was first in its intended state.
const fxReadyAt = 180 * time.Millisecond

// snapshot is what the engine would have published at t.
func (r *fxRun) snapshot(t time.Duration) load.Snapshot {
	s := load.Snapshot{Iteration: 1, Of: 1, Phase: load.PhaseHolding, Mix: fxMix, ReadyAt: fxReadyAt}
	if t >= fxTrigger {
		s.Phase, s.Trigger = load.PhaseDraining, fxTrigger
	}
	srv := &s.Server
	srv.At, srv.Addr, srv.Lifecycle = t, fxAddr, target.Running
	switch {
	case t >= r.returned:
		srv.Lifecycle = target.Done
	case t >= fxTrigger:
		srv.Lifecycle = target.ShuttingDown
	}
	closed := r.term.Closed && r.term.ClosedAt <= t
	tt := target.TerminateState{Handle: fxTerm}
	tt.Signaled, tt.SignaledAt = r.term.Signaled && r.term.SignaledAt <= t, r.term.SignaledAt
	if !tt.Signaled {
		tt.SignaledAt = 0
	}
	if closed {
		tt.Closed, tt.ClosedAt = true, r.term.ClosedAt
	}
	for _, th := range r.threads[1:] {
		if th.States[0].At > t {
			continue
		}
		cur := th.States[0]
		for _, h := range th.States {
			if h.At <= t {
				cur = h
			}
		}
		ts := target.ThreadState{ID: th.ID, Peer: th.Peer, State: cur.State, Since: cur.At}
		sp, isClient := r.kinds[th.ID]
		if isClient && sp.Role == load.RoleStream && t < fxTrigger {
			// Between two stats messages (one every 50ms): the folded
			// history does not say when the last one went.
			ts.State, ts.Since = target.StateWait, t-fxAt(19.1)
		}
		blocked := ts.State == target.StateWait || (ts.State == target.StateLinger && sp.Role != load.RoleStream)
		ts.OnTerm = isClient && blocked && !closed
		ts.Held = isClient && sp.Role == load.RoleInflight && ts.State == target.StateProcess
		if ts.OnTerm {
			tt.Waiters++
		}
		if ts.State != target.StateExited {
			tt.AliveClients++
			srv.Resources.OpenSockets++
			srv.Resources.SocketData++
		}
		srv.Threads = append(srv.Threads, ts)
	}
	srv.Terminate = tt
	srv.Accepted, srv.Served = int64(len(srv.Threads)), 3
	if t < fxTrigger || r.policy == target.PolicyFixed && t < fxT(1.1) {
		srv.Resources.OpenSockets++ // the listener
	}
	srv.Resources.OpenHandles = 4 + srv.Resources.SocketData
	for _, st := range r.steps {
		if st.End <= t {
			srv.Steps = append(srv.Steps, st)
		}
	}
	for _, f := range r.failures {
		if f.At <= t {
			srv.WaitFailures = append(srv.WaitFailures, f)
		}
	}
	for _, v := range r.violations {
		if v.At <= t {
			srv.Violations = append(srv.Violations, v)
		}
	}
	for _, fc := range r.clients {
		c := load.ClientResult{Spec: fc.Spec, Local: fc.Local, Outcome: load.OutcomePending}
		for _, cs := range fc.States {
			if cs.At <= t {
				c.States = append(c.States, cs)
			}
		}
		// An idle client never ends by itself: its outcome is read from
		// its server thread's record when the iteration ends.
		if fc.Role != load.RoleIdle && fc.EndedAt <= t {
			c.Outcome, c.Detail, c.EndedAt = fc.Outcome, fc.Detail, fc.EndedAt
		}
		if fc.Role == load.RoleStream {
			c.Messages = min(fc.Messages, int((min(t, fxTrigger)-fxAt(108.7))/(50*time.Millisecond)))
		}
		s.Clients = append(s.Clients, c)
	}
	return s
}

// iteration is the iteration's record as the engine returns it.
func (r *fxRun) iteration() load.Iteration {
	closes := []kernel.CloseRecord{{Handle: fxTerm, Name: target.EventTerminate, Kind: "event", At: r.term.ClosedAt,
		AliveCount: len(r.aliveClose), Stamp: 200}}
	tr := target.TerminateRecord{Handle: fxTerm, TerminateTimes: r.term, AliveAtClose: r.aliveClose}
	for _, f := range r.failures {
		if f.At >= r.term.ClosedAt {
			tr.WaitsAfterClose = append(tr.WaitsAfterClose, f)
		}
	}
	cfg := fxConfig(r.policy)
	return load.Iteration{
		N: 1, Addr: fxAddr, Trigger: fxTrigger, ObservedUntil: r.observed, AllEnded: true, MaxDrain: cfg.MaxDrain,
		Mix: fxMix, Ready: true, ShutdownReturned: true, SecondShutdown: 2 * time.Microsecond,
		Server: target.Record{
			Policy: r.policy, Addr: fxAddr,
			Shutdown: target.ShutdownRecord{Policy: r.policy, Trigger: fxTrigger, Returned: r.returned,
				Steps: append([]target.Step(nil), r.steps...)},
			Terminate: tr,
			Kernel: kernel.Record{Threads: append([]kernel.ThreadRecord(nil), r.threads...), Closes: closes,
				WaitFailures: r.failures, Violations: r.violations},
			ThreadsEnded: true, GoroutinesEnded: true, Accepted: 10,
		},
		Clients: append([]load.ClientResult(nil), r.clients...),
		Routes: []load.RouteProbe{
			{Name: "GET webui login", Local: "127.0.0.1:49001",
				Expected: load.RouteShape{Status: 200, ContentType: "text/html", Shape: "html:eMule Web Control Panel - Welcome"},
				Observed: load.RouteShape{Status: 200, ContentType: "text/html", Shape: "html:eMule Web Control Panel - Welcome"}},
			{Name: "GET webui transfer", Local: "127.0.0.1:49002",
				Expected: load.RouteShape{Status: 200, ContentType: "text/html", Shape: "html:eMule Web Control Panel - Transfers"},
				Observed: load.RouteShape{Status: 200, ContentType: "text/html", Shape: "html:eMule Web Control Panel - Transfers"}},
			{Name: "GET api app", Local: "127.0.0.1:49003",
				Expected: load.RouteShape{Status: 200, ContentType: "application/json", Shape: "data.name,meta.apiVersion"},
				Observed: load.RouteShape{Status: 200, ContentType: "application/json", Shape: "data.name,meta.apiVersion"}},
		},
		Admission: append([]load.AdmissionProbe(nil), r.admission...),
		FDs:       load.FDCheck{Why: "no /proc/self/fd on windows"},
	}
}

func (r *fxRun) result() *load.Result {
	return &load.Result{Config: fxConfig(r.policy), Iterations: []load.Iteration{r.iteration()},
		Started: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Wall: r.observed + 40*time.Millisecond}
}

// fxModel is a model of a run of p whose run is only channels: its
// commands are never run, so nothing starts.
func fxModel(p target.Policy, w, h int) Model {
	m := New(fxConfig(p), &runs{parent: context.Background()})
	return fxSend(m, tea.WindowSizeMsg{Width: w, Height: h})
}

// fxSend hands msgs to the model in turn and drops the commands.
func fxSend(m Model, msgs ...tea.Msg) Model {
	for _, msg := range msgs {
		mm, _ := m.Update(msg)
		m = mm.(Model)
	}
	return m
}

func fxSnap(m Model, s load.Snapshot) Model { return fxSend(m, snapMsg{gen: m.gen, snap: s}) }

func fxKeys(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	return out
}

// The holding snapshot is taken 2.5s after the server started; the
// fixed run's mid-drain one at t+0.150s, with the in-flight requests
// still held. Legacy is seen at t+0.050s, terminate closed and the idle,
// stream and silent threads gone, then at t+0.30105s, after both waits
// on the closed handle, with the rest in-flight thread still in linger.
var (
	fxHoldingAt     = 2500 * time.Millisecond
	fxFixedDrainAt  = fxT(150)
	fxLegacyEarlyAt = fxT(50)
	fxLegacyDrainAt = fxT(301.05)
)

// goldenScene builds a model at a size.
type goldenScene struct {
	name  string
	build func(w, h int) Model
	// want is in the view at every size; wantWide only from 120 columns.
	want, wantWide []string
}

func goldenScenes() []goldenScene {
	fixed, legacy := newFxRun(target.PolicyFixed), newFxRun(target.PolicyLegacy)
	holding := func(w, h int) Model {
		return fxSnap(fxModel(target.PolicyFixed, w, h), fixed.snapshot(fxHoldingAt))
	}
	return []goldenScene{
		{name: "holding", build: holding,
			want: []string{"HOLDING", "6/6 ready", "OPEN", "press s to shut down", "linger", "process", "open, 47 messages",
				"6 clients in their intended states"},
			wantWide: []string{"blocked waiters 4 · alive client threads 6", "drain budget 10.000s"}},
		{name: "fixed-draining", build: func(w, h int) Model {
			m := fxSnap(holding(w, h), fixed.snapshot(fxFixedDrainAt))
			return m
		},
			want: []string{"SHUTTING DOWN", "t+0.150s", "SIGNALLED", "4 client threads exited (5, 7, 9, 10)", "ws 1001"},
			wantWide: []string{"threads exited 4/6", "joined listener t+0.001s", "join-listener: ok in 1.1ms",
				"alive client threads 2"}},
		{name: "legacy-closed", build: func(w, h int) Model {
			m := fxSnap(fxModel(target.PolicyLegacy, w, h), legacy.snapshot(fxHoldingAt))
			m = fxSnap(m, legacy.snapshot(fxLegacyEarlyAt))
			return fxSnap(m, legacy.snapshot(fxLegacyDrainAt))
		},
			want: []string{"SHUTTING DOWN", "CLOSED", "closed while 4 client threads were alive", "violation wait-on-closed: thread 8"},
			wantWide: []string{"✗ 2 waits on it after close", "thread 8 waited on 0x44, a closed handle: WAIT_FAILED",
				"terminate handle closed while 4 client threads were alive"}},
		{name: "verdict-fixed", build: func(w, h int) Model {
			m := fxSnap(holding(w, h), fixed.snapshot(fxFixedDrainAt))
			return fxSend(m, doneMsg{gen: m.gen, res: fixed.result()})
		},
			// At 80x24 the passes fold into one line, so the verdict and the
			// events keep their room.
			want: []string{"VERDICT PASS", "outlived its waiters", "checks: PASS", "terminate-outlived-waiters",
				"verdict PASS", "completed"},
			wantWide: []string{"PASS terminate-outlived-waiters", "PASS drain-within",
				"closed at t+0.301s after every client thread exited"}},
		{name: "verdict-legacy", build: func(w, h int) Model {
			m := fxSnap(fxModel(target.PolicyLegacy, w, h), legacy.snapshot(fxHoldingAt))
			m = fxSnap(m, legacy.snapshot(fxLegacyEarlyAt))
			m = fxSnap(m, legacy.snapshot(fxLegacyDrainAt))
			return fxSend(m, doneMsg{gen: m.gen, res: legacy.result()})
		},
			want: []string{"VERDICT FAIL", "closed while 4 client threads were alive", "checks: FAIL",
				"FAIL terminate-outlived-waiters", "FAIL no-thread-leak", "verdict FAIL",
				// A failure's evidence is shown whole at every size.
				"(WAIT_FAILED) by threads 6, 8", "thread 9 in linger (exited t+0.006s)"},
			wantWide: []string{"SKIP 8: process-exited, port-released, no-busy-spin, server-closed-connections, drain-within", "while 4 client threads were alive (6, 7, 8, 9)"}},
		{name: "filter-ws", build: func(w, h int) Model {
			m := fxSnap(holding(w, h), fixed.snapshot(fxFixedDrainAt))
			m = fxSend(m, fxKeys("/ws")...)
			return fxSend(m, tea.KeyMsg{Type: tea.KeyEnter})
		},
			want: []string{`filter: "ws" 1 of 6`, "WS", "ws 1001"}},
		{name: "filter-typing", build: func(w, h int) Model {
			return fxSend(holding(w, h), fxKeys("/in-fl")...)
		},
			want: []string{"filter: in-fl", "enter keep · esc clear", "in-flight"}},
		// An external thread-per-connection server seen through the OS
		// samples (server_panel_test.go).
		{name: "external-tpc-draining", build: externalSampled,
			want:     []string{"SHUTTING DOWN", "threads on them 2", "ESTABLISHED 102", "FIN_WAIT2", "gone"},
			wantWide: []string{"server threads · sockets", "threads    3", "sockets    4", "read in sk_wait_data"}},
		{name: "help", build: func(w, h int) Model {
			return fxSend(holding(w, h), fxKeys("?")...)
		},
			// Every column of the full help, the quit binding's included.
			want: []string{"shut down now", "first, last row", "twice"}},
	}
}

var goldenSizes = []struct{ w, h int }{{120, 40}, {80, 24}}

// TestViewGolden compares every scene at every size with its golden file,
// and checks what must hold whatever the golden says: the view fills the
// screen exactly, no line is wider than it, and the words that carry the
// scene's meaning are there.
func TestViewGolden(t *testing.T) {
	for _, sc := range goldenScenes() {
		for _, sz := range goldenSizes {
			name := fmt.Sprintf("%s-%dx%d", sc.name, sz.w, sz.h)
			t.Run(name, func(t *testing.T) {
				m := sc.build(sz.w, sz.h)
				view := m.View()
				lines := strings.Split(view, "\n")
				if len(lines) != sz.h {
					t.Errorf("%d lines, want %d (the height)", len(lines), sz.h)
				}
				for i, l := range lines {
					if w := lipgloss.Width(l); w > sz.w {
						t.Errorf("line %d is %d wide, more than %d: %q", i+1, w, sz.w, ansi.Strip(l))
					}
				}
				plain := ansi.Strip(view)
				want := sc.want
				if sz.w >= 120 {
					want = append(append([]string(nil), want...), sc.wantWide...)
				}
				for _, w := range want {
					if !strings.Contains(plain, w) {
						t.Errorf("view lacks %q", w)
					}
				}
				if !goldenfile.Check(t, filepath.Join("testdata", name+".golden"), []byte(plain+"\n"), "go test ./tui -run Golden -update") {
					t.Logf("whole view:\n%s", plain)
				}
			})
		}
	}
}

// TestViewGoldenReportAgrees checks that the verdict scenes' records say
// what the scenes are about: reports.Build, as the view calls it, passes
// the fixed record and fails the legacy one on the terminate check.
func TestViewGoldenReportAgrees(t *testing.T) {
	for _, c := range []struct {
		p       target.Policy
		verdict reports.Verdict
		fail    []string
	}{
		{target.PolicyFixed, reports.VerdictPass, nil},
		{target.PolicyLegacy, reports.VerdictFail, []string{reports.CheckTerminateOutlivedWaiters, reports.CheckNoThreadLeak, reports.CheckNoKernelViolations}},
	} {
		rep := reports.Build(newFxRun(c.p).result(), nil, reports.ToolInfo{})
		if rep.Verdict != c.verdict {
			t.Errorf("%s: verdict %s, want %s", c.p, rep.Verdict, c.verdict)
		}
		var failed []string
		for _, ch := range rep.Iterations[0].Checks {
			if ch.Status == reports.StatusFail {
				failed = append(failed, ch.ID)
			}
		}
		if strings.Join(failed, ",") != strings.Join(c.fail, ",") {
			t.Errorf("%s: failed checks %v, want %v", c.p, failed, c.fail)
			for _, ch := range rep.Iterations[0].Checks {
				t.Logf("  %s %s %s", ch.Status, ch.ID, ch.Detail)
			}
		}
	}
}
