//go:build linux

package osobs

import (
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSample1000Sockets is one sample of a process holding 1,000
// accepted loopback connections (and their 1,000 client ends, which are
// not on the port): the cost per sample per 1,000 sockets. The first
// sample dumps the host's TCP table to learn the sockets; the rest look
// each up.
func BenchmarkSample1000Sockets(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 1000 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := l.Accept()
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c, s)
	}
	src, err := open(os.Getpid(), uint16(l.Addr().(*net.TCPAddr).Port))
	if err != nil {
		b.Fatal(err)
	}
	r, err := src.read()
	if err != nil || len(r.sockets) != 1001 {
		b.Fatalf("%d sockets, %v: want 1001 (1,000 accepted and the listener)", len(r.sockets), err)
	}
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	for b.Loop() {
		if _, err := src.read(); err != nil {
			b.Fatal(err)
		}
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/sample")
}
