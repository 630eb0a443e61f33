package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
)

func testResult(its ...load.Iteration) *load.Result {
	for i := range its {
		its[i].N = i + 1
	}
	return &load.Result{
		Config: load.Config{Policy: target.PolicyFixed, Mix: mix, InflightFor: 500 * time.Millisecond,
			DrainTimeout: 100 * time.Millisecond, ReadyTimeout: 5 * time.Second, Iterations: len(its)},
		Iterations: its,
		Wall:       1210 * time.Millisecond,
	}
}

var testTool = ToolInfo{Version: "v0.1.0", Commit: "abc123", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64",
	GOMAXPROCS: 8, OpenFileLimit: 1048576, CommandLine: []string{"shutdowntest", "--headless"}}

// roundTrip encodes the report and decodes it generically, keeping numbers
// as json.Number so that "an integer" can be asserted.
func roundTrip(t *testing.T, r Report) (map[string]any, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if !strings.HasSuffix(text, "}\n") || !strings.HasPrefix(text, "{\n  \"") {
		t.Fatalf("not indented JSON with a trailing newline: %q…", text[:min(40, len(text))])
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m, text
}

// get walks a decoded document: get(m, "iterations", 0, "terminate").
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			obj, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %q", path, k)
			}
			if v, ok = obj[k]; !ok {
				t.Fatalf("%v: no key %q (have %v)", path, k, keys(obj))
			}
		case int:
			arr, ok := v.([]any)
			if !ok || k >= len(arr) {
				t.Fatalf("%v: no index %d in %v", path, k, v)
			}
			v = arr[k]
		}
	}
	return v
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func num(t *testing.T, v any, path ...any) float64 {
	t.Helper()
	n, ok := get(t, v, path...).(json.Number)
	if !ok {
		t.Fatalf("%v: %v is not a number", path, get(t, v, path...))
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func integer(t *testing.T, v any, path ...any) int64 {
	t.Helper()
	n, ok := get(t, v, path...).(json.Number)
	if !ok {
		t.Fatalf("%v: not a number", path)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%v: %q is not an integer", path, n)
	}
	return i
}

func TestBuildJSON(t *testing.T) {
	clean := cleanIteration()
	// Client 2's thread was not recorded by the engine: its local address
	// still names the thread. Thread 8 served something that is not a
	// configured client (a probe).
	clean.Clients[1].Thread = 0
	extra := doneThread(8, target.StateLinger, after(200))
	extra.Peer = "127.0.0.1:1"
	extra.States[2].Repeats = 2
	clean.Server.Kernel.Threads = append(clean.Server.Kernel.Threads, extra)
	// Client 6 never got a thread and never ended.
	clean.Clients[5].Thread, clean.Clients[5].Local, clean.Clients[5].EndedAt = 0, "", 0

	kept := keptOpenIteration()
	res := testResult(clean, kept)
	r := Build(res, nil, testTool)
	m, text := roundTrip(t, r)

	for _, k := range []string{"schema", "verdict", "interrupted", "tool", "config", "checks", "wall_ms", "drain", "reproduce", "iterations"} {
		get(t, m, k)
	}
	if get(t, m, "schema") != Schema || Schema != "shutdowntest-report/6" {
		t.Errorf("schema %v", get(t, m, "schema"))
	}
	// Build cannot know how the tool was invoked: the caller fills the
	// command in. first_failing is absent until there is one.
	if get(t, m, "reproduce", "command") != "" {
		t.Errorf("reproduce %v", get(t, m, "reproduce"))
	}
	if _, has := get(t, m, "reproduce").(map[string]any)["first_failing"]; has {
		t.Error("first_failing must be omitted when empty")
	}
	if v := get(t, m, "verdict"); v != "fail" {
		t.Errorf("verdict %v: the kept-open iteration fails", v)
	}
	if got := num(t, m, "wall_ms"); got != 1210 {
		t.Errorf("wall_ms %v", got)
	}
	for k, want := range map[string]any{"version": "v0.1.0", "commit": "abc123", "go_version": "go1.26.8", "os": "linux", "arch": "amd64"} {
		if got := get(t, m, "tool", k); got != want {
			t.Errorf("tool.%s = %v", k, got)
		}
	}
	if integer(t, m, "tool", "gomaxprocs") != 8 || integer(t, m, "tool", "open_file_limit") != 1048576 ||
		get(t, m, "tool", "command_line", 1) != "--headless" {
		t.Error("tool numbers or command line")
	}
	if get(t, m, "config", "policy") != "fixed" || num(t, m, "config", "inflight_for_ms") != 500 ||
		num(t, m, "config", "drain_timeout_ms") != 100 || num(t, m, "config", "ready_timeout_ms") != 5000 ||
		integer(t, m, "config", "iterations") != 2 || num(t, m, "config", "max_drain_ms") != 0 {
		t.Errorf("config %v", get(t, m, "config"))
	}
	for _, k := range []string{"http_idle", "http_inflight", "rest_idle", "rest_inflight", "ws", "silent"} {
		if integer(t, m, "config", "clients", k) != 1 {
			t.Errorf("config.clients.%s", k)
		}
	}
	// Every check of each iteration, aggregated, and no-growth over the run.
	if n := len(get(t, m, "checks").([]any)); n != allChecks {
		t.Errorf("%d aggregated checks", n)
	}
	if c := get(t, m, "checks", checkIndex(t, CheckNoGrowth)); get(t, c, "id") != CheckNoGrowth || get(t, c, "status") != "skip" {
		t.Errorf("no-growth over 2 iterations: %v", c)
	}
	if d := get(t, m, "checks", 2, "detail").(string); !strings.HasPrefix(d, "failed in 1 of 2 iterations; first (iteration 2):") {
		t.Errorf("aggregated no-thread-leak: %s", d)
	}
	// Aggregated checks say in how many iterations they passed.
	for i, want := range map[int][2]int64{0: {2, 2}, 1: {1, 2}, 2: {1, 2}, 3: {2, 2}, 9: {2, 2}, 10: {0, 2}, 11: {0, 2}} {
		c := get(t, m, "checks", i)
		if p, n := integer(t, c, "passed_iterations"), integer(t, c, "iterations"); p != want[0] || n != want[1] {
			t.Errorf("check %v: passed %d of %d, want %d of %d", get(t, c, "id"), p, n, want[0], want[1])
		}
	}
	if dw := checkIndex(t, CheckDrainWithin); get(t, m, "checks", dw, "id") != CheckDrainWithin || get(t, m, "checks", dw, "status") != "skip" {
		t.Errorf("drain-within without --max-drain: %v", get(t, m, "checks", dw))
	}
	// The drain over both iterations: the kept-open one never closed
	// terminate, and its stragglers exited at t+0.500s.
	drain := get(t, m, "drain")
	for k, want := range map[string][6]float64{ // n, min, median, p95, max, missing
		"listener_closed":  {2, 1, 1, 1, 1, 0},
		"last_inflight":    {2, 304, 304, 304, 304, 0},
		"last_thread_exit": {2, 305, 305, 500, 500, 0},
		"terminate_closed": {1, 310, 310, 310, 310, 1},
	} {
		got := [6]float64{num(t, drain, k, "n"), num(t, drain, k, "min_ms"), num(t, drain, k, "median_ms"),
			num(t, drain, k, "p95_ms"), num(t, drain, k, "max_ms"), num(t, drain, k, "missing")}
		if got != want {
			t.Errorf("drain.%s = %v, want %v", k, got, want)
		}
	}

	its := get(t, m, "iterations").([]any)
	if len(its) != 2 {
		t.Fatalf("%d iterations", len(its))
	}
	for i := range its {
		if n := len(get(t, m, "iterations", i, "clients").([]any)); n != mix.Total() {
			t.Errorf("iteration %d: %d clients, configured %d", i+1, n, mix.Total())
		}
		checks := get(t, m, "iterations", i, "checks").([]any)
		if len(checks) != len(criteria) {
			t.Errorf("iteration %d: %d checks", i+1, len(checks))
		}
		for _, c := range checks {
			for _, k := range []string{"passed_iterations", "iterations"} {
				if _, has := c.(map[string]any)[k]; has {
					t.Errorf("iteration %d: %s belongs to aggregated checks only: %v", i+1, k, c)
				}
			}
		}
		for _, k := range []string{"n", "addr", "verdict", "terminate", "shutdown", "drain", "threads", "routes", "admission",
			"resources", "violations", "observed_until_ms", "all_ended", "interrupted"} {
			get(t, m, "iterations", i, k)
		}
	}

	it0 := get(t, m, "iterations", 0)
	if get(t, it0, "verdict") != "pass" || integer(t, it0, "n") != 1 {
		t.Errorf("iteration 1 verdict %v", get(t, it0, "verdict"))
	}
	term := get(t, it0, "terminate")
	if integer(t, term, "handle") != 0x40 || num(t, term, "signaled_ms") != 0 || num(t, term, "closed_ms") != 310 ||
		integer(t, term, "live_threads_at_close") != 0 || integer(t, term, "waiters_at_close") != 0 ||
		integer(t, term, "waits_after_close") != 0 || get(t, term, "kept_open") != false {
		t.Errorf("clean terminate %v", term)
	}
	d0 := get(t, it0, "drain")
	if num(t, d0, "listener_closed_ms") != 1 || num(t, d0, "last_inflight_ms") != 304 || num(t, d0, "last_thread_exit_ms") != 305 ||
		num(t, d0, "terminate_closed_ms") != 310 || get(t, d0, "terminate_kept_open") != false {
		t.Errorf("clean drain %v", d0)
	}
	if num(t, it0, "shutdown", "returned_ms") != 311 || len(get(t, it0, "shutdown", "stragglers").([]any)) != 0 {
		t.Errorf("clean shutdown %v", get(t, it0, "shutdown"))
	}
	step := get(t, it0, "shutdown", "steps", 2)
	if get(t, step, "name") != "join-clients" || num(t, step, "start_ms") != 1 || num(t, step, "end_ms") != 310 ||
		num(t, step, "budget_ms") != 10000 || get(t, step, "outcome") != "ok" || get(t, step, "detail") != "6 client threads joined" {
		t.Errorf("step %v", step)
	}

	threads := get(t, it0, "threads").([]any)
	if len(threads) != 7 {
		t.Fatalf("%d threads: only the 7 client threads belong here", len(threads))
	}
	for i, th := range threads {
		tid := integer(t, th, "id")
		if tid == 7 || tid == 8 {
			// 7 served client 6, but nothing recorded that; 8 no client.
			if get(t, th, "client") != nil || get(t, th, "probe") != "other" {
				t.Errorf("thread %d: %v", tid, th)
			}
			if tid == 8 && integer(t, th, "states", 2, "repeats") != 2 {
				t.Errorf("thread 8 repeats: %v", get(t, th, "states"))
			}
			continue
		}
		if integer(t, th, "client") != tid-1 {
			t.Errorf("thread %d: client %v", tid, get(t, th, "client"))
		}
		if _, has := th.(map[string]any)["probe"]; has {
			t.Errorf("thread %d served a client: no probe label", tid)
		}
		if _, has := get(t, th, "states", 0).(map[string]any)["repeats"]; has {
			t.Errorf("thread %d: repeats 0 must be omitted", tid)
		}
		if get(t, th, "states", 0, "state") != "spawning" || num(t, th, "states", 0, "at_ms") != -200 {
			t.Errorf("thread %d states %v", tid, get(t, th, "states", 0))
		}
		if num(t, th, "exited_ms") != float64(300+i) || get(t, th, "forced") != false {
			t.Errorf("thread %d exit %v", tid, get(t, th, "exited_ms"))
		}
	}

	clients := get(t, it0, "clients").([]any)
	for i, c := range clients {
		id := integer(t, c, "id")
		_, hasMsgs := c.(map[string]any)["messages"]
		if ws := get(t, c, "kind") == "ws"; ws != hasMsgs {
			t.Errorf("client %d: messages present %v, ws %v", id, hasMsgs, ws)
		}
		if id == 6 {
			if get(t, c, "thread") != nil || get(t, c, "ended_ms") != nil {
				t.Errorf("client 6: thread and ended_ms must be null: %v", c)
			}
			continue
		}
		if integer(t, c, "thread") != id+1 || num(t, c, "ended_ms") != float64(300+id) {
			t.Errorf("client %d (index %d): %v", id, i, c)
		}
	}
	if get(t, clients, 4, "role") != "stream" || integer(t, clients, 4, "messages") != 12 ||
		get(t, clients, 4, "outcome") != "ws-close-1001" {
		t.Errorf("ws client %v", get(t, clients, 4))
	}
	if get(t, it0, "routes", 0, "expected", "content_type") != "application/json; charset=utf-8" ||
		integer(t, it0, "routes", 0, "observed", "status") != 200 || get(t, it0, "routes", 0, "error") != "" {
		t.Errorf("route %v", get(t, it0, "routes", 0))
	}
	if get(t, it0, "admission", 1, "when") != "after-return" || num(t, it0, "admission", 0, "at_ms") != 0.5 {
		t.Errorf("admission %v", get(t, it0, "admission"))
	}
	fd := get(t, it0, "resources", "fd_check")
	if get(t, fd, "available") != true || integer(t, fd, "at_hold") != 13 || integer(t, fd, "expected_at_hold") != 13 ||
		integer(t, fd, "after") != 0 || integer(t, fd, "base") != 4 {
		t.Errorf("fd_check %v", fd)
	}
	if h := get(t, it0, "resources", "handles").([]any); len(h) != 0 {
		t.Errorf("handles %v", h)
	}

	it1 := get(t, m, "iterations", 1)
	term = get(t, it1, "terminate")
	if v, ok := term.(map[string]any)["closed_ms"]; !ok || v != nil {
		t.Errorf("kept open: closed_ms must be present and null, got %v", v)
	}
	if get(t, term, "kept_open") != true || integer(t, term, "live_threads_at_close") != 0 {
		t.Errorf("kept-open terminate %v", term)
	}
	d1 := get(t, it1, "drain")
	if v, ok := d1.(map[string]any)["terminate_closed_ms"]; !ok || v != nil || get(t, d1, "terminate_kept_open") != true ||
		num(t, d1, "last_thread_exit_ms") != 500 {
		t.Errorf("kept-open drain %v", d1)
	}
	st := get(t, it1, "shutdown", "stragglers").([]any)
	if len(st) != 2 || st[0] != json.Number("3") || st[1] != json.Number("5") {
		t.Errorf("stragglers %v", st)
	}
	if get(t, it1, "verdict") != "fail" || integer(t, it1, "resources", "open_handles") != 1 ||
		get(t, it1, "resources", "handles", 0) != "terminate" {
		t.Errorf("kept-open iteration %v", it1)
	}
	if strings.Contains(text, `\u2192`) || strings.Contains(text, `\u003c`) {
		t.Error("JSON must not escape → or <")
	}
}

// The caller's reproduce commands round-trip; max_drain_ms is the budget.
func TestBuildReproduceAndMaxDrain(t *testing.T) {
	res := testResult(cleanIteration(), keptOpenIteration())
	res.Config.MaxDrain = 400 * time.Millisecond
	for i := range res.Iterations {
		res.Iterations[i].MaxDrain = res.Config.MaxDrain
	}
	r := Build(res, nil, testTool)
	r.Reproduce = Reproduce{Command: "shutdowntest --headless --iterations=2", FirstFailing: "shutdowntest --headless --iterations=1"}
	m, _ := roundTrip(t, r)
	if get(t, m, "reproduce", "command") != r.Reproduce.Command || get(t, m, "reproduce", "first_failing") != r.Reproduce.FirstFailing {
		t.Errorf("reproduce %v", get(t, m, "reproduce"))
	}
	if num(t, m, "config", "max_drain_ms") != 400 {
		t.Errorf("max_drain_ms %v", get(t, m, "config", "max_drain_ms"))
	}
	c := get(t, m, "checks", checkIndex(t, CheckDrainWithin))
	if get(t, c, "id") != CheckDrainWithin || get(t, c, "status") != "fail" || integer(t, c, "passed_iterations") != 1 ||
		integer(t, c, "iterations") != 2 || integer(t, c, "observed") != 12 {
		t.Errorf("drain-within aggregated %v", c)
	}
	if d := get(t, c, "detail").(string); d != "failed in 1 of 2 iterations; first (iteration 2): last client thread exited at t+0.500s, over the 400ms budget" {
		t.Errorf("drain-within detail %q", d)
	}
}

func TestBuildLegacyTimeline(t *testing.T) {
	r := Build(testResult(legacyIteration()), nil, testTool)
	m, _ := roundTrip(t, r)
	term := get(t, m, "iterations", 0, "terminate")
	if num(t, term, "closed_ms") != 4 || integer(t, term, "live_threads_at_close") != 2 || integer(t, term, "waits_after_close") != 2 {
		t.Errorf("legacy terminate %v", term)
	}
	// The verdict follows from the report's own timeline: the threads
	// that exited after closed_ms are exactly the live count.
	closed := num(t, term, "closed_ms")
	live := 0
	for _, th := range get(t, m, "iterations", 0, "threads").([]any) {
		if e := get(t, th, "exited_ms"); e == nil || num(t, th, "exited_ms") > closed {
			live++
		}
	}
	if live != 2 {
		t.Errorf("timeline shows %d live at close", live)
	}
	if get(t, m, "iterations", 0, "violations", 0, "kind") != "wait-on-closed" || num(t, m, "iterations", 0, "violations", 0, "at_ms") != 305 ||
		integer(t, m, "iterations", 0, "violations", 0, "thread") != 2 || integer(t, m, "iterations", 0, "violations", 0, "handle") != 0x40 {
		t.Errorf("violations %v", get(t, m, "iterations", 0, "violations"))
	}
	// The record's list, carried as it is.
	if ids := get(t, term, "alive_at_close").([]any); len(ids) != 2 || ids[0] != json.Number("2") || ids[1] != json.Number("4") {
		t.Errorf("alive_at_close %v", ids)
	}
	if get(t, m, "verdict") != "fail" || get(t, m, "checks", 0, "status") != "fail" {
		t.Error("legacy must fail")
	}
}

// A run that could not be carried out: verdict error with the engine's
// error, the iteration's own verdict error, and no fd count at hold
// claimed. A run that could be carried out has error null, and the
// clients' and probes' ok are the one rule's answers.
func TestBuildJSONError(t *testing.T) {
	it := cleanIteration()
	it.Ready, it.FDs.AtHold, it.FDs.ExpectedAtHold = false, 0, 0
	runErr := fmt.Errorf("run: %w", &load.RunError{Iteration: 1, Phase: load.PhaseStarting, Err: errors.New("route probes: dial: refused")})
	m, _ := roundTrip(t, Build(testResult(it), runErr, testTool))
	if get(t, m, "verdict") != "error" || get(t, m, "iterations", 0, "verdict") != "error" {
		t.Errorf("verdicts %v, %v", get(t, m, "verdict"), get(t, m, "iterations", 0, "verdict"))
	}
	e := get(t, m, "error")
	if integer(t, e, "iteration") != 1 || get(t, e, "phase") != "starting" || get(t, e, "message") != "run: route probes: dial: refused" {
		t.Errorf("error %v", e)
	}
	fd := get(t, m, "iterations", 0, "resources", "fd_check")
	if get(t, fd, "at_hold") != nil || get(t, fd, "expected_at_hold") != nil || integer(t, fd, "after") != 0 {
		t.Errorf("fd_check claims a count at hold: %v", fd)
	}

	m, _ = roundTrip(t, Build(testResult(cleanIteration()), nil, testTool))
	if v, ok := m["error"]; !ok || v != nil {
		t.Errorf("error must be present and null, got %v", v)
	}
	for i, c := range get(t, m, "iterations", 0, "clients").([]any) {
		if get(t, c, "ok") != true {
			t.Errorf("client %d of the clean run is not ok: %v", i+1, c)
		}
	}
	if get(t, m, "iterations", 0, "admission", 0, "ok") != true {
		t.Errorf("admission %v", get(t, m, "iterations", 0, "admission", 0))
	}
}

func TestBuildNoIteration(t *testing.T) {
	res := testResult()
	res.Config.Iterations = 3
	res.Interrupted = true
	r := Build(res, nil, ToolInfo{})
	m, _ := roundTrip(t, r)
	if get(t, m, "verdict") != "fail" || get(t, m, "interrupted") != true {
		t.Errorf("a run with no iteration cannot pass: %v", get(t, m, "verdict"))
	}
	if its := get(t, m, "iterations").([]any); len(its) != 0 {
		t.Error("iterations must be an empty array")
	}
	checks := get(t, m, "checks").([]any)
	if len(checks) != len(criteria)+len(runCriteria) {
		t.Errorf("checks %v", checks)
	}
	for i := range checks {
		if get(t, checks, i, "status") != "skip" || get(t, checks, i, "detail") != "no iteration was recorded" {
			t.Errorf("check %d: %v", i, get(t, checks, i))
		}
	}
	// No iteration, no drain figure: nulls, not zeros that would read as
	// an instant shutdown.
	for _, k := range []string{"listener_closed", "last_inflight", "last_thread_exit", "terminate_closed"} {
		s := get(t, m, "drain", k)
		if integer(t, s, "n") != 0 || integer(t, s, "missing") != 0 || get(t, s, "min_ms") != nil || get(t, s, "p95_ms") != nil {
			t.Errorf("drain.%s %v", k, s)
		}
	}
	if get(t, m, "tool", "command_line") == nil {
		t.Error("command_line must be an array")
	}
}

func TestBuildNil(t *testing.T) {
	r := Build(nil, nil, testTool)
	if r.Verdict != VerdictFail || len(r.Checks) != allChecks || r.Iterations == nil || r.Schema != Schema {
		t.Errorf("nil result: %+v", r)
	}
}

func TestBuildPendingThread(t *testing.T) {
	it := cleanIteration()
	it.Interrupted, it.ShutdownReturned = true, false
	th := &it.Server.Kernel.Threads[3]
	th.States, th.Exited, th.ExitedAt = th.States[:5], false, 0
	m, _ := roundTrip(t, Build(testResult(it), nil, testTool))
	if get(t, m, "iterations", 0, "threads", 2, "exited_ms") != nil {
		t.Error("a thread that never exited has exited_ms null")
	}
	if get(t, m, "iterations", 0, "shutdown", "returned_ms") != nil {
		t.Error("returned_ms must be null when shutdown did not return")
	}
	if get(t, m, "iterations", 0, "interrupted") != true || get(t, m, "iterations", 0, "verdict") != "fail" {
		t.Error("interrupted iteration")
	}
}

func TestMS(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want float64
	}{{0, 0}, {1234567, 1.235}, {-1234567, -1.235}, {-400, 0}, {time.Second, 1000}, {1500, 0.002}} {
		got := ms(tc.d)
		if got != tc.want {
			t.Errorf("ms(%d) = %v, want %v", tc.d, got, tc.want)
		}
		if b, _ := json.Marshal(got); strings.HasPrefix(string(b), "-0") && tc.want == 0 {
			t.Errorf("ms(%d) encodes as %s", tc.d, b)
		}
	}
}
