package reports

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"shutdowntest/internal/goldenfile"
	"shutdowntest/load"
	"shutdowntest/target"
)

// golden compares got with testdata/<name>.golden, or rewrites the file
// under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name+".golden"), got, "go test ./reports -run 'Golden|HTML' -update")
}

// goldenReports are fixed runs built through Build from the hand-made
// records of checks_test.go, with a fixed tool and wall time, so the
// writers' output depends on nothing but the code.
func goldenReports() []struct {
	name string
	r    Report
} {
	fixed := Build(testResult(cleanIteration()), nil, testTool)
	fixed.Reproduce.Command = "shutdowntest --headless"

	leg := testResult(legacyIteration())
	leg.Config.Policy = target.PolicyLegacy
	legacy := Build(leg, nil, testTool)
	legacy.Reproduce.Command = "shutdowntest --headless --policy=legacy"

	// Three iterations (pass, kept open, legacy-like) with a drain budget
	// that the kept-open one overruns, interrupted after 3 of 5.
	its := testResult(cleanIteration(), keptOpenIteration(), legacyIteration())
	its.Config.MaxDrain = 400 * time.Millisecond
	for i := range its.Iterations {
		its.Iterations[i].MaxDrain = its.Config.MaxDrain
	}
	// The legacy-like iteration also cut a REST in-flight response (a
	// second outcome in the outcome table, and a "|" to escape).
	leg3 := &its.Iterations[2]
	leg3.Clients[3].Outcome, leg3.Clients[3].Detail = load.OutcomeReset, "read body: connection reset by peer | after 12 of 40 bytes"
	leg3.Interrupted = true
	its.Config.Iterations, its.Interrupted = 5, true
	several := Build(its, nil, testTool)
	several.Reproduce = Reproduce{Command: "shutdowntest --headless --max-drain=400ms --iterations=5",
		FirstFailing: "shutdowntest --headless --max-drain=400ms --iterations=1"}

	// A run stopped before its first iteration was recorded.
	empty := testResult()
	empty.Config.Iterations, empty.Interrupted = 1, true
	none := Build(empty, nil, testTool)
	none.Reproduce.Command = "shutdowntest --headless"

	// A run that could not be carried out: a client never got ready, so
	// the engine stopped the run after observing the shutdown anyway (and
	// never counted the fds at hold).
	notReady := cleanIteration()
	notReady.Ready, notReady.FDs.AtHold, notReady.FDs.ExpectedAtHold = false, 0, 0
	failed := Build(testResult(notReady), &load.RunError{Iteration: 1, Phase: load.PhaseHolding,
		Err: errors.New("iteration 1: 1 client(s) not ready after 1ns: client 1 (http idle) not ready on the client side")}, testTool)
	failed.Reproduce.Command = "shutdowntest --headless --ready-timeout=1ns"

	return []struct {
		name string
		r    Report
	}{{"fixed", fixed}, {"legacy", legacy}, {"iterations", several}, {"none", none}, {"error", failed}}
}
