#!/bin/sh
# kafka-big: a topic far beyond the 5 MiB a partition that librdkafka's
# mock keeps, on Apache Kafka (README, Kafka).
#
#   - A cv-sim stream of a million records (about 100 MB) written to a
#     topic of four partitions with cv-cat -T: exit 0, and the topic holds
#     each record once (an IndexObs once per partition), counted by kcat.
#   - Read back with cv-cat -t -E -f csv: the file's records, as a
#     multiset.
#   - Copied topic to topic under --eos (a million messages in
#     transactions): the copy holds the same multiset, read_committed.
#   - The broker killed (SIGKILL) while a writer is at it (the second
#     half of its input held back until then), with a 5 s message
#     timeout: the writer says how many records were not delivered and
#     exits 1 (a writer that exits 0 has had every message acknowledged).
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-big.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_kcat
if [ "${VALGRIND:-0}" = 1 ]; then
	echo "skip: not under valgrind (a million records)"
	exit 77
fi
N=1000000
TO=
command -v timeout > /dev/null 2>&1 && TO="timeout 600"

cv-sim -N $N --seed 3 -o "$T/big.avro"
cv-cat -f csv "$T/big.avro" | sed 1d |
    awk -F, '{ print; if ($1 == "IndexObs") for (i = 1; i < 4; i++) print }' \
    > "$T/want"
nwant=$(wc -l < "$T/want")
start_broker B 4 big,copy,cut

$TO cv-cat -b "$B" -T ${KT}big -f avro "$T/big.avro" 2> "$T/write.err"
st=$?
n=$(count_msgs "$B" big)
checkx "cv-cat -T big: exit $st, $n messages for the file's $N records ($nwant with the index values in every partition)" \
    '[ $st -eq 0 ] && [ $n -eq $nwant ]'

$TO cv-cat -b "$B" -t ${KT}big -E -G ${KT}rbig -f csv 2> "$T/read.err" |
    sed 1d > "$T/got"
st=$?
checkx "cv-cat -t big -E: exit $st, the file's records ($(wc -l < "$T/got"))" \
    '[ $st -eq 0 ] && msets_equal "$T/got" "$T/want"'

$TO cv-cat --eos -b "$B" -t ${KT}big -E -G ${KT}cbig $FAST_GROUP -f avro \
    -T ${KT}copy 2> "$T/copy.err"
st=$?
wait_msgs "$B" copy "$nwant"
$TO cv-cat -b "$B" -t ${KT}copy -E -G ${KT}rcopy -f csv 2> /dev/null |
    sed 1d > "$T/copy"
checkx "cv-cat --eos -t big -E -T copy: exit $st, the copy holds the same records ($(wc -l < "$T/copy"))" \
    '[ $st -eq 0 ] && msets_equal "$T/copy" "$T/want"'

# high_marks BROKERS TOPIC: the sum of $KT TOPIC's high watermarks
high_marks() {
	"$PY" -c '
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "hm"})
md = c.list_topics(sys.argv[2], timeout=10).topics[sys.argv[2]]
print(sum(c.get_watermark_offsets(TopicPartition(sys.argv[2], p),
    timeout=10)[1] for p in (md.partitions or {})))
c.close()' "$1" "$KT$2" 2> /dev/null || echo 0
}

if [ -z "${KAFKA_BROKERS:-}" ]; then
	# The writer reads the file from a pipe that holds its second half
	# back until the broker is dead: a fast writer cannot finish first
	# (CI once saw exit 0, every record acknowledged before the kill).
	half=$(($(wc -c < "$T/big.avro") / 2))
	{
		head -c $half "$T/big.avro"
		poll 3000 test -e "$T/killed"
		tail -c +$((half + 1)) "$T/big.avro"
	} | cv-cat -b "$B" -T ${KT}cut -f avro -X message.timeout.ms=5000 \
	    2> "$T/cut.err" &
	wp=$!
	# (by the partitions' high watermarks: count_msgs reads the topic
	# whole)
	poll 300 test "$(high_marks "$B" cut)" -gt 1000
	scripts/kafka kill "$KAFKA_DIR" 1
	touch "$T/killed"
	wait $wp
	st=$?
	grep -v '^%' "$T/cut.err" | tail -2 | sed 's/^/# /'
	checkx "the broker killed under a writer: exit $st (1), and it says how many records were not delivered" \
	    '[ $st -eq 1 ] && grep -q "records not delivered" "$T/cut.err"'
fi
