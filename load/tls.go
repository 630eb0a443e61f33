package load

import (
	"crypto/tls"
	"errors"
	"time"

	"shutdowntest/target"
)

// clientTLS is the trust the tool's clients dial srv with: its generated
// certificate's pool, or nil when it speaks plain TCP.
func clientTLS(srv *target.Server) *tls.Config {
	if srv.RootCAs() == nil {
		return nil
	}
	return &tls.Config{RootCAs: srv.RootCAs(), MinVersion: tls.VersionTLS12}
}

// slowTLSWait bounds the wait for the slow-tls client's handshake to be
// under way on the server before the trigger.
const slowTLSWait = 2 * time.Second

// startSlowTLS runs the slow-tls fault's client, when it is injected: a
// ClientHello dribbled a byte at a time, spread past the end of
// observation (the drain budget and its second) so it is still arriving
// when the observation ends, and stopped at finish. It waits, bounded,
// until the server's thread is in its handshake, so the trigger finds it
// there, and records the client's address.
func (r *iteration) startSlowTLS() error {
	if !r.cfg.hasFault(target.FaultSlowTLS) {
		return nil
	}
	r.slowStop = make(chan struct{})
	local := make(chan string, 1)
	r.wg.Add(1)
	// It ends when the hello is sent or finish closes slowStop; every
	// write is bounded.
	go func() {
		defer r.wg.Done()
		_, _ = target.SlowTLSClient(r.srv.Addr(), r.cfg.DrainTimeout+2*time.Second, r.slowStop, func(l string) { local <- l })
	}()
	select {
	case r.it.SlowTLS = <-local:
	case <-time.After(slowTLSWait):
		return errors.New("slow-tls client did not connect within 2s")
	}
	handshaking := func() bool {
		th, ok := r.threadsByPeer()[r.it.SlowTLS]
		return ok && (th.Handshake || th.Spins > 0)
	}
	if !r.waitUntil(r.ctl.abort, slowTLSWait, handshaking) {
		return errors.New("slow-tls client's server thread not in its handshake within 2s")
	}
	return nil
}
