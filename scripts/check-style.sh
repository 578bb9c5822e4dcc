#!/bin/sh
# House rules that a robot can check: clang-format is applied to every C file,
# and no banned function (STYLE.md convention 6) appears in src/.
set -u
status=0
files=$(find src tests bench fuzz -name '*.[ch]' | sort)
if command -v clang-format >/dev/null 2>&1; then
	if ! clang-format --dry-run -Werror $files 2>/tmp/custos-format.$$; then
		grep -E '^[^ :]+\.[ch]:[0-9]+:[0-9]+: ' /tmp/custos-format.$$ | cut -d: -f1 | sort -u | sed 's/^/  not formatted: /'
		echo "check-style: run 'make format'"
		status=1
	fi
	rm -f /tmp/custos-format.$$
fi
banned='\b(atoi|atol|sscanf|strcpy|strcat|sprintf|vsprintf|gets|strtok|tmpnam)[[:space:]]*\('
hits=$(grep -nE "$banned" $(find src -name '*.[ch]') | grep -v 'banned-ok' || true)
if [ -n "$hits" ]; then
	echo "$hits" | sed 's/^/  banned call: /'
	status=1
fi
[ "$status" = 0 ] && echo "check-style: ok ($(echo $files | wc -w) files)"
exit $status
