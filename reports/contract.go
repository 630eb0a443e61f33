package reports

import (
	"fmt"
	"strings"
	"time"

	"shutdowntest/load"
	"shutdowntest/target"
)

// The contract's budgets: short, so that a stuck cell costs about a
// second, and the same for every cell.
const (
	ContractDrainTimeout = time.Second
	ContractInflightFor  = 50 * time.Millisecond
)

// Cell is one entry of the contract: what a run of Policy with Fault
// injected ("" for none) comes to, with the default client mix and the
// contract's budgets. It is what the model should do by the eMuleBB bug
// items (Why names the item), not what it happened to do.
type Cell struct {
	Policy target.Policy
	Fault  target.Fault
	// Fails are the checks that fail, in registry order; none: the run
	// passes.
	Fails []string
	// MayFail are checks that fail in some runs and not in others: a
	// consequence of the same bug that depends on a race the bug itself
	// opens (Why says which). Nothing else may vary.
	MayFail []string
	// NotRun: the run cannot be carried out (exit 3); no check is judged.
	NotRun bool
	Why    string
}

// Checks failed by the pre-fix close, and by a shutdown that leaves a
// thread behind, in registry order.
var (
	legacyFails = []string{CheckTerminateOutlivedWaiters, CheckNoThreadLeak, CheckNoKernelViolations}
	leftBehind  = []string{CheckShutdownCompleted, CheckNoThreadLeak, CheckResourcesReleased}
	stuck       = []string{CheckShutdownCompleted, CheckNoThreadLeak, CheckInflightCompleted, CheckResourcesReleased}
	tlsSpin     = []string{CheckShutdownCompleted, CheckNoThreadLeak, CheckResourcesReleased, CheckNoBusySpin}
)

// streamRace is what legacy's close may also cost, by the race BUG-079
// describes: a stream thread busy sending when terminate is closed waits
// next on the closed value, gets WAIT_FAILED and leaves without close 1001.
var streamRace = []string{CheckWSCloseGoingAway}

const streamWhy = "; a stream thread caught sending waits next on the closed value (WAIT_FAILED) and sends no close 1001"

// Contract is the policy × fault table: every policy with no fault and
// with each fault. README.md holds it as ContractMarkdown writes it, and a
// test runs every cell and holds the model to it. A fault added later
// adds one entry per policy here.
var Contract = []Cell{
	{Policy: target.PolicyFixed, Why: "BUG-079 fixed: terminate closed only after every client thread is joined"},
	{Policy: target.PolicyFixed, Fault: target.FaultAcceptStorm, Fails: leftBehind,
		Why: "BUG-080 is still open here: the accept loop never looks at terminate, so the listener outlasts its join while the storm lasts; it is kept, not killed"},
	{Policy: target.PolicyFixed, Fault: target.FaultRestart, Why: "BUG-088: after a clean shutdown a restart is safe"},
	{Policy: target.PolicyFixed, Fault: target.FaultSpawnWindow, Fails: []string{CheckTerminateOutlivedWaiters, CheckResourcesReleased},
		Why: "BUG-095: a thread that ran before tracking failed is never joined, and its thread object is never closed"},
	{Policy: target.PolicyFixed, Fault: target.FaultSpawnFail, Why: "BUG-079's plan: a failed spawn closes the socket and frees the SocketData"},
	{Policy: target.PolicyFixed, Fault: target.FaultStuckHandler, Fails: stuck,
		Why: "a handler that never returns cannot be joined: terminate kept open, the thread reported left behind"},
	{Policy: target.PolicyFixed, Fault: target.FaultSlowTLS, Fails: tlsSpin,
		Why: "BUG-081 is still open here: the handshake spins on WANT_READ outside any wait, so terminate cannot reach the thread: the join times out, terminate kept open"},
	{Policy: target.PolicyFixed, Fault: load.FaultPortBusy, NotRun: true, Why: "the bind fails"},

	{Policy: target.PolicyLegacy, Fails: legacyFails, MayFail: streamRace, Why: "BUG-079: terminate closed after joining only the listener" + streamWhy},
	{Policy: target.PolicyLegacy, Fault: target.FaultAcceptStorm,
		Fails: []string{CheckTerminateOutlivedWaiters, CheckShutdownCompleted, CheckNoThreadLeak, CheckNoAdmissionAfterTrigger, CheckResourcesReleased, CheckNoKernelViolations},
		Why:   "BUG-080: the listener's join times out and TerminateThread runs; its socket and queue leak, so a later connection is accepted and never answered"},
	{Policy: target.PolicyLegacy, Fault: target.FaultRestart, Fails: legacyFails,
		MayFail: []string{CheckWSCloseGoingAway, CheckResourcesReleased},
		Why:     "BUG-088: generation 2's terminate takes the closed value and old threads wait on it (stale-handle); the stream thread, if it waited there, never sees a signal: no close 1001, forced at the end"},
	{Policy: target.PolicyLegacy, Fault: target.FaultSpawnWindow, Fails: legacyFails, MayFail: streamRace,
		Why: "threads auto-delete, never tracked: nothing more to lose" + streamWhy},
	{Policy: target.PolicyLegacy, Fault: target.FaultSpawnFail, Fails: []string{CheckTerminateOutlivedWaiters, CheckNoThreadLeak, CheckResourcesReleased, CheckNoKernelViolations},
		MayFail: streamRace, Why: "BUG-079's failure path: the socket and SocketData of a failed spawn leak" + streamWhy},
	{Policy: target.PolicyLegacy, Fault: target.FaultStuckHandler,
		Fails:   []string{CheckTerminateOutlivedWaiters, CheckNoThreadLeak, CheckInflightCompleted, CheckResourcesReleased, CheckNoKernelViolations},
		MayFail: streamRace, Why: "BUG-079: terminate closed under the stuck thread, which never answers" + streamWhy},
	{Policy: target.PolicyLegacy, Fault: target.FaultSlowTLS,
		Fails:   []string{CheckTerminateOutlivedWaiters, CheckNoThreadLeak, CheckResourcesReleased, CheckNoKernelViolations, CheckNoBusySpin},
		MayFail: streamRace, Why: "BUG-079 and BUG-081: terminate closed under the spinning thread, which outlives the run" + streamWhy},
	{Policy: target.PolicyLegacy, Fault: load.FaultPortBusy, NotRun: true, Why: "the bind fails"},

	{Policy: target.PolicyFixedNoPump, Fails: leftBehind,
		Why: "aa66699 as shipped: the join runs on the UI thread without pumping, so held requests cannot finish: terminate kept open"},
	{Policy: target.PolicyFixedNoPump, Fault: target.FaultAcceptStorm, Fails: stuck,
		Why: "as fixed, and the listener's join does not pump either: the held requests time out"},
	{Policy: target.PolicyFixedNoPump, Fault: target.FaultRestart, Fails: leftBehind,
		Why: "its own deadlock; generation 2 takes a fresh value, the kept-open one still names the old event"},
	{Policy: target.PolicyFixedNoPump, Fault: target.FaultSpawnWindow, Fails: leftBehind,
		Why: "its own deadlock keeps terminate open, so the untracked thread is never closed under"},
	{Policy: target.PolicyFixedNoPump, Fault: target.FaultSpawnFail, Fails: leftBehind, Why: "its own deadlock; the failed spawn is cleaned up"},
	{Policy: target.PolicyFixedNoPump, Fault: target.FaultStuckHandler, Fails: stuck, Why: "as fixed"},
	{Policy: target.PolicyFixedNoPump, Fault: target.FaultSlowTLS, Fails: tlsSpin, Why: "its own deadlock, and BUG-081's spin as under fixed"},
	{Policy: target.PolicyFixedNoPump, Fault: load.FaultPortBusy, NotRun: true, Why: "the bind fails"},

	{Policy: target.PolicyHardened, Why: "eMuleBB's R1 fixes"},
	{Policy: target.PolicyHardened, Fault: target.FaultAcceptStorm, Why: "BUG-080 fixed: the listener checks terminate between accepts"},
	{Policy: target.PolicyHardened, Fault: target.FaultRestart, Why: "BUG-088 fixed: a restart after a clean shutdown is allowed (one after a failed one is refused)"},
	{Policy: target.PolicyHardened, Fault: target.FaultSpawnWindow, Why: "BUG-095 fixed: tracked before it can run; a tracking failure closes the socket"},
	{Policy: target.PolicyHardened, Fault: target.FaultSpawnFail, Why: "the failed spawn is cleaned up"},
	{Policy: target.PolicyHardened, Fault: target.FaultStuckHandler, Fails: stuck,
		Why: "no TerminateThread: terminate kept open for the stuck thread, reported left behind"},
	{Policy: target.PolicyHardened, Fault: target.FaultSlowTLS, Why: "BUG-081 fixed: WANT_READ yields to the wait on {connEvent, terminate}; TLS state freed after the joins"},
	{Policy: target.PolicyHardened, Fault: load.FaultPortBusy, NotRun: true, Why: "the bind fails"},
}

// Flags are the command-line flags that give the cell its policy and
// fault: slow-tls needs a server that speaks TLS.
func (c Cell) Flags() []string {
	f := []string{"--policy", string(c.Policy)}
	if c.Fault != "" {
		f = append(f, "--fault", string(c.Fault))
	}
	if c.Fault == target.FaultSlowTLS {
		f = append(f, "--https")
	}
	return f
}

// FaultName is a cell's fault as the README and test names show it.
func (c Cell) FaultName() string {
	if c.Fault == "" {
		return "none"
	}
	return string(c.Fault)
}

// Verdict is the cell's expected result in words: "passes", "not run
// (exit 3)", or the failing checks.
func (c Cell) Verdict() string {
	switch {
	case c.NotRun:
		return "not run (exit 3)"
	case len(c.Fails) == 0 && len(c.MayFail) == 0:
		return "passes"
	}
	s := "fails " + codeList(c.Fails)
	if len(c.MayFail) > 0 {
		s += "; in some runs also " + codeList(c.MayFail)
	}
	return s
}

// codeList is ids as Markdown code, comma-separated.
func codeList(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = code(id)
	}
	return strings.Join(out, ", ")
}

// ContractMarkdown is the contract as README.md holds it: one row per
// cell.
func ContractMarkdown() string {
	var b strings.Builder
	b.WriteString("| policy | fault | result | why |\n|---|---|---|---|\n")
	for _, c := range Contract {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", c.Policy, c.FaultName(), c.Verdict(), c.Why)
	}
	return b.String()
}
