#!/bin/sh
# kafka-eos: --eos runs a stage in transactions (README, Kafka).
#
#   - --eos needs -t and -T: without either it is refused (status 2).
#   - cv-cat --eos -t sim -E -T out over 4 partitions: exit 0, and out
#     holds the records of sim, each once.  librdkafka's transaction log
#     (-X debug=eos) shows the input offsets sent to each transaction
#     before it commits, and every transaction that began committed.
#   - Run again in its group, cv-cat --eos reads and writes nothing: the
#     offsets sent in the transactions became the group's (the mock took
#     them and never showed them: its second run read everything again).
#   - cv-features --eos: the same records as without.
# Readers wait until the committed records are all visible (wait_msgs).
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-eos.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_kcat

cv-sim -N 3000 --seed 5 -o "$T/sim.avro"
cv-cat -f csv "$T/sim.avro" | sed 1d > "$T/sim.csv"
# Each IndexObs goes to every one of the 4 partitions.
awk -F, '{ print; if ($1 == "IndexObs") for (i = 1; i < 4; i++) print }' \
    "$T/sim.csv" > "$T/sim4.csv"
cv-features "$T/sim.avro" | cv-cat -f csv | sed 1d > "$T/feat.want"
start_broker B 4 sim,out,feat

cv-cat --eos -b "$B" -f avro -T ${KT}out "$T/sim.avro" 2> "$T/refused1"
s1=$?
cv-cat --eos -b "$B" -t ${KT}sim -E -f csv > /dev/null 2> "$T/refused2"
s2=$?
checkx "--eos without -t, or without -T: refused (status $s1 $s2)" \
    '[ $s1 -eq 2 ] && [ $s2 -eq 2 ] && grep -q -- "--eos" "$T/refused1"'

cv-cat -b "$B" -T ${KT}sim -f avro "$T/sim.avro"
$TO cv-cat --eos -b "$B" -t ${KT}sim -E -G ${KT}eos $FAST_GROUP -X debug=eos \
    -f avro -T ${KT}out 2> "$T/eos.log"
st=$?
wait_msgs "$B" out "$(wc -l < "$T/sim4.csv")"
$TO cv-cat -b "$B" -t ${KT}out -E -G ${KT}rout -f csv 2> /dev/null | sed 1d \
    > "$T/out.csv"
checkx "cv-cat --eos -t sim -E -T out: exit $st, out holds sim's $(wc -l < \
    "$T/sim4.csv") records, each once ($(wc -l < "$T/out.csv"))" \
    '[ $st -eq 0 ] && msets_equal "$T/out.csv" "$T/sim4.csv"'
$TO cv-cat --eos -b "$B" -t ${KT}sim -E -G ${KT}eos $FAST_GROUP -f avro \
    -T ${KT}out -v 2> "$T/eos2.log"
st2=$?
sleep 1
checkx "run again in its group: exit 0, nothing read, out unchanged (status $st2, $(count_msgs "$B" out) in out)" \
    '[ $st2 -eq 0 ] && grep -q "read 0 = " "$T/eos2.log" && [ "$(count_msgs "$B" out)" -eq "$(wc -l < "$T/sim4.csv")" ]'
began=$(grep -c 'Transactional API begin_transaction return.*Success' \
    "$T/eos.log")
sent=$(grep -c 'send_offsets_to_transaction return.*Success' "$T/eos.log")
done_=$(grep -c 'Transaction successfully committed' "$T/eos.log")
echo "# transactions: $began begun, $sent with the input offsets, $done_" \
    "committed (the last one begun is left empty at exit)"
checkx "every transaction with records committed, with its input offsets" \
    '[ $done_ -ge 1 ] && [ $sent -eq $done_ ] && [ $began -eq $((done_ + 1)) ]'

# A 10 s session: a member that misses its heartbeats on a loaded machine
# (3 s) is evicted, and its return reads everything again for the state.
$TO cv-features --eos -b "$B" -t ${KT}sim -E -G ${KT}feos \
    -X session.timeout.ms=10000 -X heartbeat.interval.ms=1000 \
    -T ${KT}feat -X debug=cgrp,eos 2> "$T/feat.err"
sf=$?
wait_msgs "$B" feat "$(wc -l < "$T/feat.want")"
$TO cv-cat -b "$B" -t ${KT}feat -E -G ${KT}rfeat -f csv 2> /dev/null | sed 1d \
    > "$T/feat.got"
checkx "cv-features --eos: exit $sf, the records of the file's run" \
    '[ $sf -eq 0 ] && msets_equal "$T/feat.got" "$T/feat.want"'
[ $sf -eq 0 ] || grep -v '^%7' "$T/feat.err" | tail -5 | sed 's/^/# cv-features: /'
