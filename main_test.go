package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"shutdowntest/internal/strayconn"
	"shutdowntest/internal/testbin"
	"shutdowntest/load"
	"shutdowntest/reports"
	"shutdowntest/tui"
)

// TestMain also serves as the holder of a stray connection when a test
// runs this binary again for one (strayconn).
func TestMain(m *testing.M) {
	strayconn.Serve()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { testbin.Remove() }))
}

// quick keeps end-to-end runs short: millisecond holds, small budgets.
var quick = []string{"--headless", "--inflight-for", "30ms", "--drain-timeout", "2s", "--ready-timeout", "5s"}

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"shutdowntest"}, args...), &out, &errb, false, nil)
	return code, out.String(), errb.String()
}

func TestBadFlagsExit2WithOneLineNamingTheFlag(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		flag string
	}{
		{[]string{"--ws", "-1"}, "--ws"},
		{[]string{"--silent=-3"}, "--silent"},
		{[]string{"--policy", "nope"}, "--policy"},
		{[]string{"--drain-timeout", "10"}, "drain-timeout"},
		{[]string{"--inflight-for", "soon"}, "inflight-for"},
		{[]string{"--ready-timeout", "0s"}, "--ready-timeout"},
		{[]string{"--iterations", "0"}, "--iterations"},
		{[]string{"--iterations", "9223372036854775807"}, "--iterations"},
		{[]string{"--iterations", "1000001"}, "--iterations"},
		{[]string{"--fault", "slow-tls"}, "--https"},
		{[]string{"--for", "-1s"}, "--for"},
		{[]string{"--for", "720h0m0.001s"}, "--for"},
		{[]string{"--for", "soon"}, "--for"},
		{[]string{"--jitter", "-1ms"}, "--jitter"},
		{[]string{"--jitter", "24h0m0.001s"}, "--jitter"},
		{[]string{"--seed", "x"}, "--seed"},
		{[]string{"--seed", "9223372036854775808"}, "--seed"},
		{[]string{"--frobnicate"}, "--frobnicate"},
		{[]string{"--json", filepath.Join(dir, "missing", "r.json")}, "--json"},
		{[]string{"--json", dir}, "--json"},
		{[]string{"--markdown", "-"}, "--markdown"},
		{[]string{"--html", filepath.Join(dir, "no", "r.html")}, "--html"},
		{[]string{"--junit", dir}, "--junit"},
		{[]string{"--max-drain", "-1s"}, "--max-drain"},
		{[]string{"--shutdown-after", "-2s"}, "--shutdown-after"},
		{[]string{"--http-idle", "0", "--http-inflight", "0", "--rest-idle", "0", "--rest-inflight", "0", "--ws", "0", "--silent", "0"}, "at least one client"},
		{[]string{"--silent", "100000"}, "open-file limit"},
		{[]string{"extra"}, "unexpected argument"},
		// Counts whose sum, or whose socket estimate, does not fit in an int.
		{[]string{"--silent", "9223372036854775807", "--ws", "9223372036854775807"}, "--silent"},
		{[]string{"--http-idle", "4611686018427387888"}, "--http-idle"},
		{[]string{"--silent", "99999999999999999999"}, "--silent"},
		// Durations over 24h: the observation deadline would overflow.
		{[]string{"--drain-timeout", "2562047h47m16s"}, "--drain-timeout"},
		{[]string{"--inflight-for", "24h0m0.001s"}, "--inflight-for"},
		{[]string{"--ready-timeout", "25h"}, "--ready-timeout"},
		{[]string{"--shutdown-after", "100h"}, "--shutdown-after"},
		{[]string{"--max-drain", "1000h"}, "--max-drain"},
	}
	for _, c := range cases {
		code, out, errs := runArgs(t, c.args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
		if out != "" {
			t.Errorf("%v: wrote to stdout: %q", c.args, out)
		}
		if strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.flag) {
			t.Errorf("%v: stderr %q, want one line naming %s", c.args, errs, c.flag)
		}
	}
}

// The largest values that are valid input are accepted as they are.
func TestLimitsAreInclusive(t *testing.T) {
	day := "24h"
	o, err := parseFlags([]string{"--inflight-for", day, "--drain-timeout", day, "--ready-timeout", day,
		"--shutdown-after", day, "--max-drain", day, "--http-idle", "0", "--http-inflight", "0", "--rest-idle", "0",
		"--rest-inflight", "0", "--ws", "0", "--silent", fmt.Sprint(load.MaxClients)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	for _, d := range []time.Duration{c.InflightFor, c.DrainTimeout, c.ReadyTimeout, c.ShutdownAfter, c.MaxDrain} {
		if d != maxDuration {
			t.Errorf("a duration of 24h became %v", d)
		}
	}
	if got := c.Mix.SocketsNeeded(); got < 2*load.MaxClients {
		t.Errorf("the socket estimate of %d clients wrapped to %d", c.Mix.Total(), got)
	}
}

// Two report flags naming one file are refused before the run, naming
// both: the same path, the same path spelled differently, a link to it,
// and a hard link to it.
func TestReportFlagsNamingOneFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "r.json")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link, hard := filepath.Join(dir, "l"), filepath.Join(dir, "h")
	if err := os.Symlink("r.json", link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if err := os.Link(file, hard); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "new.md")
	for _, pair := range [][2]string{
		{file, file}, {file, filepath.Join(dir, ".", "..", filepath.Base(dir), "r.json")},
		{file, link}, {file, hard}, {fresh, fresh},
	} {
		code, _, errs := runArgs(t, "--json", pair[0], "--junit", filepath.Join(dir, "j.xml"), "--markdown", pair[1])
		if code != exitUsage || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "--json and --markdown") {
			t.Errorf("--json %s --markdown %s: exit %d, stderr %q; want 2 and one line naming both", pair[0], pair[1], code, errs)
		}
	}
	// Stdout is not a file: --json - with file reports is fine.
	if _, err := parseFlags([]string{"--json", "-", "--junit", file, "--markdown", fresh}, io.Discard); err != nil {
		t.Errorf("--json - beside two files: %v", err)
	}
}

// When several exit statuses apply, the documented order picks one.
func TestExitStatusPrecedence(t *testing.T) {
	for _, c := range []struct {
		interrupted, notRun, written, pass bool
		want                               int
	}{
		{false, false, true, true, exitPass},
		{false, false, true, false, exitFail},
		{false, false, false, true, exitNoReport},
		{false, false, false, false, exitNoReport},
		{false, true, false, false, exitNotRun},
		{false, true, true, true, exitNotRun},
		{true, true, false, false, exitInterrupted},
		{true, false, true, true, exitInterrupted},
	} {
		if got := exitStatus(c.interrupted, c.notRun, c.written, c.pass); got != c.want {
			t.Errorf("exitStatus(interrupted %v, not run %v, written %v, pass %v) = %d, want %d",
				c.interrupted, c.notRun, c.written, c.pass, got, c.want)
		}
	}
}

// A second Ctrl-C while a report is being written (here: in the middle of
// rendering it) removes the temporary file at once and says in one line
// which reports were not written.
func TestSecondSignalWhileWritingRemovesTemps(t *testing.T) {
	dir := t.TempDir()
	done, mid := filepath.Join(dir, "done.json"), filepath.Join(dir, "mid.html")
	out := reports.NewBatch("--json "+done, "--html "+mid, "--markdown m.md")
	was := writing.Swap(out)
	t.Cleanup(func() { writing.Store(was) })
	if err := out.Write("--json "+done, done, func(w io.Writer) error { _, err := io.WriteString(w, "{}"); return err }); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	err := out.Write("--html "+mid, mid, func(w io.Writer) error {
		if _, err := io.WriteString(w, "<html>"); err != nil {
			return err
		}
		quitAtOnce(&errb)
		return nil
	})
	if err == nil {
		t.Error("the write interrupted by the second signal succeeded")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if _, err := os.Stat(mid); err == nil {
		t.Error("the interrupted report exists")
	}
	want := "shutdowntest: quit at once; no report written for --html " + mid + ", --markdown m.md\n"
	if errb.String() != want {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
}

func TestHelpAndVersion(t *testing.T) {
	if code, out, _ := runArgs(t, "--help"); code != 0 || !strings.Contains(out, "--drain-timeout") || !strings.Contains(out, "Examples:") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
	if code, out, _ := runArgs(t, "--version"); code != 0 || !strings.HasPrefix(out, "shutdowntest "+version) {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}

func TestFixedPassesAndWritesJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	code, out, errs := runArgs(t, append(quick, "--json", path)...)
	if code != exitPass {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "verdict: PASS") || !strings.Contains(errs, "iteration 1/1: pass") {
		t.Errorf("summary %q, progress %q", out, errs)
	}
	var rep struct {
		Verdict    string
		Iterations []struct {
			Terminate struct {
				LiveThreadsAtClose *int `json:"live_threads_at_close"`
			}
			Clients []struct{ Kind string }
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != "pass" || len(rep.Iterations) != 1 {
		t.Fatalf("verdict %q, %d iterations", rep.Verdict, len(rep.Iterations))
	}
	it := rep.Iterations[0]
	if it.Terminate.LiveThreadsAtClose == nil || *it.Terminate.LiveThreadsAtClose != 0 {
		t.Errorf("live_threads_at_close = %v, want 0", it.Terminate.LiveThreadsAtClose)
	}
	kinds := map[string]int{}
	for _, c := range it.Clients {
		kinds[c.Kind]++
	}
	if len(it.Clients) != 6 || kinds["http"] != 2 || kinds["rest"] != 2 || kinds["ws"] != 1 || kinds["tcp"] != 1 {
		t.Errorf("clients by kind %v, want 6 of the default mix", kinds)
	}
}

func TestLegacyIsCaught(t *testing.T) {
	code, out, errs := runArgs(t, append(quick, "--policy", "legacy", "--json", "-")...)
	if code != exitFail {
		t.Fatalf("exit %d, want 1\n%s", code, errs)
	}
	// With --json -, stdout is the JSON alone and the summary is on stderr.
	var rep struct {
		Verdict string
		Checks  []struct{ ID, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	var term string
	for _, c := range rep.Checks {
		if c.ID == "terminate-outlived-waiters" {
			term = c.Status + " " + c.Detail
		}
	}
	if rep.Verdict != "fail" || !strings.HasPrefix(term, "fail") || !strings.Contains(term, "client threads were alive") {
		t.Errorf("verdict %q, terminate-outlived-waiters %q", rep.Verdict, term)
	}
	if !strings.Contains(errs, "FAIL terminate-outlived-waiters") {
		t.Errorf("summary on stderr lacks the failure: %q", errs)
	}
}

func TestKeptOpenFailsNoThreadLeak(t *testing.T) {
	code, out, errs := runArgs(t, "--headless", "--http-idle", "0", "--rest-idle", "0", "--ws", "0", "--silent", "0",
		"--inflight-for", "1500ms", "--drain-timeout", "100ms", "--json", "-")
	if code != exitFail {
		t.Fatalf("exit %d, want 1\n%s", code, errs)
	}
	var rep struct {
		Checks     []struct{ ID, Status, Detail string }
		Iterations []struct {
			Terminate struct {
				KeptOpen bool     `json:"kept_open"`
				ClosedMS *float64 `json:"closed_ms"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, c := range rep.Checks {
		status[c.ID] = c.Status
	}
	tr := rep.Iterations[0].Terminate
	if !tr.KeptOpen || tr.ClosedMS != nil {
		t.Errorf("terminate %+v, want kept open and never closed", tr)
	}
	if status["terminate-outlived-waiters"] != "pass" || status["no-thread-leak"] != "fail" {
		t.Errorf("checks %v", status)
	}
}

func TestInterruptedRunIsReportedAs130(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Ctrl-C came before the clients were ready
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"shutdowntest"}, append(quick, "--iterations", "3", "--json", "-")...), &out, &errb, false, nil)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s", code, errb.String())
	}
	var rep struct {
		Interrupted bool
		Iterations  []struct{ Interrupted bool }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || len(rep.Iterations) != 1 || !rep.Iterations[0].Interrupted {
		t.Errorf("report %+v: want interrupted, one iteration", rep)
	}
}

func TestReproduceCommand(t *testing.T) {
	o, err := parseFlags([]string{"--policy", "legacy", "--ws", "3", "--iterations", "20", "--drain-timeout", "2s",
		"--json", filepath.Join(t.TempDir(), "r.json"), "--headless"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	all, one := reproduce(o, progName("/tmp/go-build123/b001/exe/shutdowntest"))
	if want := "go run . --headless --policy=legacy --ws=3 --iterations=20 --drain-timeout=2s"; all != want {
		t.Errorf("command %q, want %q", all, want)
	}
	if want := "go run . --headless --policy=legacy --ws=3 --drain-timeout=2s --iterations=1"; one != want {
		t.Errorf("one iteration %q, want %q", one, want)
	}
	if got := progName("/usr/local/bin/shutdowntest"); got != "shutdowntest" {
		t.Errorf("progName %q", got)
	}
}

// A legacy run with every report format: each file lands, the JUnit
// parses with one failure per failed check, the Markdown table shows the
// failures, and the HTML fetches nothing from anywhere.
func TestLegacyWritesEveryReport(t *testing.T) {
	dir := t.TempDir()
	junit, md, page := filepath.Join(dir, "j.xml"), filepath.Join(dir, "r.md"), filepath.Join(dir, "r.html")
	code, out, errs := runArgs(t, append(quick, "--policy", "legacy", "--junit", junit, "--markdown", md, "--html", page)...)
	if code != exitFail {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var suites struct {
		Failures int `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testsuite>testcase"`
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &suites); err != nil {
		t.Fatalf("junit does not parse: %v", err)
	}
	failed := map[string]string{}
	for _, c := range suites.Cases {
		if c.Failure != nil {
			failed[c.Name] = c.Failure.Message
		}
	}
	if !strings.Contains(failed["terminate-outlived-waiters"], "client threads were alive") || suites.Failures != len(failed) {
		t.Errorf("junit failures %v (attribute %d)", failed, suites.Failures)
	}
	for id := range failed {
		if !strings.Contains(out, "FAIL "+id) {
			t.Errorf("junit fails %s, the summary does not", id)
		}
	}
	m, _ := os.ReadFile(md)
	if !strings.Contains(string(m), "| `terminate-outlived-waiters` | **FAIL**") {
		t.Errorf("markdown checks table lacks the failure:\n%s", m)
	}
	h, _ := os.ReadFile(page)
	if len(h) == 0 || regexp.MustCompile(`(?i)(https?:|src=|@import|url\()`).Match(h) {
		t.Errorf("html is empty or refers outside itself (%d bytes)", len(h))
	}
	if !strings.Contains(out, "reproduce: ") {
		t.Errorf("summary does not end with the reproduce command:\n%s", out)
	}
}

// withKeys makes the terminal UI read keys from a string and draw into a
// buffer, for one test.
func withKeys(t *testing.T, typed string) *bytes.Buffer {
	t.Helper()
	var screen bytes.Buffer
	was := interactive
	interactive = func(ctx context.Context, o tui.Options) (tui.Final, error) {
		o.Input, o.Output = strings.NewReader(typed), &screen
		return tui.Run(ctx, o)
	}
	t.Cleanup(func() { interactive = was })
	return &screen
}

// The terminal UI ends like headless: the same summary on stdout, the same
// reports and the same exit status for the same run. A first q before the
// trigger shuts down and waits for the verdict.
func TestInteractiveRunEndsLikeHeadless(t *testing.T) {
	quickTUI := []string{"--inflight-for", "30ms", "--drain-timeout", "2s", "--ready-timeout", "5s"}
	cases := []struct {
		name   string
		keys   string
		args   []string
		code   int
		policy string
	}{
		{"fixed", "q", nil, exitPass, "fixed"},
		{"legacy", "q", []string{"--policy", "legacy"}, exitFail, "legacy"},
		// p, → (legacy), enter: start again with legacy; then q.
		{"policy chosen in the view", "p\x1b[C\rq", nil, exitFail, "legacy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			screen := withKeys(t, c.keys)
			path := filepath.Join(t.TempDir(), "r.json")
			var out, errb bytes.Buffer
			args := append(append([]string{"shutdowntest", "--json", path}, quickTUI...), c.args...)
			code := run(context.Background(), args, &out, &errb, true, nil)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstderr: %s\nscreen tail: %q", code, c.code, errb.String(), tail(screen.String(), 400))
			}
			if !strings.Contains(out.String(), "verdict: ") || !strings.Contains(out.String(), "reproduce: ") {
				t.Errorf("no summary on stdout after the view:\n%s", out.String())
			}
			if want := "--policy=" + c.policy; c.policy == "legacy" && !strings.Contains(out.String(), want) {
				t.Errorf("reproduce does not name %s:\n%s", want, out.String())
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Verdict string
				Config  struct{ Policy string }
			}
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Config.Policy != c.policy || (rep.Verdict == "pass") != (c.code == exitPass) {
				t.Errorf("report: policy %s verdict %s", rep.Config.Policy, rep.Verdict)
			}
			if !strings.Contains(screen.String(), "VERDICT") {
				t.Error("the view never showed the verdict")
			}
		})
	}
}

func tail(s string, n int) string { return s[max(len(s)-n, 0):] }

// --for runs until the time is up unless --iterations is given; it has
// its own maximum, inclusive.
func TestForAndIterations(t *testing.T) {
	for _, c := range []struct {
		args  []string
		iters int
		d     time.Duration
	}{
		{[]string{"--for", "5m"}, 0, 5 * time.Minute},
		{[]string{"--for", "720h", "--iterations", "1"}, 1, load.MaxFor},
		{[]string{"--iterations", "3"}, 3, 0},
		{nil, 1, 0},
	} {
		o, err := parseFlags(c.args, io.Discard)
		if err != nil || o.cfg.Iterations != c.iters || o.cfg.For != c.d {
			t.Errorf("%v: iterations %d, for %v, err %v; want %d, %v", c.args, o.cfg.Iterations, o.cfg.For, err, c.iters, c.d)
		}
	}
}

// The reproduce command carries the seed a jittered run used, given or
// taken from the clock, and no seed when nothing was drawn from it.
func TestReproduceCarriesTheSeed(t *testing.T) {
	for _, c := range []struct {
		args []string
		used int64
		want string
	}{
		{[]string{"--jitter", "20ms"}, 99, "st --headless --jitter=20ms --seed=99"},
		{[]string{"--jitter", "20ms", "--seed", "5"}, 5, "st --headless --jitter=20ms --seed=5"},
		{[]string{"--ws", "2"}, 99, "st --headless --ws=2"},
		// The garbage role's bytes are drawn from the seed too; the
		// other hostile roles draw nothing.
		{[]string{"--garbage", "1"}, 7, "st --headless --garbage=1 --seed=7"},
		{[]string{"--slowloris", "1"}, 7, "st --headless --slowloris=1"},
	} {
		o, err := parseFlags(c.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg := o.cfg
		cfg.Seed = c.used // what the run says it used
		o.adoptSeed(cfg)
		if all, _ := reproduce(o, "st"); all != c.want {
			t.Errorf("%v: reproduce %q, want %q", c.args, all, c.want)
		}
	}
}

// What the view changed (p, +, -) is what the reproduce command says.
func TestAdoptRewritesPolicyAndMix(t *testing.T) {
	o, err := parseFlags([]string{"--ws", "3", "--silent=2", "--drain-timeout", "2s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	cfg.Policy = "legacy"
	cfg.Mix.WS, cfg.Mix.HTTPIdle = 4, 0 // silent unchanged at 2
	o.adopt(cfg)
	all, _ := reproduce(o, "st")
	if want := "st --headless --ws=4 --silent=2 --drain-timeout=2s --policy=legacy --http-idle=0"; all != want {
		t.Errorf("reproduce %q, want %q", all, want)
	}
	if o.cfg.Policy != "legacy" || o.cfg.Mix.WS != 4 {
		t.Errorf("config not adopted: %+v", o.cfg)
	}
}

// strayOnListening is stderr for a headless run: at the line that says the
// server listens it connects a stray from another process, as a person
// with nc would, before the run goes on.
type strayOnListening struct {
	t     *testing.T
	mu    sync.Mutex
	buf   bytes.Buffer
	addr  string
	stray *strayconn.Conn
}

var listeningLine = regexp.MustCompile(`(?m)^listening on (\S+)$`)

func (w *strayOnListening) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := listeningLine.FindSubmatch(w.buf.Bytes()); m != nil && w.stray == nil {
		w.addr = string(m[1])
		var err error
		if w.stray, err = strayconn.Open(w.addr, 10*time.Second); err != nil {
			w.t.Errorf("connect to %s: %v", w.addr, err)
		}
	}
	return len(p), nil
}

// Headless says on stderr where the server listens, as soon as it does:
// a connection made then is served, and, as the tool did not open it,
// does not keep the run from being carried out. The verdict stands on
// the checks: legacy fails (1, not 3) and fixed passes.
func TestListeningLineAndAStrayConnection(t *testing.T) {
	for _, c := range []struct {
		policy string
		code   int
	}{{"legacy", exitFail}, {"fixed", exitPass}} {
		t.Run(c.policy, func(t *testing.T) {
			stderr := &strayOnListening{t: t}
			var out bytes.Buffer
			code := run(context.Background(), append([]string{"shutdowntest"}, append(quick, "--policy", c.policy, "--json", "-")...),
				&out, stderr, false, nil)
			if stderr.stray != nil {
				defer func() {
					if err := stderr.stray.Close(); err != nil {
						t.Errorf("the stray's holder: %v", err)
					}
				}()
			}
			errs := stderr.buf.String()
			if code != c.code || stderr.stray == nil {
				t.Fatalf("exit %d, want %d; stray connected %v\n%s", code, c.code, stderr.stray != nil, errs)
			}
			if !strings.HasPrefix(errs, "listening on 127.0.0.1:") {
				t.Errorf("stderr does not begin with the listening line: %q", errs)
			}
			var rep struct {
				Iterations []struct {
					Addr    string
					Threads []struct{ Probe, Peer string }
				}
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Iterations) != 1 {
				t.Fatalf("json: %v, %d iterations", err, len(rep.Iterations))
			}
			it := rep.Iterations[0]
			if it.Addr != stderr.addr {
				t.Errorf("listening on %s, the report says the server was at %s", stderr.addr, it.Addr)
			}
			var foreign []string
			for _, th := range it.Threads {
				if th.Probe == "foreign" {
					foreign = append(foreign, th.Peer)
				}
			}
			if len(foreign) != 1 || foreign[0] != stderr.stray.Local {
				t.Errorf("foreign threads' peers %v, want the stray's %s", foreign, stderr.stray.Local)
			}
		})
	}
}
