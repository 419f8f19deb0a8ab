#!/usr/bin/env bash
# The second, tagged test pass for CI: vets and tests the whole module with
# the OpenSSL backend (build tag openssl, cgo on), so that the merchant's
# signatures and decryptions go through libcrypto in every test that makes
# them. Prints one line and exits 0 when this machine cannot run it: no C
# compiler, or no libcrypto.so.3 for the tests to load.
#
#   scripts/test-openssl.sh [go test arguments...]   (default: -count=1)
set -euo pipefail
cd "$(dirname "$0")/.."

cc=$(go env CC)
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "test-openssl: skipped: no C compiler ($cc not found)"
	exit 0
fi
if ! { ldconfig -p 2>/dev/null | grep -q 'libcrypto\.so\.3 '; } &&
	! compgen -G '/usr/lib*/libcrypto.so.3' >/dev/null &&
	! compgen -G '/usr/lib*/*/libcrypto.so.3' >/dev/null &&
	! compgen -G '/lib*/*/libcrypto.so.3' >/dev/null; then
	echo "test-openssl: skipped: libcrypto.so.3 not found"
	exit 0
fi
[ $# -gt 0 ] || set -- -count=1

export CGO_ENABLED=1
# libcrypto is here: the OpenSSL tests fail, rather than skip, if it does
# not load.
export WECHATPAY_TEST_REQUIRE_OPENSSL=1
echo "test-openssl: go vet -tags openssl ./... && go test -tags openssl $* ./..."
go vet -tags openssl ./...
go test -tags openssl "$@" ./...
