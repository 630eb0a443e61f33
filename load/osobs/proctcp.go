package osobs

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// parseProcNetTCP reads a /proc/net/tcp or tcp6 table and returns the
// sockets whose inode is in inodes on local port port (any when 0), their
// descriptors left -1 for holders.expand to fill in. Addresses are hex words in the kernel's byte order,
// ports hex numbers.
func parseProcNetTCP(b []byte, inodes holders, port uint16) []Socket {
	var out []Socket
	for i, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if i == 0 || len(f) < 10 {
			continue // the header, or a short line
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if _, mine := inodes[ino]; err != nil || !mine {
			continue
		}
		local, ok1 := hexAddr(f[1])
		peer, ok2 := hexAddr(f[2])
		st, err := strconv.ParseUint(f[3], 16, 8)
		if !ok1 || !ok2 || err != nil || (port != 0 && local.Port() != port) {
			continue
		}
		out = append(out, Socket{Inode: ino, FD: -1, Local: local.String(), Peer: peer.String(), TCPState: linuxTCPState(int(st))})
	}
	return out
}

// hexAddr reads "0100007F:1F90" (IPv4) or 32 hex digits and a port (IPv6).
func hexAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || (len(h) != 8 && len(h) != 32) {
		return netip.AddrPort{}, false
	}
	var raw [16]byte
	for w := 0; w < len(h)/8; w++ {
		v, err := strconv.ParseUint(h[w*8:w*8+8], 16, 32)
		if err != nil {
			return netip.AddrPort{}, false
		}
		binary.NativeEndian.PutUint32(raw[w*4:], uint32(v))
	}
	if len(h) == 8 {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[:4])), uint16(port)), true
	}
	return netip.AddrPortFrom(netip.AddrFrom16(raw), uint16(port)), true
}

// holder is a process's descriptor for a socket. A socket may have
// several: a listener inherited by every worker of a pre-fork server.
type holder struct{ pid, fd int }

// holders are the holders of each socket inode the processes hold.
type holders map[uint64][]holder

// expand gives each socket one entry per holder: its process and its
// descriptor there.
func (h holders) expand(ks []Socket) []Socket {
	out := make([]Socket, 0, len(ks))
	for _, k := range ks {
		for _, o := range h[k.Inode] {
			k.PID, k.FD = o.pid, o.fd
			out = append(out, k)
		}
	}
	return out
}
