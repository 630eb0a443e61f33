//go:build linux

package osobs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Sizes of the sock_diag messages (linux/inet_diag.h): inet_diag_req_v2
// and inet_diag_msg, each around a 48-byte inet_diag_sockid.
const (
	diagReqLen = 56
	diagMsgLen = 72
	// diagWait bounds one reply from the kernel.
	diagWait = time.Second
)

// diagDump asks the kernel for the TCP sockets whose local port is port
// (any port when 0), IPv4 and IPv6, in every state a descriptor can hold
// (TIME_WAIT and half-open requests never are), in one NETLINK_SOCK_DIAG
// dump per family, and keeps those whose inode is in inodes (their
// descriptors are left -1: holders.expand fills them in). The port filter is the kernel's bytecode, so that a host
// with a hundred thousand sockets does not make every sample read them
// all. A request and the replies' fixed layout are all this needs, which
// is why it is written here rather than brought in with a netlink library.
func diagDump(inodes holders, port uint16) ([]diagSock, error) {
	fd, err := diagSocket()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []diagSock
	buf := make([]byte, 64<<10)
	for seq, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		if err := unix.Sendto(fd, diagRequest(family, uint32(seq+1), port), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return nil, fmt.Errorf("sock_diag: send: %w", err)
		}
		if out, err = diagReplies(fd, buf, inodes, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// diagSock is a socket as sock_diag names it: its family and its
// inet_diag_sockid (ports, addresses, interface, cookie), which ask for
// it again by itself.
type diagSock struct {
	Socket
	family uint8
	id     [48]byte
}

// diagBatch bounds the lookups sent at once, so that their replies fit
// the socket's default receive buffer.
const diagBatch = 64

// diagLookup asks the kernel for each of socks by its id, a hash lookup
// each, in batches of requests sent together: a dump walks every TCP
// socket of the host (a busy test machine holds a hundred thousand in
// TIME_WAIT), a lookup only the process's own. A socket that is gone
// (no longer in the tables, or its id now names another socket: the
// cookie differs) is left out.
func diagLookup(socks []diagSock, inodes holders) ([]Socket, error) {
	fd, err := diagSocket()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []Socket
	buf := make([]byte, 64<<10)
	for lo := 0; lo < len(socks); lo += diagBatch {
		batch := socks[lo:min(lo+diagBatch, len(socks))]
		var req []byte
		for i, k := range batch {
			m := diagRequest(k.family, uint32(i+1), 0)
			ne := binary.NativeEndian
			ne.PutUint16(m[6:], unix.NLM_F_REQUEST)
			copy(m[unix.NLMSG_HDRLEN+8:], k.id[:])
			req = append(req, m...)
		}
		if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return nil, fmt.Errorf("sock_diag: send: %w", err)
		}
		for got := 0; got < len(batch); {
			msgs, err := diagReceive(fd, buf)
			if err != nil {
				return nil, err
			}
			for _, m := range msgs {
				got++
				if m.Header.Type == unix.NLMSG_ERROR {
					continue // gone: ENOENT, or ESTALE for another socket now on the id
				}
				if k, ok := parseDiagMsg(m.Data, inodes); ok {
					out = append(out, k.Socket)
				}
			}
		}
	}
	return out, nil
}

// diagSocket opens a sock_diag socket whose replies are waited for at
// most diagWait.
func diagSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	tv := unix.NsecToTimeval(diagWait.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	return fd, nil
}

// Bits of inet_diag_req_v2's states mask and the bytecode that filters a
// dump (linux/inet_diag.h).
const (
	tcpTimeWait        = 6
	tcpSynRecv         = 3
	tcpNewSynRecv      = 12
	diagReqBytecode    = 1 // INET_DIAG_REQ_BYTECODE
	diagBCSourceGE     = 2 // INET_DIAG_BC_S_GE
	diagBCSourceLE     = 3 // INET_DIAG_BC_S_LE
	diagBytecodeLength = 16
)

// diagRequest is a dump request for the TCP sockets of family, those on
// local port port when it is not 0.
func diagRequest(family uint8, seq uint32, port uint16) []byte {
	n := unix.NLMSG_HDRLEN + diagReqLen
	if port != 0 {
		n += unix.SizeofNlAttr + diagBytecodeLength
	}
	b := make([]byte, n)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(b[8:], seq)
	r := b[unix.NLMSG_HDRLEN:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff&^(1<<tcpTimeWait|1<<tcpSynRecv|1<<tcpNewSynRecv))
	if port != 0 {
		// sport >= port and sport <= port: each comparison is an op
		// {code, yes, no} and an op whose no holds the port; yes jumps
		// to the next test, and no to 4 past the end, which rejects.
		a := r[diagReqLen:]
		ne.PutUint16(a[0:], uint16(unix.SizeofNlAttr+diagBytecodeLength))
		ne.PutUint16(a[2:], diagReqBytecode)
		bc := a[unix.SizeofNlAttr:]
		bc[0], bc[1] = diagBCSourceGE, 8
		ne.PutUint16(bc[2:], diagBytecodeLength+4)
		ne.PutUint16(bc[6:], port)
		bc[8], bc[9] = diagBCSourceLE, 8
		ne.PutUint16(bc[10:], 8+4)
		ne.PutUint16(bc[14:], port)
	}
	return b
}

// diagReplies reads one dump's replies until its end.
func diagReplies(fd int, buf []byte, inodes holders, out []diagSock) ([]diagSock, error) {
	for {
		msgs, err := diagReceive(fd, buf)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				return nil, fmt.Errorf("sock_diag: the kernel refused the request")
			}
			if k, ok := parseDiagMsg(m.Data, inodes); ok {
				out = append(out, k)
			}
		}
	}
}

// diagReceive reads the messages of one reply datagram.
func diagReceive(fd int, buf []byte) ([]syscall.NetlinkMessage, error) {
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return nil, fmt.Errorf("sock_diag: receive: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	return msgs, nil
}

// parseDiagMsg reads one inet_diag_msg: family, state, then the socket id
// (ports big-endian, addresses in network order), and the inode last.
func parseDiagMsg(d []byte, inodes holders) (diagSock, bool) {
	if len(d) < diagMsgLen {
		return diagSock{}, false
	}
	ino := uint64(binary.NativeEndian.Uint32(d[68:]))
	if _, mine := inodes[ino]; !mine {
		return diagSock{}, false
	}
	id := d[4:]
	addr := func(port, ip []byte) string {
		p := binary.BigEndian.Uint16(port)
		if d[0] == unix.AF_INET {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[:4])), p).String()
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[:16])), p).String()
	}
	k := diagSock{Socket: Socket{Inode: ino, FD: -1, Local: addr(id[0:2], id[4:20]), Peer: addr(id[2:4], id[20:36]),
		TCPState: linuxTCPState(int(d[1]))}, family: d[0]}
	copy(k.id[:], id[:48])
	return k, true
}
