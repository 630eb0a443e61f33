package load

import "slices"

// outcomeGoingAway is the one ending a stream passes with, built once: the
// live view asks Passes for every client of every snapshot.
var outcomeGoingAway = WSClose(1001)

// Passes reports whether a client of role r that ended with o ended as a
// clean shutdown promises. It is the one place that says so: the checks
// judge by it, the report carries its answer per client, and every view of
// an outcome (pass or fail colour, a mark) reads that answer.
//
// An in-flight request must get its whole response (completed); an idle or
// silent connection must be closed by the server (closed); a stream must
// get close 1001, going away; a hostile role passes with the outcomes its
// row of the hostile table lists. An idle client of an external target that
// the server closed after its response, before the trigger, was never
// idle at it: nothing failed, and idle-closed does not judge it. Anything
// else, pending and timeout included, does not pass.
func (r Role) Passes(o Outcome) bool {
	switch r {
	case RoleInflight:
		return o == OutcomeCompleted
	case RoleIdle:
		return o == OutcomeClosed || o == OutcomeClosedAfterResponse
	case RoleSilent:
		return o == OutcomeClosed
	case RoleStream:
		return o == outcomeGoingAway
	}
	if h := hostileByRole[r]; h != nil {
		return slices.Contains(h.Passes, o)
	}
	return false
}

// NotAdmitted reports whether a connection tried after the trigger, which
// ended with outcome, was turned away as a shutting-down server must: a
// refused connect, a close without an answer, or a 503.
func NotAdmitted(outcome Admission) bool {
	switch outcome {
	case AdmissionRefused, AdmissionClosed, AdmissionUnavailable:
		return true
	}
	return false
}
