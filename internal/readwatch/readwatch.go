// Package readwatch tells when connections have something to read, with
// one goroutine waiting for all of them where the platform lets it
// (Linux: epoll), so that thousands of connections that only sit open (a
// lingering or silent client, the server's socket of one) hold no
// goroutine, and no goroutine stack, each. At 9,900 clients the goroutines
// blocked in a read of such connections held 40 MB of stacks (issue 13).
// A connection that becomes readable gets a goroutine for its callback,
// which ends with it.
//
// Where there is no poller (other systems, or a connection without a
// descriptor, such as a pipe in a test) each watch waits in a goroutine of
// its own, as a read would.
//
// ReadNow and WriteNow are the reads and writes that go with it: one
// read() or send() on the socket that never waits (on Unix, where
// NonBlocking says so).
package readwatch

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"shutdowntest/internal/join"
)

// ErrNotReady is ReadNow's answer when the connection had nothing to read
// after all: watch it again.
var ErrNotReady = errors.New("readwatch: nothing to read yet")

// closeWait bounds Close's wait for the goroutines it ends.
const closeWait = 5 * time.Second

// Watcher runs callbacks when connections become readable. Its owner
// closes it once every watch has ended or been stopped.
type Watcher struct {
	// mu guards closed. Watches hold it shared, so that thousands of
	// them at once do not queue behind each other's epoll_ctl; Close
	// holds it alone, so none is half made when it ends the watcher.
	mu     sync.RWMutex
	p      *poller // nil where there is no poller
	closed bool
	// running are the goroutines of fired callbacks and of watches
	// without the poller.
	running sync.WaitGroup
}

// New returns a watcher; one whose poller cannot be made (out of
// descriptors, or no epoll) watches each connection in a goroutine.
func New() *Watcher {
	w := &Watcher{}
	if p := newPoller(); p != nil {
		p.spill = w.spill
		w.p = p
	}
	return w
}

// Polls reports whether the watcher has a poller: whether a watch holds no
// goroutine.
func (w *Watcher) Polls() bool { return w.p != nil }

// Watch calls f once, on a goroutine the watcher owns, when c has bytes,
// its peer's end of stream or an error to report. f then reads c with
// ReadNow, which does not wait, and calls Watch again to wait for more.
// The goroutines are many at once when many connections are busy, so f
// keeps its stack shallow and returns soon.
//
// stop keeps f from being called: it reports true when it did, and false
// when f has run or is running. The owner stops a watch before it closes
// the connection, because a closed descriptor leaves epoll silently and f
// would never run. After Close, Watch starts nothing and returns a stop
// that reports true.
func (w *Watcher) Watch(c net.Conn, f func()) (stop func() bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return func() bool { return true }
	}
	if rc := rawConn(c); rc != nil && w.p != nil {
		if stop, ok := w.p.watch(rc, f); ok {
			return stop
		}
	}
	return w.goWatch(c, f)
}

// goWatch is a watch without the poller: a goroutine waits until c is
// readable (or, without a descriptor, leaves the waiting to f's read).
// Its goroutine ends when c is readable, which a close makes it.
func (w *Watcher) goWatch(c net.Conn, f func()) func() bool {
	var mu sync.Mutex
	stopped, fired := false, false
	w.running.Add(1)
	go func() {
		defer w.running.Done()
		if rc := rawConn(c); rc != nil {
			awaitReadable(rc)
		}
		mu.Lock()
		fired = !stopped
		mu.Unlock()
		if fired {
			f()
		}
	}()
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		if fired {
			return false
		}
		stopped = true
		return true
	}
}

// spill runs a fired watch's f on a goroutine of its own. Run on the
// poller's one goroutine, the callbacks of every socket took turns, and
// 9,900 clients took longer to get ready.
func (w *Watcher) spill(f func()) {
	w.running.Add(1)
	go func() {
		defer w.running.Done()
		f()
	}()
}

// Close ends the watcher: the poller's goroutine ends, and a watch still
// pending is dropped (its f never runs). Without the poller it waits (a
// bounded while) for the watches' goroutines, which end when their
// connections are closed: close them first. It reports whether everything
// ended.
func (w *Watcher) Close() bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return true
	}
	w.closed = true
	p := w.p
	w.mu.Unlock()
	ok := true
	if p != nil {
		ok = p.close()
	}
	return join.Within(&w.running, closeWait) && ok
}

// rawConn is c's descriptor; nil when it has none.
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
