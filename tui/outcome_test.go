package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"shutdowntest/load"
	"shutdowntest/target"
)

// An in-flight client that the server closed without a response failed
// (inflight-completed), although "closed" is how an idle client passes:
// the table marks it failed, live and at the verdict, at every width, by
// the one rule the checks use (load.Role.Passes), and leaves the idle
// client that was closed unmarked.
func TestInflightClosedIsShownFailed(t *testing.T) {
	run := newFxRun(target.PolicyFixed)
	for i := range run.clients {
		if c := &run.clients[i]; c.Kind == load.KindHTTP && c.Role == load.RoleInflight {
			c.Outcome, c.Detail = load.OutcomeClosed, "closed without a response"
		}
	}
	row := func(view string, id, kind, role string) string {
		for _, l := range strings.Split(ansi.Strip(view), "\n") {
			if f := strings.Fields(strings.TrimPrefix(l, "›")); len(f) > 2 && f[0] == id && f[1] == kind && f[2] == role {
				return l
			}
		}
		t.Fatalf("no row for client %s in\n%s", id, ansi.Strip(view))
		return ""
	}
	for _, sz := range goldenSizes {
		live := fxSnap(fxModel(target.PolicyFixed, sz.w, sz.h), run.snapshot(fxT(400)))
		done := fxSend(live, doneMsg{gen: live.gen, res: run.result()})
		for name, m := range map[string]Model{"live": live, "verdict": done} {
			if r := row(m.View(), "2", "HTTP", "in-flight"); !strings.Contains(r, "✗ closed") {
				t.Errorf("%s %dx%d: the in-flight client closed is not marked failed: %q", name, sz.w, sz.h, r)
			}
			if r := row(m.View(), "1", "HTTP", "idle"); strings.Contains(r, "✗") || !strings.Contains(r, "closed") {
				t.Errorf("%s %dx%d: the idle client closed is not shown passed: %q", name, sz.w, sz.h, r)
			}
		}
	}
}

// Once the result is in, the terminate story in the panel and the event
// log is the record's list of threads alive at the close, not a recount
// of the thread timeline (which here shows four alive).
func TestTerminateStoryIsTheRecords(t *testing.T) {
	run := newFxRun(target.PolicyLegacy)
	run.aliveClose = []int{6}
	m := fxModel(target.PolicyLegacy, 120, 40)
	m = fxSend(m, doneMsg{gen: m.gen, res: run.result()})
	view := ansi.Strip(m.View())
	for _, w := range []string{"✗ closed while 1 client threads were alive", "terminate handle closed while 1 client threads were alive"} {
		if !strings.Contains(view, w) {
			t.Errorf("view lacks %q:\n%s", w, view)
		}
	}
	if strings.Contains(view, "while 4 client threads") {
		t.Errorf("the view recounted the timeline:\n%s", view)
	}
}
