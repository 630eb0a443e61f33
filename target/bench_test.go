package target

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// BenchmarkSnapshot measures what a live view pays per frame to copy the
// server's state with n client threads held in wait.
func BenchmarkSnapshot(b *testing.B) {
	for _, n := range []int{10, 1000, 5000} {
		b.Run(fmt.Sprintf("threads=%d", n), func(b *testing.B) {
			s, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Start(); err != nil {
				b.Fatal(err)
			}
			conns := make([]net.Conn, 0, n)
			defer func() {
				s.Shutdown()
				s.Close()
				for _, c := range conns {
					c.Close()
				}
			}()
			for i := 0; i < n; i++ {
				c, err := net.Dial("tcp", s.Addr())
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
			}
			var snap Snapshot
			deadline := time.Now().Add(30 * time.Second)
			for {
				s.Snapshot(&snap)
				waiting := 0
				for _, t := range snap.Threads {
					if t.State == StateWait {
						waiting++
					}
				}
				if waiting == n {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d threads in wait after 30s", waiting, n)
				}
				<-time.After(time.Millisecond) // poll interval of the condition above
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.Snapshot(&snap)
			}
		})
	}
}
