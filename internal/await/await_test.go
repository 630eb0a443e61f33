package await

import (
	"sync/atomic"
	"testing"
	"time"
)

// fakeT records a failure instead of ending the test.
type fakeT struct {
	testing.TB
	failed atomic.Bool
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(string, ...any) {
	f.failed.Store(true)
	panic(f) // Fatalf does not return
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	Until(t, 5*time.Second, "the third look", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("looked %d times, want 3", n)
	}
}

func TestUntilFailsAfterTheBound(t *testing.T) {
	f := &fakeT{TB: t}
	func() {
		defer func() { _ = recover() }()
		Until(f, 10*time.Millisecond, "never", func() bool { return false })
	}()
	if !f.failed.Load() {
		t.Error("a condition that never held did not fail the test")
	}
}
