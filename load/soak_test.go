package load

import (
	"context"
	"testing"
	"time"

	"shutdowntest/target"
	"shutdowntest/target/kernel"
)

// quickSoak is a configuration whose iterations take tens of
// milliseconds: one silent client, nothing held in flight.
func quickSoak() Config {
	cfg := small(target.PolicyFixed)
	cfg.Mix = Mix{Silent: 1}
	cfg.Iterations = 0
	return cfg
}

// A soak starts iterations until its time is up and none after: every
// iteration started before the deadline, the run did not stop early
// (it ran past the deadline, finishing the one under way), and each has
// its resource sample.
func TestSoakRunsUntilTheTimeIsUp(t *testing.T) {
	cfg := quickSoak()
	cfg.For = 400 * time.Millisecond
	var started []time.Time // when each iteration's server listened
	res, err := Run(context.Background(), cfg, Observer{Listening: func(int, string) { started = append(started, time.Now()) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Iterations) < 2 || len(started) != len(res.Iterations) {
		t.Fatalf("%d iterations (%d started) in %v", len(res.Iterations), len(started), cfg.For)
	}
	deadline := res.Started.Add(cfg.For)
	for i, it := range res.Iterations {
		if !started[i].Before(deadline) {
			t.Errorf("iteration %d started %v after the deadline", it.N, started[i].Sub(deadline))
		}
		if s := it.Resources; s.Goroutines == 0 || s.Kept == 0 || (s.HeapSampled && s.Heap <= s.Kept) || (it.N == 1 && !s.HeapSampled) {
			t.Errorf("iteration %d: sample %+v", it.N, s)
		}
	}
	if res.Wall < cfg.For {
		t.Errorf("the soak ended after %v, before its %v were up", res.Wall, cfg.For)
	}
}

// An explicit count caps a soak: it ends after that many iterations,
// long before its time.
func TestSoakCappedByIterations(t *testing.T) {
	cfg := quickSoak()
	cfg.For, cfg.Iterations = time.Hour, 3
	res, err := Run(context.Background(), cfg, Observer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Iterations) != 3 || res.Wall > 30*time.Second {
		t.Errorf("%d iterations in %v, want 3", len(res.Iterations), res.Wall)
	}
}

// soakOver without For is the old loop: exactly Iterations.
func TestSoakOver(t *testing.T) {
	start := time.Now()
	for _, c := range []struct {
		cfg  Config
		n    int
		over bool
	}{
		{Config{Iterations: 2}, 1, false},
		{Config{Iterations: 2}, 2, true},
		{Config{}, 0, true},
		{Config{For: time.Hour}, 1_000_000, false},
		{Config{For: time.Hour, Iterations: 5}, 5, true},
		{Config{For: time.Nanosecond}, 0, true},
	} {
		if got := c.cfg.soakOver(start, c.n); got != c.over {
			t.Errorf("%+v after %d: over %v, want %v", c.cfg, c.n, got, c.over)
		}
	}
}

// The same seed gives the same offsets, each within 0..d; another seed
// gives others.
func TestJitterOffsetsReproducible(t *testing.T) {
	const d = 50 * time.Millisecond
	draw := func(seed int64) []time.Duration {
		next := jitterOffsets(seed, d)
		out := make([]time.Duration, 20)
		for i := range out {
			out[i] = next()
			if out[i] < 0 || out[i] > d {
				t.Fatalf("offset %v outside 0..%v", out[i], d)
			}
		}
		return out
	}
	a, b, c := draw(42), draw(42), draw(43)
	same := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 42 gave %v, then %v", a, b)
		}
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Errorf("seeds 42 and 43 gave the same offsets %v", a)
	}
	if next := jitterOffsets(42, 0); next() != 0 {
		t.Error("no jitter moved the trigger")
	}
}

// A run with --jitter and a seed moves each trigger by the seed's
// offsets, in order: the trigger comes at least that long after the
// clients were all ready. A seed of 0 is replaced by the clock's, which
// the result gives.
func TestJitterMovesTheTrigger(t *testing.T) {
	cfg := quickSoak()
	cfg.Iterations, cfg.Seed, cfg.Jitter = 3, 7, 40*time.Millisecond
	res, err := Run(context.Background(), cfg, Observer{})
	if err != nil {
		t.Fatal(err)
	}
	next := jitterOffsets(7, cfg.Jitter)
	for _, it := range res.Iterations {
		if want := next(); it.Jitter != want {
			t.Errorf("iteration %d: offset %v, want %v", it.N, it.Jitter, want)
		}
		// The silent client is ready once its thread waits; the trigger
		// came at least the offset after that.
		th, ok := threadOf(it, it.Clients[0].Thread)
		if !ok || !th.Exited {
			t.Fatalf("iteration %d: no thread for the silent client", it.N)
		}
		if waited := it.Trigger - firstState(th, target.StateWait); waited < it.Jitter {
			t.Errorf("iteration %d: trigger %v after the thread waited, offset %v", it.N, waited, it.Jitter)
		}
	}
	if res.Config.Seed != 7 {
		t.Errorf("seed %d, want 7", res.Config.Seed)
	}
	cfg.Seed, cfg.Iterations, cfg.Jitter = 0, 1, 0
	res, err = Run(context.Background(), cfg, Observer{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.Seed == 0 {
		t.Error("a run without a seed does not say the one it used")
	}
}

func threadOf(it Iteration, id int) (kernel.ThreadRecord, bool) {
	for _, th := range it.Server.ClientThreads() {
		if th.ID == id {
			return th, true
		}
	}
	return kernel.ThreadRecord{}, false
}

func firstState(th kernel.ThreadRecord, st target.State) time.Duration {
	for _, s := range th.States {
		if s.State == st {
			return s.At
		}
	}
	return 0
}
