package reports

import (
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
)

// TestRateClass holds no-failed-requests' rules, request by request, with
// the trigger at 1s.
func TestRateClass(t *testing.T) {
	const trig = time.Second
	before, after := trig-10*time.Millisecond, trig+10*time.Millisecond
	for _, tc := range []struct {
		name string
		q    load.RateRequest
		want load.RateClass
	}{
		{"answered ok before", load.RateRequest{Done: before, Outcome: load.RateOK, Status: 200}, load.ClassOK},
		{"answered ok after", load.RateRequest{Done: after, Outcome: load.RateOK, Status: 200}, load.ClassOK},
		{"taken on, reset after", load.RateRequest{Done: after, Outcome: load.RateReset, TakenOn: true}, load.ClassFailed},
		{"taken on, closed unserved after", load.RateRequest{Done: after, Outcome: load.RateClosed, TakenOn: true}, load.ClassFailed},
		{"served after, cut", load.RateRequest{Done: after, Outcome: load.RateCut, Read: 40}, load.ClassFailed},
		{"served after, reset mid-answer", load.RateRequest{Done: after, Outcome: load.RateReset, Read: 40}, load.ClassFailed},
		{"500 after", load.RateRequest{Done: after, Outcome: load.RateServerError, Status: 500}, load.ClassFailed},
		{"503 after: shutting down", load.RateRequest{Done: after, Outcome: load.RateUnavailable, Status: 503}, load.ClassAdmission},
		{"503 before", load.RateRequest{Done: before, Outcome: load.RateUnavailable, Status: 503}, load.ClassFailed},
		{"timeout after, not taken on", load.RateRequest{Done: after, Outcome: load.RateTimeout}, load.ClassFailed},
		{"refused after", load.RateRequest{Done: after, Outcome: load.RateRefused}, load.ClassAdmission},
		{"refused before", load.RateRequest{Done: before, Outcome: load.RateRefused}, load.ClassFailed},
		{"reset from the backlog after", load.RateRequest{Done: after, Outcome: load.RateReset}, load.ClassAdmission},
		{"closed unserved after, not taken on", load.RateRequest{Done: after, Outcome: load.RateClosed}, load.ClassAdmission},
		{"error", load.RateRequest{Done: after, Outcome: load.RateError}, load.ClassFailed},
	} {
		if got := tc.q.Class(trig); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// rateIteration is an iteration with traffic, the trigger at 1s, holding
// until shutdown returned at 1.3s.
func rateIteration(maxFailed int, qs ...load.RateRequest) *load.Iteration {
	it := cleanIteration()
	it.Trigger = time.Second
	rec := &load.RateRecord{Rate: load.Rate{PerSecond: 100, Workers: 8, Mode: load.RateNew, MaxFailed: maxFailed},
		Trigger: it.Trigger, Drained: it.Trigger + 300*time.Millisecond, Requests: qs, NotSent: []time.Duration{1100 * time.Millisecond}}
	rec.Summarise()
	it.Rate = rec
	return &it
}

func TestCheckFailedRequests(t *testing.T) {
	ms := time.Millisecond
	ok := load.RateRequest{Intended: 900 * ms, Done: 901 * ms, Outcome: load.RateOK, Status: 200, Local: "127.0.0.1:1"}
	cut := load.RateRequest{Intended: 995 * ms, Done: 1005 * ms, Outcome: load.RateCut, Read: 30, Detail: "closed after 30 bytes", Local: "127.0.0.1:2"}
	refused := load.RateRequest{Intended: 1010 * ms, Done: 1011 * ms, Outcome: load.RateRefused}
	late := load.RateRequest{Intended: 1400 * ms, Done: 1401 * ms, Outcome: load.RateRefused}

	it := rateIteration(0)
	it.Rate = nil
	if c := checkFailedRequests(it); c.Status != StatusSkip {
		t.Errorf("without --rate: %s %s", c.Status, c.Detail)
	}
	if c := checkFailedRequests(rateIteration(0, ok, refused, late)); c.Status != StatusPass || !strings.Contains(c.Detail, "2 turned away") || !strings.Contains(c.Detail, "1 not sent") {
		t.Errorf("refusals after the trigger: %s %s", c.Status, c.Detail)
	}
	c := checkFailedRequests(rateIteration(0, ok, cut, refused))
	if c.Status != StatusFail || !strings.Contains(c.Detail, "1/3 requests failed") || !strings.Contains(c.Detail, "cut") {
		t.Errorf("a cut answer: %s %s", c.Status, c.Detail)
	}
	if c := checkFailedRequests(rateIteration(1, ok, cut, refused)); c.Status != StatusPass {
		t.Errorf("a cut answer with --max-failed 1: %s %s", c.Status, c.Detail)
	}

	// The block: phases by when due, the window from the cut to the
	// refusal, the failed request listed.
	b := rateOf(rateIteration(0, ok, cut, refused, late))
	if got := []int{b.Phases[0].Requests, b.Phases[1].Requests, b.Phases[2].Requests}; got[0] != 2 || got[1] != 1 || got[2] != 1 {
		t.Errorf("requests by phase %v, want 2 1 1", got)
	}
	if b.Phases[1].NotSent != 1 || b.NotSent != 1 {
		t.Errorf("not sent %d (draining %d), want 1", b.NotSent, b.Phases[1].NotSent)
	}
	if w := b.Window; !w.Seen || w.FirstMS != -5 || w.LastMS != 400 || w.NotOK != 3 {
		t.Errorf("window %+v, want t-5ms to t+400ms, 3 not ok", w)
	}
	if len(b.Failed) != 1 || b.Failed[0].Local != cut.Local {
		t.Errorf("failed %+v", b.Failed)
	}
	lines := rateLines(Iteration{Rate: b})
	if len(lines) != 5 || !strings.Contains(lines[1], "ok 1, cut 1") || !strings.Contains(lines[4], "t-0.005s to t+0.400s") {
		t.Errorf("text:\n%s", strings.Join(lines, "\n"))
	}
}

// TestHTMLRateLane: with traffic the timeline gets its lane, a column per
// bucket split by class, and the window outlined; without it, none.
func TestHTMLRateLane(t *testing.T) {
	ms := time.Millisecond
	var qs []load.RateRequest
	for d := 700 * ms; d < 1000*ms; d += 10 * ms {
		qs = append(qs, load.RateRequest{Intended: d, Done: d + ms, Outcome: load.RateOK, Status: 200})
	}
	qs = append(qs, load.RateRequest{Intended: 995 * ms, Done: 1005 * ms, Outcome: load.RateCut, Read: 30},
		load.RateRequest{Intended: 1010 * ms, Done: 1011 * ms, Outcome: load.RateRefused})
	it := rateIteration(0, qs...)
	htmlDecorate(it)
	var b strings.Builder
	if err := Build(htmlResult("fixed", *it), nil, htmlTool).WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<g class="rate-lane">`, `class="rate-ok"`, `class="rate-failed"`, `class="rate-admission"`, `class="rate-window"`, "traffic (32)"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	b.Reset()
	if err := htmlFixedReport().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `<g class="rate-lane">`) {
		t.Error("a run without --rate has a traffic lane")
	}
}

// A phase's histogram is carried whole: decoded, it answers the same
// percentiles; damaged, it is an error, never a panic.
func TestRateHistogramEncoding(t *testing.T) {
	ms := time.Millisecond
	var qs []load.RateRequest
	for k := range 300 {
		d := 700*ms + time.Duration(k)*ms
		qs = append(qs, load.RateRequest{Intended: d, Done: d + time.Duration(k%7)*ms, Outcome: load.RateOK, Status: 200})
	}
	b := rateOf(rateIteration(0, qs...))
	p := b.Phases[0]
	h, err := decodeHist(p.Histogram)
	if err != nil || h == nil {
		t.Fatalf("decode: %v", err)
	}
	if h.TotalCount() != 300 || ms2(h.ValueAtQuantile(99)) != p.P99MS || ms2(h.Max()) != p.MaxMS {
		t.Errorf("read back %d values, p99 %g, max %g; want 300, %g, %g", h.TotalCount(), ms2(h.ValueAtQuantile(99)), ms2(h.Max()), p.P99MS, p.MaxMS)
	}
	if b.Phases[2].Histogram != "" {
		t.Errorf("a phase with no requests has a histogram: %q", b.Phases[2].Histogram)
	}
	for _, bad := range []string{"AAAA", "AAAAAAAAAAAAAAAA", "@@", p.Histogram[:len(p.Histogram)/2], p.Histogram[:12] + "AAAAAAAAAAAA"} {
		if _, err := decodeHist(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func ms2(us int64) float64 { return ms(time.Duration(us) * time.Microsecond) }
