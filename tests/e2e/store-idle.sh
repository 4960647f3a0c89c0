#!/bin/sh
# store-idle: rows reach the table while the input pipe is still open and
# quiet (cv-store commits its batch whenever its input is about to wait,
# run_on_idle()), not only when the batch fills or the input ends.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/store-idle.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

cv-ingest -O -M pipelines/maps/auction.map -e skip -o "$T/ev.avro" \
    pipelines/data/auction_honda_odyssey_3500.csv 2> /dev/null
n=$(cv-cat -f csv -C type "$T/ev.avro" | sed 1d | wc -l)
# This script holds the pipe open (fd 3) until it has looked, up to 20 s.
mkfifo "$T/fifo"
cv-store -d "$T/s.db" -n ev < "$T/fifo" &
pid=$!
exec 3> "$T/fifo"
cat "$T/ev.avro" >&3
got=0 i=0
while [ $i -lt 200 ]; do
	got=$(sqlite3 "$T/s.db" 'select count(*) from ev' 2> /dev/null ||
	    echo 0)
	[ "$got" = "$n" ] && break
	sleep 0.1
	i=$((i + 1))
done
check "all $n records visible while the input is open and quiet ($got)" \
    test "$got" = "$n"
exec 3>&-
wait $pid
check "cv-store ends with its input: status 0" test $? -eq 0
