package osobs

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// parseProcNetTCP reads a /proc/net/tcp or tcp6 table and returns the
// sockets whose inode is in inodes (inode → descriptor) on local port
// port (any when 0). Addresses are hex words in the kernel's byte order,
// ports hex numbers.
func parseProcNetTCP(b []byte, inodes map[uint64]int, port uint16) []Socket {
	var out []Socket
	for i, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if i == 0 || len(f) < 10 {
			continue // the header, or a short line
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		fd, mine := inodes[ino]
		if err != nil || !mine {
			continue
		}
		local, ok1 := hexAddr(f[1])
		peer, ok2 := hexAddr(f[2])
		st, err := strconv.ParseUint(f[3], 16, 8)
		if !ok1 || !ok2 || err != nil || (port != 0 && local.Port() != port) {
			continue
		}
		out = append(out, Socket{Inode: ino, FD: fd, Local: local.String(), Peer: peer.String(), TCPState: linuxTCPState(int(st))})
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
