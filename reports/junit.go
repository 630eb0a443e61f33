package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// JUnit XML, in the shape Jenkins (junit plugin), GitLab (artifacts:
// reports:junit) and GitHub test reporters read: testsuites > testsuite >
// testcase, a failure or skipped element inside a testcase, counts as
// attributes.
type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr"`
	junitCounts
	Suites []junitSuite `xml:"testsuite"`
}

// junitCounts are the attributes <testsuites> and <testsuite> share.
type junitCounts struct {
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

type junitSuite struct {
	Name string `xml:"name,attr"`
	junitCounts
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  *junitText      `xml:"system-out"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
	// Error is a test that could not be run, as JUnit tells it apart
	// from one that failed.
	Error   *junitFailure `xml:"error"`
	Skipped *junitSkipped `xml:"skipped"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

// Names of the test cases that are about the run rather than one check.
const (
	junitRunClass       = "shutdowntest.run"
	junitRunInterrupted = "run-interrupted"
	junitRunError       = "run-error"
	junitNoIteration    = "iterations-recorded"
)

// WriteJUnit writes the report as JUnit XML for CI test reporters.
//
// The run is one testsuite, and every check of every iteration is one
// testcase (classname "shutdowntest.iteration<N>", name the check id, time
// that iteration's observation in seconds), rather than one testcase per
// aggregated check: a CI history then shows which iteration of a flaky
// shutdown failed and how often, and the counts stay exact (a skip in one
// iteration and a pass in another are not folded into a pass). A failure's
// message is the check's detail; its text adds the numbers a reader needs
// without opening the JSON: the iteration's terminate story, drain
// milestones, shutdown steps and the command to reproduce it.
//
// A run that proves nothing must not read as green: a run that could not
// be carried out gets a "run-error" testcase in error (errors="1"), an
// interrupted run a failing "run-interrupted" testcase, and a run in which
// no iteration was recorded for any other reason a failing
// "iterations-recorded" one (it would otherwise hold no testcase at all).
// The testsuite's timestamp is the run's start (omitted when unknown).
func (r Report) WriteJUnit(w io.Writer) error {
	name := "shutdowntest"
	if r.Config.Policy != "" { // empty when the run never got its configuration
		name += " policy " + r.Config.Policy
	}
	suite := junitSuite{
		Name:        name,
		Timestamp:   r.Started,
		junitCounts: junitCounts{Time: seconds(r.WallMS)},
		Properties:  r.junitProperties(),
	}
	for _, it := range r.Iterations {
		failText := r.failureContext(it)
		for _, c := range it.Checks {
			tc := junitCase{Classname: fmt.Sprintf("shutdowntest.iteration%d", it.N), Name: c.ID,
				Time: seconds(max(it.ObservedUntilMS, 0))}
			switch c.Status {
			case StatusFail:
				tc.Failure = &junitFailure{Message: c.Detail, Type: c.ID, Text: xmlText(c.Detail + "\n\n" + failText)}
			case StatusSkip:
				tc.Skipped = &junitSkipped{Message: c.Detail}
			}
			suite.Cases = append(suite.Cases, tc)
		}
	}
	if len(r.Iterations) > 0 {
		for _, c := range r.runChecks() {
			tc := junitCase{Classname: junitRunClass, Name: c.ID, Time: seconds(r.WallMS)}
			switch c.Status {
			case StatusFail:
				tc.Failure = &junitFailure{Message: c.Detail, Type: c.ID, Text: xmlText(c.Detail)}
			case StatusSkip:
				tc.Skipped = &junitSkipped{Message: c.Detail}
			}
			suite.Cases = append(suite.Cases, tc)
		}
	}
	if r.Interrupted {
		msg := "the run was interrupted " + r.interruptedAfter() + ": not a sign-off"
		var text []string
		for _, it := range r.Iterations {
			if it.Interrupted {
				text = append(text, fmt.Sprintf("the interrupt landed in iteration %d", it.N))
			}
		}
		text = append(text, r.reproduceLines()...)
		suite.Cases = append(suite.Cases, junitCase{Classname: junitRunClass, Name: junitRunInterrupted, Time: seconds(r.WallMS),
			Failure: &junitFailure{Message: msg, Type: junitRunInterrupted, Text: xmlText(strings.Join(append([]string{msg, ""}, text...), "\n"))}})
	}
	if e := r.Error; e != nil {
		msg := "the run could not be carried out: " + e.Message
		text := append([]string{msg, "", fmt.Sprintf("iteration %d, phase %s", e.Iteration, e.Phase)}, r.reproduceLines()...)
		suite.Cases = append(suite.Cases, junitCase{Classname: junitRunClass, Name: junitRunError, Time: seconds(r.WallMS),
			Error: &junitFailure{Message: msg, Type: junitRunError, Text: xmlText(strings.Join(text, "\n"))}})
	}
	if len(r.Iterations) == 0 && r.Error == nil {
		msg := "no iteration was recorded: nothing was checked"
		suite.Cases = append(suite.Cases, junitCase{Classname: junitRunClass, Name: junitNoIteration, Time: seconds(r.WallMS),
			Failure: &junitFailure{Message: msg, Type: junitNoIteration, Text: xmlText(strings.Join(append([]string{msg}, r.reproduceLines()...), "\n"))}})
	}
	for _, tc := range suite.Cases {
		suite.Tests++
		switch {
		case tc.Failure != nil:
			suite.Failures++
		case tc.Error != nil:
			suite.Errors++
		case tc.Skipped != nil:
			suite.Skipped++
		}
	}
	// The human summary rides along: Jenkins shows a suite's system-out
	// next to its results, so the sign-off reader sees the whole story.
	var summary bytes.Buffer
	r.WriteText(&summary)
	suite.SystemOut = &junitText{Text: xmlText(summary.String())}

	doc := junitSuites{Name: "shutdowntest", junitCounts: suite.junitCounts, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	return nil
}

// junitProperties describe the run as a CI page lists it: what was run,
// how it ended and how to run it again.
func (r Report) junitProperties() []junitProperty {
	c := r.Config
	props := []junitProperty{
		{"policy", c.Policy},
		{"clients", r.clientsLine()},
		{"inflight_for", msDuration(c.InflightForMS)},
		{"drain_timeout", msDuration(c.DrainTimeoutMS)},
		{"ready_timeout", msDuration(c.ReadyTimeoutMS)},
	}
	if r.external() {
		props = append(props, junitProperty{"target", r.targetLine()})
	}
	if c.MaxDrainMS > 0 {
		props = append(props, junitProperty{"max_drain", msDuration(c.MaxDrainMS)})
	}
	props = append(props,
		junitProperty{"iterations", fmt.Sprintf("%d of %d", len(r.Iterations), c.Iterations)},
		junitProperty{"verdict", string(r.Verdict)},
		junitProperty{"interrupted", fmt.Sprint(r.Interrupted)},
		junitProperty{"schema", r.Schema},
		junitProperty{"version", r.Tool.Version},
		junitProperty{"commit", r.Tool.Commit},
		junitProperty{"go", fmt.Sprintf("%s %s/%s", r.Tool.GoVersion, r.Tool.OS, r.Tool.Arch)},
		junitProperty{"reproduce", r.Reproduce.Command},
	)
	if r.Reproduce.FirstFailing != "" {
		props = append(props, junitProperty{"reproduce_first_failing", r.Reproduce.FirstFailing})
	}
	return props
}

// failureContext is what every failure of one iteration carries after its
// detail: the iteration's own record in the words of the text summary.
func (r Report) failureContext(it Iteration) string {
	lines := []string{
		fmt.Sprintf("iteration %d of %d (policy %s, server %s): %s", it.N, len(r.Iterations), r.Config.Policy, it.Addr, it.Verdict),
		"terminate: " + terminateStory(it),
		"drain: " + drainStory(it),
		"shutdown: " + shutdownStory(it),
	}
	if r.external() {
		lines[1] = "server: " + serverStory(it)
		lines = append(lines, outputLines(it)...)
	}
	if st := it.Shutdown.Stragglers; len(st) > 0 {
		lines = append(lines, "client threads alive after shutdown returned: "+joinInts(st))
	}
	if n := len(it.Violations); n > 0 {
		v := it.Violations[0]
		lines = append(lines, fmt.Sprintf("violations: %d; first at %s: %s: %s", n, tms(v.AtMS), v.Kind, v.Detail))
	}
	if r.Reproduce.Command != "" {
		lines = append(lines, "reproduce: "+r.Reproduce.Command)
	}
	if first, _, ok := r.storyIteration(); ok && first.N == it.N && r.Reproduce.FirstFailing != "" {
		lines = append(lines, "first failing iteration alone: "+r.Reproduce.FirstFailing)
	}
	return strings.Join(lines, "\n")
}

// shutdownStory is when shutdown returned and how each policy step ended.
func shutdownStory(it Iteration) string {
	s := "did not return"
	if it.Shutdown.ReturnedMS != nil {
		s = "returned " + tms(*it.Shutdown.ReturnedMS)
	}
	var steps []string
	for _, st := range it.Shutdown.Steps {
		x := fmt.Sprintf("%s %s (%s–%s", st.Name, st.Outcome, tms(st.StartMS), tms(st.EndMS))
		if st.BudgetMS > 0 {
			x += ", budget " + msDuration(st.BudgetMS)
		}
		x += ")"
		steps = append(steps, x)
	}
	if len(steps) > 0 {
		s += "; " + strings.Join(steps, ", ")
	}
	return s
}

// seconds renders report milliseconds as JUnit's seconds.
func seconds(msv float64) string {
	return fmt.Sprintf("%.3f", msv/1000)
}

// msDuration renders report milliseconds as a Go duration ("100ms", "10s").
func msDuration(msv float64) string {
	return time.Duration(msv * float64(time.Millisecond)).String()
}

// xmlText makes s safe for a CDATA section, which unlike attributes is not
// escaped by encoding/xml: a character XML 1.0 forbids (a control byte from
// a socket error) would make the whole file unreadable to the CI, so it
// becomes U+FFFD, as encoding/xml does for attributes (strings.Map already
// turns invalid UTF-8 into U+FFFD).
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		if !xmlChar(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

// xmlChar is XML 1.0's Char production.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
