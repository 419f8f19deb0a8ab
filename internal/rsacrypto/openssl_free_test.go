//go:build openssl && cgo && linux && !android

package rsacrypto

import (
	"crypto/sha256"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-wechatpay/caddy-wechatpay/internal/rsacrypto/internal/cheap"
	"github.com/caddy-wechatpay/caddy-wechatpay/internal/testkit"
)

// A dropped PrivateKey gives its libcrypto key back: go-crypto-openssl's
// finalizer on the *openssl.PrivateKeyRSA frees the EVP_PKEY. A cleanup
// attached to that object runs only after its finalizer has run (see
// runtime.AddCleanup), so counting the cleanups counts the frees. That
// count cannot see a finalizer that is missing (the cleanup would then run
// at once): the C heap test can, and fails with the library's finalizer
// removed (3×200 dropped keys then hold 2.9 MB, the limit is 0.14 MB).

// makeAndDrop prepares n keys from key, signs once with each (so that
// libcrypto builds its per-key caches), and drops them; freed counts each
// key's EVP_PKEY once it has been freed.
func makeAndDrop(t *testing.T, n int, freed *atomic.Int64) {
	t.Helper()
	key := testkit.Creds().MerchantKey
	digest := sha256.Sum256([]byte("x"))
	for range n {
		k := opensslKey(t, key)
		if _, err := k.SignPKCS1v15SHA256(digest[:]); err != nil {
			t.Fatal(err)
		}
		if freed != nil {
			runtime.AddCleanup(k.native.key, func(c *atomic.Int64) { c.Add(1) }, freed)
		}
	}
}

// collect runs the collector until freed reaches want or, failing that,
// for a bounded number of rounds (finalizers and cleanups run on their own
// goroutines, after a collection finds their objects unreachable).
func collect(freed *atomic.Int64, want int64) {
	for i := 0; i < 500 && (freed == nil || freed.Load() < want); i++ {
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
	}
	debug.FreeOSMemory()
}

func TestOpenSSLDroppedKeysAreFreed(t *testing.T) {
	requireOpenSSL(t)
	const n = 200
	var freed atomic.Int64
	makeAndDrop(t, n, &freed)
	collect(&freed, n)
	if got := freed.Load(); got != n {
		t.Fatalf("%d of %d dropped keys freed", got, n)
	}
}

// The C heap goes back to where it was once the keys are dropped: at most
// a tenth of what the same keys hold while alive stays in use.
func TestOpenSSLDroppedKeysGiveTheirMemoryBack(t *testing.T) {
	requireOpenSSL(t)
	if _, ok := cheap.InUse(); !ok {
		t.Skip("skipped: this C library does not report its heap (glibc 2.33+ does)")
	}
	const n = 200
	var freed atomic.Int64
	makeAndDrop(t, n, &freed) // warms libcrypto's own caches up
	collect(&freed, n)
	base, _ := cheap.InUse()

	key := testkit.Creds().MerchantKey
	digest := sha256.Sum256([]byte("x"))
	alive := make([]*PrivateKey, n)
	for i := range alive {
		alive[i] = opensslKey(t, key)
		alive[i].SignPKCS1v15SHA256(digest[:])
	}
	collect(nil, 0)
	held, _ := cheap.InUse()
	perKey := (held - base) / n
	runtime.KeepAlive(alive)
	if perKey < 1024 {
		t.Fatalf("%d live keys hold %d bytes of C heap each: the measurement does not see them", n, perKey)
	}
	alive = nil

	for range 2 {
		makeAndDrop(t, n, &freed)
	}
	collect(&freed, 4*n)
	after, _ := cheap.InUse()
	t.Logf("C heap: %d bytes per live key; %d bytes more than at the start after 3×%d keys dropped", perKey, after-base, n)
	if after-base > (held-base)/10 {
		t.Errorf("after dropping 3×%d keys the C heap holds %d bytes more than before (%d keys alive held %d)", n, after-base, n, held-base)
	}
}
