#!/bin/sh
# kafka-failover: a broker of three killed mid-stream and restarted later
# (README, Kafka), on an Apache Kafka cluster of the test's own
# (scripts/kafka start -n 3: replication factor 3, min.insync.replicas 2).
#
# Input: a cv-sim stream written to a topic of four partitions in 40
# event-time windows a tenth of a second apart, while two instances of
# cv-features run live, one at-least-once (in -> feat) and one with --eos
# (in -> feate), each in a group of its own.  A quarter of the way in,
# the broker that leads most partitions of in, feat and feate is killed
# with SIGKILL; five seconds on it is started again on its storage.  Once
# it is up, the at-least-once group's coordinator is killed,
# and five seconds on started again.  Once every window is in and each
# group has committed all of in, SIGTERM.
#
# The stages have sessions of 10 s and --idle 30 (README, Kafka: a
# partition whose leader is down brings nothing; after --idle the merge
# goes on without it, and its records would come too late), and are
# started again if they exit 1 (a failed transaction; counted, printed).
#
#   - The writers of the windows and both stages exit 0.
#   - At-least-once: feat holds every record of the file's run and no
#     other; duplicates counted and printed.
#   - --eos: feate holds exactly the file's run's multiset, read_committed.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-failover.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_kcat
need_python confluent_kafka
if [ -n "${KAFKA_BROKERS:-}" ]; then
	echo "skip: kills a broker of its own cluster, not of KAFKA_BROKERS"
	exit 77
fi
if [ "${VALGRIND:-0}" = 1 ]; then
	echo "skip: not under valgrind (brokers killed under live consumers)"
	exit 77
fi
N=6000
W=40

cv-sim -N $N --seed 31 -o "$T/sim.avro"
cv-features "$T/sim.avro" | cv-cat -f csv | sed 1d > "$T/feat.want"
nfeat=$(wc -l < "$T/feat.want")
cv-cat -f csv "$T/sim.avro" | awk -F, '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 == "VehicleObs" { print substr($col["VehicleObs.observed_at"], 1, 10) }' |
    sort > "$T/days"
nd=$(wc -l < "$T/days")
DAYS=
k=1
while [ $k -lt $W ]; do
	DAYS="$DAYS $(sed -n "$((nd * k / W))p" "$T/days")"
	k=$((k + 1))
done

real_broker B -n 3
start_broker B 4 in,feat,feate

# window K: the records of window K (1..W) of sim to in; 1 if not written
window() {
	from=$(echo "$DAYS" | awk -v k=$1 'k > 1 { print $(k - 1) }')
	until=$(echo "$DAYS" | awk -v k=$1 -v w=$W 'k < w { print $k }')
	cv-cat ${from:+--from $from} ${until:+--until $until} -b "$B" \
	    -T in -f avro "$T/sim.avro" 2>> "$T/window.err"
}

# windows FROM TO: windows FROM..TO, a tenth of a second apart; the last
# non-zero status
windows() {
	ws=0
	k=$1
	while [ $k -le $2 ]; do
		window $k || ws=$?
		sleep 0.1
		k=$((k + 1))
	done
	return $ws
}

# The broker leading most partitions of the topics.
leader() {
	kcat -L -b "$B" -J 2> /dev/null | $PY -c '
import collections, json, sys
md = json.load(sys.stdin)
n = collections.Counter(p["leader"] for t in md["topics"]
    if t["topic"] in ("in", "feat", "feate") for p in t["partitions"])
print(n.most_common(1)[0][0])'
}

# coordinator GROUP: the id of the broker that coordinates GROUP: the
# leader of its partition of __consumer_offsets (Java's hashCode of the
# name, its sign bit cleared, modulo the 8 partitions scripts/kafka makes)
coordinator() {
	kcat -L -b "$B" -t __consumer_offsets -J 2> /dev/null | $PY -c '
import json, sys
h = 0
for c in sys.argv[1]:
    h = (31 * h + ord(c)) & 0xffffffff
md = json.load(sys.stdin)
parts = md["topics"][0]["partitions"]
p = (h & 0x7fffffff) % len(parts)
print([x["leader"] for x in parts if x["partition"] == p][0])' "$1"
}

# stage NAME ARG...: cv-features ARG... in the background, started again
# whenever it exits 1 (as a supervisor would: a transaction that failed
# is aborted and the filter exits 1, to go on from the last one
# committed); each start a line in $T/NAME.starts
stage() {
	n=$1
	shift
	(
		trap 'kill -TERM $p 2> /dev/null; wait $p; exit $?' TERM
		while :; do
			echo start >> "$T/$n.starts"
			cv-features "$@" 2>> "$T/$n.err" &
			p=$!
			wait $p
			s=$?
			[ $s -eq 1 ] || exit $s
		done
	) &
}

# A session of 10 s rides out a coordinator's move; --idle 30 waits for
# the partitions of a broker that is down before merging without them
# (their records would then come too late).
GROUP="-X session.timeout.ms=10000 -X heartbeat.interval.ms=1000 --idle 30"
stage alo -b "$B" -t in -G alo $GROUP -T feat
alo=$!
stage eos --eos -b "$B" -t in -G eos $GROUP -T feate
eos=$!
KAFKA_PIDS="$KAFKA_PIDS $alo $eos"
windows 1 $((W / 4))
w1=$?
windows $((W / 4 + 1)) $W &
wp=$!
L=$(leader)
scripts/kafka kill "$KAFKA_DIR" "$L"
echo "# broker $L killed (the leader of most partitions)"
sleep 5
scripts/kafka restart "$KAFKA_DIR" "$L"
r=$?
echo "# broker $L restarted (status $r)"
# Then the at-least-once group's coordinator, while the input still comes.
C=$(coordinator alo)
if [ -n "$C" ]; then
	scripts/kafka kill "$KAFKA_DIR" "$C"
	echo "# broker $C killed (the coordinator of the at-least-once group)"
	sleep 5
	scripts/kafka restart "$KAFKA_DIR" "$C" || r=$?
	echo "# broker $C restarted (status $r)"
fi
wait $wp
w2=$?
# Until each group has committed all of in (120 s): its outputs are out.
# (Not until feat holds as many records as the file's run: duplicates
# made up for records the stage still held back for --idle, and SIGTERM
# then came before it wrote them.)
for g in alo eos; do
	poll 1200 caught_up "$B" $g in ||
	    echo "# $g: not all of in committed in 120 s"
done
sleep 2		# room for extra records, if any were to come
kill -TERM $alo $eos
wait $alo
sa=$?
wait $eos
se=$?
checkx "the windows written through the failover (status $w1 $w2), the broker restarted ($r)" \
    '[ $w1 -eq 0 ] && [ $w2 -eq 0 ] && [ $r -eq 0 ]'
echo "# started: at-least-once $(wc -l < "$T/alo.starts") times, --eos" \
    "$(wc -l < "$T/eos.starts") times"
checkx "SIGTERM: both stages exit 0 (at-least-once $sa, --eos $se)" \
    '[ $sa -eq 0 ] && [ $se -eq 0 ]'
[ $sa -eq 0 ] || grep -v '^%' "$T/alo.err" | tail -3 | sed 's/^/# alo: /'
[ $se -eq 0 ] || grep -v '^%' "$T/eos.err" | tail -3 | sed 's/^/# eos: /'

$TO cv-cat -b "$B" -t feat -E -G rfeat -f csv | sed 1d > "$T/feat.got"
$TO cv-cat -b "$B" -t feate -E -G rfeate -f csv | sed 1d > "$T/feate.got"
sort -u "$T/feat.got" > "$T/feat.set"
sort -u "$T/feat.want" > "$T/want.set"
missing=$(comm -13 "$T/feat.set" "$T/want.set" | wc -l)
extra=$(comm -23 "$T/feat.set" "$T/want.set" | wc -l)
dups=$(($(wc -l < "$T/feat.got") - $(wc -l < "$T/feat.set")))
echo "# at-least-once: $(wc -l < "$T/feat.got") records for $nfeat:" \
    "$missing missing, $extra not the file's, $dups duplicates"
checkx "at-least-once, the leaders' broker killed and restarted: every record of the file's run, no other" \
    '[ $missing -eq 0 ] && [ $extra -eq 0 ]'
checkx "--eos, the leaders' broker killed and restarted: the file's run's multiset ($(wc -l < "$T/feate.got") records)" \
    'msets_equal "$T/feate.got" "$T/feat.want"'
