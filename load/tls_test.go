package load

import (
	"context"
	"fmt"
	"testing"
	"time"

	"shutdowntest/target"
)

// checkRoleOutcomes: every client ended as its role wants.
func checkRoleOutcomes(t *testing.T, it Iteration) {
	t.Helper()
	for _, c := range it.Clients {
		want := map[Role]Outcome{RoleIdle: OutcomeClosed, RoleInflight: OutcomeCompleted,
			RoleStream: WSClose(1001), RoleSilent: OutcomeClosed}[c.Role]
		if c.Outcome != want {
			t.Errorf("client %d (%s %s): outcome %s (%s), want %s", c.ID, c.Kind, c.Role, c.Outcome, c.Detail, want)
		}
	}
}

// TestHTTPSAndSlowTLS: over TLS every client ends as its role wants; with
// the slow-tls fault the engine's dribbling client keeps a pre-hardened
// thread spinning through the shutdown (fixed's join times out on it),
// while hardened joins it. The fault's thread is the engine's, not foreign.
func TestHTTPSAndSlowTLS(t *testing.T) {
	for _, tc := range []struct {
		policy target.Policy
		faults []target.Fault
	}{
		{target.PolicyFixed, nil},
		{target.PolicyFixed, []target.Fault{target.FaultSlowTLS}},
		{target.PolicyHardened, []target.Fault{target.FaultSlowTLS}},
	} {
		t.Run(string(tc.policy)+"/"+fmt.Sprint(tc.faults), func(t *testing.T) {
			cfg := small(tc.policy)
			cfg.DrainTimeout = 500 * time.Millisecond
			cfg.Target.TLS, cfg.Faults = true, tc.faults
			res, err := Run(context.Background(), cfg, Observer{})
			if err != nil {
				t.Fatal(err)
			}
			it := res.Iterations[0]
			checkRoleOutcomes(t, it)
			if len(it.Foreign) != 0 {
				t.Errorf("foreign threads %v: the fault's client is the engine's", it.Foreign)
			}
			max := it.Server.MaxSpin()
			slow := len(tc.faults) > 0
			if slow != (it.SlowTLS != "") {
				t.Errorf("slow-tls client %q, fault injected %v", it.SlowTLS, slow)
			}
			switch {
			case slow && tc.policy == target.PolicyFixed:
				if max.Turns < 250 || it.Server.Shutdown.Completed() {
					t.Errorf("max spin %+v, shutdown %+v: want a long spin and a join that timed out", max, it.Server.Shutdown.Steps)
				}
			case max.Turns >= 250 || !it.Server.Shutdown.Completed():
				t.Errorf("max spin %+v, shutdown %+v: want no long spin and every step ok", max, it.Server.Shutdown.Steps)
			}
		})
	}
}
