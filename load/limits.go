package load

import (
	"fmt"
	"math"
)

// socketsSpare is the sockets a run holds besides two per client: the
// listener, the probes and some spare.
const socketsSpare = 32

// MaxClients is the most clients a mix may have: the most whose socket
// estimate (SocketsNeeded) is an int. No open-file limit comes near it; it
// is there so a mix given on the command line cannot wrap the estimate
// around under the limit.
const MaxClients = (math.MaxInt - socketsSpare) / 2

// SocketsNeeded is how many sockets a run with this mix holds at once: one
// per client on each side, plus socketsSpare. A mix of more than
// MaxClients needs math.MaxInt: more than any limit, never a wrapped
// small number.
func (m Mix) SocketsNeeded() int { return m.socketsNeeded(2) }

// socketsNeeded is SocketsNeeded with perClient sockets per client (1
// or 2).
func (m Mix) socketsNeeded(perClient int) int {
	n := m.Total()
	if n > MaxClients {
		return math.MaxInt
	}
	return perClient*n + socketsSpare
}

// CheckFileLimit refuses up front a mix whose sockets would not fit in the
// open-file limit (the soft limit raised to the hard one, which the Go
// runtime does at start on Unix). An external target's sockets are in its
// own process: one per client counts here. It returns the limit it judged
// by, 0 where the platform has none.
func CheckFileLimit(m Mix, external bool) (uint64, error) {
	limit, ok := fileLimit()
	if !ok {
		return 0, nil
	}
	perClient := 2
	if external {
		perClient = 1
	}
	if need := uint64(m.socketsNeeded(perClient)); need > limit {
		return limit, fmt.Errorf("%d clients need about %d sockets, over the open-file limit of %d (raise it with ulimit -n, or use fewer clients)",
			m.Total(), need, limit)
	}
	return limit, nil
}
