package tui

import (
	"bytes"
	"context"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"shutdowntest/load"
	"shutdowntest/reports"
	"shutdowntest/target"
)

// quick is a small real run: every kind of client once, short holds.
func quick(p target.Policy) load.Config {
	return load.Config{
		Policy:       p,
		Mix:          load.Mix{HTTPIdle: 1, HTTPInflight: 1, RESTIdle: 1, RESTInflight: 1, WS: 1, Silent: 1},
		InflightFor:  30 * time.Millisecond,
		DrainTimeout: 2 * time.Second,
		ReadyTimeout: 5 * time.Second,
		Iterations:   1,
		Target:       target.Config{StreamEvery: 10 * time.Millisecond},
	}
}

// waitOutput waits until the program has drawn every one of want.
func waitOutput(t *testing.T, tm *teatest.TestModel, want ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// TestRunToVerdict drives a real run in a real program, as a person
// would: wait for the clients to hold, press s, wait for the verdict,
// press q; the final model carries the run's result.
func TestRunToVerdict(t *testing.T) {
	cases := []struct {
		policy  target.Policy
		verdict reports.Verdict
		panel   string
	}{
		{target.PolicyFixed, reports.VerdictPass, "outlived its waiters"},
		{target.PolicyLegacy, reports.VerdictFail, "client threads were alive"},
	}
	for _, c := range cases {
		t.Run(string(c.policy), func(t *testing.T) {
			rs := &runs{parent: context.Background()}
			defer func() {
				rs.stopAll(false)
				if err := rs.wait(runWait); err != nil {
					t.Error(err)
				}
			}()
			tm := teatest.NewTestModel(t, New(quick(c.policy), rs), teatest.WithInitialTermSize(120, 40))
			waitOutput(t, tm, "HOLDING", "6/6 ready", "press s to shut down")
			tm.Type("s")
			waitOutput(t, tm, "VERDICT", c.panel)
			tm.Type("q")
			fm := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
			f := fm.Final()
			if f.Result == nil || f.Err != nil {
				t.Fatalf("final: result %v, err %v", f.Result, f.Err)
			}
			if got := reports.Build(f.Result, f.Err, reports.ToolInfo{}).Verdict; got != c.verdict {
				t.Errorf("verdict %s, want %s", got, c.verdict)
			}
			if f.Result.Interrupted {
				t.Error("a run stopped by s then q after the verdict is not interrupted")
			}
			if f.Config.Policy != c.policy || f.Config.Hold || !f.Result.Config.Hold {
				t.Errorf("final config %+v", f.Config)
			}
		})
	}
}

// TestQuitBeforeTriggerShutsDownForTheVerdict: a first q while holding
// triggers the shutdown and quits at the verdict, with the result.
func TestQuitBeforeTriggerShutsDownForTheVerdict(t *testing.T) {
	rs := &runs{parent: context.Background()}
	defer func() {
		rs.stopAll(false)
		if err := rs.wait(runWait); err != nil {
			t.Error(err)
		}
	}()
	tm := teatest.NewTestModel(t, New(quick(target.PolicyFixed), rs), teatest.WithInitialTermSize(80, 24))
	waitOutput(t, tm, "HOLDING", "6/6 ready")
	tm.Type("q")
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(Model)
	f := fm.Final()
	if f.Result == nil || len(f.Result.Iterations) != 1 {
		t.Fatalf("no result after a first q: %+v", f)
	}
	if got := reports.Build(f.Result, f.Err, reports.ToolInfo{}).Verdict; got != reports.VerdictPass {
		t.Errorf("verdict %s, want pass", got)
	}
}

// TestSecondQuitQuitsAtOnce: q, then q again before the verdict, quits
// without a result; the run still ends (rs.wait) once the view is gone.
func TestSecondQuitQuitsAtOnce(t *testing.T) {
	rs := &runs{parent: context.Background()}
	cfg := quick(target.PolicyFixed)
	cfg.InflightFor = time.Second // the verdict is a second away
	cfg.DrainTimeout = 3 * time.Second
	tm := teatest.NewTestModel(t, New(cfg, rs), teatest.WithInitialTermSize(120, 40))
	waitOutput(t, tm, "HOLDING", "6/6 ready")
	tm.Type("q")
	waitOutput(t, tm, "SHUTTING DOWN")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(2*time.Second)).(Model)
	if f := fm.Final(); f.Result != nil {
		t.Errorf("a second q gave a result: %+v", f.Result)
	}
	rs.stopAll(false)
	if err := rs.wait(runWait); err != nil {
		t.Error(err)
	}
}
