#!/bin/sh
# Run every cmocka unit test binary given; print each one's summary and a
# closing "unit: N passed, N failed" line. Exit non-zero on any failure.
set -u
build=$1
shift
passed=0
failed=0
bad=""
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1 # crashed or failed outside cmocka's accounting
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	name=${t#"$build"/tests/unit/}
	if [ "$rc" = 0 ]; then
		printf '%s\n' "$out" | grep -E '^(wycheproof|vectors|sigv4):' || true
		echo "  ok    $name ($p tests)"
	else
		printf '%s\n' "$out"
		echo "  FAIL  $name (exit $rc)"
		bad="$bad $name"
	fi
done
echo "unit ($build): $passed passed, $failed failed"
[ "$failed" = 0 ] && [ -z "$bad" ]
