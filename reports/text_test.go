package reports

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"shutdowntest/load"
)

func textOf(r Report) []string {
	var buf bytes.Buffer
	r.WriteText(&buf)
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

func TestWriteTextPass(t *testing.T) {
	r := Build(testResult(cleanIteration()), nil, testTool)
	r.Reproduce.Command = "shutdowntest --headless"
	lines := textOf(r)
	want := []string{
		"shutdowntest: policy fixed, 6 clients (http 1+1, rest 1+1, ws 1, tcp 1), 1 iteration",
		"PASS terminate-outlived-waiters  closed at t+0.310s after every client thread exited",
		"PASS shutdown-completed          4 steps in 311ms",
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d:\n got %q\nwant %q", i, lines[i], w)
		}
	}
	// header, every check, terminate, drain, verdict, reproduce
	if len(lines) != 1+allChecks+4 {
		t.Fatalf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if got, w := lines[1+checkIndex(t, CheckDrainWithin)], "SKIP drain-within                no --max-drain given"; got != w {
		t.Errorf("drain-within line\n got %q\nwant %q", got, w)
	}
	// The details start in one column.
	col := strings.Index(lines[1], "closed at")
	for _, l := range lines[1 : 1+allChecks] {
		if len(l) <= col || l[col-1] != ' ' || l[col-2] != ' ' || l[col] == ' ' {
			t.Errorf("misaligned: %q", l)
		}
	}
	for i, w := range []string{
		"terminate: handle 0x40 signalled t+0.000s, closed t+0.310s, 0 client threads alive, 0 waits after close",
		"drain: listener closed t+0.001s, last in-flight response t+0.304s, last client thread exited t+0.305s, terminate closed t+0.310s",
		"verdict: PASS (18 checks, 0 failed, 8 skipped) in 1.21s",
		"reproduce: shutdowntest --headless",
	} {
		if got := lines[1+allChecks+i]; got != w {
			t.Errorf("line %d\n got %q\nwant %q", 1+allChecks+i, got, w)
		}
	}
}

func TestWriteTextFail(t *testing.T) {
	res := testResult(cleanIteration(), keptOpenIteration(), legacyIteration())
	res.Config.Iterations = 5
	res.Interrupted = true
	r := Build(res, nil, testTool)
	r.Reproduce = Reproduce{Command: "shutdowntest --headless --iterations=5", FirstFailing: "shutdowntest --headless --iterations=1"}
	lines := textOf(r)
	all := strings.Join(lines, "\n")
	if strings.Contains(all, "\x1b") {
		t.Error("no ANSI escapes")
	}
	if !strings.HasSuffix(lines[0], "3 of 5 iterations") {
		t.Errorf("header %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "FAIL terminate-outlived-waiters  failed in 1 of 3 iterations; first (iteration 3): closed at t+0.004s") {
		t.Errorf("check line %q", lines[1])
	}
	if !strings.Contains(all, "\nPASS routing-unchanged           passed in 3 of 3 iterations; last: 2/2 routes unchanged\n") {
		t.Errorf("routing line missing:\n%s", all)
	}
	if !strings.Contains(all, "\niterations: 3 ran, 2 failed (2, 3)\n") {
		t.Errorf("iterations line missing:\n%s", all)
	}
	// The first failing iteration tells the terminate story: kept open.
	w := "terminate (iteration 2, first failing): handle 0x40 signalled t+0.000s, kept open, 2 client threads alive at return (3, 5), 0 waits after close"
	if !strings.Contains(all, "\n"+w+"\n") {
		t.Errorf("want %q in\n%s", w, all)
	}
	// Several iterations: each drain milestone's spread on its own line,
	// labels aligned; the kept-open iteration never closed terminate.
	for _, w := range []string{
		"drain (n=3): listener closed            min 1 · median 1 · p95 1 · max 1 ms",
		"drain (n=3): last in-flight response    min 304 · median 304 · p95 304 · max 304 ms",
		"drain (n=3): last client thread exited  min 305 · median 310 · p95 500 · max 500 ms",
		"drain (n=3): terminate closed           min 4 · median 4 · p95 310 · max 310 ms, never in 1 of 3",
	} {
		if !strings.Contains(all, "\n"+w+"\n") {
			t.Errorf("want %q in\n%s", w, all)
		}
	}
	n := len(lines)
	if got, w := lines[n-3], "verdict: FAIL (18 checks, 4 failed, 8 skipped) in 1.21s; INTERRUPTED after 3 of 5 iterations: not a sign-off"; got != w {
		t.Errorf("verdict line\n got %q\nwant %q", got, w)
	}
	if lines[n-2] != "reproduce: shutdowntest --headless --iterations=5" ||
		lines[n-1] != "first failing iteration alone: shutdowntest --headless --iterations=1" {
		t.Errorf("reproduce lines %q", lines[n-2:])
	}
}

func TestWriteTextLegacyAndSkip(t *testing.T) {
	it := legacyIteration()
	it.Routes, it.Admission = nil, nil
	lines := textOf(Build(testResult(it), nil, testTool))
	all := strings.Join(lines, "\n")
	for _, w := range []string{
		"\nSKIP routing-unchanged           no route probes\n",
		"\nterminate: handle 0x40 signalled t+0.000s, closed t+0.004s, 2 client threads alive, 6 not joined, 2 waits after close\n",
		"\ndrain: listener closed t+0.001s, last in-flight response t+0.304s, last client thread exited t+0.310s, terminate closed t+0.004s\n",
		"\nverdict: FAIL (18 checks, 3 failed, 10 skipped) in 1.21s\n",
	} {
		if !strings.Contains(all+"\n", w) {
			t.Errorf("want %q in\n%s", w, all)
		}
	}
}

// A run that could not be carried out says so in its verdict, whatever
// its checks saw (the not-ready iteration's client checks are skips).
func TestWriteTextError(t *testing.T) {
	it := cleanIteration()
	it.Ready = false
	runErr := &load.RunError{Iteration: 1, Phase: load.PhaseHolding,
		Err: errors.New("iteration 1: 1 client(s) not ready after 1ns: client 1 (http idle) not ready on the client side")}
	lines := textOf(Build(testResult(it), runErr, testTool))
	want := "verdict: ERROR (could not be carried out: iteration 1: 1 client(s) not ready after 1ns: client 1 (http idle) not ready on the client side) in 1.21s"
	if got := lines[len(lines)-1]; got != want {
		t.Errorf("verdict line\n got %q\nwant %q", got, want)
	}
	for _, l := range lines {
		if strings.Contains(l, "PASS (") {
			t.Errorf("reads as a pass: %q", l)
		}
	}
}

func TestWriteTextNoIteration(t *testing.T) {
	res := testResult()
	res.Config.Iterations, res.Interrupted = 1, true
	lines := textOf(Build(res, nil, testTool))
	if lines[0] != "shutdowntest: policy fixed, 6 clients (http 1+1, rest 1+1, ws 1, tcp 1), 0 of 1 iterations" {
		t.Errorf("header %q", lines[0])
	}
	if got := lines[len(lines)-2]; got != "terminate: no iteration was recorded" {
		t.Errorf("terminate line %q", got)
	}
	if got := lines[len(lines)-1]; got != "verdict: FAIL (no iteration was recorded) in 1.21s; INTERRUPTED after 0 of 1 iterations: not a sign-off" {
		t.Errorf("verdict line %q", got)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "drain") {
			t.Errorf("no drain line without an iteration: %q", l)
		}
	}
}

// A single iteration's drain line says in words what was never reached.
func TestDrainStory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		base   func() load.Iteration
		mutate func(*load.Iteration)
		want   string
	}{
		{name: "clean", base: cleanIteration,
			want: "listener closed t+0.001s, last in-flight response t+0.304s, last client thread exited t+0.305s, terminate closed t+0.310s"},
		{name: "kept open", base: keptOpenIteration,
			want: "listener closed t+0.001s, last in-flight response t+0.304s, last client thread exited t+0.500s, terminate kept open"},
		{name: "nothing reached", base: cleanIteration,
			mutate: func(it *load.Iteration) {
				it.Server.Kernel.Threads[0].Forced = true
				it.Clients[1].Outcome, it.Clients[3].Outcome = load.OutcomeTimeout, load.OutcomeReset
				th := &it.Server.Kernel.Threads[3]
				th.Exited, th.ExitedAt = false, 0
				it.Server.Terminate.Closed, it.Server.Terminate.ClosedAt = false, 0
			},
			want: "listener never closed, no in-flight response completed, a client thread never exited, terminate never closed"},
		{name: "no in-flight clients", base: cleanIteration,
			mutate: func(it *load.Iteration) { it.Clients = it.Clients[4:] },
			want:   "listener closed t+0.001s, no in-flight clients, last client thread exited t+0.305s, terminate closed t+0.310s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := tc.base()
			if tc.mutate != nil {
				tc.mutate(&it)
			}
			lines := textOf(Build(testResult(it), nil, testTool))
			want := "drain: " + tc.want
			found := false
			for _, l := range lines {
				found = found || l == want
			}
			if !found {
				t.Errorf("want %q in\n%s", want, strings.Join(lines, "\n"))
			}
		})
	}
}

// Several iterations with no in-flight client and a milestone nobody
// reached: the spread says so instead of inventing figures.
func TestDrainSpreadNone(t *testing.T) {
	var its []load.Iteration
	for range 2 {
		it := cleanIteration()
		it.Clients = it.Clients[4:]
		it.Server.Kernel.Threads[0].Forced = true
		its = append(its, it)
	}
	res := testResult(its...)
	res.Config.Mix.HTTPInflight, res.Config.Mix.RESTInflight = 0, 0
	all := strings.Join(textOf(Build(res, nil, testTool)), "\n")
	for _, w := range []string{
		"\ndrain (n=2): listener closed            never (2 iterations)\n",
		"\ndrain (n=2): last in-flight response    no in-flight clients\n",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("want %q in\n%s", w, all)
		}
	}
}

func TestRelSeconds(t *testing.T) {
	for _, tc := range []struct {
		ms   float64
		want string
	}{{0, "t+0.000s"}, {-0.2, "t+0.000s"}, {305, "t+0.305s"}, {-120, "t-0.120s"}, {10002.4, "t+10.002s"}} {
		if got := tms(tc.ms); got != tc.want {
			t.Errorf("tms(%v) = %q, want %q", tc.ms, got, tc.want)
		}
	}
}
