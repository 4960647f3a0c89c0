#!/bin/sh
# store-crash: cv-store's transactions and its key under interruption.
#
# (a) A run killed with SIGKILL mid-stream leaves the transactions it
#     committed, a prefix of the stream; running again over the whole
#     stream adds the rest, each record once, in stream order.
# (b) SIGTERM stops a run cleanly: status 0, and the rows in the table are
#     those its summary says it wrote.
# (c) Two runs at once over the same stream into the same new table both
#     succeed (one waits for the other's transactions) and store each
#     record once: between them they write N and absorb N.
#
# Wherever the signals land (even after the end), the checks hold.  The
# stream is a cv-sim Event stream; the tables are compared row for row
# with one stored by a single uninterrupted run (store-check.sh checks
# that one against python3-avro).  Run from the repository root with the
# programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/store-crash.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
N=200000
[ "${VALGRIND:-0}" = 1 ] && N=20000

need_python sqlite3

# count DB: rows of table event
count() {
	"$PY" -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute(
    "SELECT count(*) FROM event").fetchone()[0])' "$1"
}

# rows DB: the table, row for row
rows() {
	"$PY" -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(
        "SELECT * FROM event ORDER BY rowid"):
    print(r)' "$1"
}

cv-sim -N "$N" --loans 50 --seed 3 > "$T/ev.avro"
cv-store -d "$T/ref.db" "$T/ev.avro"
rows "$T/ref.db" > "$T/ref"

# (a) SIGKILL after a moment, then again over the whole.
cv-store -B 1000 -d "$T/a.db" "$T/ev.avro" 2> /dev/null &
pid=$!
sleep 0.3
kill -KILL "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
before=$(count "$T/a.db" 2> /dev/null || echo 0)
echo "# killed after $before of $N rows"
cv-store -v -d "$T/a.db" "$T/ev.avro" 2> "$T/a.err"
check "kill: the second run writes the rest" \
    grep -q "read $N = written $((N - before)) + absorbed $before " "$T/a.err"
rows "$T/a.db" > "$T/a"
check "kill: every record once, in stream order" cmp -s "$T/a" "$T/ref"

# (b) SIGTERM: a clean stop.  The database appears once the signal
# handlers are in place (slow to come under valgrind).
cv-store -v -B 1000 -d "$T/b.db" "$T/ev.avro" 2> "$T/b.err" &
pid=$!
i=0
while [ ! -e "$T/b.db" ] && [ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
done
sleep 0.2
kill -TERM "$pid" 2> /dev/null
wait "$pid"
st=$?
check "term: status 0" test "$st" -eq 0
written=$(sed -n 's/.* written \([0-9]*\) .*/\1/p' "$T/b.err")
echo "# stopped after $written of $N rows"
check "term: the table holds what the summary says was written" \
    test -n "$written" -a "$(count "$T/b.db")" = "$written"

# (c) Two writers at once.
cv-store -v -B 5000 -d "$T/c.db" "$T/ev.avro" 2> "$T/c1.err" &
p1=$!
cv-store -v -B 5000 -d "$T/c.db" "$T/ev.avro" 2> "$T/c2.err" &
p2=$!
wait "$p1"
s1=$?
wait "$p2"
s2=$?
check "together: both runs succeed" test "$s1$s2" = 00
sed 's/^/# /' "$T/c1.err" "$T/c2.err" | grep -v 'peak\|records/s'
check "together: each record stored once" test "$(count "$T/c.db")" = "$N"
rows "$T/c.db" | sort > "$T/c"
sort "$T/ref" > "$T/ref.sorted"
check "together: the same rows as one run" cmp -s "$T/c" "$T/ref.sorted"
w=0 a=0
for f in "$T/c1.err" "$T/c2.err"; do
	w=$((w + $(sed -n 's/.* written \([0-9]*\) .*/\1/p' "$f")))
	a=$((a + $(sed -n 's/.* absorbed \([0-9]*\) .*/\1/p' "$f")))
done
check "together: written $N and absorbed $N between them" \
    test "$w $a" = "$N $N"
