//go:build cgo && linux

// Package cheap reports how many bytes the C heap (malloc) has in use, so
// that the OpenSSL backend's tests can check that dropped keys give their
// libcrypto memory back. Only tests import it.
package cheap

/*
#include <malloc.h>

static long long cheap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();
	return (long long)(mi.uordblks + mi.hblkhd);
#else
	return -1;
#endif
}
*/
import "C"

// InUse returns the bytes malloc has handed out and not had back, over all
// arenas (glibc's mallinfo2: uordblks + hblkhd), and false where the C
// library cannot tell (not glibc 2.33 or later).
func InUse() (int64, bool) {
	n := int64(C.cheap_in_use())
	return n, n >= 0
}
