package load

import "fmt"

// SocketsNeeded is how many sockets a run with this mix holds at once: one
// per client on each side, plus the listener, the probes and some spare.
func (m Mix) SocketsNeeded() int { return 2*m.Total() + 32 }

// CheckFileLimit refuses up front a mix whose sockets would not fit in the
// open-file limit (the soft limit raised to the hard one, which the Go
// runtime does at start on Unix). It returns the limit it judged by, 0
// where the platform has none.
func CheckFileLimit(m Mix) (uint64, error) {
	limit, ok := fileLimit()
	if !ok {
		return 0, nil
	}
	if need := uint64(m.SocketsNeeded()); need > limit {
		return limit, fmt.Errorf("%d clients need about %d sockets, over the open-file limit of %d (raise it with ulimit -n, or use fewer clients)",
			m.Total(), need, limit)
	}
	return limit, nil
}
