// Package tui is shutdowntest's interactive view. It drives the same
// engine as a headless run (a load.Runner) and draws the snapshots the engine
// publishes: one row per client with its server thread's state, the
// terminate signal's life, the drain, an event log and, at the end, the
// checks. It adds nothing to the verdict: the checks are the reports
// package's, on the engine's result, exactly as headless computes them.
//
// This is the only package that imports bubbletea, bubbles and lipgloss.
package tui

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"shutdowntest/internal/join"
	"shutdowntest/load"
)

// Options is one interactive session.
type Options struct {
	// Config is the run as the flags gave it. The view's runs hold until
	// s (Config.Hold); the policy and the mix can change in the view (p,
	// +, -).
	Config load.Config
	// Input and Output are the terminal; nil means stdin and stdout.
	// Tests give pipes.
	Input  io.Reader
	Output io.Writer
	// QuitNow, when it yields, quits at once, as a second q does: a
	// second signal from outside.
	QuitNow <-chan struct{}
}

// Final is what a session ends with.
type Final struct {
	// Result and Err are the last run's, as its Wait returned them; Result
	// is nil when the view was quit before that run ended.
	Result *load.Result
	Err    error
	// Config is the last run's configuration, with the policy and the mix
	// as changed in the view.
	Config load.Config
}

// runWait bounds how long Run waits, after the view has gone, for runs it
// abandoned (a second q) to shut their servers down. The engine bounds
// each run itself (drain timeout plus a second); this only keeps a stuck
// run from holding the process.
const runWait = 15 * time.Second

// Run shows the view until the user quits. Cancelling ctx stops the
// current run as a first q does: shutdown, verdict, then quit.
func Run(ctx context.Context, o Options) (Final, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs := &runs{parent: ctx}
	m := New(o.Config, rs)
	m.stop, m.quitNowCh = ctx.Done(), o.QuitNow
	// Signals are the caller's: the first cancels ctx (a graceful stop,
	// as q), a second closes QuitNow. bubbletea's own handler would quit
	// on the first SIGTERM without a verdict.
	opts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithoutSignalHandler()}
	if o.Input != nil {
		opts = append(opts, tea.WithInput(o.Input))
	}
	if o.Output != nil {
		opts = append(opts, tea.WithOutput(o.Output))
	}
	p := tea.NewProgram(m, opts...)
	final, err := p.Run()
	fm, ok := final.(Model)
	// Quit at once: runs still watching a drain stop now.
	rs.stopAll(!ok || fm.quitNow)
	waitErr := rs.wait(runWait)
	if !ok {
		return Final{Config: o.Config}, errors.Join(err, waitErr)
	}
	return fm.Final(), errors.Join(err, waitErr)
}

// runs owns the engine runs a session starts: each run's command is
// counted here and ends when its Runner's Wait returns, which a cancel
// bounds.
type runs struct {
	parent  context.Context
	mu      sync.Mutex
	cancel  []context.CancelFunc
	runners []*load.Runner
	closed  bool
	wg      sync.WaitGroup
}

// control is what the view asks of a run while it holds: a load.Runner's
// Trigger and Adjust. Tests record what was asked.
type control interface {
	Trigger()
	Adjust(load.Adjust) bool
}

// run is one engine run, as the view steers and watches it.
type run struct {
	gen     int
	cfg     load.Config
	ctl     control
	cancel  context.CancelFunc
	stopped <-chan struct{} // closed once cancel is called
	snaps   chan load.Snapshot
	done    chan struct{} // closed when the run's command has returned
}

// start makes a run of cfg and returns it with the command that carries
// it out; the command's message is the run's doneMsg. Nothing starts
// until the command runs, so a model can be built without side effects.
func (rs *runs) start(gen int, cfg load.Config) (*run, tea.Cmd) {
	ctx, cancel := context.WithCancel(rs.parent)
	cfg.Hold = true // until s
	r := &run{gen: gen, cfg: cfg, cancel: cancel, stopped: ctx.Done(), snaps: make(chan load.Snapshot, 1), done: make(chan struct{})}
	runner := load.NewRunner(cfg, load.Observer{Snapshots: r.snaps})
	r.ctl = runner
	rs.mu.Lock()
	rs.cancel = append(rs.cancel, cancel)
	rs.runners = append(rs.runners, runner)
	rs.mu.Unlock()
	return r, func() tea.Msg {
		defer close(r.done)
		if !rs.enter() {
			return nil // the session has ended
		}
		// Lives as long as the run: the hold ends with the trigger or
		// the cancel, and everything after it is bounded by the engine.
		defer rs.wg.Done()
		runner.Start(ctx)
		res, err := runner.Wait()
		return doneMsg{gen: gen, res: res, err: err}
	}
}

// enter counts a run that is about to start, unless the session has
// ended: then wait must not miss it, and it must not start.
func (rs *runs) enter() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closed {
		return false
	}
	rs.wg.Add(1)
	return true
}

// stopAll cancels every run still going (each shuts its server down) and
// lets no new one start; with abort, runs watching a drain stop watching
// it at once.
func (rs *runs) stopAll(abort bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.closed = true
	for _, c := range rs.cancel {
		c()
	}
	if abort {
		for _, r := range rs.runners {
			r.Abort()
		}
	}
}

// wait waits up to d for every run to end.
func (rs *runs) wait(d time.Duration) error {
	if !join.Within(&rs.wg, d) {
		return errors.New("a run did not end within " + d.String() + " of quitting")
	}
	return nil
}

// nextSnapshot waits for r's next snapshot, or for r to end.
func (r *run) nextSnapshot() tea.Cmd {
	return func() tea.Msg {
		select {
		case s := <-r.snaps:
			return snapMsg{gen: r.gen, snap: s}
		case <-r.done:
			return nil
		}
	}
}

// waitFor turns a channel into a message; it also ends when stop does,
// so the goroutine never outlives the session.
func waitFor(ch, stop <-chan struct{}, msg tea.Msg) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		select {
		case <-ch:
			return msg
		case <-stop:
			return nil
		}
	}
}
