package reports

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"shutdowntest/load"
)

// maxViolations bounds the violations the Markdown lists: a broken run can
// record one per client thread, and a release checklist needs the first
// few, not all of them (the JSON report keeps every one).
const maxViolations = 10

// WriteMarkdown writes the report as GitHub-flavoured Markdown, for a
// release checklist or a CI step summary ($GITHUB_STEP_SUMMARY): the
// verdict as the title, the configuration, the checks with the iterations
// they passed in, the terminate signal's timeline for the iteration that
// matters (the first failing, else the last), how the clients ended by
// kind and role over all iterations, the drain figures, the first
// violations and the command that runs it again.
func (r Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	r.mdSummary(&b)
	r.mdConfig(&b)
	r.mdChecks(&b)
	r.mdTerminate(&b)
	r.mdOutcomes(&b)
	r.mdDrain(&b)
	r.mdViolations(&b)
	r.mdReproduce(&b)
	if _, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n"); err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}

func (r Report) mdSummary(b *strings.Builder) {
	fmt.Fprintf(b, "# shutdowntest: %s\n\n", strings.ToUpper(string(r.Verdict)))
	if e := r.Error; e != nil {
		fmt.Fprintf(b, "> **Could not be carried out** (iteration %d, %s): %s\n\n", e.Iteration, e.Phase, cell(e.Message))
	}
	if len(r.Iterations) == 0 {
		fmt.Fprintf(b, "No iteration was recorded, so nothing was checked (policy `%s`, %.2fs).\n\n", r.Config.Policy, r.WallMS/1000)
	} else {
		failed, skipped := r.counts()
		fmt.Fprintf(b, "Policy `%s`, %s: %d of %d checks failed", r.Config.Policy,
			plural(len(r.Iterations), "iteration", "iterations"), failed, len(r.Checks))
		if skipped > 0 {
			fmt.Fprintf(b, ", %d skipped", skipped)
		}
		fmt.Fprintf(b, "; %.2fs in all.\n\n", r.WallMS/1000)
	}
	if r.Interrupted {
		fmt.Fprintf(b, "> **Interrupted** %s: this run is not a sign-off.\n\n", r.interruptedAfter())
	}
}

func (r Report) mdConfig(b *strings.Builder) {
	c := r.Config
	m := c.Clients
	maxDrain := "not set (drain-within skipped)"
	if c.MaxDrainMS > 0 {
		maxDrain = msDuration(c.MaxDrainMS)
	}
	iters := fmt.Sprint(len(r.Iterations))
	if c.Iterations > 0 && c.Iterations != len(r.Iterations) {
		iters = fmt.Sprintf("%d of %d", len(r.Iterations), c.Iterations)
	}
	if c.ForMS > 0 {
		iters += " (a soak of " + msDuration(c.ForMS) + ")"
	}
	if c.JitterMS > 0 {
		iters += fmt.Sprintf(", trigger jitter up to %s from seed %d", msDuration(c.JitterMS), c.Seed)
	}
	t := r.Tool
	rows := [][2]string{
		{"policy", code(c.Policy)},
		{"clients", cell(fmt.Sprintf("%d: http %d idle + %d in-flight, rest %d idle + %d in-flight, ws %d, tcp %d silent",
			m.HTTPIdle+m.HTTPInflight+m.RESTIdle+m.RESTInflight+m.WS+m.Silent,
			m.HTTPIdle, m.HTTPInflight, m.RESTIdle, m.RESTInflight, m.WS, m.Silent))},
		{"in-flight held for", msDuration(c.InflightForMS)},
		{"drain timeout", msDuration(c.DrainTimeoutMS)},
		{"ready timeout", msDuration(c.ReadyTimeoutMS)},
		{"max drain", cell(maxDrain)},
		{"iterations", iters},
		{"tool", cell(fmt.Sprintf("%s (commit %s), %s %s/%s, GOMAXPROCS %d, open-file limit %d",
			t.Version, t.Commit, t.GoVersion, t.OS, t.Arch, t.GOMAXPROCS, t.OpenFileLimit))},
		{"report schema", code(r.Schema)},
	}
	b.WriteString("## Configuration\n\n| setting | value |\n|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", row[0], row[1])
	}
	b.WriteString("\n")
}

func (r Report) mdChecks(b *strings.Builder) {
	b.WriteString("## Checks\n\n")
	// One iteration: its own details (the aggregate only wraps them in
	// "passed in 1 of 1"), as the text summary does.
	checks := r.SummaryChecks()
	agg := map[string]Check{}
	for _, c := range r.Checks {
		agg[c.ID] = c
	}
	b.WriteString("| check | status | passed | detail |\n|---|---|---|---|\n")
	for _, c := range checks {
		passed := "–"
		if a := agg[c.ID]; a.PassedIterations != nil && a.Iterations != nil {
			passed = fmt.Sprintf("%d/%d", *a.PassedIterations, *a.Iterations)
		}
		status := strings.ToUpper(string(c.Status))
		if c.Status == StatusFail {
			status = "**FAIL**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", code(c.ID), status, passed, cell(c.Detail))
	}
	b.WriteString("\n")
}

func (r Report) mdTerminate(b *strings.Builder) {
	it, which, ok := r.storyIteration()
	if !ok {
		return
	}
	if r.external() {
		r.mdServer(b, it, which)
		return
	}
	if len(r.Iterations) > 1 {
		fmt.Fprintf(b, "## Terminate signal (iteration %d, %s)\n\n", it.N, which)
	} else {
		b.WriteString("## Terminate signal\n\n")
	}
	t := it.Terminate
	signalled := "never"
	if t.SignaledMS != nil {
		signalled = tms(*t.SignaledMS)
	}
	var closed string
	switch {
	case t.ClosedMS != nil:
		closed = tms(*t.ClosedMS)
	case t.KeptOpen:
		closed = "kept open"
	case it.Shutdown.ReturnedMS == nil:
		closed = "not closed (shutdown did not return)"
	default:
		closed = "not closed"
	}
	returned := "did not return"
	if it.Shutdown.ReturnedMS != nil {
		returned = tms(*it.Shutdown.ReturnedMS)
		if s := it.Shutdown.SecondCallMS; s != nil {
			returned += fmt.Sprintf(" (a second call took %s ms)", msNum(*s))
		}
	}
	stragglers := "none"
	if len(it.Shutdown.Stragglers) > 0 {
		stragglers = fmt.Sprintf("%d (%s)", len(it.Shutdown.Stragglers), joinInts(it.Shutdown.Stragglers))
	}
	rows := [][2]string{
		{"handle", code(fmt.Sprintf("0x%x", t.Handle))},
		{"signalled", signalled},
		{"closed", closed},
		{"client threads alive at close", fmt.Sprint(t.LiveThreadsAtClose)},
		{"client threads not joined before close", fmt.Sprint(t.UnjoinedAtClose)},
		{"threads blocked on it at close", fmt.Sprint(t.WaitersAtClose)},
		{"waits after close", fmt.Sprint(t.WaitsAfterClose)},
		{"shutdown returned", returned},
		{"client threads alive after return", stragglers},
	}
	b.WriteString("| | |\n|---|---|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", row[0], row[1])
	}
	if len(it.Shutdown.Steps) > 0 {
		b.WriteString("\n| step | start | end | budget | outcome | detail |\n|---|---|---|---|---|---|\n")
		for _, st := range it.Shutdown.Steps {
			budget := "–"
			if st.BudgetMS > 0 {
				budget = msDuration(st.BudgetMS)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", code(st.Name), tms(st.StartMS), tms(st.EndMS),
				budget, cell(st.Outcome), cell(st.Detail))
		}
	}
	b.WriteString("\n")
}

// mdOutcomes counts how the clients ended, by kind and role, over every
// iteration: a flaky shutdown shows as a second outcome in a row, and an
// outcome its role does not pass with is marked ✗ (the client's ok).
func (r Report) mdOutcomes(b *strings.Builder) {
	if len(r.Iterations) == 0 {
		return
	}
	type key struct{ kind, role string }
	type row struct {
		n        int
		outcomes map[string]int
		failed   map[string]bool
	}
	rows := map[key]*row{}
	var keys []key
	for _, it := range r.Iterations {
		for _, c := range it.Clients {
			k := key{c.Kind, c.Role}
			rw := rows[k]
			if rw == nil {
				rw = &row{outcomes: map[string]int{}, failed: map[string]bool{}}
				rows[k] = rw
				keys = append(keys, k)
			}
			rw.n++
			rw.outcomes[c.Outcome]++
			rw.failed[c.Outcome] = rw.failed[c.Outcome] || !c.OK
		}
	}
	fmt.Fprintf(b, "## Client outcomes (%s)\n\n", allIterations(len(r.Iterations)))
	if len(keys) == 0 {
		b.WriteString("No client was configured.\n\n")
		return
	}
	// The order clients are configured in (http, rest, ws, tcp; idle
	// before in-flight), so the table reads like the configuration.
	kindOrder := map[string]int{string(load.KindHTTP): 0, string(load.KindREST): 1, string(load.KindWS): 2, string(load.KindTCP): 3}
	roleOrder := map[string]int{string(load.RoleIdle): 0, string(load.RoleInflight): 1, string(load.RoleStream): 2, string(load.RoleSilent): 3}
	rank := func(m map[string]int, s string) int {
		if v, ok := m[s]; ok {
			return v
		}
		return len(m)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if ka, kc := rank(kindOrder, a.kind), rank(kindOrder, c.kind); ka != kc {
			return ka < kc
		}
		if a.kind != c.kind {
			return a.kind < c.kind
		}
		if ra, rc := rank(roleOrder, a.role), rank(roleOrder, c.role); ra != rc {
			return ra < rc
		}
		return a.role < c.role
	})
	b.WriteString("| kind | role | clients | outcomes |\n|---|---|---|---|\n")
	for _, k := range keys {
		rw := rows[k]
		fmt.Fprintf(b, "| %s | %s | %d | %s |\n", cell(k.kind), cell(k.role), rw.n, cell(countList(rw.outcomes, rw.failed)))
	}
	b.WriteString("\n")
}

// countList is "completed 2, ✗ timeout 1": most frequent first, ties by
// name, the failed ones marked.
func countList(m map[string]int, failed map[string]bool) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if m[names[i]] != m[names[j]] {
			return m[names[i]] > m[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
		if failed[k] {
			parts[i] = "✗ " + parts[i]
		}
	}
	return strings.Join(parts, ", ")
}

func allIterations(n int) string {
	if n == 1 {
		return "1 iteration"
	}
	return fmt.Sprintf("all %d iterations", n)
}

func (r Report) mdDrain(b *strings.Builder) {
	switch len(r.Iterations) {
	case 0:
		return
	case 1:
		d := r.Iterations[0].Drain
		b.WriteString("## Drain\n\n| milestone | after the trigger |\n|---|---|\n")
		never := func(v *float64, otherwise string) string {
			if v == nil {
				return otherwise
			}
			return tms(*v)
		}
		inflight := "never"
		if !hasRole(r.Iterations[0], load.RoleInflight) {
			inflight = "no in-flight clients"
		}
		terminate := "never"
		if d.TerminateKeptOpen {
			terminate = "kept open"
		}
		fmt.Fprintf(b, "| listener closed | %s |\n", never(d.ListenerClosedMS, "never"))
		fmt.Fprintf(b, "| last in-flight response | %s |\n", never(d.LastInflightMS, inflight))
		fmt.Fprintf(b, "| last client thread exited | %s |\n", never(d.LastThreadExitMS, "never"))
		fmt.Fprintf(b, "| terminate closed | %s |\n\n", never(d.TerminateClosedMS, terminate))
		return
	}
	fmt.Fprintf(b, "## Drain (ms after the trigger, %d iterations)\n\n", len(r.Iterations))
	b.WriteString("| milestone | min | median | p95 | max | reached |\n|---|---|---|---|---|---|\n")
	for _, m := range r.drainMilestones() {
		s := m.stats
		reached := fmt.Sprintf("%d of %d", s.N, s.N+s.Missing)
		if s.N == 0 || s.MinMS == nil {
			if m.none != "" {
				reached = m.none
			}
			fmt.Fprintf(b, "| %s | – | – | – | – | %s |\n", m.label, reached)
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", m.label,
			msNum(*s.MinMS), msNum(*s.MedianMS), msNum(*s.P95MS), msNum(*s.MaxMS), reached)
	}
	b.WriteString("\n")
}

func (r Report) mdViolations(b *strings.Builder) {
	if len(r.Iterations) == 0 {
		return
	}
	total := 0
	for _, it := range r.Iterations {
		total += len(it.Violations)
	}
	fmt.Fprintf(b, "## Violations (%d)\n\n", total)
	if total == 0 {
		b.WriteString("The model kernel saw no undefined or harmful Win32 act.\n\n")
		return
	}
	b.WriteString("| iteration | at | kind | detail |\n|---|---|---|---|\n")
	shown := 0
	for _, it := range r.Iterations {
		for _, v := range it.Violations {
			if shown == maxViolations {
				break
			}
			shown++
			fmt.Fprintf(b, "| %d | %s | %s | %s |\n", it.N, tms(v.AtMS), code(v.Kind), cell(v.Detail))
		}
	}
	if total > shown {
		fmt.Fprintf(b, "\nand %d more in the JSON report.\n", total-shown)
	}
	b.WriteString("\n")
}

func (r Report) mdReproduce(b *strings.Builder) {
	if r.Reproduce.Command == "" && r.Reproduce.FirstFailing == "" {
		return
	}
	b.WriteString("## Reproduce\n\n```sh\n")
	if c := r.Reproduce.Command; c != "" {
		b.WriteString(c + "\n")
	}
	if c := r.Reproduce.FirstFailing; c != "" {
		b.WriteString("# the first failing iteration alone:\n" + c + "\n")
	}
	b.WriteString("```\n")
}

// cell makes text safe inside a table cell: a "|" would end the cell
// (GFM needs it escaped even inside code spans), a newline the row, and
// "<" could open an HTML tag that GitHub then hides (a detail such as
// "<nil>").
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("|", `\|`, "<", "&lt;").Replace(s)
}

// code is s as an inline code span, fenced with more backticks than it
// holds so a backtick inside cannot end it early. Inside a table a "|"
// must still be escaped, and nothing else may be: a code span shows
// "&lt;" as it is.
func code(s string) string {
	s = strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
	if s == "" {
		return ""
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || len(fence) > 1 {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
