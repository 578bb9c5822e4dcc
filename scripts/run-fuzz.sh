#!/bin/sh
# Run each libFuzzer target in BUILD/fuzz for SECONDS on its seed corpus
# (fuzz/corpus/NAME, copied so the repo's corpus is not modified).
set -u
build=$1
secs=$2
fail=0
n=0
for t in "$build"/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	work=$(mktemp -d)
	if [ -d "fuzz/corpus/${name#fuzz_}" ]; then
		cp -r "fuzz/corpus/${name#fuzz_}/." "$work/"
	fi
	if "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 "$work" >"$work.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
		echo "  ok    $name ($runs runs in ${secs}s)"
		n=$((n + 1))
	else
		tail -n 40 "$work.log"
		echo "  FAIL  $name"
		fail=$((fail + 1))
	fi
	rm -rf "$work" "$work.log"
done
echo "fuzz: $n passed, $fail failed"
[ "$fail" = 0 ]
