package reports

import (
	"shutdowntest/load"
)

// noStateEndpoint ends the reason a server-side check skips an external
// target: what would let it judge.
const noStateEndpoint = " (a server that exposes a state endpoint can be judged: --state-url)"

// stateOr judges by the state endpoint when there is one (as fromState),
// else by fallback (what the OS samples showed): where both speak to a
// check, the endpoint's facts decide.
func stateOr(judge, fallback func(*load.Iteration) Check) func(*load.Iteration) Check {
	withState := fromState(judge, "")
	return func(it *load.Iteration) Check {
		if it.External.State == nil {
			c := fallback(it)
			if c.Status == StatusSkip {
				c.Detail += noStateEndpoint
			}
			return c
		}
		return withState(it)
	}
}

// fromState judges an external target by a server-side check of the
// embedded model (judge), from what its state endpoint said: the engine
// has read the endpoint's threads, signal and steps into the iteration's
// Server record, the same record the embedded model leaves, so the same
// judge reads both. Without an endpoint the check skips with why.
//
// The facts are the server's own, so they decide the check. OS samples of
// the process, where they speak to the same check, are shown beside them:
// this is the place to add their words to the detail, never to change the
// status they decide.
//
// A stream that ended before its final record gave part of the story: a
// failure it shows stands, but a pass is not claimed on it (skip, saying
// why).
func fromState(judge func(*load.Iteration) Check, skip string) func(*load.Iteration) Check {
	return func(it *load.Iteration) Check {
		st := it.External.State
		if st == nil {
			return newCheck(StatusSkip, 0, "%s%s", skip, noStateEndpoint)
		}
		c := judge(it)
		if st.Err != "" {
			if c.Status == StatusPass {
				c.Status, c.Pass = StatusSkip, true
			}
			c.Detail += "; state endpoint: " + st.Err
		}
		return c
	}
}
