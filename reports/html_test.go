package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

var htmlTool = ToolInfo{Version: "v0.1.0", Commit: "abc123", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64",
	GOMAXPROCS: 8, OpenFileLimit: 1048576, CommandLine: []string{"shutdowntest", "--headless"}}

func htmlResult(policy target.Policy, its ...load.Iteration) *load.Result {
	for i := range its {
		its[i].N = i + 1
	}
	return &load.Result{
		Config: load.Config{Policy: policy, Mix: mix, InflightFor: 300 * time.Millisecond,
			DrainTimeout: 10 * time.Second, ReadyTimeout: 10 * time.Second, Iterations: len(its)},
		Iterations: its,
		Wall:       1340 * time.Millisecond,
	}
}

// htmlDecorate adds to a fixture what the timeline draws beyond plain
// lanes: the WebSocket thread (6) streams in a wait ⇄ send cycle until the
// trigger, two route probes ran long before the clients, and the
// at-trigger admission probe got a server thread that answered 503.
func htmlDecorate(it *load.Iteration) {
	s := &it.Server
	for i := range s.Kernel.Threads {
		th := &s.Kernel.Threads[i]
		if th.ID != 6 {
			continue
		}
		exit := th.ExitedAt
		th.States = []kernel.StateRecord{
			{State: target.StateSpawning, At: after(-200)},
			{State: target.StateInit, At: after(-199)},
			{State: target.StateWait, At: after(-198)},
			{State: target.StateRead, At: after(-197)},
			{State: target.StateProcess, At: after(-196)},
			{State: target.StateWait, At: after(-195)},
			{State: target.StateSend, At: after(-150), Repeats: 39},
			{State: target.StateLinger, At: after(0.4)},
			{State: target.StateCleanup, At: exit - 2*time.Millisecond},
			{State: target.StateExited, At: exit},
		}
	}
	for i, id := range []int{20, 21} {
		th := doneThread(id, target.StateLinger, after(-260+float64(i)*5))
		for k := range th.States {
			th.States[k].At = after(-270 + float64(i)*5 + float64(k))
		}
		th.States[len(th.States)-1].At = th.ExitedAt
		th.States[len(th.States)-2].At = th.ExitedAt
		s.Kernel.Threads = append(s.Kernel.Threads, th)
		it.Routes[i].Local = peerOf(id)
	}
	adm := kernel.ThreadRecord{ID: 22, Name: target.ThreadClient, Client: true, Peer: peerOf(22), Handle: 0x200,
		States: []kernel.StateRecord{
			{State: target.StateSpawning, At: after(0.5)},
			{State: target.StateInit, At: after(0.6)},
			{State: target.StateWait, At: after(0.7)},
			{State: target.StateRead, At: after(0.8)},
			{State: target.StateSend, At: after(0.9)},
			{State: target.StateCleanup, At: after(1.2)},
			{State: target.StateExited, At: after(1.3)},
		},
		Exited: true, ExitedAt: after(1.3)}
	s.Kernel.Threads = append(s.Kernel.Threads, adm)
	it.Admission[0].Local = peerOf(22)
}

func htmlFixedReport() Report {
	it := cleanIteration()
	htmlDecorate(&it)
	r := Build(htmlResult(target.PolicyFixed, it), nil, htmlTool)
	r.Reproduce.Command = "shutdowntest --headless --json report.json"
	return r
}

// htmlLegacyIteration is the eMule bug: the terminate handle is closed at
// t+4ms, when the listener join returned, while client threads 2 and 4 are
// still processing the in-flight requests; both later wait on the closed
// value.
func htmlLegacyIteration() load.Iteration {
	it := cleanIteration()
	s := &it.Server
	for i := range s.Kernel.Threads {
		th := &s.Kernel.Threads[i]
		if !th.Client {
			continue
		}
		park, exit := th.States[4].State, after(2+float64(th.ID)/10)
		switch th.ID {
		case 2, 4:
			park, exit = target.StateProcess, after(310)
		case 3, 5:
			park = target.StateLinger
		}
		*th = doneThread(th.ID, park, exit)
	}
	// Threads 2 and 4 serve the in-flight clients here (2 and 4), the
	// idle ones (1 and 3) are served by 3 and 5: a request in process is
	// what keeps a thread from seeing terminate before the close.
	for i := range it.Clients {
		c := &it.Clients[i]
		switch c.ID {
		case 1, 3:
			c.Thread = c.ID + 2
		case 2, 4:
			c.Thread = c.ID
		}
		c.Local = peerOf(c.Thread)
	}
	closeUnderLiveThreads(s)
	for i := range it.Clients {
		c := &it.Clients[i]
		c.EndedAt = after(2.5 + float64(c.ID)/10)
		if c.Thread == 2 || c.Thread == 4 {
			c.EndedAt = after(310)
		}
	}
	return it
}

func htmlLegacyReport() Report {
	it := htmlLegacyIteration()
	htmlDecorate(&it)
	r := Build(htmlResult(target.PolicyLegacy, it), nil, htmlTool)
	r.Reproduce = Reproduce{Command: "shutdowntest --headless --policy=legacy --json report.json"}
	return r
}

func htmlOf(t *testing.T, r Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestHTMLGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Report
	}{{"html_fixed", htmlFixedReport()}, {"html_legacy", htmlLegacyReport()}} {
		t.Run(tc.name, func(t *testing.T) {
			got := htmlOf(t, tc.r)
			if again := htmlOf(t, tc.r); again != got {
				t.Fatal("two renderings of one report differ")
			}
			golden(t, tc.name, []byte(got))
		})
	}
}

// htmlForbidden is what would make the page fetch something (or look like
// it might). The inline SVG carries no xmlns, which HTML5 does not need,
// so not even the SVG namespace URL is allowed.
var htmlForbidden = regexp.MustCompile(`(?i)(https?:|//[a-z]|src=|@import|url\()`)

func TestHTMLNoAbsoluteURL(t *testing.T) {
	if m := htmlForbidden.FindString(htmlTemplateText); m != "" {
		t.Fatalf("the template itself contains %q", m)
	}
	hostile := htmlLegacyReport()
	it := &hostile.Iterations[0]
	it.Clients[0].Outcome = "error"
	it.Clients[0].Detail = `Get "http://127.0.0.1:41000/?w=x": <script>alert(1)</script> see //evil.example url(x) @import src=y`
	it.Violations[0].Detail = "HTTPS://example.com/a"
	hostile.Reproduce.Command = "shutdowntest --json //tmp/r.json"
	hostile.Tool.CommandLine = []string{"shutdowntest", "--json", "//tmp/r.json"}
	many := htmlManyReport(300)
	reports := map[string]Report{
		"fixed": htmlFixedReport(), "legacy": htmlLegacyReport(), "hostile": hostile,
		"iterations": htmlIterationsReport(), "none": Build(nil, nil, htmlTool), "zero": {}, "many": many,
	}
	for name, r := range reports {
		t.Run(name, func(t *testing.T) {
			page := htmlOf(t, r)
			if loc := htmlForbidden.FindStringIndex(page); loc != nil {
				t.Fatalf("absolute reference %q in …%s…", page[loc[0]:loc[1]], page[max(0, loc[0]-80):min(len(page), loc[1]+80)])
			}
			for _, bad := range []string{"<script", "<link", "<img", "<iframe", "<object", "xmlns", " href="} {
				if strings.Contains(strings.ToLower(page), bad) {
					t.Errorf("page contains %q", bad)
				}
			}
			if !strings.Contains(page, "<!DOCTYPE html>") || !strings.HasSuffix(page, "</html>\n") {
				t.Error("not a whole HTML document")
			}
		})
	}
	// The defanged text still reads the same in a browser: the scheme's
	// colon is a character reference, the markup is escaped.
	page := htmlOf(t, hostile)
	for _, want := range []string{"http&#58;//127.0.0.1:41000", "&lt;script&gt;", "&#47;&#47;tmp/r.json"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

var (
	htmlCloseMark = regexp.MustCompile(`<g class="close-mark ([a-z]+)" data-closed-ms="([-0-9.]+)"><title>[^<]*</title><line x1="([-0-9.]+)"`)
	htmlLaneTag   = regexp.MustCompile(`<g class="lane( [a-z-]+)*"( data-thread="(\d+)")?( data-exited-ms="([-0-9.]+)")?>`)
	htmlExitMark  = regexp.MustCompile(`<line x1="([-0-9.]+)" y1="[-0-9.]+" x2="[-0-9.]+" y2="[-0-9.]+" class="exit-mark`)
)

func TestHTMLLegacyCloseStandsOut(t *testing.T) {
	page := htmlOf(t, htmlLegacyReport())
	m := htmlCloseMark.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no close mark")
	}
	if m[1] != "violation" || m[2] != "4" {
		t.Errorf("close mark class %q at %s ms, want violation at 4", m[1], m[2])
	}
	if !strings.Contains(page, `class="marker m-close violation"`) {
		t.Error("the close line across the lanes is not red")
	}
	var alive []string
	lanes := 0
	for _, l := range htmlLaneTag.FindAllStringSubmatch(page, -1) {
		lanes++
		if strings.Contains(l[0], "alive-at-close") {
			alive = append(alive, l[3])
		}
	}
	if got := strings.Join(alive, ","); got != "2,4" {
		t.Errorf("alive-at-close lanes %q, want threads 2,4", got)
	}
	if lanes != 6+1+1 { // six clients, the admission probe, the route probes
		t.Errorf("%d lanes", lanes)
	}
	// The two stale waits, 1 ms apart, share one mark that lists both.
	if n := strings.Count(page, `class="viol-mark"`); n != 1 || !strings.Contains(page, "×2") ||
		!strings.Contains(page, "thread 2 waited") || !strings.Contains(page, "thread 4 waited") {
		t.Errorf("%d violation marks, want 1 for both", n)
	}
	for _, w := range []string{"closed, 2 alive", "while 2 client threads were alive (2, 4)", "×40", "route probes ×2", "shutdowntest --headless --policy=legacy"} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestHTMLFixedClosesAfterLastExit(t *testing.T) {
	page := htmlOf(t, htmlFixedReport())
	m := htmlCloseMark.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no close mark")
	}
	if m[1] != "clean" {
		t.Errorf("close mark class %q, want clean", m[1])
	}
	closedMS, _ := strconv.ParseFloat(m[2], 64)
	closedX, _ := strconv.ParseFloat(m[3], 64)
	lastMS := -1e9
	lanes := 0
	for _, l := range htmlLaneTag.FindAllStringSubmatch(page, -1) {
		if strings.Contains(l[0], "alive-at-close") {
			t.Errorf("lane highlighted in a clean run: %s", l[0])
		}
		if l[3] == "" {
			continue // the route probes' lane
		}
		lanes++
		if l[5] == "" {
			t.Errorf("thread %s never exited", l[3])
			continue
		}
		v, _ := strconv.ParseFloat(l[5], 64)
		lastMS = max(lastMS, v)
	}
	if lanes != 7 || lastMS != 305 {
		t.Fatalf("%d thread lanes, last exit %v", lanes, lastMS)
	}
	if closedMS <= lastMS {
		t.Errorf("terminate closed at %v ms, not after the last exit at %v ms", closedMS, lastMS)
	}
	// And so it is drawn: the close mark is right of every exit mark.
	for _, e := range htmlExitMark.FindAllStringSubmatch(page, -1) {
		if x, _ := strconv.ParseFloat(e[1], 64); x > closedX {
			t.Errorf("an exit mark at x=%v is right of the close at x=%v", x, closedX)
		}
	}
	if strings.Contains(page, "alive at close") {
		t.Error("a clean run says alive at close")
	}
}

// htmlIterationsReport has three iterations: a pass, the legacy bug, and
// a pass; the page draws the second.
func htmlIterationsReport() Report {
	its := htmlResult(target.PolicyLegacy, cleanIteration(), htmlLegacyIteration(), cleanIteration())
	return Build(its, nil, htmlTool)
}

func TestHTMLIterations(t *testing.T) {
	page := htmlOf(t, htmlIterationsReport())
	for _, w := range []string{"Timeline: iteration 2, the first failing one", `<tr class="shown"><td class="num">2</td>`,
		"Checks over all 3 iterations", "Checks of iteration 2", "over all iterations"} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if n := strings.Count(page, `<tr><td class="num">`) + strings.Count(page, `<tr class="shown"><td class="num">`); n != 3 {
		t.Errorf("%d iteration rows, want 3", n)
	}
	r := Build(htmlResult(target.PolicyFixed, cleanIteration(), cleanIteration()), nil, htmlTool)
	if page := htmlOf(t, r); !strings.Contains(page, "iteration 2, the last; every iteration passed") {
		t.Error("a passing run does not draw its last iteration")
	}
}

// htmlManyReport is a legacy-like run with n client threads: a quarter of
// them still in process at the close, every one of those later failing a
// wait on the closed handle.
func htmlManyReport(n int) Report {
	m := load.Mix{HTTPIdle: n * 3 / 10, HTTPInflight: n / 10, RESTIdle: n * 2 / 10, RESTInflight: n / 10, WS: n / 10}
	m.Silent = n - m.Total()
	it := cleanIteration()
	s := &it.Server
	s.Policy = target.PolicyLegacy
	threads := s.Kernel.Threads[:1]
	it.Clients = nil
	var fails []kernel.WaitFailure
	var viol []kernel.Violation
	var alive []int
	for _, sp := range m.Specs() {
		id := sp.ID + 1
		park := map[load.Role]target.State{load.RoleIdle: target.StateLinger, load.RoleInflight: target.StateProcess,
			load.RoleStream: target.StateSend, load.RoleSilent: target.StateWait}[sp.Role]
		exit := after(1 + float64(id%30)/10) // before the close at 4 ms
		if sp.Role == load.RoleInflight {
			exit = after(300 + float64(id%100))
			alive = append(alive, id)
			fails = append(fails, kernel.WaitFailure{At: exit - time.Millisecond, Thread: id, Handle: 0x40})
			viol = append(viol, kernel.Violation{At: exit - time.Millisecond, Kind: kernel.ViolationWaitOnClosed,
				Detail: fmt.Sprintf("thread %d waited on 0x40, a closed handle: WAIT_FAILED", id)})
		}
		th := doneThread(id, park, exit)
		if sp.Kind == load.KindWS {
			th.States[4].Repeats = 100
		}
		threads = append(threads, th)
		outcome := load.OutcomeClosed
		switch sp.Role {
		case load.RoleInflight:
			outcome = load.OutcomeTimeout
		case load.RoleStream:
			outcome = load.WSClose(1001)
		}
		it.Clients = append(it.Clients, load.ClientResult{Spec: sp, Local: peerOf(id), Thread: id, Outcome: outcome, EndedAt: exit})
	}
	s.Kernel.Threads = threads
	s.Shutdown = target.ShutdownRecord{Policy: target.PolicyLegacy, Trigger: trig, Returned: after(4.1),
		Steps: []target.Step{{Name: target.StepCloseTerminate, Start: after(4), End: after(4), Outcome: target.StepOK}}}
	s.Terminate = target.TerminateRecord{Handle: 0x40, TerminateTimes: target.TerminateTimes{Signaled: true, SignaledAt: trig, Closed: true, ClosedAt: after(4)},
		AliveAtClose: alive, WaitsAfterClose: fails}
	s.Kernel.WaitFailures = fails
	s.Kernel.Violations = viol
	it.ObservedUntil = after(410)
	res := htmlResult(target.PolicyLegacy, it)
	res.Config.Mix = m
	res.Config.DrainTimeout = 300 * time.Millisecond
	return Build(res, nil, htmlTool)
}

var htmlSVGElement = regexp.MustCompile(`<(rect|line|path|text|title|g|polygon|circle)\b`)

func TestHTMLManyThreads(t *testing.T) {
	page := htmlOf(t, htmlManyReport(5000))
	if len(page) > 1500*1000 {
		t.Errorf("page is %d bytes, want under 1.5 MB", len(page))
	}
	svg := page[strings.Index(page, "<svg"):strings.Index(page, "</svg>")]
	if n := len(htmlSVGElement.FindAllString(svg, -1)); n > 3000 {
		t.Errorf("%d SVG elements, want at most 3000", n)
	}
	lanes := htmlLaneTag.FindAllString(page, -1)
	if len(lanes) != 6 {
		t.Errorf("%d lanes, want one per kind and role (6)", len(lanes))
	}
	alive := 0
	for _, l := range lanes {
		if strings.Contains(l, "alive-at-close") {
			alive++
		}
	}
	if alive != 2 { // http inflight, rest inflight
		t.Errorf("%d groups highlighted, want 2", alive)
	}
	for _, w := range []string{"http inflight ×500", "500 alive at close", "close-mark violation", "violations (1000)"} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	t.Logf("5,000 threads: %d bytes", len(page))
}

// A run that could not be carried out says so in the page's headline.
func TestHTMLRunError(t *testing.T) {
	it := cleanIteration()
	it.Ready = false
	runErr := &load.RunError{Iteration: 1, Phase: load.PhaseHolding, Err: errors.New("iteration 1: 1 client(s) not ready after 1ns")}
	page := htmlOf(t, Build(htmlResult(target.PolicyFixed, it), runErr, htmlTool))
	for _, w := range []string{"<title>shutdowntest ERROR: policy fixed</title>", `<span class="verdict error">error</span>`,
		`<p class="banner error">Could not be carried out (iteration 1, holding): iteration 1: 1 client(s) not ready after 1ns</p>`} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if strings.Contains(page, `verdict pass`) {
		t.Error("the page reads as a pass")
	}
}

func TestHTMLWriteError(t *testing.T) {
	err := htmlFixedReport().WriteHTML(htmlFailWriter{})
	if err == nil || !strings.Contains(err.Error(), "html") {
		t.Errorf("got %v, want an html write error", err)
	}
}

type htmlFailWriter struct{}

func (htmlFailWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestHTMLChromium renders the legacy page in headless Chromium: the DOM
// it builds must hold the timeline and every lane, and a screenshot must
// come out. CI installs Chromium, so there a missing browser is a failure;
// elsewhere the test is skipped.
func TestHTMLChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chromium is not on PATH, and CI=%s must install it (apt-get install chromium)", os.Getenv("CI"))
		}
		t.Skip("chromium is not on PATH")
	}
	dir := t.TempDir()
	page := htmlOf(t, htmlLegacyReport())
	path := filepath.Join(dir, "legacy.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + filepath.Join(dir, "profile")}, extra...)
		args = append(args, "file://"+path)
		cmd := exec.CommandContext(ctx, bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
		}
		return out
	}
	dom := string(run("--dump-dom"))
	if !strings.Contains(dom, "<svg") {
		t.Fatalf("no svg in the rendered DOM (%d bytes)", len(dom))
	}
	want := len(htmlLaneTag.FindAllString(page, -1))
	if got := len(htmlLaneTag.FindAllString(dom, -1)); got != want || want == 0 {
		t.Errorf("%d lanes in the DOM, want %d", got, want)
	}
	alive := 0
	for _, l := range htmlLaneTag.FindAllString(dom, -1) {
		if strings.Contains(l, "alive-at-close") {
			alive++
		}
	}
	if !strings.Contains(dom, `class="close-mark violation"`) || alive != 2 {
		t.Error("the DOM lost the red close mark or the highlighted lanes")
	}
	shot := filepath.Join(dir, "shot.png")
	run("--screenshot="+shot, "--window-size=1400,1000", "--hide-scrollbars")
	fi, err := os.Stat(shot)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 20*1024 {
		t.Errorf("screenshot is only %d bytes", fi.Size())
	}
}

// A TerminateThread and a stale-handle wait are marked where they
// happened, each drawn apart from the other violations and from each other,
// and the legend says what each mark is.
func TestHTMLViolationKindsStandApart(t *testing.T) {
	it := htmlLegacyIteration()
	htmlDecorate(&it)
	s := &it.Server
	s.Kernel.Violations = append(s.Kernel.Violations,
		kernel.Violation{At: after(100), Kind: kernel.ViolationTerminateThread, Thread: 1, Handle: 0x48, Detail: "TerminateThread(listener)"},
		kernel.Violation{At: after(200), Kind: kernel.ViolationStaleHandle, Thread: 3, Handle: 0x40, Detail: "thread 3 waited on terminate (closed) through 0x40, now terminate"})
	page := htmlOf(t, Build(htmlResult(target.PolicyLegacy, it), nil, htmlTool))
	for _, w := range []string{`class="viol-mark viol-kill"`, `class="viol-mark viol-stale"`, `class="viol-mark"`,
		"TerminateThread(listener)", "now terminate", "k-viol-kill", "k-viol-stale",
		tlViolKinds[0].legend, tlViolKinds[1].legend} {
		if strings.Count(page, w) < 1 {
			t.Errorf("page lacks %q", w)
		}
	}
	// The kill is a square: told apart by its shape too.
	if !regexp.MustCompile(`<path d="M[-0-9.]+ [-0-9.]+h10v10h-10z" class="viol-mark viol-kill"`).MatchString(page) {
		t.Errorf("the TerminateThread mark is not a square: %s", regexp.MustCompile(`<path [^>]*viol-kill"[^>]*>`).FindString(page))
	}
}

// A TLS loop that spun past no-busy-spin's bound is drawn on its thread's
// lane where it spun, and named in the JSON; one within the bound is not
// drawn.
func TestHTMLMarksASpin(t *testing.T) {
	it := htmlLegacyIteration()
	htmlDecorate(&it)
	it.Server.TLS = true
	it.Server.Spins = []target.Spin{
		{Thread: 2, Turns: maxSpinTurns + 900, First: after(1), Last: after(250)},
		{Thread: 3, Turns: maxSpinTurns, First: after(1), Last: after(2)},
	}
	r := Build(htmlResult(target.PolicyLegacy, it), nil, htmlTool)
	page := htmlOf(t, r)
	if n := strings.Count(page, `class="spin"`); n != 1 {
		t.Errorf("%d spin bands, want 1 (thread 2 only)", n)
	}
	for _, w := range []string{fmt.Sprintf("#2 spun %d turns without a wait", maxSpinTurns+900), "k-spin"} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	var spun []int
	for _, th := range r.Iterations[0].Threads {
		if th.Spin != nil {
			spun = append(spun, th.ID)
		}
	}
	if len(spun) != 2 || spun[0] != 2 || spun[1] != 3 {
		t.Errorf("threads with a spin in the JSON: %v, want [2 3]", spun)
	}
}
