#!/bin/sh
# Run every benchmark binary in BUILD/bench, in name order, and print what
# each prints. Usage: scripts/run-bench.sh BUILD
# Benchmarks report figures beside their targets; they fail only when a
# binary itself fails (crashes or exits non-zero).
set -u
build=${1:-build}
fail=0
n=0
for b in "$build"/bench/*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	name=$(basename "$b")
	echo "== $name"
	if ! "$b"; then
		echo "  FAIL  $name"
		fail=$((fail + 1))
	fi
	n=$((n + 1))
done
if [ "$n" = 0 ]; then
	echo "bench: no benchmarks in $build/bench"
	exit 1
fi
echo "bench: $n run, $fail failed"
[ "$fail" = 0 ]
