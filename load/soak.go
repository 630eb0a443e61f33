package load

import (
	"math/rand/v2"
	"runtime"
	"time"
	"unsafe"
)

// ResourceSample is what the process and the embedded server held at the
// end of one iteration, after its server was closed and its goroutines
// joined: the same moment in every iteration, so that a series of them
// shows growth, not the iteration's own coming and going.
type ResourceSample struct {
	// Heap is the live heap in bytes (runtime.MemStats.HeapAlloc) right
	// after a forced GC, when HeapSampled; the GC is the sample's cost, so
	// it is taken only as often as heapBudget allows.
	Heap        uint64
	HeapSampled bool
	// Kept estimates the part of Heap that is the run's own records of
	// the iterations so far, kept for the report (keptSize): it grows
	// with every iteration by design, and a soak judges the heap without
	// it.
	Kept uint64
	// Goroutines is runtime.NumGoroutine.
	Goroutines int
	// FDs is the process's open file descriptors of every kind, when
	// FDsAvailable (Linux: /proc/self/fd).
	FDs          int
	FDsAvailable bool
	// Handles is the model kernel's open handles the server still held
	// at the end, before Close forced anything (Record.Left.OpenHandles).
	Handles int
	// Cost is how long taking the sample took, the GC included.
	Cost time.Duration
}

// heapBudget bounds the forced GCs to this share of a run's time: the
// heap is sampled only once heapBudget's inverse times the last GC's cost
// has passed since it. A GC's cost grows with the records the run keeps
// (about 1 ms at the start, 10 ms after 800 iterations of the default
// mix), so short iterations late in a long soak skip some heap samples;
// the other resources are sampled after every iteration. The first
// heapAlways iterations always sample it: no-growth needs that many (a
// warm-up of 5 and 20 samples) to judge a short soak at all.
const (
	heapBudget = 0.05
	heapAlways = 25
)

// sampler takes the resource sample after each iteration of a run.
type sampler struct {
	kept     uint64        // what the records of the run keep (keptSize)
	lastHeap time.Time     // when the heap was last sampled
	gcCost   time.Duration // what that GC took
}

// sample takes the sample of the iteration just appended to its: once
// its server has closed and its goroutines were joined.
func (s *sampler) sample(its []Iteration) ResourceSample {
	t0 := time.Now()
	it := &its[len(its)-1]
	s.kept += keptSize(*it)
	array := uint64(roundSizeClass(uintptr(cap(its)) * unsafe.Sizeof(*it)))
	out := ResourceSample{Handles: it.Server.Left.OpenHandles, Kept: s.kept + array}
	if it.N <= heapAlways || time.Since(s.lastHeap) >= time.Duration(float64(s.gcCost)/heapBudget) {
		g0 := time.Now()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		out.Heap, out.HeapSampled = ms.HeapAlloc, true
		s.lastHeap, s.gcCost = time.Now(), time.Since(g0)
	}
	out.Goroutines = runtime.NumGoroutine()
	out.FDs, out.FDsAvailable = openFDs()
	out.Cost = time.Since(t0)
	return out
}

// MaxFor bounds Config.For: a soak of a month is the longest anyone
// means, and it keeps the deadline (the run's start plus For) far from
// overflowing a time.Time.
const MaxFor = 30 * 24 * time.Hour

// soakOver reports whether the run, started at start, may start no more
// iterations: n iterations ran and Iterations caps them, or For has
// passed since start. Without For, only Iterations ends it.
func (c Config) soakOver(start time.Time, n int) bool {
	if c.For <= 0 {
		return n >= c.Iterations
	}
	if c.Iterations > 0 && n >= c.Iterations {
		return true
	}
	return time.Since(start) >= c.For
}

// Randomized reports whether the run draws anything from Seed, so that
// the command reproducing it must carry the seed.
func (c Config) Randomized() bool {
	if c.Jitter > 0 {
		return true
	}
	for _, h := range hostileRoles {
		if h.Seeded && c.Mix.HostileCount(h.Role) > 0 {
			return true
		}
	}
	return false
}

// jitterStream is the PCG stream the trigger offsets are drawn from.
// Every random part of a run takes its own stream of the one seed, so that
// adding another (garbage bytes) does not shift the offsets a seed gives.
const jitterStream = 0x6a6974746572 // "jitter"

// jitterOffsets returns the sequence of trigger offsets seed gives for a
// jitter of up to d: each from 0 to d inclusive, uniformly.
func jitterOffsets(seed int64, d time.Duration) func() time.Duration {
	rng := rand.New(rand.NewPCG(uint64(seed), jitterStream))
	return func() time.Duration {
		if d <= 0 {
			return 0
		}
		return time.Duration(rng.Int64N(int64(d) + 1))
	}
}

// clockSeed is the seed of a run given none: the clock, never 0 (which
// would mean "from the clock" again when reproduced).
func clockSeed() int64 {
	if s := time.Now().UnixNano(); s != 0 {
		return s
	}
	return 1
}
