package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"shutdowntest/load"
	"shutdowntest/target"
)

// newTestModel is a model whose run never starts, because no command is
// ever run; what the view asks of it is recorded.
func newTestModel(t *testing.T) Model {
	t.Helper()
	m := New(quick(target.PolicyFixed), &runs{parent: context.Background()})
	m.run.ctl = &recorder{}
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	return mm.(Model)
}

// recorder keeps what the view asked of a run, for the test to take in
// order.
type recorder struct {
	triggers int
	adjusts  []load.Adjust
}

func (r *recorder) Trigger() { r.triggers++ }

func (r *recorder) Adjust(a load.Adjust) bool {
	r.adjusts = append(r.adjusts, a)
	return true
}

// trigger takes one Trigger the view asked for, if any.
func (r *recorder) trigger() bool {
	if r.triggers == 0 {
		return false
	}
	r.triggers--
	return true
}

// adjust takes the first Adjust the view asked for, if any.
func (r *recorder) adjust() (load.Adjust, bool) {
	if len(r.adjusts) == 0 {
		return load.Adjust{}, false
	}
	a := r.adjusts[0]
	r.adjusts = r.adjusts[1:]
	return a, true
}

func controls(m Model) *recorder { return m.run.ctl.(*recorder) }

func update(t *testing.T, m Model, msgs ...tea.Msg) (Model, tea.Cmd) {
	t.Helper()
	var cmd tea.Cmd
	var mm tea.Model = m
	for _, msg := range msgs {
		mm, cmd = mm.(Model).Update(msg)
	}
	return mm.(Model), cmd
}

func keys(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	return out
}

// holdingSnap is iteration 1 holding with the quick mix, every client
// ready: ids 1-6 as Mix.Specs numbers them.
func holdingSnap(n int) load.Snapshot {
	s := load.Snapshot{Iteration: 1, Of: 1, Phase: load.PhaseHolding, ReadyAt: 50 * time.Millisecond,
		Mix: load.Mix{HTTPIdle: n, HTTPInflight: 1, RESTIdle: 1, RESTInflight: 1, WS: 1, Silent: 1}}
	s.Server.At, s.Server.Addr = time.Second, "127.0.0.1:40000"
	for i, sp := range s.Mix.Specs() {
		local := fmt.Sprintf("127.0.0.1:%d", 50000+i)
		s.Clients = append(s.Clients, load.ClientResult{Spec: sp, Local: local, Outcome: load.OutcomePending})
		s.Server.Threads = append(s.Server.Threads, target.ThreadState{ID: 30 + i, Peer: local,
			State:  map[load.Role]target.State{load.RoleIdle: target.StateLinger, load.RoleInflight: target.StateProcess, load.RoleStream: target.StateWait, load.RoleSilent: target.StateWait}[sp.Role],
			OnTerm: sp.Role != load.RoleInflight})
	}
	return s
}

func TestShutdownKeySendsOneTrigger(t *testing.T) {
	m := newTestModel(t)
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(1)})
	if !m.keys.Shutdown.Enabled() {
		t.Fatal("s disabled while holding")
	}
	m, _ = update(t, m, keys("ss")...)
	if !controls(m).trigger() {
		t.Fatal("s sent no trigger")
	}
	if controls(m).trigger() {
		t.Fatal("a second s sent a second trigger")
	}
	if m.keys.Shutdown.Enabled() || m.keys.More.Enabled() {
		t.Error("s and +/- still enabled after the trigger")
	}
}

func TestShutdownBeforeReadyIsQueued(t *testing.T) {
	m := newTestModel(t)
	s := holdingSnap(1)
	s.NotReady, s.ReadyAt = 2, 0
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: s})
	m, _ = update(t, m, keys("s")...)
	if !controls(m).trigger() {
		t.Fatal("s before ready sent no trigger for the engine to queue")
	}
	if !strings.Contains(m.notice, "queued") {
		t.Errorf("notice %q does not say the shutdown is queued", m.notice)
	}
}

func TestStaleSnapshotsAreIgnored(t *testing.T) {
	m := newTestModel(t)
	m, _ = update(t, m, snapMsg{gen: m.gen + 1, snap: holdingSnap(1)})
	if m.haveSnap || len(m.rows) != 0 {
		t.Fatal("a snapshot of another run was taken")
	}
	m, cmd := update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(1)})
	if len(m.rows) != 6 || cmd == nil {
		t.Fatalf("rows %d, cmd %v: the current run's snapshot was not taken or not re-armed", len(m.rows), cmd)
	}
	if r := m.rows[0]; r.thread != 30 || r.state != target.StateLinger || !r.onTerm || r.kind != load.KindHTTP || r.role != load.RoleIdle {
		t.Errorf("row 1 = %+v: not joined with its thread by peer address", r)
	}
}

func TestAdjustSendsTheSelectedRowsKind(t *testing.T) {
	m := newTestModel(t)
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(1)})
	m, _ = update(t, m, tea.KeyMsg{Type: tea.KeyDown}) // row 2: HTTP in-flight
	m, _ = update(t, m, keys("+")...)
	if a, ok := controls(m).adjust(); !ok || a != (load.Adjust{Kind: load.KindHTTP, Role: load.RoleInflight, Delta: 1}) {
		t.Fatalf("+ on row 2 sent %+v %v", a, ok)
	}
	m, _ = update(t, m, keys("-")...)
	if a, ok := controls(m).adjust(); ok {
		t.Fatalf("- on an in-flight row sent %+v", a)
	}
	if !strings.Contains(m.notice, "in-flight") {
		t.Errorf("notice %q does not say why", m.notice)
	}
	m, _ = update(t, m, tea.KeyMsg{Type: tea.KeyEnd}) // row 6: TCP silent
	m, _ = update(t, m, keys("-")...)
	if a, ok := controls(m).adjust(); !ok || a != (load.Adjust{Kind: load.KindTCP, Role: load.RoleSilent, Delta: -1}) {
		t.Fatalf("- on row 6 sent %+v %v", a, ok)
	}
	// After the trigger the mix is fixed.
	s := holdingSnap(1)
	s.Phase, s.Trigger = load.PhaseDraining, 2*time.Second
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: s})
	m, _ = update(t, m, keys("+")...)
	if a, ok := controls(m).adjust(); ok {
		t.Fatalf("+ after the trigger sent %+v", a)
	}
}

func TestFilterAndScroll(t *testing.T) {
	m := newTestModel(t)
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(100)})
	if len(m.visible) != 105 {
		t.Fatalf("%d visible rows, want 105", len(m.visible))
	}
	m, _ = update(t, m, tea.KeyMsg{Type: tea.KeyPgDown}, tea.KeyMsg{Type: tea.KeyPgDown})
	h := m.tableHeight()
	if m.cursor != 2*(h-1) || m.offset > m.cursor || m.cursor >= m.offset+h {
		t.Errorf("after 2 PgDn: cursor %d offset %d height %d", m.cursor, m.offset, h)
	}
	m, _ = update(t, m, tea.KeyMsg{Type: tea.KeyEnd}, tea.KeyMsg{Type: tea.KeyDown})
	if m.cursor != 104 || m.offset != 105-h {
		t.Errorf("past the end: cursor %d offset %d", m.cursor, m.offset)
	}
	msgs := append([]tea.Msg{tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'/'}}}, keys("tcp wait")...)
	m, _ = update(t, m, msgs...)
	if m.mode != modeFilter || len(m.visible) != 1 || m.rows[m.visible[0]].kind != load.KindTCP {
		t.Fatalf("filter %q: mode %d, %d visible", m.filter.Value(), m.mode, len(m.visible))
	}
	m, _ = update(t, m, tea.KeyMsg{Type: tea.KeyEnter})
	if m.mode != modeTable || len(m.visible) != 1 {
		t.Fatalf("enter dropped the filter: mode %d, %d visible", m.mode, len(m.visible))
	}
	// s while filtering would be text; in the table it is a key again.
	m, _ = update(t, m, keys("/")...)
	m, _ = update(t, m, tea.KeyMsg{Type: tea.KeyEsc})
	if m.filter.Value() != "" || len(m.visible) != 105 {
		t.Errorf("esc did not clear the filter: %q, %d visible", m.filter.Value(), len(m.visible))
	}
	if controls(m).trigger() {
		t.Error("typing a filter sent a trigger")
	}
}

func TestQuitSequence(t *testing.T) {
	m := newTestModel(t)
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(1)})
	m, cmd := update(t, m, keys("q")...)
	if !m.quitting || cmd != nil {
		t.Fatalf("first q: quitting %v, cmd %v; want a graceful stop, not a quit", m.quitting, cmd)
	}
	if !controls(m).trigger() {
		t.Fatal("first q while holding did not trigger the shutdown")
	}
	m, cmd = update(t, m, tea.KeyMsg{Type: tea.KeyCtrlC})
	if !m.quitNow || cmd == nil || cmd() != tea.Quit() {
		t.Fatalf("second quit: quitNow %v", m.quitNow)
	}
	if f := m.Final(); f.Result != nil {
		t.Error("quit at once still handed over a result")
	}
}

func TestDoneWhileQuittingQuits(t *testing.T) {
	m := newTestModel(t)
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(1)}, stopMsg{})
	if !m.quitting {
		t.Fatal("a stop from outside did not stop gracefully")
	}
	res := &load.Result{Config: m.run.cfg}
	m, cmd := update(t, m, doneMsg{gen: m.gen, res: res})
	if cmd == nil || cmd() != tea.Quit() {
		t.Fatal("the verdict did not quit a stopping view")
	}
	if f := m.Final(); f.Result != res {
		t.Error("the final result is not the run's")
	}
	// A run with no iteration is no pass.
	if m.report.Verdict == "pass" {
		t.Error("an empty result passed")
	}
}

func TestPolicyPickerStartsAgain(t *testing.T) {
	m := newTestModel(t)
	first := m.run
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(3)})
	m, _ = update(t, m, keys("p")...)
	if m.mode != modePolicy {
		t.Fatal("p did not open the policy choice")
	}
	m, cmd := update(t, m, tea.KeyMsg{Type: tea.KeyRight}, tea.KeyMsg{Type: tea.KeyEnter})
	if cmd == nil || m.run == first || m.cfg.Policy != target.PolicyLegacy || m.run.cfg.Policy != target.PolicyLegacy {
		t.Fatalf("enter: policy %s, new run %v", m.cfg.Policy, m.run != first)
	}
	if m.cfg.Mix.HTTPIdle != 3 || m.run.cfg.Mix.HTTPIdle != 3 {
		t.Errorf("the mix as changed while holding did not carry over: %+v", m.cfg.Mix)
	}
	if m.haveSnap || len(m.rows) != 0 || len(m.log.events) != 0 {
		t.Error("the old run's state was kept")
	}
	// The old run was cancelled: its server shuts down.
	select {
	case <-first.stopped:
	default:
		t.Error("the old run was not cancelled")
	}
	if f := m.Final(); f.Config.Policy != target.PolicyLegacy || f.Config.Hold {
		t.Errorf("final config %+v", f.Config)
	}
}

// f picks a fault among none and every one the engine knows, shown in the
// header; the policy picker offers all four policies.
func TestFaultPickerStartsAgain(t *testing.T) {
	m := newTestModel(t)
	first := m.run
	m, _ = update(t, m, keys("f")...)
	if m.mode != modeFault || pickOptions(m.mode)[m.pick] != pickNone {
		t.Fatalf("f: mode %v, pick %d: want the fault choice on none", m.mode, m.pick)
	}
	if got := len(pickOptions(modeFault)); got != len(load.Faults)+1 {
		t.Errorf("%d fault choices, want none and %d faults", got, len(load.Faults))
	}
	if got := pickOptions(modePolicy); len(got) != len(target.Policies) {
		t.Errorf("policy choices %v, want %v", got, target.Policies)
	}
	m, cmd := update(t, m, tea.KeyMsg{Type: tea.KeyRight}, tea.KeyMsg{Type: tea.KeyEnter})
	want := []target.Fault{load.Faults[0]}
	if cmd == nil || m.run == first || !slices.Equal(m.cfg.Faults, want) || !slices.Equal(m.run.cfg.Faults, want) {
		t.Fatalf("enter: faults %v, new run %v", m.cfg.Faults, m.run != first)
	}
	if h := m.header(); !strings.Contains(h, "fault "+string(want[0])) {
		t.Errorf("header %q does not name the fault", h)
	}
	m, _ = update(t, m, keys("f")...)
	m, _ = update(t, m, tea.KeyMsg{Type: tea.KeyLeft}, tea.KeyMsg{Type: tea.KeyEnter})
	if len(m.cfg.Faults) != 0 || len(m.Final().Config.Faults) != 0 {
		t.Errorf("none chosen: faults %v", m.cfg.Faults)
	}
}

func TestWindowSizeReflows(t *testing.T) {
	m := newTestModel(t)
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(100)}, tea.KeyMsg{Type: tea.KeyEnd})
	wideRows := m.tableHeight()
	m, _ = update(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if m.tableHeight() >= wideRows || m.cursor != 104 || m.cursor >= m.offset+m.tableHeight() {
		t.Errorf("80x24: table %d rows (was %d), cursor %d offset %d", m.tableHeight(), wideRows, m.cursor, m.offset)
	}
	if n := strings.Count(m.View(), "\n") + 1; n != 24 {
		t.Errorf("View is %d lines at 80x24", n)
	}
}

// Keys typed fast arrive as one message of several runes; each counts.
func TestRunesTypedTogetherAreSeparateKeys(t *testing.T) {
	m := newTestModel(t)
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(1)})
	m, _ = update(t, m, tea.KeyMsg{Type: tea.KeyEnd}, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("++")})
	for i := 0; i < 2; i++ {
		if a, ok := controls(m).adjust(); !ok || a.Delta != 1 || a.Kind != load.KindTCP {
			t.Fatalf("adjust %d: %+v %v", i, a, ok)
		}
	}
}

// After s, the iterations that follow trigger by themselves once ready.
func TestLaterIterationsTriggerAfterTheFirstS(t *testing.T) {
	m := newTestModel(t)
	m.cfg.Iterations = 3
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(1)})
	if controls(m).trigger() {
		t.Fatal("iteration 1 triggered before s")
	}
	m, _ = update(t, m, keys("s")...)
	if !controls(m).trigger() {
		t.Fatal("s sent no trigger")
	}
	second := holdingSnap(1)
	second.Iteration, second.Of = 2, 3
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: second})
	if !controls(m).trigger() {
		t.Fatal("iteration 2 was not triggered once ready")
	}
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: second})
	if controls(m).trigger() {
		t.Fatal("iteration 2 was triggered twice")
	}
}
