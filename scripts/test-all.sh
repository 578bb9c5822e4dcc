#!/bin/sh
# Everything `make test` (and so CI) runs, in order, stopping at the first
# red stage. Each runner prints its own summary line; the last line totals.
set -u
cd "$(dirname "$0")/.."
J=${J:-2}
start=$(date +%s)
stages=0
failed=""

stage() {
	name=$1
	shift
	t0=$(date +%s)
	echo "==> $name"
	if "$@"; then
		echo "==> $name: ok ($(($(date +%s) - t0))s)"
		stages=$((stages + 1))
	else
		echo "==> $name: FAILED ($(($(date +%s) - t0))s)"
		failed="$failed $name"
		echo "test: $stages passed, 1 failed"
		exit 1
	fi
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

stage style make -s check-style
stage gcc-build make -s -j"$J" BUILD=build tests
stage gcc-unit make -s BUILD=build unit
stage gcc-e2e make -s BUILD=build e2e
stage clang-build make -s -j"$J" CC=clang BUILD=build-clang tests
stage clang-unit make -s CC=clang BUILD=build-clang unit
stage asan-build make -s -j"$J" CC=clang SAN=1 OPT='-O1 -g' BUILD=build-asan tests
stage asan-unit make -s CC=clang SAN=1 OPT='-O1 -g' BUILD=build-asan unit
stage asan-e2e make -s CC=clang SAN=1 OPT='-O1 -g' BUILD=build-asan e2e
# servers under valgrind (memcheck): the HTTP core and the vault's role checks
stage valgrind-e2e env CUSTOS_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite" \
	make -s BUILD=build e2e PYTEST_ARGS="tests/e2e/test_http_core.py tests/e2e/test_vault_roles.py" E2E_DIR=
stage fuzz make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-10}"

echo "all stages green in $(($(date +%s) - start))s"
echo "test: $stages passed, 0 failed"
