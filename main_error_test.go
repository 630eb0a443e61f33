package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run that could not be carried out reads as one in every format:
// --ready-timeout 1ns is valid input, no client is ready within it, and
// the run exits 3 with the verdict error in the summary, the JSON and the
// JUnit, and no progress line saying pass.
func TestNotReadyIsAnErrorEverywhere(t *testing.T) {
	dir := t.TempDir()
	jsonPath, junitPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "j.xml")
	code, out, errs := runArgs(t, "--headless", "--ready-timeout", "1ns", "--inflight-for", "30ms", "--drain-timeout", "2s",
		"--json", jsonPath, "--junit", junitPath)
	if code != exitNotRun {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitNotRun, out, errs)
	}
	if !strings.Contains(out, "verdict: ERROR (could not be carried out: iteration 1: ") || strings.Contains(out, "verdict: PASS") {
		t.Errorf("summary:\n%s", out)
	}
	if !strings.Contains(errs, "iteration 1/1: ERROR") || strings.Contains(errs, ": pass") {
		t.Errorf("progress line: %q", errs)
	}
	var rep struct {
		Verdict string
		Error   *struct {
			Iteration      int
			Phase, Message string
		}
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != "error" || rep.Error == nil || rep.Error.Phase != "holding" || rep.Error.Iteration != 1 ||
		!strings.Contains(rep.Error.Message, "not ready after 1ns") {
		t.Errorf("json verdict %q, error %+v", rep.Verdict, rep.Error)
	}
	var junit struct {
		Errors   int `xml:"errors,attr"`
		Failures int `xml:"failures,attr"`
	}
	if b, err = os.ReadFile(junitPath); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &junit); err != nil {
		t.Fatal(err)
	}
	if junit.Errors != 1 || !strings.Contains(string(b), `name="run-error"`) {
		t.Errorf("junit errors=%d failures=%d:\n%s", junit.Errors, junit.Failures, b)
	}
}
