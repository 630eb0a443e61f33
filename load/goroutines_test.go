package load

import (
	"net"
	"runtime"
	"testing"
	"time"

	"shutdowntest/target"
)

// TestHoldingConnectionsHoldNoGoroutine: a silent or idle client, and the
// server's socket of it, wait for their connection without a goroutine
// each, where the watcher polls (Linux): at 9,900 clients those
// goroutines' stacks were the largest part of the memory (issue 13). The
// server's threads still take one each: they are the model's threads.
func TestHoldingConnectionsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the watcher polls only on Linux; elsewhere each watch is a goroutine")
	}
	const silent, idle = 150, 150
	cfg := small(target.PolicyFixed)
	cfg.Mix = Mix{Silent: silent, HTTPIdle: idle}
	cfg.Hold = true
	before := runtime.NumGoroutine()
	lr := startRun(t, cfg)
	lr.await("every client ready while holding", heldReady(1))
	held := runtime.NumGoroutine() - before
	lr.r.Trigger()
	res, err := lr.wait()
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, res.Iterations[0])
	// One thread per client, and a few of the run's own (the server's
	// listener, UI, accept pump and watcher; the engine's). A goroutine
	// per client more on either side would be 150 over.
	if threads, slack := silent+idle, 40; held > threads+slack {
		t.Errorf("%d goroutines while %d clients held, want at most %d (their server threads and %d more)",
			held, silent+idle, threads+slack, slack)
	}
}

// TestReleasedHostileClientIsSettled: a hostile client that closes or
// resets its own connection is ready, and counted settled, so the wait for
// readiness looks at the server at once instead of waiting out its bound.
func TestReleasedHostileClientIsSettled(t *testing.T) {
	for _, end := range []ending{endClose, endReset} {
		e := &env{clock: func(time.Time) time.Duration { return 0 }, settle: make(chan struct{}, 1)}
		c := newClient(Spec{ID: 1, Kind: KindHTTP, Role: "partial-header-close"}, e)
		a, b := net.Pipe()
		c.let(a, end)
		_ = b.Close()
		if !e.clientsSettled() {
			t.Errorf("ending %v: a client released by its own close: %d of %d settled", end, e.settled.Load(), e.started.Load())
		}
		select {
		case <-e.settle:
		default:
			t.Errorf("ending %v: the wait for readiness was not poked", end)
		}
	}
}
