package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The HTML report is one self-contained page for a sign-off: whoever opens
// it (from a CI artifact, offline, behind a proxy) sees everything without
// a network, so it names no external resource, needs no JavaScript, and
// carries its CSS inline. Its centre is an SVG timeline of the iteration
// that matters: the terminate event's life on top and one lane per client
// thread below, so that a handle closed under live threads shows at a
// glance. html/template escapes every value taken from the report.

//go:embed html_template.html
var htmlTemplateText string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"n": htmlNum,
	"t": htmlT,
}).Parse(htmlTemplateText))

// WriteHTML writes the report as one self-contained HTML page. The page is
// rendered in memory first so that a template error never leaves half a
// page behind.
func (r Report) WriteHTML(w io.Writer) error {
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, r.htmlPage()); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	if _, err := w.Write(htmlDefang(buf.Bytes())); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

// htmlURLish matches what could make a browser fetch something, or read
// like it might: a scheme, a protocol-relative "//host", a src attribute,
// a CSS import or url(). The template has none of its own (a test holds it
// to that), so any match comes from report text such as a client's error
// detail quoting "http://127.0.0.1:…".
var htmlURLish = regexp.MustCompile(`(?i)(https?:|//[a-z]|src=|@import|url\()`)

// htmlDefang writes the punctuation of every htmlURLish match as a numeric
// character reference. The page reads and copies exactly as before (the
// browser decodes the reference in text, titles and <pre>), but its source
// carries no absolute URL, so "no external reference" stays checkable by a
// plain search of the file. Matches can only fall in text: attributes hold
// numbers and fixed class names, and the <style> block is the template's.
func htmlDefang(b []byte) []byte {
	return htmlURLish.ReplaceAllFunc(b, func(m []byte) []byte {
		out := make([]byte, 0, len(m)*4)
		for _, c := range m {
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				out = append(out, c)
			} else {
				out = append(out, "&#"+strconv.Itoa(int(c))+";"...)
			}
		}
		return out
	})
}

// htmlNum formats an SVG coordinate to a tenth of a pixel: finer is
// invisible and only makes a large timeline larger.
func htmlNum(v float64) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

// htmlPage is everything the template shows; the template only lays it out.
type htmlPage struct {
	Title        string
	Verdict      string // pass, fail or error, also the CSS class
	Summary      string
	FailedChecks []string
	Error        string // why the run could not be carried out
	Interrupted  string
	Checks       []htmlCheck
	ChecksScope  string
	Shown        *htmlIteration
	Iterations   []htmlIterRow
	IterNote     string
	DrainStats   []htmlKV
	Reproduce    Reproduce
	Legend       []htmlLegend
	Marks        []htmlLegend
	Tool         string
	CommandLine  string
}

type htmlCheck struct {
	Check
	Passed string // "2/3" on aggregated checks
}

type htmlKV struct {
	Key, Value, Class string
}

type htmlLegend struct {
	Class, Label string
}

// htmlIteration is the iteration the page draws: the first failing one,
// else the last (the one a reader has to look at).
type htmlIteration struct {
	N          int
	Which      string
	Headline   htmlKV      // what happened to the terminate handle, in a sentence
	Checks     []htmlCheck // its own checks, when the page also shows the aggregate
	Timeline   tlView
	Terminate  []htmlKV
	Steps      []htmlStep
	Drain      []htmlKV
	Outcomes   []htmlOutcome
	Violations []Violation
	ViolMore   int
}

type htmlStep struct {
	Step
	Start, End, Budget string
}

type htmlOutcome struct {
	Kind, Role string
	Clients    int
	Outcomes   []htmlKV
}

type htmlIterRow struct {
	N                                    int
	Verdict, Failed, Terminate, Returned string
	LastExit, Class                      string
}

// htmlMaxRows bounds the per-item tables (violations, iterations) so that
// a run with thousands of them stays a readable page; the JSON report
// keeps every one.
const htmlMaxRows = 20

// htmlMaxIterRows bounds the iterations table the same way, more loosely:
// one row per iteration is what the table is for.
const htmlMaxIterRows = 200

func (r Report) htmlPage() htmlPage {
	p := htmlPage{
		Verdict:   string(r.Verdict),
		Summary:   r.htmlSummary(),
		Reproduce: r.Reproduce,
		Tool: fmt.Sprintf("shutdowntest %s (%s), %s %s/%s, GOMAXPROCS %d, open-file limit %d, report %s",
			r.Tool.Version, r.Tool.Commit, r.Tool.GoVersion, r.Tool.OS, r.Tool.Arch, r.Tool.GOMAXPROCS,
			r.Tool.OpenFileLimit, Schema),
		CommandLine: strings.Join(r.Tool.CommandLine, " "),
		Legend:      tlLegend(),
		Marks:       tlMarksLegend(),
	}
	if p.Verdict != string(VerdictPass) && p.Verdict != string(VerdictError) {
		p.Verdict = string(VerdictFail)
	}
	p.Title = fmt.Sprintf("shutdowntest %s: policy %s", strings.ToUpper(p.Verdict), r.Config.Policy)
	if e := r.Error; e != nil {
		p.Error = fmt.Sprintf("Could not be carried out (iteration %d, %s): %s", e.Iteration, e.Phase, e.Message)
	}
	if r.Interrupted {
		p.Interrupted = fmt.Sprintf("Interrupted after %d of %d iterations: this run is not a sign-off.",
			len(r.Iterations), r.Config.Iterations)
	}
	// One iteration: its own check details say more than an aggregate
	// that only wraps them in "passed in 1 of 1" (as the text summary).
	if len(r.Iterations) == 1 {
		p.Checks = htmlChecks(r.Iterations[0].Checks)
	} else {
		p.Checks = htmlChecks(r.Checks)
		if len(r.Iterations) > 1 {
			p.ChecksScope = fmt.Sprintf("over all %d iterations", len(r.Iterations))
		}
	}
	for _, c := range p.Checks {
		if c.Status == StatusFail {
			p.FailedChecks = append(p.FailedChecks, c.ID)
		}
	}
	if len(r.Iterations) == 0 {
		return p
	}
	idx, which := len(r.Iterations)-1, "the last; every iteration passed"
	for i, it := range r.Iterations {
		if it.Verdict != VerdictPass {
			idx, which = i, "the first failing one"
			break
		}
	}
	if len(r.Iterations) == 1 {
		which = ""
	}
	p.Shown = r.htmlIteration(r.Iterations[idx], which)
	if len(r.Iterations) > 1 {
		p.Shown.Checks = htmlChecks(r.Iterations[idx].Checks)
		p.Iterations, p.IterNote = htmlIterRows(r.Iterations, idx)
		for _, m := range r.drainMilestones() {
			p.DrainStats = append(p.DrainStats, htmlKV{Key: m.label, Value: m.spread()})
		}
	}
	return p
}

func (r Report) htmlSummary() string {
	m := r.Config.Clients
	total := m.HTTPIdle + m.HTTPInflight + m.RESTIdle + m.RESTInflight + m.WS + m.Silent
	iters := plural(len(r.Iterations), "iteration", "iterations")
	if r.Config.Iterations > 0 && r.Config.Iterations != len(r.Iterations) {
		iters = fmt.Sprintf("%d of %d iterations", len(r.Iterations), r.Config.Iterations)
	}
	drain := "target default"
	if r.Config.DrainTimeoutMS > 0 {
		drain = htmlSpan(r.Config.DrainTimeoutMS)
	}
	return fmt.Sprintf("policy %s · %s (http %d+%d, rest %d+%d, ws %d, tcp %d, idle+in-flight) · %s · drain timeout %s · %.2f s wall",
		r.Config.Policy, plural(total, "client", "clients"), m.HTTPIdle, m.HTTPInflight, m.RESTIdle, m.RESTInflight,
		m.WS, m.Silent, iters, drain, r.WallMS/1000)
}

func htmlChecks(cs []Check) []htmlCheck {
	out := make([]htmlCheck, 0, len(cs))
	for _, c := range cs {
		h := htmlCheck{Check: c}
		if c.PassedIterations != nil && c.Iterations != nil {
			h.Passed = fmt.Sprintf("%d/%d", *c.PassedIterations, *c.Iterations)
		}
		out = append(out, h)
	}
	return out
}

func htmlIterRows(its []Iteration, shown int) ([]htmlIterRow, string) {
	var rows []htmlIterRow
	note := ""
	all := len(its) <= htmlMaxIterRows
	if !all {
		note = fmt.Sprintf("%d iterations: only the failing ones (up to %d) and the one drawn are listed.", len(its), htmlMaxIterRows)
	}
	for i, it := range its {
		if !all && it.Verdict == VerdictPass && i != shown {
			continue
		}
		if len(rows) == htmlMaxIterRows {
			break
		}
		row := htmlIterRow{N: it.N, Verdict: string(it.Verdict), Terminate: htmlTerminateShort(it), Returned: "never", LastExit: "never"}
		var failed []string
		for _, c := range it.Checks {
			if c.Status == StatusFail {
				failed = append(failed, c.ID)
			}
		}
		row.Failed = strings.Join(failed, ", ")
		if it.Shutdown.ReturnedMS != nil {
			row.Returned = htmlT(*it.Shutdown.ReturnedMS)
		}
		if it.Drain.LastThreadExitMS != nil {
			row.LastExit = htmlT(*it.Drain.LastThreadExitMS)
		}
		if i == shown {
			row.Class = "shown"
		}
		rows = append(rows, row)
	}
	return rows, note
}

func htmlTerminateShort(it Iteration) string {
	t := it.Terminate
	switch {
	case t.ClosedMS != nil && t.LiveThreadsAtClose > 0:
		return fmt.Sprintf("closed %s under %s", htmlT(*t.ClosedMS), plural(t.LiveThreadsAtClose, "live thread", "live threads"))
	case t.ClosedMS != nil:
		return "closed " + htmlT(*t.ClosedMS)
	case t.KeptOpen:
		return "kept open"
	case t.SignaledMS == nil:
		return "never signalled"
	default:
		return "not closed"
	}
}

func (r Report) htmlIteration(it Iteration, which string) *htmlIteration {
	h := &htmlIteration{N: it.N, Which: which, Timeline: tlBuild(r, it), Headline: htmlHeadline(it)}
	h.Terminate = htmlTerminate(it)
	for _, st := range it.Shutdown.Steps {
		s := htmlStep{Step: st, Start: htmlT(st.StartMS), End: htmlT(st.EndMS)}
		if st.BudgetMS > 0 {
			s.Budget = htmlSpan(st.BudgetMS)
		}
		h.Steps = append(h.Steps, s)
	}
	d := it.Drain
	opt := func(v *float64, none string) string {
		if v == nil {
			return none
		}
		return htmlT(*v)
	}
	h.Drain = []htmlKV{
		{Key: "listener closed", Value: opt(d.ListenerClosedMS, "never (listener not joined)")},
		{Key: "last in-flight response", Value: opt(d.LastInflightMS, "none completed")},
		{Key: "last client thread exit", Value: opt(d.LastThreadExitMS, "never: a client thread did not exit on its own")},
	}
	switch {
	case d.TerminateClosedMS != nil:
		h.Drain = append(h.Drain, htmlKV{Key: "terminate closed", Value: htmlT(*d.TerminateClosedMS)})
	case d.TerminateKeptOpen:
		h.Drain = append(h.Drain, htmlKV{Key: "terminate closed", Value: "kept open"})
	default:
		h.Drain = append(h.Drain, htmlKV{Key: "terminate closed", Value: "not closed"})
	}
	h.Outcomes = htmlOutcomes(it.Clients)
	h.Violations = it.Violations
	if len(h.Violations) > htmlMaxRows {
		h.ViolMore = len(h.Violations) - htmlMaxRows
		h.Violations = h.Violations[:htmlMaxRows]
	}
	return h
}

// htmlHeadline says in one sentence what the timeline shows about the
// terminate handle, the thing the fix is about, and when the drain ended.
func htmlHeadline(it Iteration) htmlKV {
	t := it.Terminate
	var s, cls string
	switch alive := t.AliveAtClose; {
	case t.ClosedMS != nil && (len(alive) > 0 || t.WaitsAfterClose > 0):
		cls = "bad"
		s = fmt.Sprintf("The terminate handle was closed at %s while %s alive", htmlT(*t.ClosedMS),
			plural(len(alive), "client thread was", "client threads were"))
		if len(alive) > 0 {
			s += " (" + listIDs(alive, 5) + ")"
		}
		s += fmt.Sprintf("; %s touched it after the close.", plural(t.WaitsAfterClose, "wait", "waits"))
	case t.ClosedMS != nil:
		cls = "good"
		s = fmt.Sprintf("The terminate handle was closed at %s, after every client thread had exited.", htmlT(*t.ClosedMS))
	case t.KeptOpen:
		cls = "warn"
		s = fmt.Sprintf("The terminate handle was kept open: %s still alive when shutdown returned",
			plural(len(it.Shutdown.Stragglers), "client thread was", "client threads were"))
		if len(it.Shutdown.Stragglers) > 0 {
			s += " (" + listIDs(it.Shutdown.Stragglers, 5) + ")"
		}
		s += "."
	case t.SignaledMS == nil:
		cls = "bad"
		s = "The terminate event was never signalled."
	default:
		cls = "bad"
		s = "The terminate handle was signalled but not closed while observed."
	}
	if it.Shutdown.ReturnedMS != nil {
		s += " Shutdown returned at " + htmlT(*it.Shutdown.ReturnedMS)
	} else {
		s += " Shutdown did not return"
	}
	if d := it.Drain.LastThreadExitMS; d != nil {
		s += "; the last client thread exited at " + htmlT(*d) + "."
	} else {
		s += "; a client thread never exited on its own."
	}
	return htmlKV{Value: s, Class: cls}
}

func htmlTerminate(it Iteration) []htmlKV {
	t := it.Terminate
	kv := []htmlKV{{Key: "handle", Value: fmt.Sprintf("0x%x", t.Handle)}}
	if t.SignaledMS != nil {
		kv = append(kv, htmlKV{Key: "signalled", Value: htmlT(*t.SignaledMS)})
	} else {
		kv = append(kv, htmlKV{Key: "signalled", Value: "never", Class: "bad"})
	}
	switch {
	case t.ClosedMS != nil && (t.LiveThreadsAtClose > 0 || t.WaitsAfterClose > 0):
		kv = append(kv, htmlKV{Key: "closed", Class: "bad", Value: fmt.Sprintf("%s while %s alive, %d blocked in a wait on it",
			htmlT(*t.ClosedMS), plural(t.LiveThreadsAtClose, "client thread was", "client threads were"), t.WaitersAtClose)})
	case t.ClosedMS != nil:
		kv = append(kv, htmlKV{Key: "closed", Class: "good", Value: htmlT(*t.ClosedMS) + ", after every client thread exited"})
	case t.KeptOpen:
		kv = append(kv, htmlKV{Key: "closed", Value: "kept open on purpose: client threads were still alive"})
	default:
		kv = append(kv, htmlKV{Key: "closed", Value: "not closed"})
	}
	wc := ""
	if t.WaitsAfterClose > 0 {
		wc = "bad"
	}
	kv = append(kv, htmlKV{Key: "waits after close", Value: strconv.Itoa(t.WaitsAfterClose), Class: wc})
	sh := it.Shutdown
	if sh.ReturnedMS != nil {
		s := htmlT(*sh.ReturnedMS)
		if sh.SecondCallMS != nil {
			s += fmt.Sprintf(" (a second call took %s)", htmlSpan(*sh.SecondCallMS))
		}
		kv = append(kv, htmlKV{Key: "shutdown returned", Value: s})
	} else {
		kv = append(kv, htmlKV{Key: "shutdown returned", Value: "never", Class: "bad"})
	}
	if n := len(sh.Stragglers); n > 0 {
		kv = append(kv, htmlKV{Key: "stragglers", Class: "bad",
			Value: plural(n, "client thread", "client threads") + " alive after shutdown: " + listIDs(sh.Stragglers, htmlMaxRows)})
	}
	return kv
}

// htmlOutcomes counts the clients' outcomes per kind and role, in the
// order the kinds and roles first appear (the configured order). An
// outcome is drawn bad when a client that ended with it is not ok: the
// report, not the page, says which outcome each role passes with.
func htmlOutcomes(cs []Client) []htmlOutcome {
	var out []htmlOutcome
	idx := map[string]int{}
	counts := map[string]map[string]int{}
	bad := map[string]map[string]bool{}
	order := map[string][]string{}
	for _, c := range cs {
		key := c.Kind + " " + c.Role
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, htmlOutcome{Kind: c.Kind, Role: c.Role})
			counts[key], bad[key] = map[string]int{}, map[string]bool{}
		}
		out[i].Clients++
		if counts[key][c.Outcome] == 0 {
			order[key] = append(order[key], c.Outcome)
		}
		counts[key][c.Outcome]++
		bad[key][c.Outcome] = bad[key][c.Outcome] || !c.OK
	}
	for i := range out {
		key := out[i].Kind + " " + out[i].Role
		for _, o := range order[key] {
			out[i].Outcomes = append(out[i].Outcomes, htmlKV{Key: o, Value: strconv.Itoa(counts[key][o]), Class: okClass(!bad[key][o])})
		}
	}
	return out
}

// okClass is how an outcome the report judged is drawn.
func okClass(ok bool) string {
	if ok {
		return "good"
	}
	return "bad"
}

// htmlT formats a report instant (ms relative to the trigger) to the
// microsecond it was recorded with: t+4.1 ms, t-53.416 ms, t+12.5 s.
func htmlT(v float64) string {
	sign := "+"
	if v < 0 {
		sign = "-"
	}
	return "t" + sign + htmlSpan(math.Abs(v))
}

// htmlSpan formats a span in ms: 0.5 ms, 310 ms, 10 s, 12.345 s.
func htmlSpan(v float64) string {
	if math.Abs(v) >= 10000 {
		return strconv.FormatFloat(math.Round(v)/1000, 'f', -1, 64) + " s"
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) + " ms"
}

// ---- the timeline ----

// Timeline geometry, in SVG user units (pixels at 100%): a label column,
// the plot, an outcome column.
const (
	tlWidth      = 1200.0
	tlLabelRight = 226.0
	tlPlotLeft   = 234.0
	tlPlotRight  = 1062.0
	tlOutcomeX   = 1070.0
	tlPitch      = 20.0 // one thread lane
	tlBarH       = 14.0
	tlGroupPitch = 36.0 // one group lane
	tlGroupH     = 30.0
	tlLabelRows  = 4    // rows for the labels of the vertical markers
	tlLabelRowH  = 14.0 //
	tlCharW      = 6.3  // rough width of one 11px character, to keep labels apart
	// tlMaxLanes: above this many thread lanes the page switches to one
	// lane per kind and role. Sixty lanes still fit a screen; five
	// thousand would be a 100,000-pixel-tall picture nobody can read.
	tlMaxLanes = 60
	// tlColumn is the time resolution of a group lane: the state counts
	// are sampled once per tlColumn pixels.
	tlColumn = 4.0
	// tlViolColumn merges violations closer than this many pixels (a
	// mark's width) into one mark.
	tlViolColumn = 12.0
)

// The thread states in the order a thread goes through them; group lanes
// stack their counts in this order, bottom up. "cycle" is a wait ⇄ send
// span folded into one history entry (State.Repeats).
var tlStates = []string{"spawning", "init", "wait", "cycle", "read", "process", "send", "linger", "cleanup", "other"}

func tlStateClass(s string) string {
	for _, k := range tlStates {
		if s == k {
			return "st-" + s
		}
	}
	return "st-other"
}

func tlLegend() []htmlLegend {
	labels := map[string]string{"cycle": "wait ⇄ send cycle (×N turns)", "other": "other state"}
	var out []htmlLegend
	for _, s := range tlStates {
		l := labels[s]
		if l == "" {
			l = s
		}
		out = append(out, htmlLegend{Class: "st-" + s, Label: l})
	}
	return out
}

func tlMarksLegend() []htmlLegend {
	return []htmlLegend{
		{Class: "k-open", Label: "terminate open (not signalled)"},
		{Class: "k-signalled", Label: "terminate signalled"},
		{Class: "k-close-bad", Label: "closed while client threads were alive"},
		{Class: "k-close-ok", Label: "closed after every client thread exited"},
		{Class: "k-alive", Label: "lane of a thread alive at the close"},
		{Class: "k-straggler", Label: "lane of a thread alive after shutdown returned"},
		{Class: "k-viol", Label: "violation (hover for detail)"},
		{Class: "k-exit", Label: "thread exited"},
		{Class: "k-forced", Label: "forced release at the end of the run"},
	}
}

type svgRect struct {
	X, Y, W, H   float64
	Class, Title string
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Class, Title   string
}

type svgText struct {
	X, Y                       float64
	Anchor, Class, Text, Title string
}

type svgPath struct {
	D, Class, Title string
}

// tlLane is one row of the timeline: a thread, a group of threads, the
// terminate event or the violations.
type tlLane struct {
	Class string
	// Thread and ExitedMS are data attributes, so that a test (or a
	// reader's tool) can find a lane and its exit without parsing shapes.
	Thread   string
	ExitedMS string
	Rects    []svgRect
	Paths    []svgPath
	Lines    []svgLine
	Texts    []svgText
}

// tlClose is the terminate close mark.
type tlClose struct {
	Class     string
	X, Y1, Y2 float64
	Diamond   string
	ClosedMS  string
	Title     string
}

type tlView struct {
	W, H    float64
	Grid    []svgLine
	Ticks   []svgText
	Markers []svgLine
	Labels  []svgText
	Term    tlLane
	Close   *tlClose
	Viol    *tlLane
	Lanes   []tlLane
	Notes   []string
}

// tlScale maps report time (ms after the trigger) to x.
type tlScale struct{ lo, hi float64 }

func (s tlScale) x(t float64) float64 {
	t = math.Max(s.lo, math.Min(s.hi, t))
	return tlPlotLeft + (t-s.lo)/(s.hi-s.lo)*(tlPlotRight-tlPlotLeft)
}

// tlExtent picks the time window. The right edge is the end of
// observation or the last thing seen, whichever is later. The left edge
// keeps the pre-trigger history short: 10% of the post-trigger span before
// the trigger, or the first client thread's creation if that is later
// (threads that were parked for a minute before the trigger would
// otherwise squeeze the shutdown, the part that matters, into a sliver).
// The trigger stays at least 2% in from the edge so its line is visible.
// Route probes, which run before the clients open, never widen it.
func tlExtent(it Iteration) (tlScale, float64) {
	hi := it.ObservedUntilMS
	up := func(v float64) { hi = math.Max(hi, v) }
	first := math.Inf(1)
	for _, th := range it.Threads {
		if th.ExitedMS != nil {
			up(*th.ExitedMS)
		}
		for _, s := range th.States {
			up(s.AtMS)
		}
		if len(th.States) > 0 && !tlRouteProbe(th) {
			first = math.Min(first, th.States[0].AtMS)
		}
	}
	t := it.Terminate
	for _, v := range []*float64{t.SignaledMS, t.ClosedMS, it.Shutdown.ReturnedMS} {
		if v != nil {
			up(*v)
		}
	}
	for _, v := range it.Violations {
		up(v.AtMS)
	}
	for _, a := range it.Admission {
		up(a.AtMS)
	}
	if hi <= 0 {
		hi = 1 // everything ended before the trigger: still show a little after it
	}
	// A little room on the right, so marks at the very end (the last exit,
	// the close, the return) do not sit on the edge.
	hi *= 1.03
	lo := -tlRound(0.1 * hi)
	if first > lo && !math.IsInf(first, 1) {
		lo = first
	}
	lo = math.Min(lo, -tlRound(0.02*hi))
	return tlScale{lo: lo, hi: hi}, first
}

// tlRound rounds a positive margin up to two significant digits, so the
// clipped edge reads t-33 ms rather than t-32.96 ms.
func tlRound(v float64) float64 {
	if v <= 0 {
		return 0
	}
	mag := math.Pow(10, math.Floor(math.Log10(v))-1)
	return math.Ceil(v/mag) * mag
}

func tlRouteProbe(th Thread) bool {
	return th.Client == nil && strings.HasPrefix(th.Probe, "route ")
}

// tlBuilder collects the timeline of one iteration.
type tlBuilder struct {
	sc       tlScale
	it       Iteration
	clients  map[int]Client
	admitted map[string]Admission // admission probe label → the probe
	// aliveAtClose are the threads alive when terminate was closed, as
	// the record lists them; stragglers those alive after shutdown
	// returned.
	aliveAtClose map[int]bool
	stragglers   map[int]bool
	v            tlView
}

func tlBuild(r Report, it Iteration) tlView {
	sc, first := tlExtent(it)
	b := &tlBuilder{sc: sc, it: it, clients: map[int]Client{}, admitted: map[string]Admission{}, aliveAtClose: map[int]bool{}}
	for _, c := range it.Clients {
		b.clients[c.ID] = c
	}
	for _, a := range it.Admission {
		b.admitted["admission "+a.When] = a
	}
	for _, id := range it.Terminate.AliveAtClose {
		b.aliveAtClose[id] = true
	}
	b.stragglers = map[int]bool{}
	for _, id := range it.Shutdown.Stragglers {
		b.stragglers[id] = true
	}
	b.v.W = tlWidth

	// Vertical layout: marker labels (as many rows as they need), the
	// tick labels, the terminate row, the violations row, then the lanes.
	marks, rows := b.placeMarkers(r)
	axisY := 8 + float64(rows)*tlLabelRowH + 10
	top := axisY + 8
	y := top + 4
	b.terminateRow(y)
	y += tlBarH + 10
	if len(it.Violations) > 0 {
		b.violationRow(y)
		y += tlBarH + 8
	}
	y += 2
	y = b.lanes(y)
	bottom := y + 2

	b.axis(axisY, top, bottom)
	b.drawMarkers(r, marks, axisY, bottom)
	b.v.H = bottom + 22

	if len(it.Threads) > 0 && !math.IsInf(first, 1) && first < sc.lo {
		b.v.Notes = append(b.v.Notes, fmt.Sprintf("History before %s is not drawn: the client threads were created from %s on, and the window shows 10%% of the post-trigger span before the trigger.",
			htmlT(sc.lo), htmlT(first)))
	}
	return b.v
}

// axis draws the grid and tick labels, above the terminate row and below
// the last lane.
func (b *tlBuilder) axis(axisY, top, bottom float64) {
	step, ticks := tlTicks(b.sc.lo, b.sc.hi)
	unit, div := "ms", 1.0
	if step >= 1000 {
		unit, div = "s", 1000
	}
	dec := max(0, int(-math.Floor(math.Log10(step/div)+1e-9)))
	for _, t := range ticks {
		x := b.sc.x(t)
		label := strconv.FormatFloat(t/div, 'f', dec, 64)
		if t == 0 {
			label = "0"
		} else if t > 0 {
			label = "+" + label
		}
		b.v.Grid = append(b.v.Grid, svgLine{X1: x, Y1: top, X2: x, Y2: bottom, Class: "grid"})
		b.v.Ticks = append(b.v.Ticks,
			svgText{X: x, Y: axisY, Anchor: "middle", Class: "tick", Text: label},
			svgText{X: x, Y: bottom + 14, Anchor: "middle", Class: "tick", Text: label})
	}
	caption := unit + " after the trigger"
	b.v.Ticks = append(b.v.Ticks,
		svgText{X: tlLabelRight, Y: axisY, Anchor: "end", Class: "axis-caption", Text: caption},
		svgText{X: tlLabelRight, Y: bottom + 14, Anchor: "end", Class: "axis-caption", Text: caption})
}

// tlTicks picks a 1-2-5 step giving about eight ticks.
func tlTicks(lo, hi float64) (float64, []float64) {
	raw := (hi - lo) / 8
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		t := k * step
		if math.Abs(t) < step*1e-9 {
			t = 0
		}
		out = append(out, t)
	}
	return step, out
}

// tlMarker is a vertical line across the plot with its label.
type tlMarker struct {
	t, x         float64
	label, class string
	row          int
	anchor       string
}

// placeMarkers places the labels of the vertical lines (trigger,
// terminate close, shutdown return, drain deadline) in rows above the
// plot. Each label goes in the first row where neither it nor its line,
// which runs down through the rows below it, runs into what is already
// placed; it sits right of its line, or left when that does not fit. It
// returns the markers and how many rows they use.
func (b *tlBuilder) placeMarkers(r Report) ([]tlMarker, int) {
	it := b.it
	marks := []tlMarker{{t: 0, label: "trigger", class: "m-trigger"}}
	if c := it.Terminate.ClosedMS; c != nil {
		marks = append(marks, tlMarker{t: *c, label: "terminate closed " + htmlT(*c), class: "m-close " + b.closeClass()})
	}
	if ret := it.Shutdown.ReturnedMS; ret != nil {
		marks = append(marks, tlMarker{t: *ret, label: "shutdown returned " + htmlT(*ret), class: "m-return"})
	}
	if d := r.Config.DrainTimeoutMS; d > 0 && d <= b.sc.hi {
		marks = append(marks, tlMarker{t: d, label: "drain deadline " + htmlT(d), class: "m-deadline"})
	}
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].t < marks[j].t })
	// Lines may cross lines; a label may cross neither.
	type span struct {
		a, b float64
		line bool
	}
	rows := make([][]span, tlLabelRows)
	free := func(row int, a, b float64, line bool) bool {
		for _, s := range rows[row] {
			if a < s.b && s.a < b && !(line && s.line) {
				return false
			}
		}
		return true
	}
	used := 1
	for i := range marks {
		m := &marks[i]
		m.x = b.sc.x(m.t)
		x := m.x
		w := float64(len([]rune(m.label))) * tlCharW
		fits := func(row int, a float64) bool {
			if a < 2 || a+w > tlWidth-2 || !free(row, a, a+w, false) {
				return false
			}
			for below := row + 1; below < tlLabelRows; below++ {
				if !free(below, x-1, x+1, true) {
					return false
				}
			}
			return true
		}
		m.row, m.anchor = tlLabelRows-1, "start"
		a := x + 3
		if a+w > tlWidth-2 {
			m.anchor, a = "end", x-3-w
		}
	search:
		for row := range tlLabelRows {
			for _, c := range []struct {
				anchor string
				a      float64
			}{{"start", x + 3}, {"end", x - 3 - w}} {
				if fits(row, c.a) {
					m.row, m.anchor, a = row, c.anchor, c.a
					break search
				}
			}
		}
		rows[m.row] = append(rows[m.row], span{a: a - 4, b: a + w + 4}) // keep the next label 4px off
		for below := m.row + 1; below < tlLabelRows; below++ {
			rows[below] = append(rows[below], span{a: x - 1, b: x + 1, line: true})
		}
		used = max(used, m.row+1)
	}
	return marks, used
}

// drawMarkers draws the placed markers; a drain deadline beyond the window
// is named right of the axis instead of stretching the window to it.
func (b *tlBuilder) drawMarkers(r Report, marks []tlMarker, axisY, bottom float64) {
	for _, m := range marks {
		ly := 8 + float64(m.row+1)*tlLabelRowH - 3
		lx := m.x + 3
		if m.anchor == "end" {
			lx = m.x - 3
		}
		b.v.Markers = append(b.v.Markers, svgLine{X1: m.x, Y1: ly + 3, X2: m.x, Y2: bottom, Class: "marker " + m.class})
		b.v.Labels = append(b.v.Labels, svgText{X: lx, Y: ly, Anchor: m.anchor, Class: "mlabel " + m.class, Text: m.label})
	}
	if d := r.Config.DrainTimeoutMS; d > b.sc.hi {
		b.v.Labels = append(b.v.Labels, svgText{X: tlWidth - 4, Y: axisY, Anchor: "end", Class: "mlabel m-deadline",
			Text: "deadline " + htmlT(d) + " →", Title: "the drain deadline (--drain-timeout) is beyond the window"})
	}
}

// closeClass is how the terminate close is drawn: "violation" (red) when
// client threads were alive at the close or waited on the handle after
// it, else "clean" (green).
func (b *tlBuilder) closeClass() string {
	t := b.it.Terminate
	if len(t.AliveAtClose) > 0 || t.WaitsAfterClose > 0 {
		return "violation"
	}
	return "clean"
}

// terminateRow draws the terminate event's life: open from the left edge
// to the signal, signalled until the close, or on to the right edge when
// it was kept open or never closed.
func (b *tlBuilder) terminateRow(y float64) {
	t := b.it.Terminate
	sc := b.sc
	lane := tlLane{Class: "terminate"}
	name := fmt.Sprintf("terminate 0x%x", t.Handle)
	lane.Texts = append(lane.Texts, svgText{X: tlLabelRight, Y: y + 11, Anchor: "end", Class: "lane-label term-label", Text: name})
	end := sc.hi
	if t.ClosedMS != nil {
		end = *t.ClosedMS
	}
	add := func(from, to float64, class, label, title string) {
		x1, x2 := sc.x(from), sc.x(to)
		if x2 <= x1 {
			return
		}
		lane.Rects = append(lane.Rects, svgRect{X: x1, Y: y, W: x2 - x1, H: tlBarH, Class: class, Title: title})
		if x2-x1 >= float64(len(label))*tlCharW+8 {
			lane.Texts = append(lane.Texts, svgText{X: (x1 + x2) / 2, Y: y + 11, Anchor: "middle", Class: "term-text", Text: label})
		}
	}
	if t.SignaledMS == nil {
		add(sc.lo, end, "term-open", "open", name+" open: never signalled")
	} else {
		s := *t.SignaledMS
		add(sc.lo, s, "term-open", "open", name+" open (not signalled) until "+htmlT(s))
		cls, title := "term-signalled", name+" signalled at "+htmlT(s)
		switch {
		case t.ClosedMS != nil:
			title += ", closed at " + htmlT(*t.ClosedMS)
		case t.KeptOpen:
			cls += " term-kept"
			title += ", kept open on purpose: client threads were still alive"
		default:
			title += ", not closed while observed"
		}
		add(s, end, cls, "signalled", title)
	}
	if t.ClosedMS == nil {
		label := "not closed"
		if t.KeptOpen {
			label = "kept open"
		}
		lane.Texts = append(lane.Texts, svgText{X: tlPlotRight + 4, Y: y + 11, Class: "term-end", Text: label})
	} else {
		c := *t.ClosedMS
		x := sc.x(c)
		alive := t.AliveAtClose
		cls, title := b.closeClass(), fmt.Sprintf("%s closed at %s after every client thread exited", name, htmlT(c))
		if cls == "violation" {
			title = fmt.Sprintf("%s closed at %s while %s alive (%s); %d blocked in a wait on it; %s after the close",
				name, htmlT(c), plural(len(alive), "client thread was", "client threads were"),
				listIDs(alive, htmlMaxRows), t.WaitersAtClose, plural(t.WaitsAfterClose, "wait", "waits"))
		}
		mid := y + tlBarH/2
		b.v.Close = &tlClose{Class: cls, X: x, Y1: y - 3, Y2: y + tlBarH + 3, ClosedMS: htmlNum3(c), Title: title,
			Diamond: fmt.Sprintf("M%s %sl7 7-7 7-7-7z", htmlNum(x), htmlNum(mid-7))}
		closeLabel := "closed"
		if cls == "violation" {
			closeLabel = fmt.Sprintf("closed, %d alive", len(alive))
		}
		lane.Texts = append(lane.Texts, svgText{X: tlPlotRight + 4, Y: y + 11, Class: "term-end " + cls, Text: closeLabel})
	}
	b.v.Term = lane
}

// htmlNum3 writes a report time as recorded (to the microsecond), for data
// attributes.
func htmlNum3(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// alive: the thread was alive when terminate was closed, by the record.
func (b *tlBuilder) alive(th Thread) bool { return b.aliveAtClose[th.ID] }

// violationRow marks each violation where it happened. Violations whose
// marks would overlap share one, whose tooltip lists the first few; its
// count is written beside it where there is room.
func (b *tlBuilder) violationRow(y float64) {
	vs := append([]Violation(nil), b.it.Violations...)
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].AtMS < vs[j].AtMS })
	lane := &tlLane{Class: "violations"}
	lane.Texts = append(lane.Texts, svgText{X: tlLabelRight, Y: y + 11, Anchor: "end", Class: "lane-label viol-label",
		Text: "violations (" + strconv.Itoa(len(vs)) + ")"})
	type cluster struct {
		x    float64
		from int
		n    int
	}
	var cs []cluster
	for i, v := range vs {
		x := b.sc.x(v.AtMS)
		if k := len(cs) - 1; k >= 0 && x-cs[k].x < tlViolColumn {
			cs[k].n++
			continue
		}
		cs = append(cs, cluster{x: x, from: i, n: 1})
	}
	mid := y + tlBarH/2
	for k, c := range cs {
		var lines []string
		for _, v := range vs[c.from : c.from+min(c.n, 5)] {
			lines = append(lines, fmt.Sprintf("%s %s: %s", htmlT(v.AtMS), v.Kind, v.Detail))
		}
		if c.n > 5 {
			lines = append(lines, fmt.Sprintf("and %d more", c.n-5))
		}
		lane.Paths = append(lane.Paths, svgPath{Class: "viol-mark",
			D:     fmt.Sprintf("M%s %sl6 6-6 6-6-6z", htmlNum(c.x), htmlNum(mid-6)),
			Title: strings.Join(lines, "\n")})
		label := "×" + strconv.Itoa(c.n)
		room := tlPlotRight + 60 - c.x
		if k+1 < len(cs) {
			room = cs[k+1].x - c.x
		}
		if c.n > 1 && room >= 14+float64(len(label))*tlCharW {
			lane.Texts = append(lane.Texts, svgText{X: c.x + 8, Y: y + 11, Class: "viol-count", Text: label})
		}
	}
	b.v.Viol = lane
}

// tlThreadLane is a thread lane before layout.
type tlThreadLane struct {
	th           Thread
	label, title string
	outcome      string
	outcomeClass string // good or bad, as the report's ok says
	group        string
}

// lanes lays out the thread lanes: one per client thread (in client
// order), one per admission or other probe, and the route probes folded
// into one. Above tlMaxLanes it draws one lane per group instead.
func (b *tlBuilder) lanes(y float64) float64 {
	var single []tlThreadLane
	var routes []Thread
	clientIdx := map[int]int{}
	for i, c := range b.it.Clients {
		clientIdx[c.ID] = i
	}
	for _, th := range b.it.Threads {
		if tlRouteProbe(th) {
			routes = append(routes, th)
			continue
		}
		l := tlThreadLane{th: th}
		switch {
		case th.Client != nil:
			c, ok := b.clients[*th.Client]
			if ok {
				l.group = c.Kind + " " + c.Role
				l.label = fmt.Sprintf("#%d %s %s", th.ID, c.Kind, c.Role)
				l.title = fmt.Sprintf("thread %d served client %d (%s %s): %s", th.ID, c.ID, c.Kind, c.Role, c.Outcome)
				if c.Detail != "" {
					l.title += " (" + c.Detail + ")"
				}
				l.outcome, l.outcomeClass = c.Outcome, okClass(c.OK)
			} else {
				l.group = "client"
				l.label = fmt.Sprintf("#%d client %d", th.ID, *th.Client)
				l.title = fmt.Sprintf("thread %d served client %d", th.ID, *th.Client)
			}
		default:
			l.group = th.Probe
			if strings.HasPrefix(th.Probe, "admission ") {
				l.group = "admission probes"
			}
			l.label = fmt.Sprintf("#%d %s", th.ID, th.Probe)
			l.title = fmt.Sprintf("thread %d served the %s probe", th.ID, th.Probe)
			if a, ok := b.admitted[th.Probe]; ok {
				l.outcome, l.outcomeClass = a.Outcome, okClass(a.OK)
				l.title += ": " + a.Outcome
			}
		}
		single = append(single, l)
	}
	// Client threads in the order of their clients (kind, then role, as
	// configured); probes after them, by thread id.
	sort.SliceStable(single, func(i, j int) bool {
		a, c := single[i].th, single[j].th
		if (a.Client != nil) != (c.Client != nil) {
			return a.Client != nil
		}
		if a.Client != nil && *a.Client != *c.Client {
			ai, aok := clientIdx[*a.Client]
			ci, cok := clientIdx[*c.Client]
			if aok && cok {
				return ai < ci
			}
			return *a.Client < *c.Client
		}
		return a.ID < c.ID
	})
	lanes := len(single)
	if len(routes) > 0 {
		lanes++
	}
	if lanes > tlMaxLanes {
		return b.groupLanes(y, single, routes)
	}
	for i, l := range single {
		y = b.threadLane(y, i, l)
	}
	if len(routes) > 0 {
		y = b.routeLane(y, len(single), routes)
	}
	return y
}

func (b *tlBuilder) laneFrame(lane *tlLane, y, h float64, i int, alive bool, label, title string) {
	cls := "lane-bg"
	if i%2 == 1 {
		cls += " odd"
	}
	lane.Rects = append(lane.Rects, svgRect{X: 2, Y: y, W: tlWidth - 4, H: h, Class: cls})
	if alive {
		lane.Class += " alive-at-close"
		lane.Rects = append(lane.Rects, svgRect{X: 2, Y: y, W: 4, H: h, Class: "alive-edge"})
	}
	lane.Texts = append(lane.Texts, svgText{X: tlLabelRight, Y: y + h/2 + 4, Anchor: "end", Class: "lane-label", Text: label, Title: title})
}

func (b *tlBuilder) threadLane(y float64, i int, l tlThreadLane) float64 {
	th := l.th
	lane := tlLane{Class: "lane", Thread: strconv.Itoa(th.ID)}
	if th.ExitedMS != nil {
		lane.ExitedMS = htmlNum3(*th.ExitedMS)
	}
	alive := b.alive(th)
	title := l.title
	if alive {
		title += "; alive when terminate was closed"
	}
	b.laneFrame(&lane, y, tlPitch, i, alive, l.label, title)
	if !alive && b.stragglers[th.ID] {
		// Not closed under it, but it outlived shutdown (the kept-open
		// case, or a shutdown that never returned): amber, not red.
		lane.Class += " straggler"
		lane.Texts[len(lane.Texts)-1].Title += "; still alive when shutdown returned"
	}
	b.segments(&lane, th, y+(tlPitch-tlBarH)/2, fmt.Sprintf("#%d", th.ID), true)
	if l.outcome != "" {
		lane.Texts = append(lane.Texts, svgText{X: tlOutcomeX, Y: y + tlPitch/2 + 4, Class: "outcome " + l.outcomeClass, Text: l.outcome})
	}
	b.v.Lanes = append(b.v.Lanes, lane)
	return y + tlPitch
}

// segments draws one thread's states as bars on lane, clipped to the
// window, plus its exit mark. A state entry with Repeats is a wait ⇄ send
// cycle whose turns were not stamped one by one: it is drawn striped in
// the two states' colours and labelled with its number of turns.
func (b *tlBuilder) segments(lane *tlLane, th Thread, y float64, who string, labels bool) {
	sc := b.sc
	for i, s := range th.States {
		if s.State == "exited" {
			continue
		}
		start, end := s.AtMS, sc.hi
		still := false
		switch {
		case i+1 < len(th.States):
			end = th.States[i+1].AtMS
		case th.ExitedMS != nil:
			end = *th.ExitedMS
		default:
			still = true
		}
		if end <= sc.lo || start >= sc.hi || end <= start {
			continue
		}
		x1, x2 := sc.x(start), sc.x(end)
		w := math.Max(x2-x1, 0.5)
		span := fmt.Sprintf("%s → %s (%s)", htmlT(start), htmlT(end), htmlSpan(end-start))
		if still {
			span = fmt.Sprintf("since %s, still %s when observation stopped", htmlT(start), s.State)
		}
		if s.Repeats > 0 && i > 0 {
			prev := th.States[i-1].State
			turns := s.Repeats + 1
			lane.Rects = append(lane.Rects, svgRect{X: x1, Y: y, W: w, H: tlBarH, Class: "st " + tlStateClass(prev),
				Title: fmt.Sprintf("%s %s ⇄ %s, %d turns: %s", who, prev, s.State, turns, span)})
			lane.Lines = append(lane.Lines, svgLine{X1: x1, Y1: y + tlBarH/2, X2: x1 + w, Y2: y + tlBarH/2, Class: "stripe " + tlStateClass(s.State)})
			if labels && w >= 34 {
				lane.Texts = append(lane.Texts, svgText{X: x1 + w/2, Y: y + 11, Anchor: "middle", Class: "seg-label cycle-label", Text: "×" + strconv.Itoa(turns)})
			}
			continue
		}
		lane.Rects = append(lane.Rects, svgRect{X: x1, Y: y, W: w, H: tlBarH, Class: "st " + tlStateClass(s.State),
			Title: fmt.Sprintf("%s %s: %s", who, s.State, span)})
		if labels && w >= float64(len(s.State))*tlCharW+8 {
			cls := "seg-label dark"
			if s.State == "process" || s.State == "linger" || s.State == "cleanup" {
				cls = "seg-label" // white reads better on the three dark colours
			}
			lane.Texts = append(lane.Texts, svgText{X: x1 + w/2, Y: y + 11, Anchor: "middle", Class: cls, Text: s.State})
		}
	}
	if th.ExitedMS != nil && *th.ExitedMS >= sc.lo {
		x := sc.x(*th.ExitedMS)
		cls, title := "exit-mark", fmt.Sprintf("%s exited %s", who, htmlT(*th.ExitedMS))
		if th.Forced {
			cls += " forced"
			title = fmt.Sprintf("%s forced out at %s: still running when the run ended", who, htmlT(*th.ExitedMS))
		}
		lane.Lines = append(lane.Lines, svgLine{X1: x, Y1: y - 2, X2: x, Y2: y + tlBarH + 2, Class: cls, Title: title})
	}
}

// routeLane folds the route probes into one lane: they run one after the
// other before the clients open, so their bars rarely overlap, and they
// are usually all before the window.
func (b *tlBuilder) routeLane(y float64, i int, routes []Thread) float64 {
	lane := tlLane{Class: "lane probes"}
	alive := false
	last := math.Inf(-1)
	for _, th := range routes {
		alive = alive || b.alive(th)
		if th.ExitedMS != nil {
			last = math.Max(last, *th.ExitedMS)
		}
	}
	label := "route probes ×" + strconv.Itoa(len(routes))
	b.laneFrame(&lane, y, tlPitch, i, alive, label, plural(len(routes), "thread", "threads")+" that served the routing probes before the clients opened")
	for _, th := range routes {
		b.segments(&lane, th, y+(tlPitch-tlBarH)/2, fmt.Sprintf("#%d %s", th.ID, th.Probe), false)
	}
	if !math.IsInf(last, -1) && last < b.sc.lo {
		lane.Texts = append(lane.Texts, svgText{X: tlPlotLeft + 6, Y: y + tlPitch/2 + 4, Class: "lane-note",
			Text: fmt.Sprintf("all ended by %s, before this window", htmlT(last))})
	}
	b.v.Lanes = append(b.v.Lanes, lane)
	return y + tlPitch
}

// tlGroup is the threads of one kind and role (or one probe kind).
type tlGroup struct {
	name     string
	threads  []Thread
	outcomes []htmlKV
}

// groupLanes draws one lane per group: a stacked area of how many of the
// group's threads were in each state over time (full height is every
// thread of the group), so a lane's height falls to nothing as the group
// drains. The counts are sampled every tlColumn pixels, which bounds the
// page's size whatever the number of threads.
func (b *tlBuilder) groupLanes(y float64, single []tlThreadLane, routes []Thread) float64 {
	var groups []*tlGroup
	byName := map[string]*tlGroup{}
	outcomeCount := map[string]map[string]int{}
	outcomeClass := map[string]map[string]string{}
	outcomeOrder := map[string][]string{}
	for _, l := range single {
		g := byName[l.group]
		if g == nil {
			g = &tlGroup{name: l.group}
			byName[l.group] = g
			groups = append(groups, g)
			outcomeCount[l.group], outcomeClass[l.group] = map[string]int{}, map[string]string{}
		}
		g.threads = append(g.threads, l.th)
		if l.outcome != "" {
			if outcomeCount[l.group][l.outcome] == 0 {
				outcomeOrder[l.group] = append(outcomeOrder[l.group], l.outcome)
			}
			outcomeCount[l.group][l.outcome]++
			if outcomeClass[l.group][l.outcome] != "bad" {
				outcomeClass[l.group][l.outcome] = l.outcomeClass
			}
		}
	}
	for _, g := range groups {
		for _, o := range outcomeOrder[g.name] {
			g.outcomes = append(g.outcomes, htmlKV{Key: o, Value: strconv.Itoa(outcomeCount[g.name][o]), Class: outcomeClass[g.name][o]})
		}
		// The bad outcomes first: they are what the column is for.
		sort.SliceStable(g.outcomes, func(i, j int) bool { return g.outcomes[i].Class == "bad" && g.outcomes[j].Class != "bad" })
	}
	if len(routes) > 0 {
		groups = append(groups, &tlGroup{name: "route probes", threads: routes})
	}
	b.v.Notes = append(b.v.Notes, fmt.Sprintf("%d client threads are drawn as one lane per kind and role: each lane stacks how many of its threads were in each state, sampled every %g px; its full height is all of the group's threads.",
		len(single)+len(routes), tlColumn))
	for i, g := range groups {
		y = b.groupLane(y, i, g)
	}
	return y
}

func (b *tlBuilder) groupLane(y float64, i int, g *tlGroup) float64 {
	sc := b.sc
	n := len(g.threads)
	cols := int((tlPlotRight - tlPlotLeft) / tlColumn)
	counts := make([][]int, len(tlStates))
	for s := range counts {
		counts[s] = make([]int, cols)
	}
	stateIdx := map[string]int{}
	for k, s := range tlStates {
		stateIdx[s] = k
	}
	dt := (sc.hi - sc.lo) / float64(cols)
	alive, exited, never := 0, 0, 0
	firstExit, lastExit := math.Inf(1), math.Inf(-1)
	for _, th := range g.threads {
		if b.alive(th) {
			alive++
		}
		if th.ExitedMS != nil && !th.Forced {
			exited++
			firstExit = math.Min(firstExit, *th.ExitedMS)
			lastExit = math.Max(lastExit, *th.ExitedMS)
		} else {
			never++
		}
		j := -1
		for k := 0; k < cols; k++ {
			t := sc.lo + (float64(k)+0.5)*dt
			for j+1 < len(th.States) && th.States[j+1].AtMS <= t {
				j++
			}
			if j < 0 || th.States[j].State == "exited" || (th.ExitedMS != nil && t >= *th.ExitedMS) {
				continue
			}
			s := th.States[j].State
			if th.States[j].Repeats > 0 && j > 0 {
				s = "cycle"
			}
			idx, ok := stateIdx[s]
			if !ok {
				idx = stateIdx["other"]
			}
			counts[idx][k]++
		}
	}
	lane := tlLane{Class: "lane group"}
	if never == 0 && exited > 0 {
		lane.ExitedMS = htmlNum3(lastExit)
	}
	label := fmt.Sprintf("%s ×%d", g.name, n)
	title := fmt.Sprintf("%s: %s", g.name, plural(n, "thread", "threads"))
	if alive > 0 {
		title += fmt.Sprintf("; %d alive when terminate was closed", alive)
	}
	b.laneFrame(&lane, y, tlGroupPitch, i, alive > 0, label, title)
	base := y + (tlGroupPitch-tlGroupH)/2 + tlGroupH
	cum := make([]int, cols)
	var paths []svgPath
	for s := range tlStates {
		nonzero, peak := false, 0
		for k := range cum {
			cum[k] += counts[s][k]
			if counts[s][k] > 0 {
				nonzero = true
				peak = max(peak, counts[s][k])
			}
		}
		if !nonzero {
			continue
		}
		paths = append(paths, svgPath{Class: "band " + "st-" + tlStates[s], D: tlAreaPath(cum, n, base, tlGroupH),
			Title: fmt.Sprintf("%s: up to %d of %d in %s", g.name, peak, n, tlStates[s])})
	}
	// Each path is the area under its cumulative count, so painting them
	// from the top band down leaves every band its own strip.
	for k := len(paths) - 1; k >= 0; k-- {
		lane.Paths = append(lane.Paths, paths[k])
	}
	if d := tlCycleStripes(counts, stateIdx["cycle"], n, base, tlGroupH); d != "" {
		lane.Paths = append(lane.Paths, svgPath{Class: "band-stripes st-send", D: d})
	}
	if exited > 0 && lastExit >= sc.lo {
		x := sc.x(lastExit)
		t := fmt.Sprintf("%s: %d of %d exited, first %s, last %s", g.name, exited, n, htmlT(firstExit), htmlT(lastExit))
		lane.Lines = append(lane.Lines, svgLine{X1: x, Y1: base - tlGroupH, X2: x, Y2: base, Class: "exit-mark", Title: t})
	}
	tx := tlOutcomeX
	ty := y + tlGroupPitch/2 + 4
	if alive > 0 {
		lane.Texts = append(lane.Texts, svgText{X: tx, Y: ty - 7, Class: "outcome bad", Text: fmt.Sprintf("%d alive at close", alive)})
		ty += 7
	}
	var parts []string
	cls := "good"
	for k, o := range g.outcomes {
		if k == 2 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, o.Value+" "+o.Key)
		if o.Class == "bad" {
			cls = "bad"
		}
	}
	if len(parts) > 0 {
		var all []string
		for _, o := range g.outcomes {
			all = append(all, o.Value+" "+o.Key)
		}
		lane.Texts = append(lane.Texts, svgText{X: tx, Y: ty, Class: "outcome " + cls, Text: strings.Join(parts, " · "), Title: strings.Join(all, ", ")})
	}
	b.v.Lanes = append(b.v.Lanes, lane)
	return y + tlGroupPitch
}

// tlCycleStripes stripes the wait ⇄ send band of a group lane as the thread
// lanes stripe a cycle: one short vertical stroke per sampled column,
// across the band's strip (a fill pattern would need url(), which the page
// does not use).
func tlCycleStripes(counts [][]int, cycle, n int, base, h float64) string {
	var sb strings.Builder
	for k := range counts[cycle] {
		if counts[cycle][k] == 0 {
			continue
		}
		below := 0
		for s := range cycle {
			below += counts[s][k]
		}
		y1 := base - float64(below)/float64(n)*h
		y2 := base - float64(below+counts[cycle][k])/float64(n)*h
		sb.WriteString("M" + htmlNum(tlPlotLeft+float64(k)*tlColumn+tlColumn/2) + " " + htmlNum(y1) + "V" + htmlNum(y2))
	}
	return sb.String()
}

// tlAreaPath is the outline of the area under a sampled count: a step
// line that only turns where the count changes, closed along the base.
func tlAreaPath(cum []int, n int, base, h float64) string {
	var sb strings.Builder
	sb.WriteString("M" + htmlNum(tlPlotLeft) + " " + htmlNum(base))
	cur := base
	for k, c := range cum {
		y := math.Round((base-float64(c)/float64(n)*h)*10) / 10
		if y != cur {
			sb.WriteString("H" + htmlNum(tlPlotLeft+float64(k)*tlColumn) + "V" + htmlNum(y))
			cur = y
		}
	}
	sb.WriteString("H" + htmlNum(tlPlotLeft+float64(len(cum))*tlColumn) + "V" + htmlNum(base) + "Z")
	return sb.String()
}
