package reports

import (
	"os"
	"strings"
	"testing"
)

// README.md's check table is the registry, row for row: the same ids in
// the same order, each with its criterion sentence word for word, so the
// documentation cannot drift from what the reports judge.
func TestREADMEChecksAreTheRegistry(t *testing.T) {
	section := readmeSection(t, "The checks")
	type row struct{ id, passes string }
	var rows []row
	for _, line := range strings.Split(section, "\n") {
		rest, ok := strings.CutPrefix(line, "| `")
		if !ok {
			continue
		}
		id, passes, ok := strings.Cut(rest, "` | ")
		if !ok || !strings.HasSuffix(passes, " |") {
			t.Fatalf("README check row not in the form | `id` | sentence |: %q", line)
		}
		rows = append(rows, row{id, strings.TrimSuffix(passes, " |")})
	}
	var registry []row
	for _, cr := range criteria {
		registry = append(registry, row{cr.id, cr.passes})
	}
	for _, cr := range runCriteria {
		registry = append(registry, row{cr.id, cr.passes})
	}
	if len(rows) != len(registry) {
		t.Errorf("README lists %d checks, the registry %d", len(rows), len(registry))
	}
	for i := range min(len(rows), len(registry)) {
		if got, want := rows[i], registry[i]; got != want {
			t.Errorf("README check %d:\n got %q: %q\nwant %q: %q", i+1, got.id, got.passes, want.id, want.passes)
		}
	}
}

// Every check says how it reads an external target, or why it cannot: a
// check added to the registry without an external judge would otherwise
// have nothing to run on one.
func TestExternalJudgesCoverTheRegistry(t *testing.T) {
	for _, cr := range criteria {
		if externalJudges[cr.id] == nil {
			t.Errorf("check %s has no external judge", cr.id)
		}
	}
	if len(externalJudges) != len(criteria) {
		t.Errorf("%d external judges for %d checks", len(externalJudges), len(criteria))
	}
}

// readmeSection is the text of README.md's section "## title", up to the
// next one.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README.md has no \"## %s\" section", title)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}
