package collective

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The auto policy asks the kernel for a connection's delivery rate at most every linkRateInterval and
// only after linkRateBytes more bytes were written, so each estimate covers bulk traffic.
const (
	linkRateInterval = 20 * time.Millisecond
	linkRateBytes    = 1 << 20
)

// tcpDeliveryRate returns the kernel's estimate of the rate (bytes/s) at which the connection delivers
// data (tcpi_delivery_rate), or ok=false when s is not a TCP socket or the kernel has no estimate.
func tcpDeliveryRate(s Stream) (bps float64, ok bool) {
	sc, isConn := s.(syscall.Conn)
	if !isConn {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	cerr := raw.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if cerr != nil || err != nil || info.Delivery_rate == 0 {
		return 0, false
	}
	return float64(info.Delivery_rate), true
}
