package reports

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
)

var sharedAt = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// runnerResult is one runner of a shared test against one external
// target: an idle and an in-flight HTTP client, the in-flight one ending
// as inflight says; pid > 0 makes it the runner that triggers and watches
// the server's process.
func runnerResult(id string, inflight load.Outcome, pid int) *load.Result {
	x := &load.External{URL: "http://127.0.0.1:8080", Page: "/", Slow: "/slow", Trigger: load.Trigger{Kind: load.TriggerNone},
		TriggerAt: sharedAt, RunnerID: id}
	rec := &load.ExternalRecord{URL: x.URL, Trigger: x.Trigger, DrainTimeout: time.Second,
		Sync:   &load.SyncRecord{RunnerID: id, TriggerAt: sharedAt, Clock: load.ClockEstimate{Why: "the server sent no Date header"}},
		Series: load.AdmissionSeries{Attempts: 2, Admitted: 1, FirstRefused: after(40), HasFirstRefused: true}}
	if pid > 0 {
		x.PID, x.Trigger = pid, load.Trigger{Kind: load.TriggerSignal, Signal: "TERM"}
		rec.PID, rec.Trigger = pid, x.Trigger
		rec.Sync.Fired = after(0.2)
		rec.Sync.Clock = load.ClockEstimate{Known: true, Low: -300 * time.Millisecond, High: 200 * time.Millisecond, Samples: 4}
		rec.Exit = load.ProcessExit{Exited: true, StatusKnown: true, At: after(30), Detail: "exit status 0"}
		rec.Port = load.PortCheck{Checked: true, Refused: true, Bindable: true, Detail: "connections refused, bound again"}
	}
	m := load.Mix{HTTPIdle: 1, HTTPInflight: 1}
	var clients []load.ClientResult
	for _, sp := range m.Specs() {
		c := load.ClientResult{Spec: sp, Outcome: load.OutcomeClosed, EndedAt: after(10)}
		if sp.Role == load.RoleInflight {
			c.Outcome, c.EndedAt = inflight, after(20+float64(pid%7))
		}
		clients = append(clients, c)
	}
	it := load.Iteration{N: 1, Addr: "127.0.0.1:8080", Trigger: trig, Mix: m, External: rec, Ready: true, AllEnded: true,
		ObservedUntil: after(50), Clients: clients,
		Admission: []load.AdmissionProbe{{When: load.WhenAtTrigger, At: after(1), Outcome: load.AdmissionRefused}}}
	return &load.Result{Config: load.Config{Mix: m, DrainTimeout: time.Second, ReadyTimeout: time.Second, Iterations: 1, External: x},
		Iterations: []load.Iteration{it}, Wall: time.Second, Started: sharedAt.Add(-2 * time.Second)}
}

func jsonOf(t *testing.T, r Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A report read back writes the same bytes: ReadJSON loses nothing of
// what WriteJSON wrote (nulls, empty lists, omitted fields, floats).
func TestReadJSONRoundTrip(t *testing.T) {
	cases := goldenReports()
	cases = append(cases, struct {
		name string
		r    Report
	}{"runner", Build(runnerResult("r0", load.OutcomeCompleted, 42), nil, testTool)},
		struct {
			name string
			r    Report
		}{"rate", Build(withRate(runnerResult("r0", load.OutcomeCompleted, 42), 50, -100, time.Millisecond, time.Millisecond), nil, testTool)},
		struct {
			name string
			r    Report
		}{"html", htmlLegacyReport()})
	for _, c := range cases {
		first := jsonOf(t, c.r)
		back, err := ReadJSON(bytes.NewReader(first))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if again := jsonOf(t, back); !bytes.Equal(first, again) {
			t.Errorf("%s: written again differs:\n%s\nwant\n%s", c.name, again, first)
		}
	}
}

func TestReadJSONRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"schema":  `{"schema": "shutdowntest-report/3"}`,
		"unknown": `{"schema": "` + Schema + `", "surprise": 1}`,
		"syntax":  `{"schema": `,
	} {
		if _, err := ReadJSON(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRunnerBlock(t *testing.T) {
	r := Build(runnerResult("r0", load.OutcomeCompleted, 42), nil, testTool)
	if r.Runner == nil || r.Runner.ID != "r0" || r.Runner.TriggerAt != "2026-01-02T15:04:05Z" || r.Runner.Trigger != "signal:TERM" {
		t.Fatalf("runner %+v", r.Runner)
	}
	if r.Runner.FiredMS == nil || *r.Runner.FiredMS != 0.2 || !r.Runner.Clock.Known || *r.Runner.Clock.LowMS != -300 || *r.Runner.Clock.HighMS != 200 {
		t.Errorf("fired %v, clock %+v", r.Runner.FiredMS, r.Runner.Clock)
	}
	if b := Build(testResult(cleanIteration()), nil, testTool); b.Runner != nil {
		t.Errorf("an embedded run has a runner block: %+v", b.Runner)
	}
}

func mergeOf(t *testing.T, rs ...*load.Result) (Report, error) {
	t.Helper()
	var srcs []Source
	for i, res := range rs {
		// Through the JSON, as the merge command reads them.
		r, err := ReadJSON(bytes.NewReader(jsonOf(t, Build(res, nil, testTool))))
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, Source{File: "r" + string(rune('0'+i)) + ".json", Report: r})
	}
	return Merge(srcs, testTool)
}

func TestMergeClientsAndVerdict(t *testing.T) {
	m, err := mergeOf(t, runnerResult("r0", load.OutcomeCompleted, 42), runnerResult("r1", load.OutcomeCompleted, 0))
	if err != nil {
		t.Fatal(err)
	}
	if m.Verdict != VerdictPass || len(m.Runners) != 2 || m.Config.Clients.HTTPInflight != 2 {
		t.Fatalf("verdict %s, runners %d, mix %+v", m.Verdict, len(m.Runners), m.Config.Clients)
	}
	it := m.Iterations[0]
	var got []string
	for _, c := range it.Clients {
		got = append(got, c.Runner+":"+string(rune('0'+c.ID)))
	}
	if strings.Join(got, " ") != "r0:1 r0:2 r1:3 r1:4" {
		t.Errorf("clients %v, want ids 1-4 labelled r0, r0, r1, r1", got)
	}
	// process-exited: judged by r0, which watched the process, skipped by r1.
	for _, c := range it.Checks {
		if c.ID == CheckProcessExited && (c.Status != StatusPass || !strings.Contains(c.Detail, "passed on runner r0 of 2")) {
			t.Errorf("process-exited: %s %s", c.Status, c.Detail)
		}
	}
	if it.Target.PID == nil || *it.Target.PID != 42 || m.Target.PID == nil {
		t.Errorf("the target is not the watching runner's: %+v", it.Target)
	}
	if len(it.Admission) != 2 || it.Admission[0].Runner == "" {
		t.Errorf("admission %+v", it.Admission)
	}
}

// The drain figures are recomputed from the merged iterations: the last
// in-flight client is the latest of every runner's.
func TestMergeDrainFromMergedIterations(t *testing.T) {
	m, err := mergeOf(t, runnerResult("r0", load.OutcomeCompleted, 42), runnerResult("r1", load.OutcomeCompleted, 5))
	if err != nil {
		t.Fatal(err)
	}
	// r0: 20+42%7=20 ms; r1: 20+5 = 25 ms.
	if d := m.Iterations[0].Drain.LastInflightMS; d == nil || *d != 25 {
		t.Errorf("last in-flight %v, want 25", d)
	}
	if s := m.Drain.LastInflight; s.N != 1 || *s.MaxMS != 25 {
		t.Errorf("drain stats %+v", s)
	}
}

func TestMergeFailsWhenOneRunnerFails(t *testing.T) {
	m, err := mergeOf(t, runnerResult("r0", load.OutcomeCompleted, 42), runnerResult("r1", load.OutcomeReset, 0))
	if err != nil {
		t.Fatal(err)
	}
	if m.Verdict != VerdictFail {
		t.Errorf("verdict %s, want fail", m.Verdict)
	}
	c := find(t, m.Iterations[0].Checks, CheckInflightCompleted)
	if c.Status != StatusFail || !strings.HasPrefix(c.Detail, "failed on runner r1 of 2; r1: ") {
		t.Errorf("inflight-completed: %s %q", c.Status, c.Detail)
	}
}

func TestMergeRefuses(t *testing.T) {
	otherTarget := runnerResult("r1", load.OutcomeCompleted, 0)
	otherTarget.Config.External.URL = "http://127.0.0.1:9090"
	otherInstant := runnerResult("r1", load.OutcomeCompleted, 0)
	otherInstant.Iterations[0].External.Sync.TriggerAt = sharedAt.Add(time.Second)
	alone := runnerResult("r1", load.OutcomeCompleted, 0)
	alone.Iterations[0].External.Sync.TriggerAt = time.Time{}
	for name, c := range map[string]struct {
		second *load.Result
		want   string
	}{
		"target":  {otherTarget, "r1.json: target http://127.0.0.1:9090, not http://127.0.0.1:8080 as in r0.json"},
		"instant": {otherInstant, "r1.json: trigger instant 2026-01-02T15:04:06Z, not 2026-01-02T15:04:05Z as in r0.json"},
		"alone":   {alone, "r1.json: not a runner of a shared test"},
		"same id": {runnerResult("r0", load.OutcomeCompleted, 0), `r1.json: runner "r0", as in r0.json`},
	} {
		_, err := mergeOf(t, runnerResult("r0", load.OutcomeCompleted, 42), c.second)
		var me *MergeError
		if !errors.As(err, &me) || me.File != "r1.json" || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// withRate gives res's iteration steady traffic: n requests answered ok
// latency after they were due, one every gap from start (ms after the
// trigger), and the extra requests.
func withRate(res *load.Result, n int, start float64, gap, latency time.Duration, extra ...load.RateRequest) *load.Result {
	var qs []load.RateRequest
	for k := range n {
		due := after(start) + time.Duration(k)*gap
		qs = append(qs, load.RateRequest{Intended: due, Sent: due, Done: due + latency, Wrote: true, Outcome: load.RateOK, Status: 200})
	}
	rec := &load.RateRecord{Rate: load.Rate{PerSecond: float64(time.Second / gap), Workers: 8, Mode: load.RateNew},
		Trigger: trig, Drained: after(300), Requests: append(qs, extra...), Stopped: "the server stopped answering"}
	rec.Summarise()
	res.Iterations[0].Rate = rec
	return res
}

// rateRunners are two runners' traffic: r0 1,000 requests at 1 ms and
// one refused after the trigger (admission), r1 1,000 at 100 ms and one
// cut after the trigger (failed); every other request due before it, on
// timelines of their own geometry.
func rateRunners() (*load.Result, *load.Result) {
	a := withRate(runnerResult("r0", load.OutcomeCompleted, 42), 1000, -900, 800*time.Microsecond, time.Millisecond,
		load.RateRequest{Intended: after(50), Done: after(51), Outcome: load.RateRefused})
	b := withRate(runnerResult("r1", load.OutcomeCompleted, 0), 1000, -700, 600*time.Microsecond, 100*time.Millisecond,
		load.RateRequest{Intended: after(200), Done: after(210), Wrote: true, Outcome: load.RateCut, Read: 30, Local: "127.0.0.1:9"})
	return a, b
}

func near(got, want float64) bool { return math.Abs(got-want) <= want/100 }

// Two runners' traffic merges into the traffic the target saw: counts
// summed, percentiles of the merged histogram (a p50 of one runner and a
// p99 of the other, which no figure of either shows), the window from
// one's first to the other's last, the timelines summed.
func TestMergeRate(t *testing.T) {
	a, b := rateRunners()
	m, err := mergeOf(t, a, b)
	if err != nil {
		t.Fatal(err)
	}
	r := m.Iterations[0].Rate
	if r == nil || r.Requests != 2002 || r.PerSecond != 1250+1666 || r.Workers != 16 || r.Stopped != "the server stopped answering" {
		t.Fatalf("rate %+v", r)
	}
	ra, rb := Build(a, nil, testTool).Iterations[0].Rate, Build(b, nil, testTool).Iterations[0].Rate
	if r.Achieved != ra.Achieved+rb.Achieved {
		t.Errorf("achieved %g, want %g + %g", r.Achieved, ra.Achieved, rb.Achieved)
	}
	h := r.Phases[0]
	if h.Name != "holding" || h.Requests != 2000 || h.ByOutcome["ok"] != 2000 {
		t.Errorf("holding %+v", h)
	}
	if !near(h.P50MS, 1) || !near(h.P90MS, 100) || !near(h.P99MS, 100) || !near(h.MaxMS, 100) {
		t.Errorf("holding p50 %g p90 %g p99 %g max %g, want 1, 100, 100, 100", h.P50MS, h.P90MS, h.P99MS, h.MaxMS)
	}
	if d := r.Phases[1]; d.Requests != 2 || d.Failed != 1 || d.Admission != 1 || d.ByOutcome["cut"] != 1 || d.ByOutcome["refused"] != 1 {
		t.Errorf("draining %+v", d)
	}
	if w := r.Window; !w.Seen || w.FirstMS != 50 || w.LastMS != 200 || w.SpanMS != 150 || w.NotOK != 2 {
		t.Errorf("window %+v, want t+50ms to t+200ms, 2 not ok", w)
	}
	if len(r.Failed) != 1 || r.Failed[0].Runner != "r1" || r.Failed[0].Local != "127.0.0.1:9" {
		t.Errorf("failed %+v", r.Failed)
	}
	var sum RateBucket
	for _, k := range r.Timeline {
		sum.OK, sum.Admission, sum.Failed = sum.OK+k.OK, sum.Admission+k.Admission, sum.Failed+k.Failed
	}
	if sum != (RateBucket{OK: 2000, Admission: 1, Failed: 1}) || len(r.Timeline) > rateBuckets+1 {
		t.Errorf("timeline of %d buckets sums to %+v", len(r.Timeline), sum)
	}
	if r.FromMS != -900 || r.BucketMS < max(ra.BucketMS, rb.BucketMS) || r.FromMS+float64(len(r.Timeline))*r.BucketMS <= 200 {
		t.Errorf("timeline from %g, %g ms a bucket, %d buckets: does not span both", r.FromMS, r.BucketMS, len(r.Timeline))
	}
	c := find(t, m.Iterations[0].Checks, CheckNoFailedRequests)
	if c.Status != StatusFail || c.Observed != 2002 || !strings.HasPrefix(c.Detail, "failed on runner r1 of 2; r1: 1/1001 requests failed") {
		t.Errorf("no-failed-requests: %s %d %q", c.Status, c.Observed, c.Detail)
	}
	// Every writer takes it as it takes a run's.
	var text, md, page strings.Builder
	m.WriteText(&text)
	if err := m.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "rate holding    2000  ok 2000") || !strings.Contains(page.String(), "traffic (2002)") {
		t.Errorf("writers:\n%s", text.String())
	}
}

// One runner merged alone keeps its traffic as it was: the histogram is
// the same, and so are the timeline's geometry and counts.
func TestMergeRateAlone(t *testing.T) {
	a, _ := rateRunners()
	m, err := mergeOf(t, a)
	if err != nil {
		t.Fatal(err)
	}
	want := *Build(a, nil, testTool).Iterations[0].Rate
	for i := range want.Failed {
		want.Failed[i].Runner = "r0"
	}
	if got := *m.Iterations[0].Rate; !reflect.DeepEqual(got, want) {
		t.Errorf("merged alone:\n%+v\nwant\n%+v", got, want)
	}
}

// A histogram read back from the JSON is the one recorded: every count,
// the largest value, the range.
func TestRateHistogramRoundTrip(t *testing.T) {
	a, _ := rateRunners()
	back, err := ReadJSON(bytes.NewReader(jsonOf(t, Build(a, nil, testTool))))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range back.Iterations[0].Rate.Phases {
		orig := a.Iterations[0].Rate.Phases[i].Hist
		h, err := decodeHist(p.Histogram)
		if err != nil {
			t.Fatal(err)
		}
		if orig == nil || h == nil {
			if orig != h {
				t.Errorf("%s: recorded %v, read back %v", p.Name, orig, h)
			}
			continue
		}
		if !h.Equals(orig) || h.TotalCount() != int64(p.Requests) || h.Max() != orig.Max() {
			t.Errorf("%s: read back %d values to %d, recorded %d to %d", p.Name, h.TotalCount(), h.Max(), orig.TotalCount(), orig.Max())
		}
	}
}

// A damaged histogram is bad input naming the report and the phase, not
// a panic or a silent gap in the merged percentiles.
func TestMergeRefusesDamagedHistogram(t *testing.T) {
	a, b := rateRunners()
	for name, damage := range map[string]string{"garbage": "AAAA", "not base64": "!", "missing": ""} {
		ra := Build(a, nil, testTool)
		rb := Build(b, nil, testTool)
		rb.Iterations[0].Rate.Phases[0].Histogram = damage
		_, err := Merge([]Source{{"a.json", ra}, {"b.json", rb}}, testTool)
		if err == nil || !strings.HasPrefix(err.Error(), "b.json: iteration 1: rate phase holding: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
