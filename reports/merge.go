package reports

// Reports of a test shared by several runners (issue 13, "beyond one
// machine"): each runner's record of its part (Runner), reading a JSON
// report back (ReadJSON), and merging the runners' reports into one
// report with one verdict (Merge).

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"shutdowntest/load"
)

// Runner is one runner's part in a shared test (--trigger-at, --runner-id):
// in a runner's report its own, in a merged one each runner's.
type Runner struct {
	ID string `json:"id"`
	// TriggerAt is the agreed instant (RFC 3339, UTC); every *_ms of the
	// report is relative to it on this runner's clock. Empty without
	// --trigger-at.
	TriggerAt string `json:"trigger_at"`
	// Trigger is what this runner did at the instant ("none": it only
	// observed); FiredMS when it carried it out, null when it did not.
	Trigger string   `json:"trigger"`
	FiredMS *float64 `json:"fired_ms"`
	Clock   Clock    `json:"clock"`
	// File is, in a merged report, the report it was read from.
	File string `json:"file,omitempty"`
	// Verdict is, in a merged report, that runner's own verdict.
	Verdict Verdict `json:"verdict,omitempty"`
}

// Clock is a runner's estimate of the server's clock minus its own, from
// the server's Date header: between LowMS and HighMS when Known (the
// runners' axes agree to within the spread of their windows), otherwise
// Why says why none could be made.
type Clock struct {
	Known   bool     `json:"known"`
	LowMS   *float64 `json:"offset_low_ms"`
	HighMS  *float64 `json:"offset_high_ms"`
	Samples int      `json:"samples"`
	Why     string   `json:"why,omitempty"`
}

// runnerOf is the Runner block of a run's report; nil when the run was not
// part of a shared test.
func runnerOf(res *load.Result) *Runner {
	if len(res.Iterations) == 0 || res.Iterations[0].External == nil || res.Iterations[0].External.Sync == nil {
		return nil
	}
	it := &res.Iterations[0]
	x := it.External
	s := x.Sync
	r := &Runner{ID: s.RunnerID, Trigger: x.Trigger.String(),
		Clock: Clock{Known: s.Clock.Known, Samples: s.Clock.Samples, Why: s.Clock.Why}}
	if !s.TriggerAt.IsZero() {
		r.TriggerAt = s.TriggerAt.UTC().Format(time.RFC3339Nano)
	}
	if s.Fired != 0 {
		v := ms(s.Fired - it.Trigger)
		r.FiredMS = &v
	}
	if s.Clock.Known {
		lo, hi := ms(s.Clock.Low), ms(s.Clock.High)
		r.Clock.LowMS, r.Clock.HighMS = &lo, &hi
	}
	return r
}

// ReadJSON reads a report WriteJSON wrote, of this Schema; a field it does
// not know is an error, so that nothing of a report is silently dropped.
func ReadJSON(rd io.Reader) (Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Report{}, fmt.Errorf("read json report: %w", err)
	}
	if r.Schema != Schema {
		return Report{}, fmt.Errorf("read json report: schema %q, want %q", r.Schema, Schema)
	}
	return r, nil
}

// Source is one runner's report and the file it came from.
type Source struct {
	File   string
	Report Report
}

// MergeError is why reports cannot be merged: File names the report at
// fault.
type MergeError struct {
	File string
	Err  error
}

func (e *MergeError) Error() string { return e.File + ": " + e.Err.Error() }

func (e *MergeError) Unwrap() error { return e.Err }

// Merge joins the reports of the runners of one shared test (one target,
// one agreed instant) into one report with one verdict: iteration n of
// every runner becomes iteration n of the merged report, holding all of
// their clients (numbered anew, each labelled with its runner),
// admission attempts and steady traffic (mergeRate); each check fails if
// it failed on any runner, passes if it passed on one, and is skipped
// otherwise; the drain figures are recomputed from the merged iterations.
// tool is the merging tool's.
func Merge(srcs []Source, tool ToolInfo) (Report, error) {
	if len(srcs) == 0 {
		return Report{}, fmt.Errorf("no report to merge")
	}
	labels, err := checkMergeable(srcs)
	if err != nil {
		return Report{}, err
	}
	first := srcs[0].Report
	out := Report{Schema: Schema, Tool: tool, Config: first.Config, Target: first.Target, Checks: []Check{},
		Iterations: []Iteration{}}
	out.Config.Clients = Mix{}
	for i, s := range srcs {
		r := s.Report
		run := *r.Runner
		run.File, run.Verdict = s.File, r.Verdict
		out.Runners = append(out.Runners, run)
		out.Interrupted = out.Interrupted || r.Interrupted
		if r.Error != nil && out.Error == nil {
			e := *r.Error
			e.Message = "runner " + labels[i] + ": " + e.Message
			out.Error = &e
		}
		if r.Started != "" && (out.Started == "" || r.Started < out.Started) {
			out.Started = r.Started
		}
		out.WallMS = max(out.WallMS, r.WallMS)
		addMix(&out.Config.Clients, r.Config.Clients)
		if r.Target.PID != nil {
			// The runner watching the server's process says how it was
			// configured.
			out.Target = r.Target
		}
	}
	n := 0
	for _, s := range srcs {
		n = max(n, len(s.Report.Iterations))
	}
	var per [][]Check
	for k := range n {
		var its []Iteration
		var labs []string
		for i, s := range srcs {
			if k < len(s.Report.Iterations) {
				its = append(its, s.Report.Iterations[k])
				labs = append(labs, labels[i])
			}
		}
		it := mergeIteration(its, labs)
		per = append(per, it.Checks)
		out.Iterations = append(out.Iterations, it)
	}
	out.conclude(per)
	return out, nil
}

// checkMergeable refuses reports that are not of one shared test, naming
// the file; it returns each report's runner label (its --runner-id, or its
// file's name without one).
func checkMergeable(srcs []Source) ([]string, error) {
	first := srcs[0]
	labels := make([]string, len(srcs))
	seen := map[string]string{}
	for i, s := range srcs {
		r := s.Report
		fail := func(format string, a ...any) error { return &MergeError{s.File, fmt.Errorf(format, a...)} }
		switch {
		case r.Runner == nil || r.Runner.TriggerAt == "":
			return nil, fail("not a runner of a shared test (run with --trigger-at)")
		case r.Target.URL == nil:
			return nil, fail("no external target")
		case *r.Target.URL != *first.Report.Target.URL:
			return nil, fail("target %s, not %s as in %s", *r.Target.URL, *first.Report.Target.URL, first.File)
		case r.Runner.TriggerAt != first.Report.Runner.TriggerAt:
			return nil, fail("trigger instant %s, not %s as in %s", r.Runner.TriggerAt, first.Report.Runner.TriggerAt, first.File)
		}
		labels[i] = r.Runner.ID
		if labels[i] == "" {
			labels[i] = strings.TrimSuffix(filepath.Base(s.File), filepath.Ext(s.File))
		}
		if other, dup := seen[labels[i]]; dup {
			return nil, fail("runner %q, as in %s (give each runner its own --runner-id)", labels[i], other)
		}
		seen[labels[i]] = s.File
		for _, it := range r.Iterations {
			if it.Rate == nil {
				continue
			}
			for _, p := range it.Rate.Phases {
				h, err := decodeHist(p.Histogram)
				switch {
				case err != nil:
					return nil, fail("iteration %d: rate phase %s: %v", it.N, p.Name, err)
				case h == nil && p.Requests > 0:
					return nil, fail("iteration %d: rate phase %s: %d requests but no histogram", it.N, p.Name, p.Requests)
				}
			}
		}
	}
	return labels, nil
}

func addMix(m *Mix, o Mix) {
	m.HTTPIdle += o.HTTPIdle
	m.HTTPInflight += o.HTTPInflight
	m.RESTIdle += o.RESTIdle
	m.RESTInflight += o.RESTInflight
	m.WS += o.WS
	m.Silent += o.Silent
	for role, n := range o.Hostile {
		if m.Hostile == nil {
			m.Hostile = map[string]int{}
		}
		m.Hostile[role] += n
	}
}

// mergeIteration joins one iteration of several runners, labelled labs.
// What only the server's side shows (its process, its threads, its
// shutdown) is taken from the runner that watched the process, else the
// first.
func mergeIteration(its []Iteration, labs []string) Iteration {
	primary := 0
	for i, it := range its {
		if it.Target.PID != nil {
			primary = i
			break
		}
	}
	out := its[primary]
	out.Clients, out.Admission, out.Routes, out.Faults = []Client{}, []Admission{}, []Route{}, []FaultEvent{}
	out.Threads = []Thread{}
	out.Ready, out.AllEnded, out.Interrupted = true, true, false
	threadAt := map[int]int{} // thread id → index in out.Threads
	var checks [][]Check
	for i, it := range its {
		ids := map[int]int{} // the runner's client id → the merged one
		for _, c := range it.Clients {
			ids[c.ID] = len(out.Clients) + 1
			c.ID, c.Runner = ids[c.ID], labs[i]
			out.Clients = append(out.Clients, c)
		}
		for _, th := range it.Threads {
			if th.Client != nil {
				id := ids[*th.Client]
				th.Client = &id
			}
			j, seen := threadAt[th.ID]
			switch {
			case !seen:
				threadAt[th.ID] = len(out.Threads)
				out.Threads = append(out.Threads, th)
			case th.Client != nil && out.Threads[j].Client == nil:
				// Each runner sees every thread of the server, but only
				// its own clients: the one that knows the client names it.
				th.Probe = ""
				out.Threads[j] = th
			}
		}
		for _, a := range it.Admission {
			a.Runner = labs[i]
			out.Admission = append(out.Admission, a)
		}
		out.Routes = append(out.Routes, it.Routes...)
		out.Faults = append(out.Faults, it.Faults...)
		out.Ready = out.Ready && it.Ready
		out.AllEnded = out.AllEnded && it.AllEnded
		out.Interrupted = out.Interrupted || it.Interrupted
		out.ObservedUntilMS = max(out.ObservedUntilMS, it.ObservedUntilMS)
		out.Verdict = worse(out.Verdict, it.Verdict)
		out.Drain.ListenerClosedMS = earliest(out.Drain.ListenerClosedMS, it.Drain.ListenerClosedMS)
		out.Drain.LastInflightMS = latest(out.Drain.LastInflightMS, it.Drain.LastInflightMS)
		checks = append(checks, it.Checks)
	}
	sort.SliceStable(out.Admission, func(a, b int) bool { return out.Admission[a].AtMS < out.Admission[b].AtMS })
	sort.SliceStable(out.Threads, func(a, b int) bool { return out.Threads[a].ID < out.Threads[b].ID })
	out.Rate = mergeRate(its, labs)
	out.Checks = mergeChecks(checks, labs)
	return out
}

// mergeRate joins the runners' steady traffic of one iteration into the
// traffic the target saw; nil when none sent any. Rate and workers are
// summed; mode, path, max and --max-failed are the first runner's, and
// stopped says so when another's differ. Per phase the counts are summed
// and the percentiles read from the merged histogram; the window spans
// every runner's (their *_ms share the agreed instant's axis); the failed
// requests, labelled with their runner, are the earliest of all.
func mergeRate(its []Iteration, labs []string) *RateBlock {
	var out *RateBlock
	var srcs []*RateBlock
	var firstLab string
	var differ, stops []string
	stoppedBy := map[string][]string{}
	phaseAt := map[string]int{}
	var hists []*hdrhistogram.Histogram // by phase, as out.Phases
	for i, it := range its {
		b := it.Rate
		if b == nil {
			continue
		}
		if out == nil {
			out = &RateBlock{Max: b.Max, Mode: b.Mode, Path: b.Path, MaxFailed: b.MaxFailed, Phases: []RatePhase{},
				Failed: []RateRequest{}, Timeline: []RateBucket{}}
			firstLab = labs[i]
		} else if b.Max != out.Max || b.Mode != out.Mode || b.Path != out.Path || b.MaxFailed != out.MaxFailed {
			differ = append(differ, labs[i])
		}
		srcs = append(srcs, b)
		out.PerSecond += b.PerSecond
		out.Workers += b.Workers
		out.Requests += b.Requests
		out.NotSent += b.NotSent
		out.Achieved += b.Achieved
		if _, seen := stoppedBy[b.Stopped]; !seen {
			stops = append(stops, b.Stopped)
		}
		stoppedBy[b.Stopped] = append(stoppedBy[b.Stopped], labs[i])
		for _, p := range b.Phases {
			j, seen := phaseAt[p.Name]
			if !seen {
				j = len(out.Phases)
				phaseAt[p.Name] = j
				out.Phases = append(out.Phases, RatePhase{Name: p.Name, ByOutcome: map[string]int{}})
				hists = append(hists, nil)
			}
			q := &out.Phases[j]
			q.Requests += p.Requests
			q.NotSent += p.NotSent
			q.Failed += p.Failed
			q.Admission += p.Admission
			for o, n := range p.ByOutcome {
				q.ByOutcome[o] += n
			}
			h, _ := decodeHist(p.Histogram) // checkMergeable has read every one
			switch {
			case h == nil:
			case hists[j] == nil:
				hists[j] = h
			default:
				// Every runner's histogram has load's one range: none of
				// its values falls outside, so Merge drops none.
				hists[j].Merge(h)
			}
		}
		out.Window.widen(b.Window)
		for _, q := range b.Failed {
			q.Runner = labs[i]
			out.Failed = append(out.Failed, q)
		}
	}
	if out == nil {
		return nil
	}
	for j, h := range hists {
		if h == nil {
			continue
		}
		at := func(q float64) float64 { return ms(time.Duration(h.ValueAtQuantile(q)) * time.Microsecond) }
		p := &out.Phases[j]
		p.P50MS, p.P90MS, p.P99MS, p.P999MS = at(50), at(90), at(99), at(99.9)
		p.MaxMS, p.Histogram = ms(time.Duration(h.Max())*time.Microsecond), encodeHist(h)
	}
	// Each runner listed its earliest failed requests: the earliest of
	// those are the earliest of all.
	sort.SliceStable(out.Failed, func(a, b int) bool { return out.Failed[a].DueMS < out.Failed[b].DueMS })
	out.Failed = out.Failed[:min(len(out.Failed), maxListed*4)]
	out.Stopped = stops[0]
	if len(stops) > 1 {
		var parts []string
		for _, s := range stops {
			parts = append(parts, fmt.Sprintf("%s (%s)", s, listed(stoppedBy[s])))
		}
		out.Stopped = strings.Join(parts, "; ")
	}
	if len(differ) > 0 {
		out.Stopped += fmt.Sprintf("; mode, path, max and max-failed are %s's: runner %s ran others", firstLab, listed(differ))
	}
	mergeTimeline(out, srcs)
	return out
}

// widen makes w span o as well: one runner's window from its first to
// its last, the other's, both on the agreed instant's axis.
func (w *RateWindow) widen(o RateWindow) {
	if !o.Seen {
		return
	}
	if !w.Seen || o.FirstMS < w.FirstMS {
		w.FirstMS = o.FirstMS
	}
	if !w.Seen || o.LastMS > w.LastMS {
		w.LastMS = o.LastMS
	}
	w.Seen = true
	w.NotOK += o.NotOK
	w.SpanMS = math.Round((w.LastMS-w.FirstMS)*1000) / 1000 // to the µs, as ms()
}

// mergeTimeline sums the runners' timelines into out's. Their buckets
// seldom line up (each runner's start at its own first request), so each
// source bucket is counted whole in the merged bucket holding its
// midpoint; the merged buckets are as wide as the widest source's, or
// wider to stay as few as a run's. Identical geometries stay as they are.
func mergeTimeline(out *RateBlock, srcs []*RateBlock) {
	from, end, width := math.Inf(1), math.Inf(-1), 0.0
	for _, b := range srcs {
		if len(b.Timeline) > 0 {
			from, end = min(from, b.FromMS), max(end, b.FromMS+float64(len(b.Timeline))*b.BucketMS)
			width = max(width, b.BucketMS)
		}
	}
	if width == 0 {
		return
	}
	// Up to the microsecond, as every *_ms; the slack keeps a width
	// already whole from growing by float error.
	width = math.Ceil(max(width, (end-from)/(rateBuckets+1))*1000-1e-6) / 1000
	n := max(int(math.Ceil((end-from)/width-1e-9)), 1)
	out.FromMS, out.BucketMS, out.Timeline = from, width, make([]RateBucket, n)
	for _, b := range srcs {
		for i, k := range b.Timeline {
			mid := b.FromMS + (float64(i)+0.5)*b.BucketMS
			t := &out.Timeline[min(int((mid-from)/width), n-1)]
			t.OK += k.OK
			t.Admission += k.Admission
			t.Failed += k.Failed
			t.NotSent += k.NotSent
		}
	}
}

// worse is the worse of two verdicts: error, then fail, then pass.
func worse(a, b Verdict) Verdict {
	rank := map[Verdict]int{VerdictPass: 0, VerdictFail: 1, VerdictError: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func earliest(a, b *float64) *float64 {
	if a == nil || b != nil && *b < *a {
		return b
	}
	return a
}

func latest(a, b *float64) *float64 {
	if a == nil || b != nil && *b > *a {
		return b
	}
	return a
}

// mergeChecks folds one iteration's checks of several runners into one
// per ID, in the order IDs first appear: a check fails if it failed on any
// runner (naming the first), passes if it passed on one, and is skipped
// otherwise (a runner without the server's process skips process-exited,
// which the runner watching it judges). Observed is summed.
func mergeChecks(per [][]Check, labs []string) []Check {
	type runs struct {
		who []int // the runner (index in per) of each check
		cs  []Check
	}
	var order []string
	byID := map[string]*runs{}
	for i, checks := range per {
		for _, c := range checks {
			r := byID[c.ID]
			if r == nil {
				r = &runs{}
				byID[c.ID] = r
				order = append(order, c.ID)
			}
			r.who, r.cs = append(r.who, i), append(r.cs, c)
		}
	}
	out := make([]Check, 0, len(order))
	for _, id := range order {
		cs, who := byID[id].cs, byID[id].who
		c := Check{ID: id, Pass: true, Status: StatusSkip}
		var failed, passed []string
		for _, x := range cs {
			c.Observed += x.Observed
		}
		for j, x := range cs {
			switch x.Status {
			case StatusFail:
				failed = append(failed, labs[who[j]])
			case StatusPass:
				passed = append(passed, labs[who[j]])
			}
		}
		pick := func(st Status) Check {
			i := slices.IndexFunc(cs, func(x Check) bool { return x.Status == st })
			return cs[max(i, 0)]
		}
		switch {
		case len(failed) > 0:
			c.Status, c.Pass = StatusFail, false
			c.Detail = fmt.Sprintf("failed on runner %s of %d; %s: %s", listed(failed), len(cs), failed[0], pick(StatusFail).Detail)
		case len(passed) > 0:
			c.Status = StatusPass
			c.Detail = fmt.Sprintf("passed on runner %s of %d; %s: %s", listed(passed), len(cs), passed[0], pick(StatusPass).Detail)
		default:
			c.Detail = fmt.Sprintf("skipped on every runner; %s: %s", labs[who[0]], cs[0].Detail)
		}
		out = append(out, c)
	}
	return out
}

// listed names at most maxListed runners, so that a detail stays one
// readable line with a hundred runners.
func listed(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
}
