package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"shutdowntest/load"
	"shutdowntest/load/osobs"
)

func TestSparkline(t *testing.T) {
	pts := func(counts ...int) []osPoint {
		var out []osPoint
		for i, c := range counts {
			out = append(out, osPoint{at: time.Duration(i) * time.Second, threads: c})
		}
		return out
	}
	for _, c := range []struct {
		name   string
		points []osPoint
		n      int
		want   string
	}{
		{"none", nil, 8, ""},
		{"one point", pts(3), 8, "█"},
		{"a cell per point", pts(1, 2, 3, 4, 5, 6, 7, 8, 0), 8, "▂▃▄▅▆▇█ "},
		{"gone draws blank", pts(8, 8, 8, 0, 0), 4, "███ "},
		{"a cell keeps its highest, the last the count now", pts(0, 8, 0, 0, 4), 2, "█▄"},
		{"a count holds until the next point", []osPoint{{at: 0, threads: 4}, {at: 4 * time.Second, threads: 8}}, 4, "▄▄▄█"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := sparkline(c.points, c.n, threadCount); got != c.want {
				t.Errorf("sparkline = %q, want %q", got, c.want)
			}
		})
	}
}

// tpcSample is a thread-per-connection server at an instant: a main
// thread blocked in accept, one thread per open client connection
// blocked in read on it (descriptor 10+i), its listener and the sockets.
func tpcSample(at time.Duration, conns map[int]string, gone bool) osobs.Sample {
	s := osobs.Sample{At: at, Until: at, Gone: gone}
	if gone {
		return s
	}
	s.Threads = []osobs.Thread{{TID: 100, State: "S", Wchan: "inet_csk_accept", Syscall: "accept4", FD: 3}}
	s.Sockets = []osobs.Socket{{Inode: 1, FD: 3, Local: fxAddr, Peer: "0.0.0.0:0", TCPState: osobs.StateListen}}
	for i := range 6 {
		state, ok := conns[i]
		if !ok {
			continue
		}
		peer := fmt.Sprintf("127.0.0.1:%d", 50000+i)
		s.Sockets = append(s.Sockets, osobs.Socket{Inode: uint64(10 + i), FD: 10 + i, Local: fxAddr, Peer: peer, TCPState: state})
		if state == osobs.StateEstablished {
			s.Threads = append(s.Threads, osobs.Thread{TID: 101 + i, State: "S", Wchan: "sk_wait_data", Syscall: "read", FD: 10 + i})
		}
	}
	return s
}

// externalSampled is externalModel's run with the server's process
// sampled: holding with six connections, then after the trigger at 3s
// with four of them closed by the server (their threads exited) and two
// still served. The snapshots carry the latest sample and each client's
// server side, as load's publish fills them.
func externalSampled(w, h int) Model {
	m := fxSend(externalModel(), tea.WindowSizeMsg{Width: w, Height: h})
	all := map[int]string{}
	for i := range 6 {
		all[i] = osobs.StateEstablished
	}
	steps := []struct {
		at    time.Duration
		conns map[int]string
	}{
		{500 * time.Millisecond, map[int]string{}},
		{time.Second, map[int]string{0: osobs.StateEstablished, 1: osobs.StateEstablished}},
		{2 * time.Second, all},
		{fxT(50), all},
		{fxT(150), map[int]string{1: osobs.StateEstablished, 3: osobs.StateEstablished, 4: "FIN_WAIT2"}},
	}
	for _, st := range steps {
		s := holdingSnap(1)
		s.Server.Threads = nil
		s.Server.At = st.at
		if st.at > fxTrigger {
			s.Phase, s.Trigger = load.PhaseDraining, fxTrigger
		}
		x := *m.snap.External
		smp := tpcSample(st.at, st.conns, false)
		x.OS = &osobs.Record{PID: 4242, Available: true, Samples: []osobs.Sample{smp}}
		s.External = &x
		rec := &osobs.Record{Samples: []osobs.Sample{smp}}
		for i := range s.Clients {
			c := rec.Conn(s.Clients[i].Local)
			s.Clients[i].Server = load.ServerSide{Socket: c.State(), Thread: c.Thread, BlockedIn: c.BlockedIn}
			if st.at > fxTrigger && c.State() == "" && i != 5 {
				s.Clients[i].Server.Socket = osobs.StateGone
				s.Clients[i].Outcome, s.Clients[i].Detail = load.OutcomeClosed, "closed by the server"
			}
		}
		m = fxSnap(m, s)
	}
	return m
}

// The server panel and columns of a thread-per-connection server: the
// counts now, a sparkline across the run, each client's socket state,
// serving thread and what it is blocked in; "–" only for what no sample
// showed.
func TestExternalServerView(t *testing.T) {
	m := externalSampled(120, 40)
	if n := len(m.osHist.points); n != 5 {
		t.Errorf("history of %d points, want one per new sample (5)", n)
	}
	screen := ansi.Strip(m.View())
	for _, want := range []string{"server threads · sockets", "threads    3 ", "sockets    4 ", "conns 5/6 · threads on them 2",
		"sampling process 4242", "SOCKET", "BLOCKED IN", "ESTABLISHED 102     read in sk_wait_data", "FIN_WAIT2",
		"server sockets: ESTABLISHED 2 · FIN_WAIT2 1 · gone 2 · unseen 1"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen lacks %q:\n%s", want, screen)
		}
	}
	for _, line := range strings.Split(screen, "\n") {
		if strings.Contains(line, "TCP  silent") && strings.Count(line, "–") != 3 {
			t.Errorf("the unseen client's row claims a server side: %q", line)
		}
	}
	// The threads sparkline: one thread before the clients, seven at the
	// top, three now.
	if !strings.Contains(screen, "threads    3 ▂▂▂▄▄▄▄▄▄▄████████▄") {
		t.Errorf("no sparkline drawn:\n%s", screen)
	}

	narrow, _ := update(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	ns := ansi.Strip(narrow.View())
	if !strings.Contains(ns, "threads 3 ") || !strings.Contains(ns, "sockets 4 ") || !strings.Contains(ns, "ESTABLISHED 102") {
		t.Errorf("the 80-column view lacks the server's counts or columns:\n%s", ns)
	}

	// The filter knows the socket states.
	f, _ := update(t, m, keys("/")...)
	f, _ = update(t, f, keys("fin")...)
	f, _ = update(t, f, tea.KeyMsg{Type: tea.KeyEnter})
	if len(f.visible) != 1 || f.rows[f.visible[0]].server.Socket != "FIN_WAIT2" {
		t.Errorf("filter fin: %d rows visible, want the FIN_WAIT2 one", len(f.visible))
	}

	// At the result, the history is the whole record's, held from each
	// sample to its Until, and the panel says what sampling cost.
	rec := &osobs.Record{PID: 4242, Available: true, Method: "netlink", Taken: 40, Cost: 20 * time.Millisecond,
		Interval: 10 * time.Millisecond, Samples: []osobs.Sample{tpcSample(0, nil, false), tpcSample(fxT(400), nil, true)}}
	rec.Samples[0].Until = fxT(300)
	x := *m.snap.External
	x.OS, x.Exit = rec, load.ProcessExit{Exited: true, StatusKnown: true, At: fxT(400), Detail: "exit status 0"}
	res := &load.Result{Config: m.cfg, Iterations: []load.Iteration{{N: 1, Trigger: fxTrigger, ObservedUntil: fxT(500),
		Clients: m.snap.Clients, External: &x}}}
	m, _ = update(t, m, doneMsg{gen: m.gen, res: res})
	if n := len(m.osHist.points); n != 3 {
		t.Errorf("history of %d points at the result, want the record's (3: at, until, gone)", n)
	}
	screen = ansi.Strip(m.View())
	for _, want := range []string{"threads gone", "40 × 0.5ms, ≤10ms apart"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the final screen lacks %q:\n%s", want, screen)
		}
	}
}
