package reports

// The HTML report is one self-contained page for a sign-off: whoever opens
// it (from a CI artifact, offline, behind a proxy) sees everything without
// a network, so it names no external resource, needs no JavaScript, and
// carries its CSS inline. Its centre is an SVG timeline of the iteration
// that matters: the terminate event's life on top and one lane per client
// thread below, so that a handle closed under live threads shows at a
// glance. html/template escapes every value taken from the report.
//
// This file holds WriteHTML and the page's data: the headline, the checks,
// the iterations, the terminate summary and the outcome table. The
// timeline is drawn by html_timeline.go, its lanes by html_lanes.go, with
// the primitives of html_svg.go.

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

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
	Trends       []htmlTrend
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
	Output     []string    // an external server's last lines of output
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
	if r.osLanes() {
		p.Legend = append(p.Legend, osLegend()...)
	}
	if p.Verdict != string(VerdictPass) && p.Verdict != string(VerdictError) {
		p.Verdict = string(VerdictFail)
	}
	p.Title = fmt.Sprintf("shutdowntest %s: policy %s", strings.ToUpper(p.Verdict), r.Config.Policy)
	if e := r.Error; e != nil {
		p.Error = fmt.Sprintf("Could not be carried out (iteration %d, %s): %s", e.Iteration, e.Phase, e.Message)
	}
	if r.Interrupted {
		p.Interrupted = fmt.Sprintf("Interrupted %s: this run is not a sign-off.", r.interruptedAfter())
	}
	// One iteration: its own check details say more than an aggregate
	// that only wraps them in "passed in 1 of 1" (as the text summary).
	checks := r.SummaryChecks()
	if len(r.Iterations) > 1 {
		p.ChecksScope = fmt.Sprintf("over all %d iterations", len(r.Iterations))
	}
	p.Checks, p.FailedChecks = htmlChecks(checks), htmlFailed(checks)
	p.Trends = r.htmlTrends()
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
	iters := r.iterationsRun()
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
		switch {
		case c.PassedIterations != nil && c.Iterations != nil:
			h.Passed = fmt.Sprintf("%d/%d", *c.PassedIterations, *c.Iterations)
		case cs[0].PassedIterations != nil:
			h.Passed = "run" // a check of the run as a whole, among aggregates
		}
		out = append(out, h)
	}
	return out
}

// htmlFailed is the ids of the checks that failed, in check order.
func htmlFailed(cs []Check) []string {
	var ids []string
	for _, c := range cs {
		if c.Status == StatusFail {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// htmlIterRows is the iterations table: every iteration, or past
// htmlMaxIterRows only the failing ones and the one drawn, with a note
// saying so.
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
		row.Failed = strings.Join(htmlFailed(it.Checks), ", ")
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
	case t.ClosedUnsafely():
		return fmt.Sprintf("closed %s unsafely (%s)", htmlT(*t.ClosedMS), htmlCloseFault(t))
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
	h := &htmlIteration{N: it.N, Which: which, Timeline: tlBuild(r, it), Headline: htmlHeadline(it), Output: outputLines(it)}
	if r.external() {
		h.Headline = htmlKV{Value: "External server: " + serverStory(it) + "."}
	}
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
	case t.ClosedUnsafely():
		cls = "bad"
		s = fmt.Sprintf("The terminate handle was closed at %s %s", htmlT(*t.ClosedMS), htmlCloseFault(t))
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

// htmlCloseFault is Terminate.CloseFault, or for a close whose only fault
// is a later wait, what was still true of it.
func htmlCloseFault(t Terminate) string {
	if f := t.CloseFault(); f != "" {
		return f
	}
	return "after every client thread exited"
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
	case t.ClosedUnsafely():
		kv = append(kv, htmlKV{Key: "closed", Class: "bad", Value: fmt.Sprintf("%s %s, %d blocked in a wait on it",
			htmlT(*t.ClosedMS), htmlCloseFault(t), t.WaitersAtClose)})
	case t.ClosedMS != nil:
		kv = append(kv, htmlKV{Key: "closed", Class: "good", Value: htmlT(*t.ClosedMS) + ", after every client thread exited"})
	case t.KeptOpen:
		kv = append(kv, htmlKV{Key: "closed", Value: "kept open on purpose: client threads were still alive"})
	default:
		kv = append(kv, htmlKV{Key: "closed", Value: "not closed"})
	}
	if t.ClosedMS != nil {
		uc := ""
		if t.UnjoinedAtClose > 0 {
			uc = "bad"
		}
		kv = append(kv, htmlKV{Key: "not joined before the close", Value: strconv.Itoa(t.UnjoinedAtClose), Class: uc})
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
// order the kinds and roles first appear (the configured order).
func htmlOutcomes(cs []Client) []htmlOutcome {
	var out []htmlOutcome
	var tallies []htmlTally
	idx := map[string]int{}
	for _, c := range cs {
		key := c.Kind + " " + c.Role
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, htmlOutcome{Kind: c.Kind, Role: c.Role})
			tallies = append(tallies, htmlTally{})
		}
		out[i].Clients++
		tallies[i].add(c.Outcome, c.OK)
	}
	for i := range out {
		out[i].Outcomes = tallies[i].kvs()
	}
	return out
}

// htmlTally counts outcomes in the order they first occur, for the
// outcome table and the group lanes alike. An outcome is drawn bad when a
// client (or probe) that ended with it is not ok: the report, not the
// page, says which outcome each role passes with.
type htmlTally struct {
	order []string
	count map[string]int
	bad   map[string]bool
}

func (t *htmlTally) add(outcome string, ok bool) {
	if t.count == nil {
		t.count, t.bad = map[string]int{}, map[string]bool{}
	}
	if t.count[outcome] == 0 {
		t.order = append(t.order, outcome)
	}
	t.count[outcome]++
	t.bad[outcome] = t.bad[outcome] || !ok
}

// kvs lists the outcomes in the order they first occurred, each with its
// count and class.
func (t *htmlTally) kvs() []htmlKV {
	var out []htmlKV
	for _, o := range t.order {
		out = append(out, htmlKV{Key: o, Value: strconv.Itoa(t.count[o]), Class: okClass(!t.bad[o])})
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
