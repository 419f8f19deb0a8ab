#!/usr/bin/env bash
# Builds ./caddy with this module from this working tree, on Caddy v2.11.9,
# with the developer tools (caddy wechatpay demo|sandbox|keygen|notify).
# Installs xcaddy v0.4.5 with `go install` when it is missing.
#
#   ./xcaddy.sh [--production] [--openssl] [xcaddy build arguments...]
#
# --production leaves the developer tools out, as a production build
# (xcaddy build --with github.com/caddy-wechatpay/caddy-wechatpay) does.
#
# --openssl (taken by this script, not passed on) builds the OpenSSL
# backend: cgo on and the build tag openssl, so that the merchant's RSA
# signatures go through the machine's libcrypto.so.3, loaded at run time
# (the binary still starts without it, and signs with Go's crypto/rsa).
# It needs a C compiler. Other arguments go to `xcaddy build` (e.g. --with
# github.com/other/plugin); --output PATH (relative to this directory)
# changes where the binary goes, ./caddy by default, and the binary checked
# after the build is the one built there.
set -euo pipefail
cd "$(dirname "$0")"

XCADDY_VERSION=v0.4.5
CADDY_VERSION=v2.11.9
MODULE=$(go list -m)

openssl=0
output=./caddy
# The developer tools are a package of this module: the unversioned
# replace lets xcaddy resolve it from this directory, as it does the module.
devtools=(--with "$MODULE/devtools" --replace "$MODULE=.")
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--openssl) openssl=1 ;;
	--production) devtools=() ;;
	--output)
		[ $# -ge 2 ] || { echo "xcaddy.sh: --output needs a path" >&2; exit 2; }
		output=$2
		shift
		;;
	--output=*) output=${1#--output=} ;;
	*) args+=("$1") ;;
	esac
	shift
done
case "$output" in
/* | ./* | ../*) ;;
*) output=./$output ;; # run it as a path, not looked up in PATH
esac

if [ "$openssl" = 1 ]; then
	# xcaddy v0.4.5 turns cgo on only when CGO_ENABLED=1, and appends
	# XCADDY_GO_BUILD_FLAGS (split like a shell would) to its go commands;
	# when that variable is set it drops its own defaults (-ldflags "-w -s"
	# -trimpath -tags nobadger,nomysql,nopgx), so they are repeated here.
	export CGO_ENABLED=1
	if [ -z "${XCADDY_GO_BUILD_FLAGS:-}" ]; then
		export XCADDY_GO_BUILD_FLAGS="-ldflags='-w -s' -trimpath -tags=nobadger,nomysql,nopgx,openssl"
	elif [[ "$XCADDY_GO_BUILD_FLAGS" == *-tags* ]]; then
		echo "xcaddy.sh: --openssl with XCADDY_GO_BUILD_FLAGS that set -tags: add openssl to those tags instead" >&2
		exit 2
	else
		export XCADDY_GO_BUILD_FLAGS="$XCADDY_GO_BUILD_FLAGS -tags=openssl"
	fi
	if ! command -v "$(go env CC)" >/dev/null 2>&1; then
		echo "xcaddy.sh: --openssl needs a C compiler ($(go env CC) not found)" >&2
		exit 1
	fi
fi

gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"

if ! command -v xcaddy >/dev/null 2>&1; then
	echo "installing xcaddy $XCADDY_VERSION" >&2
	go install "github.com/caddyserver/xcaddy/cmd/xcaddy@$XCADDY_VERSION"
fi

# The zero pseudo-version pins the module to this directory: a proxy that
# answers an unpublished module path with a refusal would otherwise make
# xcaddy's `go get` fail.
xcaddy build "$CADDY_VERSION" \
	--output "$output" \
	--with "$MODULE@v0.0.0-00010101000000-000000000000=." \
	${devtools[@]+"${devtools[@]}"} \
	${args[@]+"${args[@]}"}
if ! "$output" list-modules | grep -q '^http.handlers.wechatpay$'; then
	echo "xcaddy.sh: $output does not list http.handlers.wechatpay" >&2
	exit 1
fi
backend="Go crypto/rsa"
if [ "$openssl" = 1 ]; then
	# The tag and cgo must be in the binary's build settings.
	settings=$(go version -m "$output")
	if ! grep -Eq '^\s+build\s+-tags=(.*,)?openssl(,|$)' <<<"$settings" ||
		! grep -Eq '^\s+build\s+CGO_ENABLED=1$' <<<"$settings"; then
		echo "xcaddy.sh: $output was not built with cgo and the openssl tag:" >&2
		grep -E '^\s+build\s+(-tags|CGO_ENABLED)' <<<"$settings" >&2 || true
		exit 1
	fi
	backend="OpenSSL (libcrypto at run time, else Go crypto/rsa)"
fi
echo "built $output with http.handlers.wechatpay, RSA signatures: $backend ($("$output" version | head -n1))" >&2
