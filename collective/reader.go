package collective

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// frameReader is the buffered reader under a peer's frame reader, like bufio.Reader but with one trick
// for TCP connections: a payload read that finds the buffer empty is a single readv into the payload
// and the buffer, so the trailer and the next frame's header (and the start of its payload) arrive in
// the same system call as the end of this payload. On other streams it reads as bufio would.
type frameReader struct {
	s    Stream
	rc   syscall.RawConn // nil unless s is a *net.TCPConn
	buf  []byte
	r, w int // buf[r:w] is unread

	// readv call state (a method value made once, so that the call does not allocate).
	iov    [2]syscall.Iovec
	readvF func(fd uintptr) bool
	n      int
	errno  syscall.Errno
}

func newFrameReader(s Stream, size int) *frameReader {
	fr := &frameReader{s: s, buf: make([]byte, size)}
	if tc, ok := s.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			fr.rc = rc
			fr.readvF = fr.readvOnce
		}
	}
	return fr
}

// readFull fills p (a header or trailer) from the buffer, refilling it as needed.
func (fr *frameReader) readFull(p []byte) error {
	for got := 0; got < len(p); {
		if fr.r == fr.w {
			if err := fr.fill(); err != nil {
				if err == io.EOF && got > 0 {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		k := copy(p[got:], fr.buf[fr.r:fr.w])
		fr.r += k
		got += k
	}
	return nil
}

// fill reads once into the (emptied) buffer.
func (fr *frameReader) fill() error {
	fr.r, fr.w = 0, 0
	n, err := fr.s.Read(fr.buf)
	fr.w = n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// read reads at least one byte into p (a piece of a payload): from the buffer if it holds any, else
// straight from the stream, with the buffer appended as a second target on TCP.
func (fr *frameReader) read(p []byte) (int, error) {
	if fr.r < fr.w {
		k := copy(p, fr.buf[fr.r:fr.w])
		fr.r += k
		return k, nil
	}
	if fr.rc == nil {
		if len(p) < len(fr.buf) { // small: through the buffer, which may pick up the next frames too
			if err := fr.fill(); err != nil {
				return 0, err
			}
			return fr.read(p)
		}
		n, err := fr.s.Read(p)
		if n == 0 && err == nil {
			err = io.ErrNoProgress
		}
		return n, err
	}
	fr.r, fr.w = 0, 0
	fr.iov[0] = syscall.Iovec{Base: unsafe.SliceData(p)}
	fr.iov[0].SetLen(len(p))
	fr.iov[1] = syscall.Iovec{Base: unsafe.SliceData(fr.buf)}
	fr.iov[1].SetLen(len(fr.buf))
	fr.n, fr.errno = 0, 0
	err := fr.rc.Read(fr.readvF) // waits for readability under the read deadline
	fr.iov = [2]syscall.Iovec{}  // hold no pointer into the payload after the call
	if err != nil {
		return 0, err
	}
	if fr.errno != 0 {
		return 0, fr.errno
	}
	if fr.n == 0 {
		return 0, io.EOF
	}
	if fr.n > len(p) {
		fr.w = fr.n - len(p)
		return len(p), nil
	}
	return fr.n, nil
}

// readvOnce is the RawConn callback: false asks the runtime to wait until the socket is readable.
func (fr *frameReader) readvOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.Syscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&fr.iov[0])), uintptr(len(fr.iov)))
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false
		case e != 0:
			fr.errno = e
		default:
			fr.n = int(n)
		}
		return true
	}
}
