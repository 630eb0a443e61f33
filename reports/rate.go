package reports

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"shutdowntest/load"
)

// CheckNoFailedRequests is the steady traffic's check (--rate).
const CheckNoFailedRequests = "no-failed-requests"

// RateBlock is what the steady traffic through the shutdown did (--rate):
// its settings, why it stopped, per phase the requests by outcome and
// their latencies (from the intended send time: corrected for coordinated
// omission), the disruption window, its first failed requests, and the
// requests' outcomes over time for the timeline.
type RateBlock struct {
	PerSecond float64 `json:"per_second"` // 0 with max
	Max       bool    `json:"max"`
	Workers   int     `json:"workers"`
	Mode      string  `json:"mode"`
	Path      string  `json:"path"`
	MaxFailed int     `json:"max_failed"`
	Stopped   string  `json:"stopped"`
	Requests  int     `json:"requests"`
	NotSent   int     `json:"not_sent_cap"`
	// Achieved is the requests a second due before the trigger (the
	// figure a benchmark reads).
	Achieved float64       `json:"achieved_per_second"`
	Phases   []RatePhase   `json:"phases"`
	Window   RateWindow    `json:"window"`
	Failed   []RateRequest `json:"failed"`
	// Timeline is the requests by when they were due, in BucketMS wide
	// buckets from FromMS (ms after the trigger).
	FromMS   float64      `json:"from_ms"`
	BucketMS float64      `json:"bucket_ms"`
	Timeline []RateBucket `json:"timeline"`
}

// RatePhase is one phase's requests: holding (due before the trigger),
// draining (until shutdown returned or the process exited), after.
type RatePhase struct {
	Name      string         `json:"name"`
	Requests  int            `json:"requests"`
	ByOutcome map[string]int `json:"by_outcome"`
	NotSent   int            `json:"not_sent_cap"`
	Failed    int            `json:"failed"`
	Admission int            `json:"admission"`
	P50MS     float64        `json:"p50_ms"`
	P90MS     float64        `json:"p90_ms"`
	P99MS     float64        `json:"p99_ms"`
	P999MS    float64        `json:"p99_9_ms"`
	MaxMS     float64        `json:"max_ms"`
	// Histogram is the latencies (µs) themselves, in HdrHistogram's V2
	// compressed encoding, base64: the percentiles of several runners
	// cannot be merged, their histograms can. Empty with no requests.
	Histogram string `json:"histogram,omitempty"`
}

// RateWindow is the disruption window: the first to the last request not
// answered ok whose outcome came after the trigger, by when each was due.
type RateWindow struct {
	Seen    bool    `json:"seen"`
	FirstMS float64 `json:"first_ms"`
	LastMS  float64 `json:"last_ms"`
	SpanMS  float64 `json:"span_ms"`
	NotOK   int     `json:"not_ok"`
}

// RateRequest is one request, as the failed list shows it.
type RateRequest struct {
	DueMS     float64 `json:"due_ms"`
	LatencyMS float64 `json:"latency_ms"`
	Local     string  `json:"local"`
	Reused    bool    `json:"reused"`
	Outcome   string  `json:"outcome"`
	Status    int     `json:"status,omitempty"`
	TakenOn   bool    `json:"taken_on_before_trigger"`
	Detail    string  `json:"detail"`
	// Runner is, in a merged report, the runner that sent it.
	Runner string `json:"runner,omitempty"`
}

// RateBucket counts the requests due in one bucket by how the check reads
// them, and those not sent.
type RateBucket struct {
	OK        int `json:"ok"`
	Admission int `json:"admission"`
	Failed    int `json:"failed"`
	NotSent   int `json:"not_sent_cap"`
}

// rateBuckets is how many buckets the timeline has.
const rateBuckets = 120

func rateOf(it *load.Iteration) *RateBlock {
	r := it.Rate
	if r == nil {
		return nil
	}
	rel := func(d time.Duration) float64 { return ms(d - it.Trigger) }
	b := &RateBlock{PerSecond: r.Rate.PerSecond, Max: r.Rate.Max, Workers: r.Rate.Workers, Mode: string(r.Rate.Mode),
		Path: r.Rate.Path, MaxFailed: r.Rate.MaxFailed, Stopped: r.Stopped, Requests: len(r.Requests), NotSent: len(r.NotSent),
		Phases: []RatePhase{}, Failed: []RateRequest{}, Timeline: []RateBucket{}}
	for _, p := range r.Phases {
		out := RatePhase{Name: string(p.Name), Requests: p.Requests, ByOutcome: map[string]int{}, NotSent: p.NotSent,
			Failed: p.Failed, Admission: p.Admission, P50MS: ms(p.P50), P90MS: ms(p.P90), P99MS: ms(p.P99), P999MS: ms(p.P999), MaxMS: ms(p.Max),
			Histogram: encodeHist(p.Hist)}
		for o, n := range p.ByOutcome {
			out.ByOutcome[string(o)] = n
		}
		b.Phases = append(b.Phases, out)
	}
	if w := r.Window; w.Seen {
		b.Window = RateWindow{Seen: true, FirstMS: rel(w.First), LastMS: rel(w.Last), SpanMS: ms(w.Last - w.First), NotOK: w.NotOK}
	}
	for _, q := range r.Failed() {
		if len(b.Failed) == maxListed*4 {
			break
		}
		b.Failed = append(b.Failed, RateRequest{DueMS: rel(q.Intended), LatencyMS: ms(q.Latency()), Local: q.Local, Reused: q.Reused,
			Outcome: string(q.Outcome), Status: q.Status, TakenOn: q.TakenOn, Detail: q.Detail})
	}
	if len(r.Requests) == 0 {
		return b
	}
	first, last := r.Requests[0].Intended, r.Requests[len(r.Requests)-1].Intended
	for _, d := range r.NotSent {
		first, last = min(first, d), max(last, d)
	}
	if held := it.Trigger - first; held > 0 {
		b.Achieved = float64(r.Phases[0].Requests) / held.Seconds()
	}
	width := max((last-first)/rateBuckets+1, time.Microsecond)
	b.FromMS, b.BucketMS = rel(first), ms(width)
	b.Timeline = make([]RateBucket, (last-first)/width+1)
	for _, q := range r.Requests {
		k := &b.Timeline[(q.Intended-first)/width]
		switch q.Class(it.Trigger) {
		case load.ClassOK:
			k.OK++
		case load.ClassAdmission:
			k.Admission++
		default:
			k.Failed++
		}
	}
	for _, d := range r.NotSent {
		b.Timeline[(d-first)/width].NotSent++
	}
	return b
}

// encodeHist is h in a RatePhase's Histogram form; "" for nil.
func encodeHist(h *hdrhistogram.Histogram) string {
	if h == nil {
		return ""
	}
	// Encode writes to memory: it fails only for a version it lacks.
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		panic("reports: encode histogram: " + err.Error())
	}
	return string(b) // already base64
}

// histLimit bounds a histogram's decompressed size: the tool's own are a
// few KiB, whatever their count.
const histLimit = 1 << 20

var errHistDamaged = errors.New("damaged: not a V2 compressed histogram")

// checkHist reads a histogram's header before hdrhistogram's Decode does.
// Decode decompresses the whole payload and makes the counts its header
// asks for, so a damaged or made-up report could have merge allocate
// without bound; and histograms of other ranges would lose values when
// merged. The tool writes one range (load.NewRateHist's); any other is
// refused. The header is hdrhistogram's V2: after the compressed form's
// cookie and length, a zlib stream of cookie, payload length, index
// offset, significant digits, lowest and highest value (big-endian).
func checkHist(s string) error {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) < 8 {
		return errHistDamaged
	}
	n := int(binary.BigEndian.Uint32(raw[4:8]))
	if n < 0 || n > len(raw)-8 {
		return errHistDamaged
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8 : 8+n]))
	if err != nil {
		return errHistDamaged
	}
	defer func() { _ = z.Close() }()
	body, err := io.ReadAll(io.LimitReader(z, histLimit+1))
	switch {
	case len(body) > histLimit:
		return fmt.Errorf("over %d bytes decompressed", histLimit)
	case err != nil || len(body) < 40:
		return errHistDamaged
	}
	digits := int64(int32(binary.BigEndian.Uint32(body[12:16])))
	lo, hi := int64(binary.BigEndian.Uint64(body[16:24])), int64(binary.BigEndian.Uint64(body[24:32]))
	ref := load.NewRateHist()
	if lo != ref.LowestTrackableValue() || hi != ref.HighestTrackableValue() || digits != ref.SignificantFigures() {
		return fmt.Errorf("range %d to %d µs at %d digits, not the %d to %d at %d this tool writes",
			lo, hi, digits, ref.LowestTrackableValue(), ref.HighestTrackableValue(), ref.SignificantFigures())
	}
	return nil
}

// decodeHist reads a RatePhase's Histogram; nil for "".
func decodeHist(s string) (h *hdrhistogram.Histogram, err error) {
	if s == "" {
		return nil, nil
	}
	if err := checkHist(s); err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	// Decode slices the buffer as its header says without checking it
	// first, so a damaged report would panic it: that is bad input.
	defer func() {
		if p := recover(); p != nil {
			h, err = nil, fmt.Errorf("histogram: damaged: %v", p)
		}
	}()
	if h, err = hdrhistogram.Decode([]byte(s)); err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	return h, nil
}

// checkFailedRequests: every request of the steady traffic that the
// server had taken on before the trigger, or served after it, completed.
// What happened to a request it had not taken on after the trigger is
// admission behaviour, counted apart and judged by the admission check.
func checkFailedRequests(it *load.Iteration) Check {
	r := it.Rate
	if r == nil {
		return newCheck(StatusSkip, 0, "no --rate given")
	}
	n := len(r.Requests)
	// The phases counted every request's class when the record was made
	// (RateRecord.Summarise); only a failing check lists them.
	nfailed, admission := 0, 0
	for _, p := range r.Phases {
		nfailed, admission = nfailed+p.Failed, admission+p.Admission
	}
	apart := fmt.Sprintf("; %d turned away after the trigger (admission), %d not sent (cap)", admission, len(r.NotSent))
	if nfailed > r.Rate.MaxFailed {
		var bad []string
		for _, q := range r.Failed() {
			s := fmt.Sprintf("due at %s: %s", at(it, q.Intended), q.Outcome)
			if q.Detail != "" {
				s += " (" + q.Detail + ")"
			}
			bad = append(bad, s)
		}
		return newCheck(StatusFail, n, "%d/%d requests failed (allowed %d): %s%s", nfailed, n, r.Rate.MaxFailed, capJoin(bad, "; "), apart)
	}
	return newCheck(StatusPass, n, "%d/%d requests failed (allowed %d)%s", nfailed, n, r.Rate.MaxFailed, apart)
}

// rateLines are the text summary's table of the traffic: one line per
// phase, and the disruption window.
func rateLines(it Iteration) []string {
	b := it.Rate
	if b == nil {
		return nil
	}
	what := fmt.Sprintf("%g/s", b.PerSecond)
	if b.Max {
		what = fmt.Sprintf("max, %.0f/s achieved", b.Achieved)
	}
	lines := []string{fmt.Sprintf("rate: %s, %s connections, %d workers; %d sent, %d not sent (cap); stopped: %s",
		what, b.Mode, b.Workers, b.Requests, b.NotSent, b.Stopped)}
	for _, p := range b.Phases {
		lines = append(lines, fmt.Sprintf("rate %-8s %6d  %-40s p50 %sms  p90 %sms  p99 %sms  p99.9 %sms  max %sms",
			p.Name, p.Requests, outcomeCounts(p), msNum(p.P50MS), msNum(p.P90MS), msNum(p.P99MS), msNum(p.P999MS), msNum(p.MaxMS)))
	}
	lines = append(lines, "rate: disruption window "+b.Window.String())
	return lines
}

// String is the window in words.
func (w RateWindow) String() string {
	if !w.Seen {
		return "none: every request after the trigger was answered ok"
	}
	return fmt.Sprintf("%s to %s (%s, %d requests not ok)", tms(w.FirstMS), tms(w.LastMS), msNum(w.SpanMS)+"ms", w.NotOK)
}

// outcomeCounts is a phase's count by outcome, in load's order.
func outcomeCounts(p RatePhase) string {
	var parts []string
	for _, o := range []load.RateOutcome{load.RateOK, load.RateUnavailable, load.RateServerError, load.RateRefused,
		load.RateClosed, load.RateReset, load.RateCut, load.RateTimeout, load.RateError} {
		if n := p.ByOutcome[string(o)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", o, n))
		}
	}
	if p.NotSent > 0 {
		parts = append(parts, fmt.Sprintf("not sent %d", p.NotSent))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
