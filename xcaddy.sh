#!/usr/bin/env bash
# Builds ./caddy with this module from this working tree, on Caddy v2.11.9,
# with the developer tools (caddy wechatpay demo|sandbox|keygen|notify).
# --production leaves the developer tools out, as a production build
# (xcaddy build --with github.com/caddy-wechatpay/caddy-wechatpay) does.
# Installs xcaddy v0.4.5 with `go install` when it is missing. Extra
# arguments go to `xcaddy build` (e.g. --with github.com/other/plugin).
set -euo pipefail
cd "$(dirname "$0")"

XCADDY_VERSION=v0.4.5
CADDY_VERSION=v2.11.9
MODULE=$(go list -m)

gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"

if ! command -v xcaddy >/dev/null 2>&1; then
	echo "installing xcaddy $XCADDY_VERSION" >&2
	go install "github.com/caddyserver/xcaddy/cmd/xcaddy@$XCADDY_VERSION"
fi

# The developer tools are a package of this module: the unversioned
# replace lets xcaddy resolve it from this directory, as it does the module.
devtools=(--with "$MODULE/devtools" --replace "$MODULE=.")
args=()
for a in "$@"; do
	case "$a" in
	--production) devtools=() ;;
	*) args+=("$a") ;;
	esac
done

# The zero pseudo-version pins the module to this directory: a proxy that
# answers an unpublished module path with a refusal would otherwise make
# xcaddy's `go get` fail.
xcaddy build "$CADDY_VERSION" \
	--output ./caddy \
	--with "$MODULE@v0.0.0-00010101000000-000000000000=." \
	"${devtools[@]}" \
	"${args[@]}"
./caddy list-modules | grep -q '^http.handlers.wechatpay$'
echo "built ./caddy with http.handlers.wechatpay ($(./caddy version | head -n1))" >&2
