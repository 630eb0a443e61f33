package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"shutdowntest/load"
	"shutdowntest/target"
)

// --fault is repeatable, a repeat counts once, every fault is named in
// --help with the bug it exposes, and the reproduce command carries them.
func TestFaultFlag(t *testing.T) {
	o, err := parseFlags([]string{"--fault", "spawn-fail", "--fault=restart", "--fault", "spawn-fail", "--policy", "hardened"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []target.Fault{target.FaultSpawnFail, target.FaultRestart}; !slices.Equal(o.cfg.Faults, want) {
		t.Errorf("faults %v, want %v", o.cfg.Faults, want)
	}
	all, _ := reproduce(o, "shutdowntest")
	if want := "shutdowntest --headless --fault=spawn-fail --fault=restart --policy=hardened"; all != want {
		t.Errorf("reproduce %q, want %q", all, want)
	}
	var help strings.Builder
	if _, err := parseFlags([]string{"--help"}, &help); err != errHelp {
		t.Fatal(err)
	}
	for _, f := range load.Faults {
		if !strings.Contains(help.String(), string(f)+": "+load.FaultBugs[f]) {
			t.Errorf("--help does not explain fault %s", f)
		}
	}
	for _, p := range target.Policies {
		if !strings.Contains(help.String(), string(p)) {
			t.Errorf("--help does not list policy %s", p)
		}
	}
	code, _, errs := runArgs(t, "--fault", "nope")
	if code != exitUsage || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "--fault") || !strings.Contains(errs, "port-busy") {
		t.Errorf("bad fault: exit %d, stderr %q: want 2 and one line naming --fault and the valid ones", code, errs)
	}
}

// port-busy: the server's port is taken, the bind fails: exit 3, and the
// summary's verdict line says why.
func TestPortBusyExit3(t *testing.T) {
	code, out, errs := runArgs(t, append(quick, "--fault", "port-busy")...)
	if code != exitNotRun {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitNotRun, errs)
	}
	var said []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "address already in use") {
			said = append(said, line)
		}
	}
	if len(said) != 1 || !strings.HasPrefix(said[0], "verdict: ERROR (could not be carried out: start the embedded server: bind 127.0.0.1:") {
		t.Errorf("summary %q: want the bind failure once, in the verdict line", out)
	}
}
