#!/usr/bin/env bash
# Benchmark of issues 5 and 15 (see bench/main.go): builds Caddy with the
# module and the peer (and, where a C compiler and libcrypto are, the OpenSSL
# builds of the floor and of Caddy), runs the floor / plain Caddy / peer /
# module rows and their OpenSSL twins, prints the table and writes
# docs/bench.svg and bench/out/*.json. About 6-8 minutes; pass --quick for a
# ~1 minute smoke run, --profile for pprof files in bench/out/profile/,
# -latency for the latency a legacy app sees over an emulated 30 ms link
# (~1.5 minutes; table + bench/out/latency-*.json).
set -euo pipefail
cd "$(dirname "$0")"
exec go run ./bench "$@"
