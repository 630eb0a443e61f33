package reports

import (
	"testing"

	"shutdowntest/target"
)

// TestCheckBusySpin: skip without TLS; a spin up to the bound passes and
// names the most; one over it fails, naming the thread, its turns and when.
func TestCheckBusySpin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tls    bool
		spins  []target.Spin
		status Status
		want   []string
	}{
		{name: "plain", status: StatusSkip, want: []string{"no --https"}},
		{name: "no spin", tls: true, status: StatusPass, want: []string{"no TLS loop went round without a wait"}},
		{name: "at the bound", tls: true, spins: []target.Spin{{Thread: 3, Turns: 2}, {Thread: 4, Turns: maxSpinTurns}},
			status: StatusPass, want: []string{"no thread spun over 250 turns (most: thread 4, 250)"}},
		{name: "over the bound", tls: true,
			spins:  []target.Spin{{Thread: 3, Turns: 2}, {Thread: 4, Turns: maxSpinTurns + 1, First: 0, Last: 5e8}},
			status: StatusFail, want: []string{"1 thread spun over 250 turns", "thread 4 251 turns from t-1.000s to t-0.500s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := cleanIteration()
			it.Server.TLS, it.Server.Spins = tc.tls, tc.spins
			c := checkBusySpin(&it)
			observed := 0
			if tc.tls {
				observed = len(it.Server.ClientThreads())
			}
			assertCheck(t, c, tc.status, observed, tc.want, nil)
		})
	}
}
