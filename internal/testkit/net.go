package testkit

// FreePort returns a TCP port of 127.0.0.1 that nothing listens on and that
// stays free for this test process: no other socket of this machine gets it
// from the kernel (a listener on port 0, an outgoing connection), so a
// Caddy configuration can listen on it, or a test can count on nothing
// answering there, at any later time. Two calls never return the same port.
//
// On Linux the port is held, for the life of the process, by a socket bound
// to it that never listens (SO_REUSEADDR and SO_REUSEPORT set): it takes no
// connection, and a listener that sets SO_REUSEADDR (every Go listener) or
// SO_REUSEPORT (Caddy's) binds the port beside it. Elsewhere the port is
// only free when FreePort returns.
func FreePort() int {
	return reservePort()
}
