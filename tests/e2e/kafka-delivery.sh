#!/bin/sh
# kafka-delivery: what README, Kafka promises about delivery, on a
# cv-broker of its own (4 partitions a topic).  The records: the Odyssey
# auction sales, ingested in ten pieces of 350 rows.
#
#   - At-least-once: `cv-cat -t ev -G g1 -f avro -T out` (no -E) runs while
#     the pieces arrive; it is stopped after some records with SIGTERM
#     (exit 0, and since it commits what it delivered, no duplicates), then
#     run again in the same group with -E: `out` holds every input record,
#     compared as multisets (losses and duplicates counted and printed).
#     The same with kill -9: duplicates allowed, losses not.  Without
#     -f avro, -T must still write the topic, or be refused (status 2).
#   - -E ends once every partition is at its end: with three of four
#     partitions empty, with all empty, and with two instances sharing a
#     group.
#   - --from/--until: only records of the window are read (librdkafka
#     2.0.2's mock cannot look offsets up by timestamp, so the scan runs
#     here), also when an index value that was never published
#     (published_at null) sits in the topic.
#   - A bad message is rejected with topic[partition]@offset and exit 1;
#     with -e skip the rest is read (still exit 1): a message that is not
#     single-object encoding (kcat -P), one whose body is cut short, one
#     with bytes after its record.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-delivery.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_kcat
DATA=pipelines/data/auction_honda_odyssey_3500.csv
MAP=pipelines/maps/auction.map
[ -f "$DATA" ] || { echo "skip: $DATA absent"; exit 77; }

# Ten pieces; cv-ingest rejects four rows with placeholder odometers.
sed 1d "$DATA" | split -l 350 -d - "$T/piece."
for f in "$T"/piece.0?; do
	{ head -1 "$DATA"; cat "$f"; } > "$f.csv"
	cv-ingest -e skip -M $MAP -o "$f.avro" "$f.csv" 2> /dev/null
done
cv-cat -f csv "$T"/piece.0?.avro | sed 1d > "$T/all.csv"
cv-ingest -O -e skip -M $MAP -o "$T/sorted.avro" "$DATA" 2> /dev/null
cv-cat -f csv "$T/sorted.avro" > "$T/sorted.csv"
n=$(wc -l < "$T/all.csv")

start_broker B 4 ev,out,ev9,out9,onekey,empty,win,winidx,bad,trunc,extra,json

# put TOPIC N...: pieces N... to TOPIC, a third of a second apart
put() {
	topic=$1
	shift
	for i in "$@"; do
		cv-cat -b "$B" -T "$KT$topic" -f avro "$T/piece.0$i.avro"
		sleep 0.3
	done
}

# wait_for TOPIC N: until TOPIC has more than N messages (20 s at most)
wait_for() {
	i=0
	while [ "$(count_msgs "$B" "$1")" -le "$2" ] && [ $i -lt 60 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# at_least_once IN OUT SIGNAL SECONDS [-X K=V]: the scenario above: the
# first three pieces, then the rest while the copy runs; the signal once
# some of the rest is out, SECONDS after the first three.  Writes
# $T/OUT.vars: stop (the status of the stopped run), again (of the run
# with -E), before (records in OUT when it stopped), lost and dups.
at_least_once() {
	put "$1" 0 1 2
	first=$(cv-cat -f csv "$T"/piece.0[012].avro | sed 1d | wc -l)
	cv-cat -b "$B" -t "$KT$1" -G "${KT}g-$1" $FAST_GROUP ${5:-} ${6:-} \
	    -f avro -T "$KT$2" 2> "$T/$1.err" &
	pid=$!
	wait_for "$2" 0
	sleep "$4"
	put "$1" 3 4 5 6 7 8 9 &
	feeder=$!
	wait_for "$2" "$first"
	kill -"$3" $pid
	wait $pid 2> /dev/null
	stop=$?
	wait $feeder
	before=$(count_msgs "$B" "$2")
	$TO cv-cat -b "$B" -t "$KT$1" -G "${KT}g-$1" $FAST_GROUP -E -f avro \
	    -T "$KT$2" 2> "$T/$1.err2"
	again=$?
	$TO cv-cat -b "$B" -t "$KT$2" -E -G "${KT}check-$2" -f csv \
	    2> /dev/null |
	    sed 1d > "$T/$2.csv"
	sort "$T/all.csv" > "$T/all.sorted.$2"
	sort "$T/$2.csv" > "$T/$2.sorted"
	lost=$(comm -23 "$T/all.sorted.$2" "$T/$2.sorted" | wc -l)
	dups=$(comm -13 "$T/all.sorted.$2" "$T/$2.sorted" | wc -l)
	echo "stop=$stop again=$again before=$before lost=$lost dups=$dups" \
	    "total=$(wc -l < "$T/$2.csv")" > "$T/$2.vars"
}

# 1. At-least-once, both at once.  With kill -9 offsets are committed by
# librdkafka's timer after each checkpoint (a second apart): here every
# 0.2 s, and the kill comes at least 1.5 s after the first records, so
# the restart need not repeat everything.
at_least_once ev out TERM 0 &
a1=$!
at_least_once ev9 out9 KILL 1.5 -X auto.commit.interval.ms=200 &
a2=$!
wait $a1
wait $a2
. "$T/out.vars"
echo "# SIGTERM: $before records in out when stopped, $total at the end" \
    "for $n: $lost lost, $dups duplicates"
checkx "SIGTERM mid-stream: exit 0 (status $stop, $before of $n records out)" \
    '[ $stop -eq 0 ] && [ $before -gt 0 ]'
checkx "after SIGTERM and a run with -E: every record in out (status $again, $lost lost)" \
    '[ $again -eq 0 ] && [ $lost -eq 0 ]'
checkx "a clean stop commits what it delivered: no duplicates ($dups)" \
    '[ $dups -eq 0 ]'
. "$T/out9.vars"
echo "# kill -9: $before records in out9 when killed, $total at the end" \
    "for $n: $lost lost, $dups duplicates"
checkx "after kill -9 and a run with -E: every record in out9 (status $stop then $again, $lost lost, $dups duplicates)" \
    '[ $stop -eq 137 ] && [ $again -eq 0 ] && [ $lost -eq 0 ]'

# -T without -f avro (cv-cat's default format is json).
cv-cat -b "$B" -T ${KT}json "$T/piece.00.avro" > "$T/json.out" 2> "$T/json.err"
st=$?
m=$(count_msgs "$B" json)
echo "# cv-cat -T json piece.00.avro: status $st, $m messages in json," \
    "$(wc -c < "$T/json.out") bytes on stdout"
checkx "cv-cat -T without -f avro writes the topic, or refuses (status 2)" \
    '[ $st -eq 2 ] || { [ $st -eq 0 ] && [ $m -gt 0 ] && [ ! -s "$T/json.out" ]; }'

# 2. -E: one segment fills one partition of four; an empty topic; two
# instances in one group.
cv-cat -f csv "$T/sorted.avro" |
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; print; next }
	$col["VehicleObs.segment"] == "honda/odyssey/touring"' > "$T/one.csv"
cv-ingest -M tests/fixtures/features-vehicle.map -o "$T/one.avro" \
    "$T/one.csv"
cv-cat -b "$B" -T ${KT}onekey -f avro "$T/one.avro"
parts=$($TO kcat -C -b "$B" -t ${KT}onekey -e -q -f '%p\n' | sort -u | wc -l)
$TO cv-cat -b "$B" -t ${KT}onekey -E -G ${KT}e1 -f csv > "$T/e1.csv" \
    2> "$T/e1.err" &
p1=$!
$TO cv-cat -b "$B" -t ${KT}empty -E -G ${KT}e2 -f csv > "$T/e2.csv" \
    2> "$T/e2.err" &
p2=$!
$TO cv-cat -b "$B" -t ${KT}onekey -E -G ${KT}e3 $FAST_GROUP -f csv \
    > "$T/e3a.csv" 2> "$T/e3a.err" &
p3=$!
$TO cv-cat -b "$B" -t ${KT}onekey -E -G ${KT}e3 $FAST_GROUP -f csv \
    > "$T/e3b.csv" 2> "$T/e3b.err" &
p4=$!
wait $p1; s1=$?
wait $p2; s2=$?
wait $p3; s3=$?
wait $p4; s4=$?
checkx "-E with records in $parts of 4 partitions: ends with all of them (status $s1)" \
    '[ $s1 -eq 0 ] && cmp -s "$T/e1.csv" "$T/one.csv"'
checkx "-E on an empty topic: ends, nothing out (status $s2)" \
    '[ $s2 -eq 0 ] && [ ! -s "$T/e2.csv" ]'
cat "$T/e3a.csv" "$T/e3b.csv" | grep -v '^type,' | sort > "$T/e3.sorted"
sed 1d "$T/one.csv" | sort > "$T/one.sorted"
lost=$(comm -23 "$T/one.sorted" "$T/e3.sorted" | wc -l)
dups=$(comm -13 "$T/one.sorted" "$T/e3.sorted" | wc -l)
# A partition revoked while its offsets are being committed comes back
# from the last commit: the mock refuses commits during a rebalance
# (REBALANCE_IN_PROGRESS), so duplicates are possible, losses are not.
echo "# two instances: $(grep -vc '^type,' "$T/e3a.csv") and" \
    "$(grep -vc '^type,' "$T/e3b.csv") records, $dups duplicates;" \
    "$(cat "$T/e3a.err" "$T/e3b.err" | grep -c COMMITFAIL) failed commits"
checkx "-E, two instances in one group: both end, every record read (status $s3 $s4, $lost lost)" \
    '[ $s3 -eq 0 ] && [ $s4 -eq 0 ] && [ $lost -eq 0 ]'

# 3. --from/--until over the sales in event time.
cv-cat -b "$B" -T ${KT}win -f avro "$T/sorted.avro"
cv-ingest -b "$B" -T ${KT}winidx -M tests/fixtures/kafka-index.map \
    tests/fixtures/kafka-index.csv
cv-cat -b "$B" -T ${KT}winidx -f avro "$T/sorted.avro"
# window FROM UNTIL CSV: the records of CSV with FROM <= event time <
# UNTIL (times as cv-cat prints them, compared as text)
window() {
	awk -F, -v from="$1" -v until="$2" '
	NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	{
		t = $col["VehicleObs.observed_at"]
		if ($1 == "IndexObs") {
			t = $col["IndexObs.published_at"]
			if (t == "")
				t = $col["IndexObs.period"]
		}
		if ((from == "" || t >= from) && (until == "" || t < until))
			print
	}' "$3"
}
$TO cv-cat -b "$B" -t ${KT}win -E -G ${KT}w1 --from 2015-02-01 \
    --until 2015-03-01 \
    -f csv > "$T/w1.csv" 2> "$T/w1.err" &
p1=$!
$TO cv-cat -b "$B" -t ${KT}win -E -G ${KT}w2 --from 2015-05-01 -f csv \
    > "$T/w2.csv" \
    2> "$T/w2.err" &
p2=$!
$TO cv-cat -b "$B" -t ${KT}win -E -G ${KT}w3 --until 2015-01-01 -f csv \
    > "$T/w3.csv" \
    2> "$T/w3.err" &
p3=$!
$TO cv-cat -b "$B" -t ${KT}winidx -E -G ${KT}w4 --from 2015-02-01 \
    --until 2015-03-01 \
    -f csv > "$T/w4.csv" 2> "$T/w4.err" &
p4=$!
wait $p1; s1=$?
wait $p2; s2=$?
wait $p3; s3=$?
wait $p4; s4=$?
i=1
for w in 2015-02-01,2015-03-01 2015-05-01, ,2015-01-01; do
	window "${w%,*}" "${w#*,}" "$T/sorted.csv" > "$T/w$i.want"
	sed 1d "$T/w$i.csv" > "$T/w$i.got"
	eval "st=\$s$i"
	checkx "--from '${w%,*}' --until '${w#*,}' -E: the $(wc -l < "$T/w$i.want") records of the window (status $st)" \
	    '[ $st -eq 0 ] && [ -s "$T/w$i.want" ] && msets_equal "$T/w$i.got" "$T/w$i.want"'
	i=$((i + 1))
done
# In winidx: four index values (two never published), then the sales.
# An index value counts once a partition.
{ cv-ingest -M tests/fixtures/kafka-index.map tests/fixtures/kafka-index.csv |
      cv-cat -f csv | awk 'NR == 1 { print; next }
      { for (i = 0; i < 4; i++) print }'
  sed 1d "$T/sorted.csv"; } > "$T/winidx.csv"
window 2015-02-01 2015-03-01 "$T/winidx.csv" > "$T/w4.want"
sed 1d "$T/w4.csv" > "$T/w4.got"
echo "# winidx, --from 2015-02-01 --until 2015-03-01: $(wc -l < \
    "$T/w4.got") records read, $(wc -l < "$T/w4.want") in the window"
checkx "--from/--until with unpublished index values in the topic: the records of the window (status $s4)" \
    '[ $s4 -eq 0 ] && msets_equal "$T/w4.got" "$T/w4.want"'
if "$PY" -c 'import confluent_kafka' 2> /dev/null; then
	"$PY" - "$B" "$KT" <<'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1],
              "group.id": sys.argv[2] + "probe"})
r = c.offsets_for_times([TopicPartition(sys.argv[2] + "win", 0,
                                        1422748800000)], 10)
print("# the broker's offset of win[0] at 2015-02-01: %d%s" % (r[0].offset,
      " (no lookup by timestamp: cv-cat scanned)" if r[0].offset < 0 else ""))
c.close()
EOF
fi

# 4. Bad messages: a line from kcat -P between two pieces, on partition 0.
cv-cat -b "$B" -T ${KT}bad -f avro "$T/piece.00.avro"
echo "not an avro record" | kcat -P -b "$B" -t ${KT}bad -p 0
cv-cat -b "$B" -T ${KT}bad -f avro "$T/piece.01.avro"
off=$($TO kcat -C -b "$B" -t ${KT}bad -p 0 -e -q -f '%o %s\n' |
    sed -n 's/^\([0-9]*\) not an avro record$/\1/p')
$TO cv-cat -b "$B" -t ${KT}bad -E -G ${KT}b1 -f csv > "$T/b1.csv" \
    2> "$T/b1.err" &
p1=$!
$TO cv-cat -b "$B" -t ${KT}bad -E -G ${KT}b2 -e skip -f csv > "$T/b2.csv" \
    2> "$T/b2.err" &
p2=$!
# A message cut short after the fingerprint and 4 bytes of body, and one
# with two bytes after its record, each before a good one (files given to
# kcat -P are sent whole, one message each).
$TO kcat -C -b "$B" -t ${KT}bad -p 0 -o 0 -c 1 -e -q -D '' -f '%s' \
    > "$T/good.bin"
head -c 14 "$T/good.bin" > "$T/trunc.bin"
{ cat "$T/good.bin"; printf '\0\0'; } > "$T/extra.bin"
kcat -P -b "$B" -t ${KT}trunc -p 0 "$T/trunc.bin" "$T/good.bin"
kcat -P -b "$B" -t ${KT}extra -p 0 "$T/extra.bin" "$T/good.bin"
$TO cv-cat -b "$B" -t ${KT}trunc -E -G ${KT}b3 -e skip -f csv > "$T/b3.csv" \
    2> "$T/b3.err" &
p3=$!
$TO cv-cat -b "$B" -t ${KT}extra -E -G ${KT}b4 -e skip -f csv > "$T/b4.csv" \
    2> "$T/b4.err" &
p4=$!
wait $p1; s1=$?
wait $p2; s2=$?
wait $p3; s3=$?
wait $p4; s4=$?
sed 's/^/# /' "$T/b1.err" | head -2
checkx "a message kcat -P wrote: rejected as bad[0]@$off, exit 1 (status $s1)" \
    '[ $s1 -eq 1 ] && [ -n "$off" ] &&
    grep -q "^cv-cat: ${KT}bad\[0\]@$off: not Avro single-object encoding" \
    "$T/b1.err"'
cv-cat -f csv "$T/piece.00.avro" "$T/piece.01.avro" > "$T/b.want"
want=$(($(wc -l < "$T/b.want") - 1))
checkx "-e skip: the rest read, read $((want + 1)) = written $want + rejected 1, exit 1 (status $s2)" \
    '[ $s2 -eq 1 ] && msets_equal "$T/b2.csv" "$T/b.want" &&
    grep -q "read $((want + 1)) = written $want + absorbed 0 + rejected 1" "$T/b2.err"'
for c in 3:trunc:"a body cut short" 4:extra:"bytes after the record"; do
	i=${c%%:*}
	topic=$(echo "$c" | cut -d: -f2)
	eval "st=\$s$i"
	head -2 "$T/b$i.err" | sed 's/^/# /'
	checkx "$topic: ${c##*:} is rejected as $topic[0]@0 and the next message read, exit 1 (status $st)" \
	    '[ $st -eq 1 ] &&
	    grep -q "^cv-cat: $KT$topic\[0\]@0: " "$T/b$i.err" &&
	    [ "$(wc -l < "$T/b$i.csv")" -eq 2 ]'
done
