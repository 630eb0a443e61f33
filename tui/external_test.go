package tui

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"

	"shutdowntest/load"
	"shutdowntest/reports"
)

// externalModel is newTestModel's for an external target launched by a
// command: its run never starts.
func externalModel() Model {
	cfg := quick("")
	cfg.External = &load.External{URL: "http://127.0.0.1:{port}", Command: []string{"./server", "-listen", "127.0.0.1:{port}"},
		Trigger: load.Trigger{Kind: load.TriggerSignal, Signal: "TERM"}, Page: "/", Slow: "/slow"}
	m := New(cfg, &runs{parent: context.Background()})
	m.run.ctl = &recorder{}
	m = fxSend(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	s := holdingSnap(1)
	s.Server.Threads = nil // nothing of the server's inside is seen
	s.External = &load.ExternalRecord{URL: "http://127.0.0.1:40000", Command: []string{"./server", "-listen", "127.0.0.1:40000"},
		PID: 4242, Launched: true, Trigger: cfg.External.Trigger}
	return fxSnap(m, s)
}

// An external target's view says what it is and what is not observed,
// and p, + and - (the embedded model's levers) say why they do nothing;
// r launches it again.
func TestExternalView(t *testing.T) {
	m := externalModel()
	screen := ansi.Strip(m.View())
	for _, want := range []string{"external target http://127.0.0.1:40000 · ./server -listen 127",
		"server process", "trigger signal:TERM", "RUNNING process 4242", "not observable (external target)",
		"r launches the server again", "(external target)"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen lacks %q:\n%s", want, screen)
		}
	}
	for _, line := range strings.Split(screen, "\n") {
		if strings.Contains(line, "pending") && strings.Count(line, "–") != 3 {
			t.Errorf("a client row leaves a server column blank (unsampled: \"–\" for socket, thread, blocked in): %q", line)
		}
	}
	if strings.Contains(screen, "p policy") || strings.Contains(screen, "+/- clients") || strings.Contains(screen, "terminate signal") {
		t.Errorf("the screen offers the embedded model's parts:\n%s", screen)
	}
	narrow, _ := update(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if head := strings.SplitN(ansi.Strip(narrow.View()), "\n", 2)[0]; !strings.Contains(head, "external target http://127.0.0.1:40000") {
		t.Errorf("the 80-column header does not say what is under test: %q", head)
	}
	first := m.run
	for _, c := range []struct{ key, notice string }{{"p", "no policy"}, {"+", "fixed for the run"}, {"-", "fixed for the run"}} {
		m, _ = update(t, m, keys(c.key)...)
		if m.mode != modeTable || m.run != first || !strings.Contains(m.notice, c.notice) {
			t.Errorf("%s: mode %v, new run %v, notice %q; want the table, no new run, a notice saying %q", c.key, m.mode, m.run != first, m.notice, c.notice)
		}
		if a, ok := controls(m).adjust(); ok {
			t.Errorf("%s sent %+v", c.key, a)
		}
	}
	m, cmd := update(t, m, keys("r")...)
	if cmd == nil || m.run == first || m.run.cfg.External != m.cfg.External || !strings.Contains(m.notice, "external target") {
		t.Fatalf("r: new run %v, notice %q", m.run != first, m.notice)
	}
	select {
	case <-first.stopped:
	default:
		t.Error("r did not cancel the old run (its process is then stopped)")
	}
}

// A real run against a server already running, shut down by an HTTP
// trigger, driven as a person would: hold, s, verdict, q.
func TestExternalRunToVerdict(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{}
	shut := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("POST /shutdown", func(w http.ResponseWriter, _ *http.Request) {
		// Shutdown waits for this handler: it runs on after it returns,
		// and ends once the idle connection is closed (shut).
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			shut <- srv.Shutdown(ctx)
		}()
	})
	srv.Handler = mux
	served := make(chan error, 1)
	// Serves until Shutdown closes the listener.
	go func() { served <- srv.Serve(l) }()
	defer func() {
		_ = srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()

	cfg := quick("")
	cfg.Mix = load.Mix{HTTPIdle: 2}
	cfg.External = &load.External{URL: "http://" + l.Addr().String(), Page: "/", ReadyPath: "/",
		Trigger: load.Trigger{Kind: load.TriggerHTTP, Method: "POST", Path: "/shutdown"}, AdmissionGrace: time.Second}
	rs := &runs{parent: context.Background()}
	defer func() {
		rs.stopAll(false)
		if err := rs.wait(runWait); err != nil {
			t.Error(err)
		}
	}()
	tm := teatest.NewTestModel(t, New(cfg, rs), teatest.WithInitialTermSize(120, 40))
	waitOutput(t, tm, "HOLDING", "2/2 ready", "external target http://"+l.Addr().String(), "no process watched")
	tm.Type("s")
	waitOutput(t, tm, "VERDICT PASS", "POST /shutdown answered 200 OK")
	tm.Type("q")
	f := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model).Final()
	if f.Result == nil || f.Err != nil || len(f.Result.Iterations) != 1 || f.Result.Iterations[0].External == nil {
		t.Fatalf("final: result %+v, err %v", f.Result, f.Err)
	}
	if got := reports.Build(f.Result, f.Err, reports.ToolInfo{}).Verdict; got != reports.VerdictPass {
		t.Errorf("verdict %s, want pass", got)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("the server's shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the server's shutdown did not return")
	}
}
