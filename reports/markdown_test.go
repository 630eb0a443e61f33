package reports

import (
	"bytes"
	"strings"
	"testing"
)

func markdownOf(t *testing.T, r Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestMarkdownGolden(t *testing.T) {
	for _, g := range goldenReports() {
		t.Run(g.name, func(t *testing.T) {
			golden(t, "markdown-"+g.name, []byte(markdownOf(t, g.r)))
		})
	}
}

// Every table row has as many cells as its header, whatever a detail
// holds: an unescaped "|" would shift every later cell of the row.
func TestMarkdownTables(t *testing.T) {
	for _, g := range goldenReports() {
		t.Run(g.name, func(t *testing.T) {
			r := g.r
			if len(r.Iterations) > 0 {
				r.Iterations = append([]Iteration(nil), r.Iterations...)
				it := &r.Iterations[0]
				it.Checks = append([]Check(nil), it.Checks...)
				it.Checks[0].Detail = "a | b <nil> `c|d`"
				r.Checks = append([]Check(nil), r.Checks...)
				r.Checks[0].Detail = it.Checks[0].Detail
			}
			md := markdownOf(t, r)
			if !strings.HasPrefix(md, "# shutdowntest: "+strings.ToUpper(string(r.Verdict))+"\n") || !strings.HasSuffix(md, "\n") ||
				strings.HasSuffix(md, "\n\n") {
				t.Errorf("title or ending:\n%s", md)
			}
			cols := 0
			for i, line := range strings.Split(md, "\n") {
				if !strings.HasPrefix(line, "|") {
					cols = 0
					continue
				}
				n := cellCount(line)
				if cols == 0 {
					cols = n
					continue
				}
				if n != cols {
					t.Errorf("line %d has %d cells, the table %d: %q", i+1, n, cols, line)
				}
			}
			if len(r.Iterations) > 0 && !strings.Contains(md, `a \| b &lt;nil> `+"`c\\|d`") {
				t.Errorf("detail not escaped:\n%s", md)
			}
		})
	}
}

// cellCount counts a table row's cells as GFM splits them: on "|" not
// preceded by a backslash.
func cellCount(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '|' && (i == 0 || line[i-1] != '\\') {
			n++
		}
	}
	return n - 1
}

// The sections a release checklist relies on, for a failing run of
// several iterations.
func TestMarkdownSections(t *testing.T) {
	var r Report
	for _, g := range goldenReports() {
		if g.name == "iterations" {
			r = g.r
		}
	}
	md := markdownOf(t, r)
	for _, w := range []string{
		"# shutdowntest: FAIL\n",
		"> **Interrupted** after 3 of 5 iterations: this run is not a sign-off.",
		"| max drain | 400ms |",
		"| iterations | 3 of 5 |",
		"| `terminate-outlived-waiters` | **FAIL** | 2/3 | failed in 1 of 3 iterations; first (iteration 3): ",
		"| `routing-unchanged` | PASS | 3/3 | passed in 3 of 3 iterations; last: 2/2 routes unchanged |",
		"| `drain-within` | **FAIL** | 2/3 | failed in 1 of 3 iterations; first (iteration 2): last client thread exited at t+0.500s, over the 400ms budget |",
		"## Terminate signal (iteration 2, first failing)",
		"| closed | kept open |",
		"| client threads alive after return | 2 (3, 5) |",
		"| `join-clients` | t+0.001s | t+0.101s | 100ms | timeout | 2 of 6 client threads still alive after 100ms: [3 5] |",
		"## Client outcomes (all 3 iterations)",
		"| http | inflight | 3 | completed 3 |",
		"| rest | inflight | 3 | completed 2, ✗ reset 1 |",
		"| `inflight-completed` | **FAIL** | 2/3 | failed in 1 of 3 iterations; first (iteration 3): 1/2 whole responses; client 4: reset (read body: connection reset by peer \\| after 12 of 40 bytes) |",
		"| ws | stream | 3 | ws-close-1001 3 |",
		"| milestone | min | median | p95 | max | reached |",
		"| last client thread exited | 305 | 310 | 500 | 500 | 3 of 3 |",
		"| terminate closed | 4 | 4 | 310 | 310 | 2 of 3 |",
		"## Violations (2)",
		"| 3 | t+0.305s | `wait-on-closed` | thread 2 waited on 0x40, a closed handle: WAIT_FAILED |",
		"```sh\nshutdowntest --headless --max-drain=400ms --iterations=5\n# the first failing iteration alone:\nshutdowntest --headless --max-drain=400ms --iterations=1\n```\n",
	} {
		if !strings.Contains(md, w) {
			t.Errorf("want %q in\n%s", w, md)
		}
	}
	if strings.Contains(md, "\x1b") {
		t.Error("no ANSI in Markdown")
	}
}

func TestCountList(t *testing.T) {
	for _, tc := range []struct {
		m      map[string]int
		failed map[string]bool
		want   string
	}{
		{map[string]int{}, nil, ""},
		{map[string]int{"completed": 2}, nil, "completed 2"},
		{map[string]int{"timeout": 1, "completed": 2, "reset": 1}, map[string]bool{"reset": true, "timeout": true},
			"completed 2, ✗ reset 1, ✗ timeout 1"},
	} {
		if got := countList(tc.m, tc.failed); got != tc.want {
			t.Errorf("countList(%v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

func TestCellAndCode(t *testing.T) {
	for _, tc := range []struct{ in, cell, code string }{
		{"plain", "plain", "`plain`"},
		{"a|b", `a\|b`, "`a\\|b`"},
		{"<nil>\nnext", "&lt;nil> next", "`<nil> next`"},
		{"x`y", "x`y", "`` x`y ``"},
		{"", "", ""},
	} {
		if got := cell(tc.in); got != tc.cell {
			t.Errorf("cell(%q) = %q, want %q", tc.in, got, tc.cell)
		}
		if got := code(tc.in); got != tc.code {
			t.Errorf("code(%q) = %q, want %q", tc.in, got, tc.code)
		}
	}
}
