package load

import (
	"fmt"
	"runtime"
	"testing"
)

// keptSize agrees with what the heap grows by when records like the
// run's are kept: strings, slices with spare capacity, pointers, maps.
func TestKeptSizeMatchesTheHeap(t *testing.T) {
	type rec struct {
		Name   string
		States []ClientState
		Peer   *string
		Tags   map[int]string
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	recs := make([]rec, 0, 3000)
	for i := range cap(recs) {
		p := fmt.Sprintf("127.0.0.1:%d", 40000+i)
		r := rec{Name: fmt.Sprintf("client %d (http idle)", i), Peer: &p, Tags: map[int]string{i: "x"}}
		for k := range i % 9 {
			r.States = append(r.States, ClientState{State: fmt.Sprintf("state %d", k)})
		}
		recs = append(recs, r)
	}
	grew := float64(heap() - before)
	est := float64(keptSize(recs))
	runtime.KeepAlive(recs)
	if est < 0.8*grew || est > 1.2*grew {
		t.Errorf("keptSize %.0f bytes, the heap grew by %.0f", est, grew)
	}
}
