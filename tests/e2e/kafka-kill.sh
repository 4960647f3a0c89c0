#!/bin/sh
# kafka-kill: every stage of a chain over topics killed with SIGKILL
# mid-stream and started again, on Apache Kafka (README, Kafka: delivery,
# exactly once).
#
# Input: a cv-sim stream on a topic of four partitions, written in 40
# event-time windows a tenth of a second apart while the chain runs
# (live, no -E): cv-features -> cv-predict -> cv-grade -> cv-warn -L, each
# a consumer group of its own.  While the last three quarters come, the
# stages are killed one after another (kill -9), each started again in its
# group at once.  Under --eos a stage is killed while it has outputs in a
# transaction not yet committed: it is stopped (SIGSTOP) until the output
# topic read_uncommitted holds more than read_committed.  Once all is in,
# the chain runs until the last topic holds as many records as the pipe
# chain wrote, then SIGTERM.
#
#   - --eos: feat and warn hold exactly the multisets of the pipe chain's
#     records, read_committed: no loss and no duplicate, although the
#     stages died with a transaction open (at least two of four, counted
#     and printed: a stage may commit before it is caught).  The restart takes
#     the killed instance's transactional.id, so its open transaction is
#     aborted at once, not after transaction.timeout.ms.
#   - At-least-once (no --eos, -e skip): every record of the pipe chain's
#     in feat, no other; the duplicates (what a stage did after its last
#     commit) counted and printed.  Downstream the copies reach stateful
#     stages, which reject them (out of time order) or count them twice:
#     warn's differences from the pipe chain are counted and printed.
#   - The broker keeps records whatever their timestamps (event times,
#     years old): with the retention check every second, the input is
#     still all there at the end (the default 7-day retention deleted it
#     five minutes into a run, and a restart then read nothing); and
#     when records a group has not read are deleted, its next reader says
#     so and exits 1 (it went on from the log's new start without a word).
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-kill.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_kcat
if [ "${VALGRIND:-0}" = 1 ]; then
	echo "skip: not under valgrind (eight live consumers killed and restarted)"
	exit 77
fi
N=6000

cv-sim -N $N --seed 23 -o "$T/sim.avro"
cv-features "$T/sim.avro" > "$T/feat.avro"
cv-cat -f csv "$T/feat.avro" | sed 1d > "$T/feat.want"
cv-predict "$T/feat.avro" | cv-grade | cv-warn -L | cv-cat -f csv | sed 1d \
    > "$T/warn.want"
nfeat=$(wc -l < "$T/feat.want") nwarn=$(wc -l < "$T/warn.want")
# Each IndexObs goes to every one of the 4 partitions.
nin=$(cv-cat -f csv "$T/sim.avro" | sed 1d |
    awk -F, '{ n += $1 == "IndexObs" ? 4 : 1 } END { print n }')
# Windows by the days of the sales: W of them, written a tenth of a
# second apart, so that records keep coming while the stages are killed.
W=40
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
if [ -z "${KAFKA_BROKERS:-}" ]; then
	real_broker B -o log.retention.check.interval.ms=1000
fi
start_broker B 4 in.eos,feat.eos,val.eos,graded.eos,warn.eos,in.alo,feat.alo,val.alo,graded.alo,warn.alo

# window K SUFFIX: the records of window K (1..W) of sim to in.SUFFIX
window() {
	from=$(echo "$DAYS" | awk -v k=$1 'k > 1 { print $(k - 1) }')
	until=$(echo "$DAYS" | awk -v k=$1 -v w=$W 'k < w { print $k }')
	cv-cat ${from:+--from $from} ${until:+--until $until} -b "$B" \
	    -T "${KT}in.$2" -f avro "$T/sim.avro"
}

# windows FROM TO SUFFIX: windows FROM..TO, a tenth of a second apart
windows() {
	k=$1
	while [ $k -le $2 ]; do
		window $k $3
		sleep 0.1
		k=$((k + 1))
	done
}

STAGES="features predict grade warn"
# stage NAME SUFFIX [OPTIONS]: start stage NAME of the chain in the
# background, its pid in $T/NAME.SUFFIX.pid (not under $TO: kill -9 must
# reach the stage itself)
stage() {
	case $1 in
	features) in=in out=feat args= ;;
	predict) in=feat out=val args= ;;
	grade) in=val out=graded args= ;;
	warn) in=graded out=warn args=-L ;;
	esac
	cv-$1 $args ${3:-} -b "$B" -t "$KT$in.$2" -G "${KT}k$1.$2" \
	    $FAST_GROUP -T "$KT$out.$2" 2>> "$T/$1.$2.err" &
	echo $! > "$T/$1.$2.pid"
	KAFKA_PIDS="$KAFKA_PIDS $!"
}

# uncommitted BROKERS TOPIC: its messages, read_uncommitted
uncommitted() {
	$TO kcat -C -b "$1" -t "$KT$2" -e -q -X isolation.level=read_uncommitted \
	    -f 'x\n' 2> /dev/null | wc -l
}

# in_txn TOPIC: it has messages of a transaction not yet committed
in_txn() {
	[ "$(uncommitted "$B" "$1")" -gt "$(count_msgs "$B" "$1")" ]
}

# kill_busy PID TOPIC: kill -9 PID; under --eos (given a third argument)
# once it is stopped (SIGSTOP) with outputs to TOPIC in a transaction not
# committed, tried for 10 s
kill_busy() {
	if [ $# -gt 2 ]; then
		i=0
		while [ $i -lt 100 ]; do
			kill -STOP "$1"
			in_txn "$2" && break
			kill -CONT "$1"
			sleep 0.05
			i=$((i + 1))
		done
	fi
	kill -KILL "$1"
	wait "$1" 2> /dev/null
}

# elapsed: seconds since the start of the test
START=$(date +%s)
elapsed() {
	echo $(($(date +%s) - START))
}

# run SUFFIX [OPTIONS]: the chain with each stage killed once, restarted
run() {
	: > "$T/kills.$1"
	for s in $STAGES; do
		stage $s "$@"
	done
	windows 1 $((W / 4)) $1
	# the rest comes while the stages are killed, one after another
	windows $((W / 4 + 1)) $W $1 &
	wp=$!
	for s in $STAGES; do
		case $s in
		features) out=feat ;; predict) out=val ;; grade) out=graded ;;
		warn) out=warn ;;
		esac
		sleep 1
		kill_busy "$(cat "$T/$s.$1.pid")" "$out.$1" \
		    $([ "$1" = eos ] && echo eos)
		echo "$s $(count_msgs "$B" "$out.$1")" \
		    "$(uncommitted "$B" "$out.$1")" $(elapsed) >> "$T/kills.$1"
		stage $s "$@"
	done
	wait $wp
	echo "# $1: input written, $(elapsed) s"
	wait_count "warn.$1" "$nwarn"
	echo "# $1: $(count_msgs "$B" "warn.$1") in warn, $(elapsed) s"
	sleep 2		# room for extra records, if any were to come
	st=0
	for s in $STAGES; do
		kill -TERM "$(cat "$T/$s.$1.pid")"
		wait "$(cat "$T/$s.$1.pid")" || st=$?
	done
	$TO cv-cat -b "$B" -t "${KT}feat.$1" -E -G "${KT}rf.$1" -f csv |
	    sed 1d > "$T/feat.$1"
	$TO cv-cat -b "$B" -t "${KT}warn.$1" -E -G "${KT}rw.$1" -f csv |
	    sed 1d > "$T/warn.$1"
	while read -r s c u e; do
		echo "# $1: $s killed at $e s: $c records out committed, $u" \
		    "written"
	done < "$T/kills.$1"
}

# wait_count TOPIC N: until TOPIC holds N messages (120 s)
wait_count() {
	i=0
	while [ "$(count_msgs "$B" "$1")" -lt "$2" ] && [ $i -lt 240 ]; do
		i=$((i + 1))
		sleep 0.5
	done
}

# dups FILE WANT: "missing extra duplicates" of FILE against the set WANT
dups() {
	sort "$1" > "$1.s"
	sort -u "$1" > "$1.u"
	sort -u "$2" > "$2.u"
	echo "$(comm -13 "$1.u" "$2.u" | wc -l)" \
	    "$(comm -23 "$1.u" "$2.u" | wc -l)" \
	    "$(($(wc -l < "$1.s") - $(wc -l < "$1.u")))"
}

run eos --eos
echo "# eos: feat $(wc -l < "$T/feat.eos") of $nfeat, warn" \
    "$(wc -l < "$T/warn.eos") of $nwarn; SIGTERM: last status $st"
checkx "--eos: SIGTERM ends every restarted stage with status 0 ($st)" \
    '[ $st -eq 0 ]'
intxn=$(awk '$3 > $2' "$T/kills.eos" | wc -l)
checkx "--eos: $intxn of the 4 stages killed with a transaction open (outputs beyond the committed), at least 2" \
    '[ $intxn -ge 2 ]'
checkx "--eos, every stage killed mid-stream and restarted: feat is the pipe chain's multiset" \
    'msets_equal "$T/feat.eos" "$T/feat.want"'
checkx "--eos, every stage killed mid-stream and restarted: warn is the pipe chain's multiset" \
    'msets_equal "$T/warn.eos" "$T/warn.want"'

# At-least-once, a restarted stage writes again what it wrote after its
# last commit, and a stateful stage downstream takes those copies again:
# rejected as out of time order when it has seen later records, or
# counted into its state twice (a streak, a light).  So only cv-features,
# whose input nobody duplicates, is held to the pipe chain's records; what
# came out of cv-warn is counted and printed (README: a chain of stateful
# stages wants --eos).
run alo "-e skip"
set -- $(dups "$T/feat.alo" "$T/feat.want")
fm=$1 fx=$2 fd=$3
set -- $(dups "$T/warn.alo" "$T/warn.want")
wm=$1 wx=$2 wd=$3
cat "$T"/*.alo.err | grep '\]@[0-9]*: ' > "$T/rejects.alo"
echo "# at-least-once: feat $fm missing, $fx not the pipe chain's," \
    "$fd duplicates; downstream, $(wc -l < "$T/rejects.alo") copies" \
    "rejected, and warn $wm missing, $wx not the pipe chain's, $wd" \
    "duplicates"
checkx "at-least-once: SIGTERM ends every restarted stage with status 0, or 1 for copies rejected ($st)" \
    '[ $st -eq 0 ] || { [ $st -eq 1 ] && [ -s "$T/rejects.alo" ]; }'
checkx "at-least-once, every stage killed and restarted: feat holds every record of the pipe chain's, no other" \
    '[ $fm -eq 0 ] && [ $fx -eq 0 ]'

if [ -z "${KAFKA_BROKERS:-}" ]; then
	# gone: read to a day, and then the broker deletes every record
	# (retention.ms 1000); the group's next reader must not go on from
	# the log's new start as if nothing were missing.
	"$PY" scripts/kafka-topics "$B" 1 gone 2> /dev/null
	cv-cat -b "$B" -T gone -f avro "$T/sim.avro"
	$TO cv-cat -b "$B" -t gone -E --until "$(echo $DAYS | cut -d' ' -f20)" \
	    -G gone -f csv > /dev/null 2>&1
	$PY -c '
import sys
from confluent_kafka.admin import AdminClient, ConfigResource
a = AdminClient({"bootstrap.servers": sys.argv[1]})
r = ConfigResource("topic", "gone", set_config={"retention.ms": "1000"})
for f in a.alter_configs([r]).values():
    f.result(10)' "$B"
	poll 300 test "$(uncommitted "$B" gone)" -eq 0
	$TO cv-cat -b "$B" -t gone -E -G gone -f csv > "$T/gone.csv" \
	    2> "$T/gone.err"
	sg=$?
	grep -v '^%' "$T/gone.err" | tail -1 | sed 's/^/# /'
	checkx "records deleted (retention) before the group read them: exit $sg (1), saying which" \
	    '[ $sg -eq 1 ] && grep -q "gone\[0\]: records [0-9]* to [0-9]* were deleted before they were read" "$T/gone.err"'
	in=$(uncommitted "$B" in.eos)
	checkx "retention checked every second: in.eos still holds its $nin messages ($in), years old, a minute on" \
	    '[ "$in" -eq "$nin" ]'
fi
