#!/bin/sh
# kafka-errors: three delivery faults first seen on the mock, on a Kafka
# broker of the test's own (scripts/kafka; 2 partitions a topic).
#
#   a. Under the default -e fail, the record that stopped the run stays
#      uncommitted: topic conf holds Confluent-framed Event records (ids
#      from a file); `cv-cat -t conf -G g -E` without --schema-ids stops
#      at the first with exit 1, and the rerun in the same group with
#      --schema-ids shows every message of the topic (as a fresh group
#      reads them), exit 0.  (The stopping record's
#      offset used to be committed: the rerun read nothing of it.)  The
#      same for a record a filter rejects itself: cv-grade -e fail stops
#      at a NaN, and cv-grade -e skip in the group reads it again and
#      rejects it.
#   b. No broker answering (-b 127.0.0.1:1): every consumer, stateless
#      (cv-cat, cv-store, cv-predict, cv-score) or keeping state
#      (cv-features, cv-grade, cv-warn), and a producer (cv-cat -T), exits
#      1 within 20 s saying no broker answered.  (The stateless ones used
#      to wait for ever.)
#   c. Reading a topic that does not exist: exit 1 with "nosuch: no such
#      topic", quickly, and the topic is still not there (the mock created
#      it and the reader ended with nothing, exit 0).
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-errors.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_kcat
start_broker B 2 conf,nan

# a. The stopping record stays uncommitted.
printf '7 cvpipe.Event\n' > "$T/ids"
cv-sim -N 1500 --seed 3 -o "$T/sim.avro"
cv-cat -b "$B" -T ${KT}conf -f avro --framing confluent \
    --schema-ids "$T/ids" "$T/sim.avro"
$TO cv-cat -b "$B" -t ${KT}conf -G ${KT}all -E -f csv --schema-ids "$T/ids" |
    sed 1d > "$T/all.rows"
$TO cv-cat -b "$B" -t ${KT}conf -G ${KT}g -E -f csv > "$T/a1.csv" \
    2> "$T/a1.err"
sa1=$?
$TO cv-cat -b "$B" -t ${KT}conf -G ${KT}g -E -f csv --schema-ids "$T/ids" \
    > "$T/a2.csv" 2> "$T/a2.err"
sa2=$?
sed 1d "$T/a1.csv" > "$T/a1.rows"
sed 1d "$T/a2.csv" > "$T/a2.rows"
cat "$T/a1.rows" "$T/a2.rows" > "$T/a.rows"
head -2 "$T/a1.err" | sed 's/^/# a: first run: /'
echo "# a: $(wc -l < "$T/all.rows") messages; first run $(wc -l < \
    "$T/a1.rows") out (status $sa1), rerun $(wc -l < "$T/a2.rows") (status $sa2)"
checkx "a: without --schema-ids the first record read stops the run, exit 1, naming its place" \
    '[ $sa1 -eq 1 ] && grep -q "conf\[[01]\]@[0-9]*: .*schema id 7" "$T/a1.err"'
checkx "a: the rerun with --schema-ids in the same group reads the record that stopped the first, exit 0: every record once" \
    '[ $sa2 -eq 0 ] && [ -s "$T/all.rows" ] && msets_equal "$T/a.rows" "$T/all.rows"'

cv-cat -b "$B" -T ${KT}nan -f avro tests/fixtures/gw-grade-nan.avro
nnan=$(cv-cat tests/fixtures/gw-grade-nan.avro | wc -l)
$TO cv-grade -b "$B" -t ${KT}nan -G ${KT}gn -E -o /dev/null 2> "$T/g1.err"
sg1=$?
stopped=$(sed -n 's/^cv-grade: \(.*nan\[[01]\]@[0-9]*\): .*NaN$/\1/p' "$T/g1.err")
$TO cv-grade -b "$B" -t ${KT}nan -G ${KT}gn -E -e skip -o /dev/null \
    2> "$T/g2.err"
sg2=$?
sed 's/^/# a: cv-grade: /' "$T/g1.err" "$T/g2.err" | head -6
checkx "a: cv-grade -e fail stops at the NaN (exit 1); -e skip in the group reads it again and rejects it" \
    '[ $sg1 -eq 1 ] && [ $sg2 -eq 1 ] && [ -n "$stopped" ] && grep -qF "cv-grade: $stopped: " "$T/g2.err" && [ $nnan -ge 1 ]'

# b. No broker: every kind of stage, at once.
: > "$T/b.list"
nob() {	# nob NAME COMMAND...: run it in the background against 127.0.0.1:1
	n=$1
	shift
	echo "$n" >> "$T/b.list"
	(
		t0=$(date +%s)
		timeout 60 "$@" -b 127.0.0.1:1 > /dev/null 2> "$T/b.$n.err" \
		    < /dev/null
		echo "$? $(($(date +%s) - t0))" > "$T/b.$n.st"
	) &
}
nob cat cv-cat -t x -E
nob store cv-store -d "$T/s.db" -t x -E
nob predict cv-predict -t x -E
nob score cv-score -t x -E
nob features cv-features -t x -E
nob grade cv-grade -t x -E
nob warn cv-warn -t x -E
nob produce cv-cat -f avro -T x "$T/sim.avro"
wait
while read -r n; do
	read -r st secs < "$T/b.$n.st"
	echo "# b: $n: status $st after $secs s: $(grep -v '^%' "$T/b.$n.err" |
	    tail -1)"
	checkx "b: -b 127.0.0.1:1: $n exits 1 within 20 s, saying no broker answered (status $st, $secs s)" \
	    '[ "$st" = 1 ] && [ "$secs" -le 20 ] && grep -q "no broker answered" "$T/b.$n.err"'
done < "$T/b.list"

# c. A topic that does not exist is not made by reading it.
t0=$(date +%s)
$TO cv-cat -b "$B" -t ${KT}nosuch -E > "$T/c.out" 2> "$T/c.err"
sc=$?
secs=$(($(date +%s) - t0))
grep -v '^%' "$T/c.err" | head -2 | sed 's/^/# c: /'
checkx "c: reading a missing topic: exit 1 within 20 s, \"no such topic\" (status $sc, $secs s)" \
    '[ $sc -eq 1 ] && [ $secs -le 20 ] && grep -q "nosuch: no such topic" "$T/c.err" && [ ! -s "$T/c.out" ]'
$TO cv-grade -b "$B" -t ${KT}nosuch -E -o /dev/null 2> "$T/c2.err"
sc2=$?
checkx "c: the same for a stage keeping state (cv-grade, status $sc2)" \
    '[ $sc2 -eq 1 ] && grep -q "nosuch: no such topic" "$T/c2.err"'
checkx "c: the topic is still not there (kcat -L)" \
    '! $TO kcat -L -b "$B" | grep -q "topic \"${KT}nosuch\""'
