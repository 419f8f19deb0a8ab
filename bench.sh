#!/usr/bin/env bash
# Benchmark of issue 5 (see bench/main.go): builds Caddy with the module and
# the peer, runs the floor / plain Caddy / peer / module rows, prints the table
# and writes docs/bench.svg and bench/out/*.json. About 5-6 minutes; pass
# --quick for a ~30 s smoke run, --profile for pprof files in bench/out/profile/,
# -latency for the latency a legacy app sees over an emulated 30 ms link
# (~1.5 minutes; table + bench/out/latency-*.json).
set -euo pipefail
cd "$(dirname "$0")"
exec go run ./bench "$@"
