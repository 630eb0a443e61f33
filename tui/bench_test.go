package tui

import (
	"fmt"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"shutdowntest/load"
	"shutdowntest/target"
)

// benchMix is 5000 clients: the size of run the view must keep up with.
var benchMix = load.Mix{HTTPIdle: 1000, HTTPInflight: 1000, RESTIdle: 1000, RESTInflight: 1000, WS: 500, Silent: 500}

// benchSnapshot is one snapshot of a 5000-client run, every client with
// its server thread: holding, or at t+0.150s with the idle, stream and
// silent threads gone and the in-flight ones still in process.
func benchSnapshot(draining bool) load.Snapshot {
	s := load.Snapshot{Iteration: 1, Of: 1, Phase: load.PhaseHolding, Mix: benchMix, ReadyAt: 2 * time.Second}
	s.Server.At, s.Server.Addr, s.Server.Lifecycle = 4*time.Second, fxAddr, target.Running
	if draining {
		s.Phase, s.Trigger, s.Server.At, s.Server.Lifecycle = load.PhaseDraining, fxTrigger, fxT(150), target.ShuttingDown
		s.Server.Terminate.Signaled, s.Server.Terminate.SignaledAt = true, fxT(0.1)
		s.Server.Steps = []target.Step{{Name: target.StepSignalTerminate, Start: fxT(0.05), End: fxT(0.1), Outcome: target.StepOK},
			{Name: target.StepJoinListener, Start: fxT(0.1), End: fxT(1.2), Budget: 10 * time.Second, Outcome: target.StepOK}}
	}
	s.Server.Terminate.Handle = fxTerm
	park := map[load.Role]target.State{load.RoleIdle: target.StateLinger, load.RoleInflight: target.StateProcess,
		load.RoleStream: target.StateWait, load.RoleSilent: target.StateWait}
	for i, sp := range benchMix.Specs() {
		local := fmt.Sprintf("127.0.0.1:%d", 20000+i)
		born := time.Duration(i) * 200 * time.Microsecond
		c := load.ClientResult{Spec: sp, Local: local, Outcome: load.OutcomePending,
			States: []load.ClientState{{State: "connecting", At: born}, {State: "connected", At: born + 100*time.Microsecond}}}
		th := target.ThreadState{ID: 100 + i, Peer: local, State: park[sp.Role], Since: born + time.Millisecond}
		th.OnTerm = sp.Role != load.RoleInflight
		th.Held = sp.Role == load.RoleInflight
		if sp.Role == load.RoleStream {
			c.Messages = 40
			c.States = append(c.States, load.ClientState{State: "open", At: born + time.Millisecond})
		}
		if draining && sp.Role != load.RoleInflight {
			th.State, th.Since, th.OnTerm = target.StateExited, fxT(1+float64(i%100)/10), false
			if sp.Role != load.RoleIdle {
				c.Outcome, c.Detail, c.EndedAt = load.OutcomeClosed, "silent connection: closed by the server", th.Since
				if sp.Role == load.RoleStream {
					c.Outcome, c.Detail = load.WSClose(1001), `close 1001 "server shutting down"`
				}
			}
		}
		if th.State != target.StateExited {
			s.Server.Terminate.AliveClients++
		}
		if th.OnTerm {
			s.Server.Terminate.Waiters++
		}
		s.Clients = append(s.Clients, c)
		s.Server.Threads = append(s.Server.Threads, th)
	}
	return s
}

func benchModel(b *testing.B, draining bool) (Model, load.Snapshot) {
	b.Helper()
	m := fxModel(target.PolicyFixed, 120, 40)
	s := benchSnapshot(draining)
	if draining {
		m = fxSnap(m, benchSnapshot(false)) // the log has seen the hold
	}
	m = fxSnap(m, s)
	if len(m.rows) != benchMix.Total() {
		b.Fatalf("%d rows, want %d", len(m.rows), benchMix.Total())
	}
	return m, s
}

// BenchmarkView is the cost of drawing one frame of a 5000-client run at
// 120×40: only the rows that fit are formatted, but the counts, the drain
// panel and the filter run over every row.
func BenchmarkView(b *testing.B) {
	for _, draining := range []bool{false, true} {
		name := "holding"
		if draining {
			name = "draining"
		}
		b.Run(name, func(b *testing.B) {
			m, _ := benchModel(b, draining)
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkObserve is the cost of taking one 5000-client snapshot, which
// the view does on every snapshot the engine publishes (20 Hz): join the
// clients with their threads, update the log, filter.
func BenchmarkObserve(b *testing.B) {
	for _, draining := range []bool{false, true} {
		name := "holding"
		if draining {
			name = "draining"
		}
		b.Run(name, func(b *testing.B) {
			m, s := benchModel(b, draining)
			msg := snapMsg{gen: m.gen, snap: s}
			b.ReportAllocs()
			for b.Loop() {
				var mm tea.Model
				mm, _ = m.Update(msg)
				m = mm.(Model)
			}
		})
	}
}
