package reports

import (
	"regexp"
	"strings"
	"testing"

	"shutdowntest/load"
)

// An in-flight client that the server closed without a response fails
// inflight-completed, although "closed" is how an idle client passes.
// Every format shows it failed: each reads the report's ok, decided once
// by load.Role.Passes, instead of judging the outcome word for itself.
func TestInflightClosedIsShownFailed(t *testing.T) {
	it := cleanIteration()
	it.Clients[1].Outcome, it.Clients[1].Detail = load.OutcomeClosed, "closed without a response"
	r := Build(testResult(it), nil, testTool)
	clients := r.Iterations[0].Clients
	if clients[1].Role != "inflight" || clients[1].OK || !clients[0].OK || clients[0].Outcome != "closed" {
		t.Fatalf("ok: in-flight closed %v, idle closed %v", clients[1].OK, clients[0].OK)
	}
	if c := find(t, r.Iterations[0].Checks, CheckInflightCompleted); c.Status != StatusFail {
		t.Fatalf("inflight-completed %s: %s", c.Status, c.Detail)
	}

	md := markdownOf(t, r)
	for _, w := range []string{"| http | inflight | 1 | ✗ closed 1 |", "| http | idle | 1 | closed 1 |"} {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q:\n%s", w, md)
		}
	}

	page := htmlOf(t, r)
	// Client 2 is served by thread 3: its lane's outcome, and the outcome
	// table's row for http inflight.
	lane := regexp.MustCompile(`<g class="lane[^"]*" data-thread="3"[^>]*>.*?</g>`).FindString(page)
	if !strings.Contains(lane, `class="outcome bad">closed</text>`) {
		t.Errorf("thread 3's lane does not draw its in-flight client's closed as bad: %s", lane)
	}
	row := regexp.MustCompile(`<tr><td>http</td><td>inflight</td>.*?</tr>`).FindString(page)
	if !strings.Contains(row, `<span class="bad">closed ×1</span>`) {
		t.Errorf("the outcome table does not show the in-flight closed as bad: %s", row)
	}
	if row := regexp.MustCompile(`<tr><td>http</td><td>idle</td>.*?</tr>`).FindString(page); !strings.Contains(row, `<span class="good">closed ×1</span>`) {
		t.Errorf("an idle client that was closed is drawn bad: %s", row)
	}
}
