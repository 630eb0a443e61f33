package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"shutdowntest/load"
)

// What a CI reader takes from the file, parsed back with encoding/xml.
type parsedSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Time       string `xml:"time,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Classname string `xml:"classname,attr"`
			Name      string `xml:"name,attr"`
			Time      string `xml:"time,attr"`
			Failure   []struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error []struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"error"`
			Skipped []struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
		SystemOut string `xml:"system-out"`
	} `xml:"testsuite"`
}

func junitOf(t *testing.T, r Report) (parsedSuites, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := r.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if !strings.HasPrefix(text, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<testsuites ") || !strings.HasSuffix(text, "</testsuites>\n") {
		t.Fatalf("not an XML document of testsuites:\n%s", text)
	}
	var doc parsedSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, text)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d testsuites, want one per run", len(doc.Suites))
	}
	return doc, text
}

func TestJUnitGolden(t *testing.T) {
	for _, g := range goldenReports() {
		t.Run(g.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := g.r.WriteJUnit(&buf); err != nil {
				t.Fatal(err)
			}
			golden(t, "junit-"+g.name, buf.Bytes())
		})
	}
}

// Every check of every iteration is a testcase; exactly the failed ones
// carry one failure, whose message is the detail and whose type is the
// check; the counts agree with the cases.
func TestJUnitCases(t *testing.T) {
	for _, g := range goldenReports() {
		t.Run(g.name, func(t *testing.T) {
			r := g.r
			doc, _ := junitOf(t, r)
			s := doc.Suites[0]
			type want struct{ status, detail string }
			wants := map[string]want{}
			var order []string
			for _, it := range r.Iterations {
				for _, c := range it.Checks {
					k := fmt.Sprintf("shutdowntest.iteration%d/%s", it.N, c.ID)
					wants[k] = want{string(c.Status), c.Detail}
					order = append(order, k)
				}
			}
			if len(r.Iterations) > 0 {
				for _, c := range r.runChecks() {
					k := "shutdowntest.run/" + c.ID
					wants[k] = want{string(c.Status), c.Detail}
					order = append(order, k)
				}
			}
			if r.Interrupted {
				k := "shutdowntest.run/run-interrupted"
				wants[k] = want{string(StatusFail), "the run was interrupted " + r.interruptedAfter() + ": not a sign-off"}
				order = append(order, k)
			}
			if r.Error != nil {
				k := "shutdowntest.run/run-error"
				wants[k] = want{string(VerdictError), "the run could not be carried out: " + r.Error.Message}
				order = append(order, k)
			}
			if len(r.Iterations) == 0 && r.Error == nil {
				k := "shutdowntest.run/iterations-recorded"
				wants[k] = want{string(StatusFail), "no iteration was recorded: nothing was checked"}
				order = append(order, k)
			}
			if len(s.Cases) != len(order) {
				t.Fatalf("%d testcases, want %d", len(s.Cases), len(order))
			}
			failures, skipped, errs := 0, 0, 0
			for i, c := range s.Cases {
				k := c.Classname + "/" + c.Name
				if k != order[i] {
					t.Errorf("testcase %d is %s, want %s", i, k, order[i])
				}
				w := wants[k]
				switch w.status {
				case string(StatusFail):
					failures++
					if len(c.Failure) != 1 || len(c.Skipped) != 0 {
						t.Fatalf("%s: %d failures, %d skipped; want one failure", k, len(c.Failure), len(c.Skipped))
					}
					f := c.Failure[0]
					if f.Message != w.detail || f.Type != c.Name || !strings.HasPrefix(f.Text, w.detail+"\n") {
						t.Errorf("%s: failure %+v, want message and text %q", k, f, w.detail)
					}
				case string(VerdictError):
					errs++
					if len(c.Error) != 1 || len(c.Failure)+len(c.Skipped) != 0 || c.Error[0].Message != w.detail ||
						!strings.HasPrefix(c.Error[0].Text, w.detail+"\n") {
						t.Errorf("%s: want one error %q, got %+v", k, w.detail, c)
					}
				case string(StatusSkip):
					skipped++
					if len(c.Failure) != 0 || len(c.Skipped) != 1 || c.Skipped[0].Message != w.detail {
						t.Errorf("%s: want one skipped %q, got %+v", k, w.detail, c)
					}
				default:
					if len(c.Failure)+len(c.Skipped) != 0 {
						t.Errorf("%s passed: want neither failure nor skipped, got %+v", k, c)
					}
				}
			}
			if s.Tests != len(s.Cases) || s.Failures != failures || s.Skipped != skipped || s.Errors != errs {
				t.Errorf("suite counts tests=%d failures=%d skipped=%d errors=%d, cases say %d/%d/%d/%d",
					s.Tests, s.Failures, s.Skipped, s.Errors, len(s.Cases), failures, skipped, errs)
			}
			if doc.Name != "shutdowntest" || doc.Tests != s.Tests || doc.Failures != s.Failures || doc.Skipped != s.Skipped ||
				doc.Errors != s.Errors {
				t.Errorf("testsuites %+v disagrees with its suite", doc)
			}
			if want := fmt.Sprintf("%.3f", r.WallMS/1000); doc.Time != want || s.Time != want {
				t.Errorf("time %q/%q, want the wall time %s", doc.Time, s.Time, want)
			}
			if (failures+errs == 0) != (r.Verdict == VerdictPass) || (errs == 1) != (r.Verdict == VerdictError) {
				t.Errorf("verdict %s with %d failures and %d errors: a CI reader would see another verdict", r.Verdict, failures, errs)
			}
			if !strings.Contains(s.SystemOut, "verdict: "+strings.ToUpper(string(r.Verdict))) {
				t.Errorf("system-out lacks the summary:\n%s", s.SystemOut)
			}
		})
	}
}

// The legacy-like run fails the signal, leak and violation checks: each failure
// carries the iteration's numbers, and nothing else fails.
func TestJUnitLegacy(t *testing.T) {
	var legacy, fixed Report
	for _, g := range goldenReports() {
		switch g.name {
		case "legacy":
			legacy = g.r
		case "fixed":
			fixed = g.r
		}
	}
	doc, _ := junitOf(t, legacy)
	s := doc.Suites[0]
	if s.Name != "shutdowntest policy legacy" || s.Tests != allChecks || s.Failures != 3 || s.Skipped != 8 {
		t.Errorf("legacy suite %s: tests=%d failures=%d skipped=%d, want %d/3/8", s.Name, s.Tests, s.Failures, s.Skipped, allChecks)
	}
	var failed []string
	for _, c := range s.Cases {
		if c.Name == CheckNoGrowth {
			continue // of the run as a whole
		}
		if c.Classname != "shutdowntest.iteration1" || c.Time != "0.320" {
			t.Errorf("%s: classname %q time %q", c.Name, c.Classname, c.Time)
		}
		for _, f := range c.Failure {
			failed = append(failed, c.Name)
			for _, w := range []string{
				"terminate: handle 0x40 signalled t+0.000s, closed t+0.004s, 2 client threads alive, 6 not joined, 2 waits after close",
				"drain: listener closed t+0.001s, last in-flight response t+0.304s, last client thread exited t+0.310s, terminate closed t+0.004s",
				"shutdown: returned t+0.004s; free-tls ok",
				"client threads alive after shutdown returned: 2, 4",
				"violations: 2; first at t+0.305s: wait-on-closed",
				"reproduce: shutdowntest --headless --policy=legacy",
			} {
				if !strings.Contains(f.Text, w) {
					t.Errorf("%s failure text lacks %q:\n%s", c.Name, w, f.Text)
				}
			}
		}
	}
	if got := strings.Join(failed, ","); got != CheckTerminateOutlivedWaiters+","+CheckNoThreadLeak+","+CheckNoKernelViolations {
		t.Errorf("failed testcases %s", got)
	}
	props := map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	for k, v := range map[string]string{"policy": "legacy", "clients": "6 clients (http 1+1, rest 1+1, ws 1, tcp 1)",
		"drain_timeout": "100ms", "verdict": "fail", "schema": Schema, "reproduce": "shutdowntest --headless --policy=legacy"} {
		if props[k] != v {
			t.Errorf("property %s = %q, want %q", k, props[k], v)
		}
	}

	doc, _ = junitOf(t, fixed)
	s = doc.Suites[0]
	if s.Failures != 0 || doc.Failures != 0 || s.Tests != allChecks {
		t.Errorf("fixed run: tests=%d failures=%d/%d, want %d and none", s.Tests, s.Failures, doc.Failures, allChecks)
	}
	for _, c := range s.Cases {
		if len(c.Failure) != 0 {
			t.Errorf("fixed run: %s failed: %+v", c.Name, c.Failure)
		}
	}
}

// A control byte from a socket error must not make the file unreadable:
// attributes and texts both replace it.
func TestJUnitInvalidCharacters(t *testing.T) {
	r := Build(testResult(legacyIteration()), nil, testTool)
	r.Iterations[0].Checks[0].Detail = "bad \x00 byte \x1b[31m and ]]> end"
	r.Iterations[0].Addr = "127.0.0.1:1\x07"
	doc, text := junitOf(t, r)
	if strings.ContainsAny(text, "\x00\x1b\x07") {
		t.Error("forbidden characters written")
	}
	f := doc.Suites[0].Cases[0].Failure
	if len(f) != 1 || f[0].Message != "bad \uFFFD byte \uFFFD[31m and ]]> end" || !strings.HasPrefix(f[0].Text, f[0].Message+"\n") {
		t.Errorf("failure %+v", f)
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, fmt.Errorf("disk full")
	}
	w.after--
	return len(p), nil
}

func TestWritersReportWriteErrors(t *testing.T) {
	r := Build(testResult(cleanIteration()), nil, testTool)
	for n := 0; n < 3; n++ {
		if err := r.WriteJUnit(&failWriter{after: n}); err == nil || !strings.Contains(err.Error(), "junit") {
			t.Errorf("junit after %d writes: %v", n, err)
		}
	}
	if err := r.WriteMarkdown(&failWriter{}); err == nil || !strings.Contains(err.Error(), "markdown") {
		t.Errorf("markdown: %v", err)
	}
}

// The run's start becomes the JSON's started and the testsuite timestamp.
func TestStartedTimestamp(t *testing.T) {
	res := &load.Result{Iterations: []load.Iteration{cleanIteration()},
		Started: time.Date(2026, 11, 25, 14, 30, 5, 999, time.FixedZone("X", 3600))}
	rep := Build(res, nil, ToolInfo{})
	if rep.Started != "2026-11-25T13:30:05Z" {
		t.Errorf("started %q", rep.Started)
	}
	var b strings.Builder
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `timestamp="2026-11-25T13:30:05Z"`) {
		t.Errorf("no timestamp attribute in\n%s", b.String()[:400])
	}
}
