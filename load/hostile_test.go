package load

import (
	"context"
	"testing"
	"time"

	"shutdowntest/target"
)

// hostileAlone is one hostile role alone, with short budgets.
func hostileAlone(p target.Policy, r Role) Config {
	cfg := Config{Policy: p, InflightFor: 50 * time.Millisecond, DrainTimeout: time.Second,
		ReadyTimeout: 5 * time.Second, Iterations: 1, Seed: 1,
		Target: target.Config{StreamEvery: 10 * time.Millisecond, CloseWait: 300 * time.Millisecond}}
	cfg.Mix.SetHostile(r, 1)
	return cfg
}

func TestHostileRoleAloneOnFixed(t *testing.T) {
	for _, h := range HostileRoles() {
		t.Run(string(h.Role), func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), hostileAlone(target.PolicyFixed, h.Role), Observer{})
			if err != nil {
				t.Fatal(err)
			}
			it := res.Iterations[0]
			for _, c := range it.Clients {
				t.Logf("client %d %s %s: %s (%s) thread %d", c.ID, c.Kind, c.Role, c.Outcome, c.Detail, c.Thread)
				if !c.Role.Passes(c.Outcome) {
					t.Errorf("client %d (%s): outcome %s (%s)", c.ID, c.Role, c.Outcome, c.Detail)
				}
			}
		})
	}
}
