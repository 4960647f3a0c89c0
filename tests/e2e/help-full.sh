#!/bin/sh
# help-full: what a program prints and exits on (-h, --help, cv-grade,
# cv-quality and cv-warn -p, cv-cat -W) is checked for a write error like
# any output: into /dev/full it used to exit 0 with no message.  Each must exit 1
# with "prog: stdout: No space left on device".  Every program in BIN.
. tests/e2e/common.inc
F=tests/fixtures
n=0
for p in "$BIN"/cv-*; do
	name=$(basename "$p")
	set -- "-h" "--help"
	case $name in
	cv-grade|cv-quality|cv-warn) set -- "$@" "-p" ;;
	cv-cat) set -- "$@" "-W $F/gw-grade-rate.avro" ;;
	esac
	for a in "$@"; do
		# shellcheck disable=SC2086
		"$name" $a > /dev/full 2> "$TMPDIR/err" < /dev/null
		st=$?
		n=$((n + 1))
		if [ $st -eq 1 ] && [ "$(cat "$TMPDIR/err")" = \
		    "$name: stdout: No space left on device" ]; then
			echo "ok - $name $a > /dev/full: status 1 and the reason"
		else
			echo "not ok - $name $a > /dev/full: status $st, stderr: $(head -c 200 "$TMPDIR/err")"
		fi
	done
done
[ $n -ge 22 ] || echo "not ok - only $n runs: programs missing from $BIN"
