package target

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Storm is the accept-storm fault's client side: workers goroutines open
// connections to addr, each closed as soon as it is made, until limit
// connections are made or stop is closed, so new connections keep arriving
// through a shutdown. It returns, once every worker has ended, how many
// connections were made. Every dial is bounded; a refused or failed dial
// counts for nothing.
func Storm(addr string, workers int, limit int64, stop <-chan struct{}) int64 {
	var made atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		// A worker ends when stop is closed or the limit is reached.
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if made.Add(1) > limit { // reserve one connection of the limit
					made.Add(-1)
					return
				}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					made.Add(-1)
					continue
				}
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
	return made.Load()
}
