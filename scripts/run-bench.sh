#!/bin/sh
# Run every benchmark, in name order, and print what each prints.
# Usage: scripts/run-bench.sh BUILD
#   BUILD/bench/*      benchmark binaries, run as they are (but
#                      loadgen_*: load generators the scripts drive)
#   bench/*.sh         scripts, run with the build's custos binary as their
#   bench/*.py         one argument (.py under /usr/bin/python3)
# Benchmarks report figures beside their targets; they fail only when a
# benchmark itself fails (crashes or exits non-zero).
set -u
build=${1:-build}
custos=$(cd "$build" 2>/dev/null && pwd)/custos
fail=0
n=0
run() {
	name=$1
	shift
	echo "== $name"
	if ! "$@"; then
		echo "  FAIL  $name"
		fail=$((fail + 1))
	fi
	n=$((n + 1))
}
for b in "$build"/bench/*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	case $(basename "$b") in loadgen_*) continue ;; esac
	run "$(basename "$b")" "$b"
done
for s in bench/*.sh bench/*.py; do
	[ -f "$s" ] || continue
	if [ ! -x "$custos" ]; then
		echo "bench: $custos is not built; skipping $s"
		fail=$((fail + 1))
		continue
	fi
	case $s in
	*.py) run "$(basename "$s")" /usr/bin/python3 "$s" "$custos" ;;
	*) run "$(basename "$s")" /bin/sh "$s" "$custos" ;;
	esac
done
if [ "$n" = 0 ]; then
	echo "bench: no benchmarks in $build/bench or bench/"
	exit 1
fi
echo "bench: $n run, $fail failed"
[ "$fail" = 0 ]
