#!/bin/sh
# kafka-replay: --from, --until and -E on a Kafka broker of the test's own
# (scripts/kafka), the Odyssey auction sales (cv-ingest -O: in event
# time) on 4 partitions keyed by segment.
#
#   - --from 2015-03-01: each partition's first fetch (librdkafka's
#     -X debug=fetch log) is at the offset the broker gives for that time
#     (python3-confluent-kafka's offsets_for_times; the end where it has
#     none), never at 0 where that is later: the offsets are looked up,
#     not found by reading from the start.  What comes out is the records
#     from 2015-03-01 on, exit 0.
#   - --from 2015-02-01 --until 2015-03-01 -E: the records of February,
#     exit 0; --until alone: the records before it; a --from after the
#     last record: nothing, exit 0, every partition started at its end.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-replay.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_python confluent_kafka
DATA=pipelines/data/auction_honda_odyssey_3500.csv
[ -f "$DATA" ] || { echo "skip: $DATA absent"; exit 77; }
start_broker B 4 ts

cv-ingest -O -e skip -M pipelines/maps/auction.map -o "$T/in.avro" "$DATA" \
    2> /dev/null
cv-cat -b "$B" -T ${KT}ts -f avro "$T/in.avro"
cv-cat -f csv "$T/in.avro" > "$T/in.csv"
# window FROM UNTIL: the rows of in.csv with FROM <= observed_at < UNTIL
window() {
	awk -F, -v from="$1" -v until="$2" '
	NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	{
		t = $col["VehicleObs.observed_at"]
		if ((from == "" || t >= from) && (until == "" || t < until))
			print
	}' "$T/in.csv"
}

# The broker's offsets for a time, "partition offset" a line (-1: none).
offsets_at() {	# offsets_at MS
	"$PY" - "$B" "${KT}ts" "$1" <<'EOF'
import sys
from confluent_kafka import Consumer, TopicPartition
b, topic, ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": b, "group.id": topic + ".probe"})
parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
for tp in c.offsets_for_times([TopicPartition(topic, p, ms) for p in parts],
                              10):
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, tp.partition), 10)
    print(tp.partition, tp.offset, hi)
c.close()
EOF
}

# The first fetch offset of each partition, "partition offset" a line.
first_fetch() {	# first_fetch LOG
	sed -n 's/.*Fetch topic [^ ]* \[\([0-9]*\)\] at offset \([0-9]*\) .*/\1 \2/p' \
	    "$1" | awk '!seen[$1]++' | sort -n
}

# 2015-03-01T00:00:00Z
offsets_at 1425168000000 > "$T/at.txt"
awk '{ print $1, ($2 < 0 ? $3 : $2) }' "$T/at.txt" | sort -n > "$T/at.want"
echo "# offsets for 2015-03-01 (partition offset end): $(tr '\n' ';' < "$T/at.txt")"
$TO cv-cat -b "$B" -t ${KT}ts -E -G ${KT}r1 --from 2015-03-01 \
    -X debug=fetch -f csv > "$T/r1.csv" 2> "$T/r1.log"
s1=$?
first_fetch "$T/r1.log" > "$T/r1.first"
echo "# first fetches: $(tr '\n' ';' < "$T/r1.first")"
checkx "--from 2015-03-01: every partition's first fetch at the broker's offset for that time" \
    '[ -s "$T/r1.first" ] && cmp -s "$T/r1.first" "$T/at.want"'
checkx "--from 2015-03-01: some partition starts past 0 (the lookup matters here)" \
    'awk "\$2 > 0 { n++ } END { exit !n }" "$T/at.want"'
window 2015-03-01 "" > "$T/r1.want"
sed 1d "$T/r1.csv" > "$T/r1.got"
checkx "--from 2015-03-01 -E: the $(wc -l < "$T/r1.want") records from then on, exit 0 (status $s1)" \
    '[ $s1 -eq 0 ] && [ -s "$T/r1.want" ] && msets_equal "$T/r1.got" "$T/r1.want"'

$TO cv-cat -b "$B" -t ${KT}ts -E -G ${KT}r2 --from 2015-02-01 \
    --until 2015-03-01 -f csv > "$T/r2.csv" 2> "$T/r2.err"
s2=$?
window 2015-02-01 2015-03-01 > "$T/r2.want"
sed 1d "$T/r2.csv" > "$T/r2.got"
checkx "--from 2015-02-01 --until 2015-03-01 -E: the $(wc -l < "$T/r2.want") records of February, exit 0 (status $s2)" \
    '[ $s2 -eq 0 ] && [ -s "$T/r2.want" ] && msets_equal "$T/r2.got" "$T/r2.want"'

$TO cv-cat -b "$B" -t ${KT}ts -E -G ${KT}r3 --until 2015-01-15 -f csv \
    > "$T/r3.csv" 2> "$T/r3.err"
s3=$?
window "" 2015-01-15 > "$T/r3.want"
sed 1d "$T/r3.csv" > "$T/r3.got"
checkx "--until 2015-01-15 -E: the $(wc -l < "$T/r3.want") records before it, exit 0 (status $s3)" \
    '[ $s3 -eq 0 ] && [ -s "$T/r3.want" ] && msets_equal "$T/r3.got" "$T/r3.want"'

offsets_at 1893456000000 | awk '{ print $1, $3 }' | sort -n > "$T/end.want"
$TO cv-cat -b "$B" -t ${KT}ts -E -G ${KT}r4 --from 2030-01-01 \
    -X debug=fetch -f csv > "$T/r4.csv" 2> "$T/r4.log"
s4=$?
first_fetch "$T/r4.log" > "$T/r4.first"
checkx "--from after the last record: nothing, exit 0, each partition started at its end (status $s4)" \
    '[ $s4 -eq 0 ] && [ ! -s "$T/r4.csv" ] && cmp -s "$T/r4.first" "$T/end.want"'
