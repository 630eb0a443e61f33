package target

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"shutdowntest/target/kernel"
)

// Tests of what a live Snapshot says about the shutdown itself: the steps
// ended so far and the kernel's violations and failed waits, which only
// grow so a buffer reused between calls copies just what is new.

func stepNames(steps []Step) []StepName {
	var out []StepName
	for _, st := range steps {
		out = append(out, st.Name)
	}
	return out
}

// readConcurrently reads every element of snap's grow-only slices in a
// loop until the returned stop is called. A Snapshot call that rewrote an
// element a copy already holds, instead of appending past it, races with
// these reads, and the race detector says so.
func readConcurrently(snap Snapshot) (stop func()) {
	quit, done := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-quit:
				done <- n
				return
			default:
			}
			for _, st := range snap.Steps {
				n += len(st.Name) + len(st.Outcome) + len(st.Detail) + int(st.End-st.Start)
			}
			for _, v := range snap.Violations {
				n += len(v.Kind) + len(v.Detail)
			}
			for _, f := range snap.WaitFailures {
				n += f.Thread + int(f.Handle)
			}
			runtime.Gosched()
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// TestSnapshotShowsLegacyFailures: after legacy's Shutdown the snapshot
// names its steps, and once the held request's thread waits on the closed
// terminate, the snapshot shows that failed wait and its violation.
func TestSnapshotShowsLegacyFailures(t *testing.T) {
	s := startServer(t, Config{Policy: PolicyLegacy, InflightFor: 100 * time.Millisecond})
	silent := dialClient(t, s.Addr())
	inflight := dialClient(t, s.Addr())
	inflight.send(restGet("/api/v1/status", true))
	threads := waitStates(t, s, map[string]State{silent.local(): StateWait, inflight.local(): StateProcess})
	waitParked(t, s, 1)
	inflightID := threads[inflight.local()].ID

	var buf Snapshot
	s.Snapshot(&buf)
	if len(buf.Steps) != 0 || len(buf.Violations) != 0 || len(buf.WaitFailures) != 0 {
		t.Fatalf("before the trigger: steps %+v, violations %+v, wait failures %+v", buf.Steps, buf.Violations, buf.WaitFailures)
	}

	srec, ok := s.Shutdown()
	if !ok {
		t.Fatalf("Shutdown returned ok=false")
	}
	s.Snapshot(&buf)
	names := stepNames(buf.Steps)
	for _, want := range []StepName{StepSignalTerminate, StepJoinListener, StepCloseTerminate} {
		if !slices.Contains(names, want) {
			t.Errorf("snapshot steps %v lack %s", names, want)
		}
	}
	if !reflect.DeepEqual(buf.Steps, srec.Steps) {
		t.Errorf("snapshot steps %+v, Shutdown's %+v", buf.Steps, srec.Steps)
	}
	early := buf
	earlySteps := slices.Clone(early.Steps)
	earlyViol, earlyFail := slices.Clone(early.Violations), slices.Clone(early.WaitFailures)

	// Legacy closed terminate under the held request: once answered, its
	// thread lingers and waits on the closed handle.
	stop := readConcurrently(early)
	term := s.Terminate().Value()
	waitFor(t, "the held request's thread to fail its wait on the closed terminate", func() error {
		s.Snapshot(&buf)
		for _, f := range buf.WaitFailures {
			if f.Thread == inflightID && f.Handle == term {
				return nil
			}
		}
		return fmt.Errorf("wait failures %+v", buf.WaitFailures)
	})
	stop()
	if len(buf.Violations) == 0 {
		t.Errorf("a failed wait on a closed handle but no violation in the snapshot")
	}
	for _, v := range buf.Violations {
		if v.Kind != kernel.ViolationWaitOnClosed && v.Kind != kernel.ViolationStaleHandle {
			t.Errorf("unexpected violation %+v", v)
		}
	}
	// The earlier copy is as it was, and a prefix of the later one.
	if !slices.Equal(early.Steps, earlySteps) || !slices.Equal(early.Violations, earlyViol) || !slices.Equal(early.WaitFailures, earlyFail) {
		t.Errorf("an earlier snapshot's copy changed under a later Snapshot call")
	}
	if !slices.Equal(buf.Steps, earlySteps) {
		t.Errorf("steps changed after Shutdown returned: %v, were %v", stepNames(buf.Steps), stepNames(earlySteps))
	}
	if !slices.Equal(buf.Violations[:len(earlyViol)], earlyViol) || !slices.Equal(buf.WaitFailures[:len(earlyFail)], earlyFail) {
		t.Errorf("the later snapshot does not extend the earlier one")
	}

	resp, _, _ := inflight.response()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("held request: %d, want 200", resp.StatusCode)
	}
	silent.readEOF(false)
	waitAllExited(t, s, 2)
	s.Snapshot(&buf)
	last := buf
	rec := s.Close()
	// The live copies are the record's, up to the moment they were taken.
	if !slices.Equal(rec.Kernel.WaitFailures[:min(len(last.WaitFailures), len(rec.Kernel.WaitFailures))], last.WaitFailures) ||
		!slices.Equal(rec.Kernel.Violations[:min(len(last.Violations), len(rec.Kernel.Violations))], last.Violations) {
		t.Errorf("snapshot's failures %+v / violations %+v are not a prefix of the record's %+v / %+v",
			last.WaitFailures, last.Violations, rec.Kernel.WaitFailures, rec.Kernel.Violations)
	}
	if !slices.Equal(rec.Terminate.WaitsAfterClose, last.WaitFailures) {
		t.Errorf("waits after close %+v, snapshot's wait failures %+v", rec.Terminate.WaitsAfterClose, last.WaitFailures)
	}
}

// TestSnapshotStepsGrowOnly: a snapshot taken while the fix joins its
// client threads has the steps ended so far; later calls into the same
// buffer append the rest and never touch what an earlier copy holds.
func TestSnapshotStepsGrowOnly(t *testing.T) {
	s := startServer(t, Config{Policy: PolicyFixed, InflightFor: 500 * time.Millisecond})
	silent := dialClient(t, s.Addr())
	inflight := dialClient(t, s.Addr())
	inflight.send(restGet("/api/v1/status", true))
	waitStates(t, s, map[string]State{silent.local(): StateWait, inflight.local(): StateProcess})
	waitParked(t, s, 1)

	done := make(chan ShutdownRecord, 1)
	// Returns when the held request's thread is joined, InflightFor after
	// the trigger.
	go func() {
		rec, _ := s.Shutdown()
		done <- rec
	}()
	var buf Snapshot
	waitFor(t, "the shutdown to be joining the client threads", func() error {
		s.Snapshot(&buf)
		if names := stepNames(buf.Steps); !slices.Equal(names, []StepName{StepSignalTerminate, StepJoinListener}) {
			return fmt.Errorf("steps %v", names)
		}
		return nil
	})
	if buf.Lifecycle != ShuttingDown || !buf.Terminate.Signaled || buf.Terminate.Closed {
		t.Errorf("mid-shutdown: lifecycle %v, terminate %+v", buf.Lifecycle, buf.Terminate)
	}
	early := buf
	earlySteps := slices.Clone(early.Steps)

	stop := readConcurrently(early)
	var srec ShutdownRecord
	waitFor(t, "Shutdown to return", func() error {
		s.Snapshot(&buf)
		select {
		case srec = <-done:
			return nil
		default:
			return errors.New("still joining")
		}
	})
	s.Snapshot(&buf)
	stop()

	if !slices.Equal(early.Steps, earlySteps) {
		t.Errorf("the earlier copy's steps changed: %+v, were %+v", early.Steps, earlySteps)
	}
	names := stepNames(buf.Steps)
	if !slices.Equal(names, []StepName{StepSignalTerminate, StepJoinListener, StepJoinClients, StepCloseTerminate}) {
		t.Errorf("steps after Shutdown %v", names)
	}
	if !reflect.DeepEqual(buf.Steps, srec.Steps) {
		t.Errorf("snapshot steps %+v, Shutdown's %+v", buf.Steps, srec.Steps)
	}
	if len(buf.Steps) >= len(earlySteps) && !slices.Equal(buf.Steps[:len(earlySteps)], earlySteps) {
		t.Errorf("the later snapshot does not extend the earlier one")
	}
	for _, st := range buf.Steps {
		if st.Outcome != StepOK {
			t.Errorf("step %+v", st)
		}
	}
	if st, _ := stepNamed(srec, StepJoinClients); st.Detail != "2 client threads joined" {
		t.Errorf("join-clients: %+v", st)
	}
	if len(buf.Violations) != 0 || len(buf.WaitFailures) != 0 {
		t.Errorf("fixed: violations %+v, wait failures %+v", buf.Violations, buf.WaitFailures)
	}
	// A fresh buffer gets everything at once.
	var fresh Snapshot
	s.Snapshot(&fresh)
	if !reflect.DeepEqual(fresh.Steps, buf.Steps) {
		t.Errorf("fresh snapshot steps %+v, reused buffer's %+v", fresh.Steps, buf.Steps)
	}
	resp, _, _ := inflight.response()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("held request: %d, want 200", resp.StatusCode)
	}
}
