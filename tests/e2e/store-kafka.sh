#!/bin/sh
# store-kafka: cv-store as a Kafka consumer (-b, -t, -E), against
# cv-broker's mock cluster.  A topic holds each index record once per
# partition (kafka.h): those copies are byte-identical, so the table holds
# each record once, the same rows as storing the stream from a file.
# Offsets are stored once the rows are committed: the same group again
# reads nothing, another group reads everything and adds nothing.  (A
# group's next member waits out the last one's session in the mock, 45 s
# by default: the consumers here take 6 s.)  Run from the repository root
# with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/store-kafka.XXXXXX")
. tests/fixtures/kafka-lib.sh
P=4

need_python sqlite3

# rows DB: table event, row for row, sorted
rows() {
	"$PY" -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute("SELECT * FROM event"):
    print(r)' "$1" | sort
}

start_broker B 4 ev
K="-b $B -X session.timeout.ms=6000 -X heartbeat.interval.ms=500"

cv-sim -N 1000 --loans 10 --seed 5 -o "$T/ev.avro"
cv-sim -N 1000 --loans 10 --seed 5 -b "$B" -T ${KT}ev
ni=$(cv-cat -f csv -C type "$T/ev.avro" | grep -c IndexObs)
read=$((1000 + (P - 1) * ni))
cv-store -d "$T/file.db" "$T/ev.avro"

cv-store -v $K -t ${KT}ev -G ${KT}store -E -d "$T/k.db" 2> "$T/k.err"
check "topic: $read messages, 1000 rows, the copies absorbed" \
    grep -q "read $read = written 1000 + absorbed $((read - 1000)) " \
    "$T/k.err"
rows "$T/file.db" > "$T/file"
rows "$T/k.db" > "$T/k"
check "topic: the same rows as from the file" cmp -s "$T/file" "$T/k"
cv-store -v $K -t ${KT}ev -G ${KT}store -E -d "$T/k.db" \
    2> "$T/k2.err"
check "the same group again: nothing left to read" \
    grep -q "read 0 = written 0 + absorbed 0 " "$T/k2.err"
cv-store -v $K -t ${KT}ev -E -G ${KT}other -d "$T/k.db" 2> "$T/k3.err"
check "another group: everything read, nothing added" \
    grep -q "read $read = written 0 + absorbed $read " "$T/k3.err"
check "-T: refused (status 2)" sh -c \
    "cv-store -b '$B' -T ev -d '$T/x.db' '$T/ev.avro' 2> /dev/null; test \$? -eq 2"
