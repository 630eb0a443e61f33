package reports

import (
	"bytes"
	"strings"
	"testing"
)

func textOf(r Report) []string {
	var buf bytes.Buffer
	r.WriteText(&buf)
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

func TestWriteTextPass(t *testing.T) {
	lines := textOf(Build(testResult(cleanIteration()), testTool))
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
	if len(lines) != 1+9+2 {
		t.Fatalf("%d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	// The details start in one column.
	col := strings.Index(lines[1], "closed at")
	for _, l := range lines[1:10] {
		if len(l) <= col || l[col-1] != ' ' || l[col-2] != ' ' || l[col] == ' ' {
			t.Errorf("misaligned: %q", l)
		}
	}
	if got, w := lines[10], "terminate: handle 0x40 signalled t+0.000s, closed t+0.310s, 0 client threads alive, 0 waits after close"; got != w {
		t.Errorf("terminate line\n got %q\nwant %q", got, w)
	}
	if got, w := lines[11], "verdict: PASS (9 checks, 0 failed) in 1.21s"; got != w {
		t.Errorf("verdict line\n got %q\nwant %q", got, w)
	}
}

func TestWriteTextFail(t *testing.T) {
	res := testResult(cleanIteration(), keptOpenIteration(), legacyIteration())
	res.Config.Iterations = 5
	res.Interrupted = true
	lines := textOf(Build(res, testTool))
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
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "verdict: FAIL (9 checks, ") || !strings.HasSuffix(last, " in 1.21s; INTERRUPTED after 3 of 5 iterations: not a sign-off") {
		t.Errorf("verdict line %q", last)
	}
}

func TestWriteTextLegacyAndSkip(t *testing.T) {
	it := legacyIteration()
	it.Routes, it.Admission = nil, nil
	lines := textOf(Build(testResult(it), testTool))
	all := strings.Join(lines, "\n")
	for _, w := range []string{
		"\nSKIP routing-unchanged           no route probes\n",
		"\nterminate: handle 0x40 signalled t+0.000s, closed t+0.004s, 2 client threads alive, 2 waits after close\n",
		"\nverdict: FAIL (9 checks, 2 failed, 2 skipped) in 1.21s",
	} {
		if !strings.Contains(all+"\n", w) {
			t.Errorf("want %q in\n%s", w, all)
		}
	}
}

func TestWriteTextNoIteration(t *testing.T) {
	res := testResult()
	res.Config.Iterations, res.Interrupted = 1, true
	lines := textOf(Build(res, testTool))
	if lines[0] != "shutdowntest: policy fixed, 6 clients (http 1+1, rest 1+1, ws 1, tcp 1), 0 of 1 iterations" {
		t.Errorf("header %q", lines[0])
	}
	if got := lines[len(lines)-2]; got != "terminate: no iteration was recorded" {
		t.Errorf("terminate line %q", got)
	}
	if got := lines[len(lines)-1]; got != "verdict: FAIL (no iteration was recorded) in 1.21s; INTERRUPTED after 0 of 1 iterations: not a sign-off" {
		t.Errorf("verdict line %q", got)
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
