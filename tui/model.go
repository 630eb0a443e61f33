package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"shutdowntest/load"
	"shutdowntest/reports"
	"shutdowntest/target"
)

// Messages.
type (
	snapMsg struct {
		gen  int
		snap load.Snapshot
	}
	doneMsg struct {
		gen int
		res *load.Result
		err error
	}
	// stopMsg: stop gracefully, as a first q (a signal from outside).
	stopMsg struct{}
	// quitNowMsg: quit at once, as a second q.
	quitNowMsg struct{}
)

// mode is what the keyboard is driving.
type mode int

const (
	modeTable  mode = iota
	modeFilter      // typing a filter
	modePolicy      // choosing a policy
	modeFault       // choosing a fault
)

// pickNone is the fault picker's choice of no fault.
const pickNone = "none"

// pickOptions are the choices of the picker open in mode md: the
// policies, or no fault and each fault.
func pickOptions(md mode) []string {
	var out []string
	if md == modePolicy {
		for _, p := range target.Policies {
			out = append(out, string(p))
		}
		return out
	}
	out = append(out, pickNone)
	for _, f := range load.Faults {
		out = append(out, string(f))
	}
	return out
}

// current is the picker's choice that is in force now.
func (m *Model) current(md mode) string {
	switch {
	case md == modePolicy:
		return string(m.cfg.Policy)
	case len(m.cfg.Faults) == 0:
		return pickNone
	}
	return string(m.cfg.Faults[0])
}

// Model is the view's state. It holds the last snapshot and, once the
// run has ended, its result and report; View only draws them.
type Model struct {
	runs *runs
	gen  int
	run  *run
	cfg  load.Config // the current run's, policy and mix included

	keys     keyMap
	help     help.Model
	bar      progress.Model // client threads exited
	timeBar  progress.Model // drain budget used
	filter   textinput.Model
	mode     mode
	pick     int
	width    int
	height   int
	fullHelp bool

	snap     load.Snapshot
	haveSnap bool
	rows     []row
	byPeer   map[string]*target.ThreadState // reused to join rows to threads
	tally    tally                          // what the panels show, derived once per message
	visible  []int                          // indexes into rows that pass the filter
	cursor   int                            // index into visible
	offset   int                            // first visible row shown
	log      eventLog
	osHist   osHistory // an external server's thread and socket counts
	notice   string    // one line for the footer: what the last key did

	// triggeredFor is the iteration the trigger was last sent for;
	// cycling, that s was pressed in this run, so later iterations
	// trigger by themselves.
	triggeredFor int
	cycling      bool

	ended  bool // the run has returned
	res    *load.Result
	err    error
	report reports.Report // built as headless builds it; its Verdict is the view's

	quitting bool // a first q: quit once the run has its verdict
	quitNow  bool // quit before the run ended: no verdict

	stop      <-chan struct{} // closed: stop gracefully (Run's context)
	quitNowCh <-chan struct{} // yields: quit at once
	firstRun  tea.Cmd         // carries out the run New made
}

// New returns the view of a run of cfg; rs owns the runs it starts.
func New(cfg load.Config, rs *runs) Model {
	ti := textinput.New()
	ti.Prompt = "filter: "
	ti.Placeholder = "kind, role, state or outcome (e.g. ws, in-flight, linger, reset)"
	ti.CharLimit = 64
	m := Model{runs: rs, cfg: cfg, keys: newKeyMap(), help: help.New(), filter: ti, width: 120, height: 40,
		byPeer:  map[string]*target.ThreadState{},
		bar:     progress.New(progress.WithSolidFill(colGreen.Dark), progress.WithoutPercentage()),
		timeBar: progress.New(progress.WithSolidFill(colYellow.Dark), progress.WithoutPercentage())}
	m.firstRun = m.startRun()
	m.setKeys()
	return m
}

// Init carries out the first run and listens for a stop from outside.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.firstRun, waitFor(m.stop, nil, stopMsg{}), waitFor(m.quitNowCh, m.stop, quitNowMsg{}))
}

// startRun makes the next run of m.cfg and returns the commands that
// carry it out and watch it.
func (m *Model) startRun() tea.Cmd {
	m.gen++
	r, cmd := m.runs.start(m.gen, m.cfg)
	m.run = r
	return tea.Batch(cmd, r.nextSnapshot())
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width - 1 // the footer's margin
		m.clampScroll()
		return m, nil
	case snapMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		m.observe(msg.snap)
		return m, m.run.nextSnapshot()
	case doneMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		m.finish(msg.res, msg.err)
		if m.quitting {
			return m, tea.Quit
		}
		return m, nil
	case stopMsg:
		return m.quit()
	case quitNowMsg:
		m.quitNow = true
		return m, tea.Quit
	case tea.KeyMsg:
		switch m.mode {
		case modeFilter:
			return m.filterKey(msg)
		case modePolicy, modeFault:
			return m.pickKey(msg)
		}
		// Keys typed faster than the view reads arrive as one message of
		// several runes ("++"); each is a key press of its own.
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			var cmds []tea.Cmd
			var mm tea.Model = m
			for _, r := range msg.Runes {
				var cmd tea.Cmd
				mm, cmd = mm.(Model).Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt})
				cmds = append(cmds, cmd)
			}
			return mm, tea.Sequence(cmds...)
		}
		return m.tableKey(msg)
	}
	return m, nil
}

// observe takes a snapshot of the current run.
func (m *Model) observe(s load.Snapshot) {
	m.snap, m.haveSnap = s, true
	m.rows = liveRows(&m.snap, m.rows, m.byPeer)
	m.osHist.observe(&m.snap)
	m.tally = m.derive()
	m.log.observe(&m.snap, m.about(), m.tally.term)
	if m.cycling && s.Phase == load.PhaseHolding {
		// Once s has started the cycle, the iterations after the first
		// shut down as soon as their clients are ready, as headless.
		m.sendTrigger()
	}
	m.applyFilter()
	m.setKeys()
}

// finish takes the run's result: the report is built exactly as headless
// builds it, and the table shows each client's recorded end.
func (m *Model) finish(res *load.Result, err error) {
	m.ended, m.res, m.err = true, res, err
	if res != nil {
		m.cfg.Mix = res.Config.Mix
		m.report = reports.Build(res, err, reports.ToolInfo{})
		if n := len(res.Iterations); n > 0 {
			// From here on the view shows the record, not the last live
			// snapshot (which the engine may have dropped a few after).
			it := &res.Iterations[n-1]
			m.rows = finalRows(it)
			m.snap, m.haveSnap = recordSnapshot(it, res.Config.Iterations), true
			if it.External != nil && it.External.OS != nil {
				m.osHist.fromRecord(it.External.OS)
			}
		}
	}
	m.tally = m.derive()
	if res != nil && len(res.Iterations) > 0 {
		m.log.observe(&m.snap, m.about(), m.tally.term)
	}
	at := m.lastAt()
	switch {
	case err != nil:
		m.log.add(event{at: at, text: "the run could not be carried out: " + err.Error(), bad: true})
	case m.report.Verdict == reports.VerdictPass:
		m.log.add(event{at: at, text: "verdict PASS", good: true})
	case res.Interrupted:
		m.log.add(event{at: at, text: "verdict FAIL: the run was interrupted", bad: true})
	default:
		m.log.add(event{at: at, text: "verdict FAIL", bad: true})
	}
	m.applyFilter()
	m.setKeys()
}

// quit is a first q: trigger the shutdown (if not yet) and quit at the
// verdict. Iterations still to come will not run, so the run is cancelled
// then, and reported interrupted.
func (m Model) quit() (tea.Model, tea.Cmd) {
	switch {
	case m.ended:
		return m, tea.Quit
	case m.quitting:
		m.quitNow = true
		return m, tea.Quit
	}
	m.quitting = true
	m.notice = "stopping: shutting down for the verdict (q again to quit now)"
	if (m.cfg.Iterations > 1 && m.iteration() < m.cfg.Iterations) || (m.cfg.For > 0 && m.cfg.Iterations == 0) {
		m.run.cancel()
	} else {
		m.sendTrigger()
	}
	m.setKeys()
	return m, nil
}

// iteration is the iteration being watched (1 before the first snapshot).
func (m *Model) iteration() int { return max(m.snap.Iteration, 1) }

// triggered: shutdown was asked for or has begun in this iteration.
func (m *Model) triggered() bool {
	return m.triggeredFor >= m.iteration() || (m.haveSnap && m.snap.Trigger > 0)
}

func (m *Model) sendTrigger() {
	if m.triggered() {
		return
	}
	m.triggeredFor = m.iteration()
	m.run.ctl.Trigger()
}

func (m Model) tableKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := &m.keys
	m.notice = ""
	if mm, ok := m.externalKey(msg); ok {
		return mm, nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Shutdown):
		m.sendTrigger()
		m.cycling = true
		if !m.ready() {
			m.notice = "shutdown queued: it comes once every client is in its intended state"
		}
	case key.Matches(msg, k.More):
		m.adjust(+1)
	case key.Matches(msg, k.Fewer):
		m.adjust(-1)
	case key.Matches(msg, k.Policy), key.Matches(msg, k.Fault):
		m.mode = modePolicy
		if key.Matches(msg, k.Fault) {
			m.mode = modeFault
		}
		m.pick = max(slices.Index(pickOptions(m.mode), m.current(m.mode)), 0)
	case key.Matches(msg, k.Rerun):
		return m, m.restart()
	case key.Matches(msg, k.Up):
		m.cursor--
	case key.Matches(msg, k.Down):
		m.cursor++
	case key.Matches(msg, k.PageUp):
		m.cursor -= max(1, m.tableHeight()-1)
	case key.Matches(msg, k.PageDown):
		m.cursor += max(1, m.tableHeight()-1)
	case key.Matches(msg, k.Top):
		m.cursor = 0
	case key.Matches(msg, k.Bottom):
		m.cursor = len(m.visible) - 1
	case key.Matches(msg, k.Filter):
		m.mode = modeFilter
		m.setKeys()
		return m, m.filter.Focus()
	case key.Matches(msg, k.Help):
		m.fullHelp = !m.fullHelp
		m.help.ShowAll = m.fullHelp
	}
	m.clampScroll()
	m.setKeys()
	return m, nil
}

// ready: every client was in its intended state at the last snapshot.
func (m *Model) ready() bool {
	return m.haveSnap && m.snap.Phase == load.PhaseHolding && m.snap.NotReady == 0 && m.snap.ReadyAt > 0
}

// adjust asks the engine for one client more or fewer of the selected
// row's kind and role.
func (m *Model) adjust(delta int) {
	if !m.keys.More.Enabled() {
		return
	}
	r := m.selected()
	if r == nil {
		m.notice = "no row selected"
		return
	}
	if delta < 0 && r.role == load.RoleInflight {
		m.notice = "in-flight clients cannot be removed: their request is already in process"
		return
	}
	if !m.run.ctl.Adjust(load.Adjust{Kind: r.kind, Role: r.role, Delta: delta}) {
		m.notice = "too many changes queued; wait for the clients to settle"
		return
	}
	verb := "adding"
	if delta < 0 {
		verb = "removing"
	}
	m.notice = fmt.Sprintf("%s one %s %s client", verb, kindWords[r.kind], roleWord(r.role))
}

func (m *Model) selected() *row {
	if m.cursor < 0 || m.cursor >= len(m.visible) {
		return nil
	}
	return &m.rows[m.visible[m.cursor]]
}

// restart abandons the current run (its server still shuts down, in the
// background) and starts a new one of m.cfg, with the mix as it is now.
func (m *Model) restart() tea.Cmd {
	if m.haveSnap && !m.ended {
		m.cfg.Mix = m.snap.Mix
	}
	m.run.cancel()
	m.snap, m.haveSnap, m.rows, m.tally, m.visible = load.Snapshot{}, false, nil, tally{}, nil
	m.ended, m.res, m.err, m.report = false, nil, nil, reports.Report{}
	m.triggeredFor, m.cycling, m.cursor, m.offset = 0, false, 0, 0
	m.log.reset()
	m.osHist = osHistory{}
	m.notice = fmt.Sprintf("started again: %s, %d clients", m.about(), m.cfg.Mix.Total())
	cmd := m.startRun()
	m.setKeys()
	return cmd
}

func (m Model) filterKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch msg.Type {
	case tea.KeyEnter:
		m.mode = modeTable
		m.filter.Blur()
	case tea.KeyEsc:
		m.mode = modeTable
		m.filter.Blur()
		m.filter.SetValue("")
	case tea.KeyCtrlC:
		return m.quit()
	default:
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		m.applyFilter()
		return m, cmd
	}
	m.applyFilter()
	m.setKeys()
	return m, nil
}

// pickKey drives the policy and fault pickers: one choice, then the run
// starts again with it.
func (m Model) pickKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	opts := pickOptions(m.mode)
	switch msg.String() {
	case "up", "k", "left", "h":
		m.pick = (m.pick + len(opts) - 1) % len(opts)
	case "down", "j", "right", "l", "tab", "p", "f":
		m.pick = (m.pick + 1) % len(opts)
	case "enter":
		switch choice := opts[m.pick]; {
		case m.mode == modePolicy:
			m.cfg.Policy = target.Policy(choice)
		case choice == pickNone:
			m.cfg.Faults = nil
		default:
			m.cfg.Faults = []target.Fault{target.Fault(choice)}
		}
		m.mode = modeTable
		return m, m.restart()
	case "esc":
		m.mode = modeTable
	case "ctrl+c", "q":
		m.mode = modeTable
		return m.quit()
	}
	return m, nil
}

// applyFilter recomputes which rows pass the filter, keeping the cursor
// on the same client where it can.
func (m *Model) applyFilter() {
	var keep int
	if r := m.selected(); r != nil {
		keep = r.id
	}
	words := strings.Fields(m.filter.Value())
	m.visible = m.visible[:0]
	for i := range m.rows {
		if m.rows[i].matches(words) {
			if m.rows[i].id == keep {
				m.cursor = len(m.visible)
			}
			m.visible = append(m.visible, i)
		}
	}
	m.clampScroll()
}

// clampScroll keeps the cursor on a row and in the window.
func (m *Model) clampScroll() {
	m.cursor = min(max(m.cursor, 0), max(len(m.visible)-1, 0))
	h := max(m.tableHeight(), 1)
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+h {
		m.offset = m.cursor - h + 1
	}
	m.offset = min(max(m.offset, 0), max(len(m.visible)-h, 0))
}

// setKeys enables the bindings that work now, so help shows only those.
func (m *Model) setKeys() {
	holding := !m.ended && !m.triggered() && !m.quitting
	m.keys.Shutdown.SetEnabled(holding)
	m.keys.More.SetEnabled(holding && m.haveSnap && m.snap.Phase == load.PhaseHolding)
	m.keys.Fewer.SetEnabled(m.keys.More.Enabled())
	m.keys.Policy.SetEnabled(!m.quitting)
	m.keys.Fault.SetEnabled(!m.quitting)
	m.keys.Rerun.SetEnabled(!m.quitting)
	if m.isExternal() {
		// The model's levers: see externalKey.
		m.keys.More.SetEnabled(false)
		m.keys.Fewer.SetEnabled(false)
		m.keys.Policy.SetEnabled(false)
		m.keys.Fault.SetEnabled(false)
	}
}

// about names what is under test, for the log and the notices.
func (m *Model) about() string {
	if m.isExternal() {
		return "external target"
	}
	s := "policy " + string(m.cfg.Policy)
	if len(m.cfg.Faults) > 0 {
		s += ", fault " + m.current(modeFault)
	}
	return s
}

// Final is what the session ends with (see Final).
func (m Model) Final() Final {
	cfg := m.cfg
	if m.haveSnap && !m.ended {
		cfg.Mix = m.snap.Mix
	}
	f := Final{Config: cfg}
	if m.ended && !m.quitNow {
		f.Result, f.Err = m.res, m.err
	}
	return f
}
