package tui

import (
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
)

// The drain panel carries the traffic's line only with --rate, and says
// what the snapshot's tally says, window included.
func TestRateLine(t *testing.T) {
	m := newTestModel(t)
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: holdingSnap(1)})
	if v := m.View(); strings.Contains(v, "rate ") {
		t.Fatalf("a run without --rate shows a rate line:\n%s", v)
	}
	s := holdingSnap(1)
	s.Rate = &load.RateTally{Sent: 120, OK: 117, NotOK: 3, NotSent: 2, Window: load.RateWindow{Seen: true, First: s.Server.At - 5*time.Millisecond, Last: s.Server.At, NotOK: 3}}
	m, _ = update(t, m, snapMsg{gen: m.gen, snap: s})
	v := m.View()
	for _, want := range []string{"rate 120: 117 ok, 3 not ok, 2 capped; window 0.995s–1.000s"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
}
