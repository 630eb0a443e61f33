package target

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// clientHello returns a real ClientHello record: what crypto/tls's client
// writes first, taken from a handshake run over an in-memory pipe whose
// other end reads the record and hangs up. X25519 alone keeps it to a few
// hundred bytes (the default hybrid post-quantum share adds over a
// kilobyte).
func clientHello() ([]byte, error) {
	cli, srv := net.Pipe()
	done := make(chan struct{})
	// The client's handshake ends when srv is closed below: its read of
	// the server's answer fails.
	go func() {
		defer close(done)
		c := tls.Client(cli, &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12,
			CurvePreferences: []tls.CurveID{tls.X25519}})
		_ = c.Handshake()
		_ = cli.Close()
	}()
	defer func() {
		_ = srv.Close()
		<-done
	}()
	_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	rec := make([]byte, 5) // the record header: type, version, length
	if _, err := io.ReadFull(srv, rec); err != nil {
		return nil, fmt.Errorf("capture client hello: %w", err)
	}
	body := make([]byte, binary.BigEndian.Uint16(rec[3:5]))
	if _, err := io.ReadFull(srv, body); err != nil {
		return nil, fmt.Errorf("capture client hello: %w", err)
	}
	return append(rec, body...), nil
}

// SlowTLSClient is the slow-tls fault's client side: it connects to addr
// and sends a real TLS ClientHello one byte at a time, the first at once
// and the rest spread evenly over d, then closes the connection. It stops
// early, closing, when stop is closed. dialed, if not nil, is called with
// the connection's local address (its server thread's peer) once it is
// made. It returns how many bytes it sent. Every dial and write is
// bounded, and the hello is a few hundred bytes.
func SlowTLSClient(addr string, d time.Duration, stop <-chan struct{}, dialed func(local string)) (int, error) {
	hello, err := clientHello()
	if err != nil {
		return 0, err
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, fmt.Errorf("slow tls client: %w", err)
	}
	defer c.Close()
	if dialed != nil {
		dialed(c.LocalAddr().String())
	}
	every := time.NewTicker(max(d/time.Duration(len(hello)), time.Millisecond))
	defer every.Stop()
	for sent := range hello {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(hello[sent : sent+1]); err != nil {
			return sent, fmt.Errorf("slow tls client: %w", err)
		}
		if sent+1 == len(hello) {
			break
		}
		select {
		case <-stop:
			return sent + 1, nil
		case <-every.C:
		}
	}
	return len(hello), nil
}
