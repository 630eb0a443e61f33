package load

import "testing"

// Every role passes with exactly one outcome; a wrong ending, including
// another role's right one, fails.
func TestRolePasses(t *testing.T) {
	outcomes := []Outcome{OutcomePending, OutcomeCompleted, OutcomeClosed, OutcomeReset, OutcomeRefused,
		OutcomeTimeout, OutcomeError, WSClose(1001), WSClose(1006)}
	want := map[Role]Outcome{RoleInflight: OutcomeCompleted, RoleIdle: OutcomeClosed, RoleSilent: OutcomeClosed,
		RoleStream: WSClose(1001), Role("other"): ""}
	for role, good := range want {
		for _, o := range outcomes {
			if got := role.Passes(o); got != (o == good) {
				t.Errorf("%s.Passes(%s) = %v, want %v", role, o, got, o == good)
			}
		}
	}
}

func TestNotAdmitted(t *testing.T) {
	for o, want := range map[Admission]bool{AdmissionRefused: true, AdmissionClosed: true, AdmissionUnavailable: true,
		AdmissionServed: false, AdmissionError: false, "": false} {
		if got := NotAdmitted(o); got != want {
			t.Errorf("NotAdmitted(%q) = %v, want %v", o, got, want)
		}
	}
}
