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
	o, _ := k.resolve(h)
	if o == nil || o.kind != kindEvent {
		return 0, fmt.Errorf("SetEvent %v: invalid handle", h)
	}
	o.signaled = true
	k.satisfy(o)
	return k.Now(), nil
}

// CloseHandleAt is CloseHandle that also returns the instant of the close.
func (k *Kernel) CloseHandleAt(h Handle) (time.Duration, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	o, stale := k.resolve(h)
	if o == nil || stale {
		return 0, fmt.Errorf("CloseHandle %v: invalid handle", h)
	}
	k.closeLocked(o, "")
	return k.closes[len(k.closes)-1].At, nil
}
