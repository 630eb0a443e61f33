package kernel

import (
	"fmt"
	"time"
)

// SetEventAt is SetEvent that also returns the instant of the signal, taken
// under the kernel lock, so it orders correctly against the wake-ups it
// causes.
func (k *Kernel) SetEventAt(h Handle) (time.Duration, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	o, err := k.event("SetEvent", h)
	if err != nil {
		return 0, err
	}
	o.signaled = true
	k.satisfy(o)
	return k.Now(), nil
}

// CloseHandleBy is CloseHandle by the thread or actor by (nil: a caller
// that does not name itself), and returns the instant of the close. The
// value is resolved as Win32 does: a stale copy of a recycled value closes
// the object that owns the value now (a double close), which is recorded.
// Closing a handle that a wait is blocked on is undefined in Win32: the
// kernel records a violation and then does what Options.OnPendingClose
// says. The record keeps, at the instant of the close, the client threads
// that had not exited, those blocked on it, and what by had joined.
func (k *Kernel) CloseHandleBy(by *Thread, h Handle) (time.Duration, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	o, stale := k.resolve(h)
	if o == nil {
		return 0, fmt.Errorf("CloseHandle %v: invalid handle", h)
	}
	if stale {
		k.staleLocked(tidOf(by), who(by), h, "closed", o)
	}
	k.closeLocked(o, by, "")
	return k.closes[len(k.closes)-1].At, nil
}
