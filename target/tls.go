package target

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"sort"
	"time"

	"shutdowntest/target/kernel"
)

// TLS in the model. eMule's Web UI speaks HTTPS through mbedTLS on the
// same non-blocking socket its client thread waits on: the thread feeds the
// TLS engine from recv, and when the engine needs bytes that have not
// arrived it answers WANT_READ. Before hardened the thread's handshake and
// read loops go round again at once on WANT_READ (BUG-081): no wait, so a
// slow client pins the thread in a loop that terminate cannot reach until
// the bytes stop. Hardened goes back to the wait-any {connEvent, terminate}
// instead, and frees the TLS state only after the joins.
//
// Here crypto/tls is the engine and the pump's buffer is recv. A read
// through the session that finds no whole record gets errWantRead, and the
// thread's loop decides what to do with it (tlsConn.take). A handshake
// cannot be resumed after its transport fails, so during the handshake the
// loop's answer to WANT_READ runs inside the transport (wantRead): the same
// turns, seen from below.

// spinPace is the model's cost of one turn of a loop that does not wait:
// the recv, the TLS call and the check of its result. The real loop burns a
// core; the model yields to the Go scheduler for this long instead, so a
// test machine is not pinned, and the count of turns measures how long the
// thread spun (Go's timers make a turn last about a millisecond on Linux).
const spinPace = 100 * time.Microsecond

// errWantRead is the TLS engine's WANT_READ: no whole record is buffered.
// It is a temporary net.Error, so crypto/tls keeps the session usable and
// a later read goes on where this one stopped.
var errWantRead error = wantReadError{}

type wantReadError struct{}

func (wantReadError) Error() string   { return "tls: want read" }
func (wantReadError) Timeout() bool   { return false }
func (wantReadError) Temporary() bool { return true }

var (
	errTLSAbandoned = errors.New("tls: handshake abandoned: terminate signalled or the client timed out")
	errSpinReleased = errors.New("tls: spin given up: the run was closed")
)

// Spin is what one thread spent in TLS loops that went round again without
// a wait (BUG-081): how many turns, between which instants of the server's
// clock.
type Spin struct {
	Thread int
	Turns  int64
	First  time.Duration
	Last   time.Duration
}

// selfSigned makes the certificate the server presents: ECDSA P-256 for
// 127.0.0.1, ::1 and localhost, valid from an hour ago for a day, and the
// pool a client must trust to verify it. Nothing touches a file or the
// network.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generate tls key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "shutdowntest eMule model"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("create tls certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("parse tls certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// startTLS makes the server's TLS state, if Config.TLS asks for it.
func (s *Server) startTLS() error {
	if !s.cfg.TLS {
		return nil
	}
	cert, pool, err := selfSigned()
	if err != nil {
		return err
	}
	s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.roots = pool
	return nil
}

// RootCAs is the pool that verifies the server's generated certificate;
// nil when the server does not speak TLS.
func (s *Server) RootCAs() *x509.CertPool { return s.roots }

// spin is one turn of a loop that did not wait. It counts the turn for the
// thread and yields for spinPace; it reports errSpinReleased once the run
// is closed, the model's bound on a loop nothing else can end.
func (s *Server) spin(t *kernel.Thread) error {
	select {
	case <-s.closing:
		return errSpinReleased
	default:
	}
	now := s.k.Now()
	s.mu.Lock()
	sp := s.spins[t.ID()]
	if sp == nil {
		sp = &Spin{Thread: t.ID(), First: now}
		s.spins[t.ID()] = sp
	}
	sp.Turns++
	sp.Last = now
	s.mu.Unlock()
	pace := time.NewTimer(spinPace)
	defer pace.Stop()
	select {
	case <-s.closing:
		return errSpinReleased
	case <-pace.C:
		return nil
	}
}

// spinRecord lists every thread's spin, by thread. Called with s.mu held.
func (s *Server) spinRecord() []Spin {
	out := make([]Spin, 0, len(s.spins))
	for _, sp := range s.spins {
		out = append(out, *sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Thread < out[j].Thread })
	return out
}

// wire is what a client thread reads its peer through and answers on: the
// socket itself, or the TLS session over it. take and pending are the
// thread's non-blocking view after a wait; Read is the blocking read a
// WebSocket frame reader needs.
type wire interface {
	net.Conn
	take() (data []byte, eof bool, err error)
	pending() bool
	closeWrite()
	pumpNow() bool
}

// tlsConn is one connection's TLS session, driven by its client thread
// from the bytes the pump delivers. Only that thread uses it.
type tlsConn struct {
	s        *Server
	sd       *socketData
	t        *kernel.Thread
	ev, term kernel.Handle
	tc       *tls.Conn
	// want is what the transport does when the pump has no bytes: nil
	// answers errWantRead to the session.
	want   func() error
	shaken bool  // the handshake was attempted
	fed    int64 // raw bytes handed to the session so far
	plain  []byte
	eof    bool
	err    error
	buf    []byte
}

func (s *Server) newTLSConn(t *kernel.Thread, sd *socketData, ev, term kernel.Handle) *tlsConn {
	c := &tlsConn{s: s, sd: sd, t: t, ev: ev, term: term, buf: make([]byte, 17<<10)}
	c.tc = tls.Server(tlsTransport{c}, s.tlsConfig)
	return c
}

// raw is the session's recv from the pump's buffer.
func (c *tlsConn) raw(p []byte) (int, error) {
	for {
		n, eof, err := c.sd.poll(p)
		switch {
		case n > 0:
			c.fed += int64(n)
			return n, nil
		case eof:
			if err == nil || errors.Is(err, net.ErrClosed) {
				err = io.EOF
			}
			return 0, err
		case c.want == nil:
			return 0, errWantRead
		}
		if err := c.want(); err != nil {
			return 0, err
		}
	}
}

// handshake runs the TLS handshake, started by the client's first bytes.
// eMule's handshake loop goes round on WANT_READ until it is done.
func (c *tlsConn) handshake() error {
	c.s.mark(c.s.handshaking, c.t.ID(), true)
	defer c.s.mark(c.s.handshaking, c.t.ID(), false)
	dl := c.s.clientDeadline()
	c.want = func() error { return c.wantRead(dl) }
	defer func() { c.want = nil }()
	return c.tc.Handshake()
}

// wantRead is the handshake loop's answer to WANT_READ. Hardened waits in
// {connEvent, terminate}, bounded by its client timeout, and gives up when
// anything but the connection wins. The other policies go round again
// without a wait: a spin turn, which terminate cannot interrupt.
func (c *tlsConn) wantRead(dl time.Time) error {
	if c.s.cfg.Policy != PolicyHardened {
		return c.s.spin(c.t)
	}
	c.t.Enter(StateWait)
	r := c.s.waitClient(c.t, c, dl, c.ev, c.term)
	c.t.Enter(StateRead)
	if r != 0 {
		return errTLSAbandoned
	}
	return nil
}

// take is the read loop after a wait: it hands the thread the plaintext of
// every whole record the pump has delivered, running the handshake first if
// it has not run (the client's first bytes start it). When no whole record
// is there (WANT_READ), hardened returns to its wait; the other policies go
// round again without one until a record is whole, as eMule's read loop
// does, unless the bytes that woke the thread were the handshake's: then it
// is done with them and goes back to its wait. A wake that found no byte at
// all goes back to the wait too: the real FD_READ comes with bytes, while
// the model's pump may set the event just after the thread took what it
// announced.
func (c *tlsConn) take() ([]byte, bool, error) {
	reading, fed := c.shaken, c.fed
	if !c.shaken {
		c.shaken = true
		if err := c.handshake(); err != nil {
			c.eof, c.err = true, err
		}
	}
	out := c.plain
	c.plain = nil
	for !c.eof {
		n, err := c.tc.Read(c.buf)
		out = append(out, c.buf[:n]...)
		switch {
		case err == nil:
			continue
		case !errors.Is(err, errWantRead):
			c.eof, c.err = true, err
		case len(out) > 0 || !reading || c.fed == fed || c.s.cfg.Policy == PolicyHardened:
			return out, false, nil
		default:
			if err := c.s.spin(c.t); err != nil {
				c.eof, c.err = true, err
			}
		}
	}
	return out, true, c.err
}

// pending: plaintext not yet taken, or bytes (or the end) from the pump.
func (c *tlsConn) pending() bool { return len(c.plain) > 0 || c.eof || c.sd.pending() }

func (c *tlsConn) pumpNow() bool { return c.sd.pumpNow() }

// Read is the blocking read of the WebSocket frame reader: it waits, as
// socketData.Read does, for the pump until the read deadline.
func (c *tlsConn) Read(p []byte) (int, error) {
	for len(c.plain) == 0 {
		if c.eof {
			return 0, c.err
		}
		c.want = func() error { return c.sd.await(c.sd.readDeadline()) }
		n, err := c.tc.Read(c.buf)
		c.want = nil
		c.plain = append(c.plain, c.buf[:n]...)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			return 0, err
		default:
			c.eof, c.err = true, err
		}
	}
	n := copy(p, c.plain)
	c.plain = c.plain[n:]
	if c.pending() {
		c.sd.signal() // more is pending: keep the event set, as socketData.Read does
	}
	return n, nil
}

func (c *tlsConn) Write(p []byte) (int, error) { return c.tc.Write(p) }

// closeWrite sends close_notify, then half-closes the socket.
func (c *tlsConn) closeWrite() {
	_ = c.tc.CloseWrite()
	c.sd.closeWrite()
}

func (c *tlsConn) Close() error                       { return c.sd.Close() }
func (c *tlsConn) LocalAddr() net.Addr                { return c.sd.LocalAddr() }
func (c *tlsConn) RemoteAddr() net.Addr               { return c.sd.RemoteAddr() }
func (c *tlsConn) SetDeadline(t time.Time) error      { return c.sd.SetDeadline(t) }
func (c *tlsConn) SetReadDeadline(t time.Time) error  { return c.sd.SetReadDeadline(t) }
func (c *tlsConn) SetWriteDeadline(t time.Time) error { return c.sd.SetWriteDeadline(t) }

// tlsTransport is the socket as the TLS session sees it: recv from the
// pump's buffer, send through the thread's send. Deadlines are the
// thread's, set on the socketData.
type tlsTransport struct{ c *tlsConn }

func (tr tlsTransport) Read(p []byte) (int, error)       { return tr.c.raw(p) }
func (tr tlsTransport) Write(p []byte) (int, error)      { return tr.c.sd.Write(p) }
func (tr tlsTransport) Close() error                     { return nil }
func (tr tlsTransport) LocalAddr() net.Addr              { return tr.c.sd.LocalAddr() }
func (tr tlsTransport) RemoteAddr() net.Addr             { return tr.c.sd.RemoteAddr() }
func (tr tlsTransport) SetDeadline(time.Time) error      { return nil }
func (tr tlsTransport) SetReadDeadline(time.Time) error  { return nil }
func (tr tlsTransport) SetWriteDeadline(time.Time) error { return nil }

// poll is the TLS layer's non-blocking recv: it copies what is buffered
// into p, and reports the end of stream once nothing is left. When it takes
// the last byte it resets the connection event and sets it again only if
// more arrived meanwhile, so the event says exactly whether bytes wait: a
// TLS thread takes bytes outside any wait (in the handshake), and would
// otherwise wake to an event with nothing behind it.
func (sd *socketData) poll(p []byte) (n int, eof bool, err error) {
	sd.mu.Lock()
	n = copy(p, sd.buf)
	sd.buf = sd.buf[n:]
	eof = n == 0 && sd.eof
	err, ev := sd.rerr, sd.ev
	sd.mu.Unlock()
	if eof {
		sd.signal() // the end stays pending, as in take
		return 0, true, err
	}
	_ = sd.s.k.ResetEvent(ev)
	if sd.pending() {
		sd.signal()
	}
	return n, false, nil
}

// readDeadline is the deadline SetReadDeadline set.
func (sd *socketData) readDeadline() time.Time {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.rdeadline
}
