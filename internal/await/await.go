// Package await is the tests' bounded wait for a condition: it polls the
// condition until it holds and fails the test, naming what it waited for,
// if the bound passes first. Tests wait for what they need, never sleep
// for it, and never wait unbounded.
package await

import (
	"testing"
	"time"
)

// Until polls cond every millisecond until it holds, failing t after d.
func Until(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(d)
	defer limit.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-limit.C:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}
