package target

import (
	"slices"
	"testing"
	"time"

	"shutdowntest/target/kernel"
)

// The record's list of threads alive at the terminate close follows the
// kernel's order stamps, and agrees with the thread timeline: a thread
// whose exit was stamped after the close but at the same instant let go
// in that instant and is not listed.
func TestTerminateRecordAliveAtClose(t *testing.T) {
	const closedAt = 40 * time.Millisecond
	thread := func(id int, created, exitStamp uint64, exitedAt time.Duration) kernel.ThreadRecord {
		return kernel.ThreadRecord{ID: id, Client: true, Created: created, ExitStamp: exitStamp,
			Exited: exitStamp != 0, ExitedAt: exitedAt}
	}
	kr := kernel.Record{
		Threads: []kernel.ThreadRecord{
			thread(2, 1, 3, 10*time.Millisecond), // exited before the close
			thread(3, 2, 0, 0),                   // never exited
			thread(4, 4, 8, 90*time.Millisecond), // exited after the close
			thread(5, 5, 7, closedAt),            // exited after it by the stamps, in the same instant
			thread(6, 7, 9, 95*time.Millisecond), // created after the close
			{ID: 7, Name: ThreadListener, Created: 1},
		},
		Closes: []kernel.CloseRecord{{Handle: 0x40, Name: EventTerminate, At: closedAt, Stamp: 6, Blocked: []int{3}, Joined: []int{2}}},
		WaitFailures: []kernel.WaitFailure{
			{At: 30 * time.Millisecond, Thread: 2, Handle: 0x44},
			{At: 60 * time.Millisecond, Thread: 4, Handle: 0x40},
		},
	}
	tr := newTerminateRecord(0x40, TerminateTimes{Signaled: true}, kr)
	if !tr.Closed || tr.ClosedAt != closedAt {
		t.Fatalf("close not taken from the kernel: %+v", tr)
	}
	if !slices.Equal(tr.AliveAtClose, []int{3, 4}) {
		t.Errorf("AliveAtClose = %v, want [3 4]", tr.AliveAtClose)
	}
	if !slices.Equal(tr.BlockedAtClose, []int{3}) || len(tr.WaitsAfterClose) != 1 || tr.WaitsAfterClose[0].Thread != 4 {
		t.Errorf("blocked %v, waits after close %+v", tr.BlockedAtClose, tr.WaitsAfterClose)
	}
	// Thread 2 was joined; 3, 4 and 5 were created before the close and
	// not, whether alive at it (3, 4) or gone by then (5).
	if !slices.Equal(tr.Unjoined, []int{3, 4, 5}) {
		t.Errorf("Unjoined = %v, want [3 4 5]", tr.Unjoined)
	}
	for _, th := range kr.Threads {
		listed := slices.Contains(tr.AliveAtClose, th.ID)
		if alive := th.Client && th.Created < 6 && (!th.Exited || th.ExitedAt > closedAt); listed != alive {
			t.Errorf("thread %d: listed %v, but the timeline says alive %v", th.ID, listed, alive)
		}
	}
}
