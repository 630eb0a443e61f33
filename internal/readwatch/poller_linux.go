package readwatch

import (
	"sync"
	"syscall"
	"time"
)

// poller is one goroutine in epoll_wait over every watched descriptor.
// Each watch is one-shot (EPOLLONESHOT): its registration is disarmed when
// it fires and armed again by the next watch of the same descriptor, which
// the kernel checks for readiness at once, so nothing that arrived between
// the read and the new watch is missed.
type poller struct {
	epfd int
	wake [2]int // a pipe whose read end wakes epoll_wait for close
	done chan struct{}

	mu      sync.Mutex
	next    uint32            // the last watch id given; 0 is the wake pipe's
	watches map[uint32]func() // pending watches by id
	closing bool
	// broken is set if epoll_wait fails for good: later watches take a
	// goroutine each, and the pending ones are handed to goroutines.
	broken bool
	spill  func(func()) // runs a fired watch's f on a goroutine the Watcher owns
}

func newPoller() *poller {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	p := &poller{epfd: epfd, done: make(chan struct{}), watches: map[uint32]func(){}}
	if err := syscall.Pipe2(p.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(epfd)
		return nil
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil
	}
	go p.run()
	return p
}

// watch arms rc's registration for f. ok is false when the poller cannot
// take it (rc closed, the poller broken or closing); the caller then
// watches in a goroutine, which finds the same state at once.
func (p *poller) watch(rc syscall.RawConn, f func()) (stop func() bool, ok bool) {
	p.mu.Lock()
	if p.closing || p.broken {
		p.mu.Unlock()
		return nil, false
	}
	id := p.newID()
	p.watches[id] = f
	p.mu.Unlock()
	var ctlErr error
	// Control holds the descriptor open, so its number cannot be another
	// socket's by the time epoll_ctl reads it.
	err := rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(id)}
		ctlErr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
		if ctlErr == syscall.ENOENT {
			ctlErr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		}
	})
	if err != nil || ctlErr != nil {
		p.mu.Lock()
		delete(p.watches, id)
		p.mu.Unlock()
		return nil, false
	}
	// A stopped watch stays registered, disarmed once it fires, until
	// its descriptor closes; an event of it finds no watch and is dropped.
	return func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		_, pending := p.watches[id]
		delete(p.watches, id)
		return pending
	}, true
}

// newID is an id no pending watch has. Called with mu held.
func (p *poller) newID() uint32 {
	for {
		p.next++
		if _, used := p.watches[p.next]; p.next != 0 && !used {
			return p.next
		}
	}
}

func (p *poller) run() {
	defer close(p.done)
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, evs, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			p.fail()
			return
		}
		for _, ev := range evs[:n] {
			id := uint32(ev.Fd)
			if id == 0 {
				p.mu.Lock()
				closing := p.closing
				p.mu.Unlock()
				if closing {
					return
				}
				continue
			}
			p.mu.Lock()
			f := p.watches[id]
			delete(p.watches, id)
			p.mu.Unlock()
			if f != nil {
				p.spill(f)
			}
		}
	}
}

// fail hands every pending watch to a goroutine of its own, whose f reads
// (or finds nothing yet and watches again, now without the poller).
func (p *poller) fail() {
	p.mu.Lock()
	p.broken = true
	pending := p.watches
	p.watches = map[uint32]func(){}
	p.mu.Unlock()
	for _, f := range pending {
		p.spill(f)
	}
}

// close ends the goroutine (a bounded wait) and closes the descriptors.
func (p *poller) close() bool {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	_, _ = syscall.Write(p.wake[1], []byte{0})
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		// epoll_wait did not return after the wake write: leave the
		// descriptors open rather than close them under it.
		return false
	}
	p.closeFDs()
	return true
}

func (p *poller) closeFDs() {
	_ = syscall.Close(p.wake[0])
	_ = syscall.Close(p.wake[1])
	_ = syscall.Close(p.epfd)
}
