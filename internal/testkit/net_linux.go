package testkit

import (
	"sync"

	"golang.org/x/sys/unix"
)

// reserved keeps the sockets that hold FreePort's ports open for the life
// of the process.
var reserved struct {
	sync.Mutex
	fds []int
}

// reservePort binds a socket to 127.0.0.1:0, without listening, and keeps it.
// The kernel never hands a port out while a socket is bound to it, whatever
// the options of the socket asking; SO_REUSEADDR lets a listener bind it
// all the same.
func reservePort() int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		panic(err)
	}
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1); err != nil {
			panic(err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		panic(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		panic(err)
	}
	reserved.Lock()
	reserved.fds = append(reserved.fds, fd)
	reserved.Unlock()
	return sa.(*unix.SockaddrInet4).Port
}
