#!/bin/sh
# kafka-roundtrip: records through Kafka topics come back as they went in
# (README, Kafka).  Each run starts cv-broker (librdkafka's mock cluster)
# of its own: one with 1 partition a topic, one with 4 (on a cluster that
# KAFKA_BROKERS names: topics ev1, sim1, ... of 1 partition and ev4, sim4,
# ... of 4; tests/fixtures/kafka-lib.sh).
#
#   - An Event stream (the Odyssey auction sales, cv-ingest -O) written to
#     a topic with `cv-cat -T` and read back with `cv-cat -t -E -f avro`:
#     the same records as the file (`cv-cat -f csv`), in the same order on
#     1 partition, as a multiset on 4; a cv-sim stream with index values the
#     same, each IndexObs once per partition (they go to every partition).
#   - A stage over topics: `cv-features -t sim -E -T feat`, then
#     `cv-cat -t feat -E`, equals cv-features on the file, byte for byte
#     as CSV, on 1 partition; on 4 partitions the consumer merges the
#     partitions in event time, and the records are the file's as a
#     multiset (the copies of each index value counting once).  -l with
#     -t (no -S) is refused: topics are merged, not held.  Scaled out:
#     kafka-scaleout.sh.
#   - A copy from topic to topic (`cv-cat -t sim -E -f avro -T copy`) holds
#     each record of the source topic once: an IndexObs once per partition.
#   - Pipes and topics mix: a topic into a pipe into cv-cat -f table | head,
#     a pipe into a topic (cv-features -T), a topic through a pipe into
#     cv-features.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-roundtrip.XXXXXX")
. tests/fixtures/kafka-lib.sh
DATA=pipelines/data/auction_honda_odyssey_3500.csv
[ -f "$DATA" ] || { echo "skip: $DATA absent"; exit 77; }

# The inputs: the auction sales (four rows have placeholder odometers and
# are rejected: status 1), and a cv-sim stream with index values.
cv-ingest -O -e skip -M pipelines/maps/auction.map -o "$T/odc.avro" \
    "$DATA" 2> "$T/ingest.err"
cv-cat -f csv "$T/odc.avro" > "$T/odc.csv"
cv-sim -N 4000 --seed 7 -o "$T/sim.avro"
cv-cat -f csv "$T/sim.avro" > "$T/sim.csv"
cv-features "$T/sim.avro" | cv-cat -f csv > "$T/feat.want"
nodc=$(($(wc -l < "$T/odc.csv") - 1))
nsim=$(($(wc -l < "$T/sim.csv") - 1))
nfeat=$(($(wc -l < "$T/feat.want") - 1))
checkx "inputs: $nodc sales, $nsim simulated events, $nfeat features" \
    '[ $nodc -gt 3000 -a $nfeat -gt 1000 ]'

start_broker B1 1 ev1,sim1,feat1,feat2
start_broker B4 4 ev4,sim4,feat4,copy

# 1. Write and read back.
cv-cat -b "$B1" -T ${KT}ev1 -f avro "$T/odc.avro" &&
    cv-cat -b "$B4" -T ${KT}ev4 -f avro "$T/odc.avro" &&
    cv-cat -b "$B1" -T ${KT}sim1 -f avro "$T/sim.avro" &&
    cv-cat -b "$B4" -T ${KT}sim4 -f avro "$T/sim.avro"
st=$?
checkx "cv-cat -T writes the topics (status $st)" '[ $st -eq 0 ]'

# Readers in groups of their own run at the same time: a new group waits
# 3 s for its members.
$TO cv-cat -b "$B1" -t ${KT}ev1 -E -G ${KT}rt1 -f avro > "$T/rt1.avro" \
    2> "$T/rt1.err" &
p1=$!
$TO cv-cat -b "$B4" -t ${KT}ev4 -E -G ${KT}rt4 -f avro > "$T/rt4.avro" \
    2> "$T/rt4.err" &
p4=$!
$TO cv-cat -b "$B4" -t ${KT}sim4 -E -G ${KT}rts4 -f avro > "$T/rts4.avro" \
    2> "$T/rts4.err" &
ps4=$!
$TO cv-features -b "$B1" -t ${KT}sim1 -E -G ${KT}f1 -T ${KT}feat1 \
    2> "$T/f1.err" &
pf1=$!
wait $p1; s1=$?
wait $p4; s4=$?
wait $ps4; ss4=$?

cv-cat -f csv "$T/rt1.avro" > "$T/rt1.csv"
checkx "1 partition: cv-cat -t ev -E -f avro gives the file's records in order (status $s1)" \
    '[ $s1 -eq 0 ] && [ ! -s "$T/rt1.err" ] && cmp -s "$T/rt1.csv" "$T/odc.csv"'
cv-cat -f csv "$T/rt4.avro" > "$T/rt4.csv"
checkx "4 partitions: the same multiset of records (status $s4)" \
    '[ $s4 -eq 0 ] && [ ! -s "$T/rt4.err" ] && msets_equal "$T/rt4.csv" "$T/odc.csv"'
# Each IndexObs is written to every partition: 4 copies come back.
awk -F, 'NR == 1 { print; next } { print; if ($1 == "IndexObs")
    for (i = 1; i < 4; i++) print }' "$T/sim.csv" > "$T/sim4.want"
cv-cat -f csv "$T/rts4.avro" > "$T/rts4.csv"
checkx "4 partitions: index values come back once per partition (status $ss4)" \
    '[ $ss4 -eq 0 ] && msets_equal "$T/rts4.csv" "$T/sim4.want"'

# 2. A stage over topics.
wait $pf1; sf1=$?
$TO cv-cat -b "$B1" -t ${KT}feat1 -E -G ${KT}rf1 -f csv > "$T/feat1.csv" \
    2> "$T/rf1.err"
checkx "1 partition: cv-features -t sim -E -T feat equals cv-features on the file (status $sf1)" \
    '[ $sf1 -eq 0 ] && cmp -s "$T/feat1.csv" "$T/feat.want"'

$TO cv-features -b "$B4" -t ${KT}sim4 -E -G ${KT}f4 -T ${KT}feat4 2> "$T/f4.err"
sf4=$?
$TO cv-cat -b "$B4" -t ${KT}feat4 -E -G ${KT}rf4 -f csv > "$T/feat4.csv" \
    2> "$T/rf4.err"
checkx "4 partitions merged in event time: cv-features equals the file as a multiset (status $sf4)" \
    '[ $sf4 -eq 0 ] && msets_equal "$T/feat4.csv" "$T/feat.want"'
cv-features -b "$B4" -t ${KT}sim4 -E -l 60 -o "$T/f4l.avro" 2> "$T/f4l.err"
sf4l=$?
checkx "-l with -t and no -S: refused (status $sf4l)" \
    '[ $sf4l -eq 2 ] && grep -q "^cv-features: -l: not with -t" "$T/f4l.err"'

# 3. Topic to topic.
$TO cv-cat -b "$B4" -t ${KT}sim4 -E -G ${KT}cp -f avro -T ${KT}copy \
    2> "$T/cp.err"
scp=$?
$TO cv-cat -b "$B4" -t ${KT}copy -E -G ${KT}rcp -f csv > "$T/copy.csv" \
    2> "$T/rcp.err"
echo "# topic to topic: $(($(wc -l < "$T/rts4.csv") - 1)) records in sim," \
    "$(($(wc -l < "$T/copy.csv") - 1)) in its copy," \
    "$(grep -c '^IndexObs' "$T/copy.csv") of them IndexObs" \
    "($(grep -c '^IndexObs' "$T/sim.csv") index values)"
checkx "cv-cat -t sim -E -f avro -T copy: each IndexObs once per partition, as in sim (status $scp)" \
    '[ $scp -eq 0 ] && msets_equal "$T/copy.csv" "$T/sim4.want"'

# 4. Pipes and topics.  head ends the pipe: what SIGPIPE stops need not
# free what it holds (under valgrind, tests/run).
CV_LEAK_CHECK=no $TO cv-cat -b "$B4" -t ${KT}ev4 -E -G ${KT}pipe1 -f avro \
    2> "$T/pipe1.err" |
    CV_LEAK_CHECK=no cv-cat -f table 2> "$T/pipe2.err" | head -5 > "$T/table"
checkx "cv-cat -t ev -E -f avro | cv-cat -f table | head: five lines, quietly" \
    '[ "$(wc -l < "$T/table")" -eq 5 ] &&
    head -1 "$T/table" | grep -q "VehicleObs.vehicle_id" &&
    [ ! -s "$T/pipe1.err" ] && [ ! -s "$T/pipe2.err" ]'
cv-cat -f avro "$T/sim.avro" | cv-features -b "$B1" -T ${KT}feat2 \
    2> "$T/p2t.err"
sp=$?
$TO cv-cat -b "$B1" -t ${KT}sim1 -E -G ${KT}pipe3 -f avro 2> "$T/pipe3.err" |
    cv-features | cv-cat -f csv > "$T/t2p.csv"
$TO cv-cat -b "$B1" -t ${KT}feat2 -E -G ${KT}rfeat2 -f csv > "$T/feat2.csv"
checkx "a pipe into a topic: cv-cat -f avro | cv-features -T feat2 equals the file (status $sp)" \
    '[ $sp -eq 0 ] && cmp -s "$T/feat2.csv" "$T/feat.want"'
checkx "a topic into a pipe: cv-cat -t sim -E -f avro | cv-features equals the file" \
    'cmp -s "$T/t2p.csv" "$T/feat.want"'
