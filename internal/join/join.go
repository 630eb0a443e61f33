// Package join is the one bounded join every owner of goroutines in this
// project uses: a sync.WaitGroup waited on for at most a given time, so no
// shutdown path can hang on a goroutine that never ends.
package join

import (
	"sync"
	"time"
)

// Within waits up to d for wg and reports whether it finished.
func Within(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	// Ends when the group does; if that never happens the caller has
	// already reported the leak and the process is exiting.
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
