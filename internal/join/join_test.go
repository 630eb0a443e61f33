package join

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWithinFinished(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(1)
	go wg.Done()
	if !Within(&wg, 10*time.Second) {
		t.Fatal("Within = false for a group that finishes")
	}
}

func TestWithinTimesOut(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(1)
	if Within(&wg, time.Millisecond) {
		t.Fatal("Within = true for a group that never finished")
	}
	// Let the helper goroutine end, so goleak sees none.
	wg.Done()
	if !Within(&wg, 10*time.Second) {
		t.Fatal("Within = false after Done")
	}
}
