#!/bin/sh
# kafka-scaleout: stateful stages scaled out in consumer groups write what
# the single-process pipe chain writes (README, Kafka: scale-out).
#
# Input: a cv-sim stream (index values, sales, a loan book) on a topic of
# six partitions, keyed by segment (index values in every partition).
#
#   A. Three instances each of cv-features, cv-grade and cv-warn, and one
#      cv-predict, chained by topics (sim -> feat -> val -> graded -> warn),
#      all started first; once each stateful group has given out its six
#      partitions (each instance says "kafka: N of 6 partitions here"), the
#      input is written.  When the warn topic holds as many records as the
#      pipe chain `cv-features | cv-predict | cv-grade | cv-warn -L` wrote,
#      every stage is stopped (SIGTERM: exit 0), and the feat and warn
#      topics must hold the same multisets of records as the pipe chain's
#      (cv-cat -f csv lines, sorted): nothing lost, nothing doubled, every
#      value as in one process, although cv-features' state spans segments
#      of several partitions (make and market depreciation, regions).
#   B. A partition moves: three cv-features instances over the filled
#      topic; once records are out, one is stopped (SIGTERM) and later
#      another is killed (kill -9); the rest take over their partitions
#      (rebuilding the state by replaying the input) and run to the end
#      (-E).  Every record of the file's run must be in the output, no
#      other record, and the duplicates (at-least-once) are counted and
#      printed.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-scaleout.XXXXXX")
. tests/fixtures/kafka-lib.sh
if [ "${VALGRIND:-0}" = 1 ]; then
	# Eleven consumers under valgrind miss their heartbeats.
	echo "skip: not under valgrind (eleven consumers in groups)"
	exit 77
fi
N=6000

cv-sim -N $N -s 11 -o "$T/sim.avro"
cv-features "$T/sim.avro" > "$T/feat.avro" &&
    cv-cat -f csv "$T/feat.avro" > "$T/feat.want" &&
    cv-predict "$T/feat.avro" | cv-grade | cv-warn -L |
    cv-cat -f csv > "$T/warn.want"
nfeat=$(($(wc -l < "$T/feat.want") - 1))
nwarn=$(($(wc -l < "$T/warn.want") - 1))
checkx "the pipe chain: $nfeat features, $nwarn warnings" \
    '[ $nfeat -gt 4000 ] && [ $nwarn -gt 500 ]'

start_broker B 6 sim,feat,val,graded,warn,feat2

# wait_groups ERRFILE...: until the last "partitions here" line of each
# instance's stderr, summed over each group of three, says 6 (60 s).
wait_groups() {
	i=0
	while [ $i -lt 600 ]; do
		ok=1
		for g in "$@"; do
			n=0
			for f in $T/$g.*.err; do
				k=$(grep 'partitions here' "$f" | tail -1 |
				    sed 's/.*kafka: \([0-9]*\) of.*/\1/')
				n=$((n + ${k:-0}))
			done
			[ $n -eq 6 ] || ok=0
		done
		[ $ok -eq 1 ] && return 0
		i=$((i + 1))
		sleep 0.1
	done
	return 1
}

# wait_count TOPIC N: until TOPIC holds N messages (90 s)
wait_count() {
	i=0
	while [ "$(count_msgs "$B" "$1")" -lt "$2" ] && [ $i -lt 180 ]; do
		i=$((i + 1))
		sleep 0.5
	done
	[ "$(count_msgs "$B" "$1")" -ge "$2" ]
}

## A. The chain, each stateful stage three times.
PIDS= ERRS=
# started ERRFILE: note the stage just started in the background
started() {
	PIDS="$PIDS $!"
	ERRS="$ERRS $!:$1"
}
for i in 1 2 3; do
	$TO cv-features -b "$B" -t ${KT}sim -G ${KT}sf $FAST_GROUP \
	    -T ${KT}feat 2> "$T/f.$i.err" &
	started "$T/f.$i.err"
	$TO cv-grade -b "$B" -t ${KT}val -G ${KT}sg $FAST_GROUP -T ${KT}graded \
	    2> "$T/g.$i.err" &
	started "$T/g.$i.err"
	$TO cv-warn -L -b "$B" -t ${KT}graded -G ${KT}sw $FAST_GROUP \
	    -T ${KT}warn 2> "$T/w.$i.err" &
	started "$T/w.$i.err"
done
$TO cv-predict -b "$B" -t ${KT}feat -G ${KT}sp $FAST_GROUP -T ${KT}val \
    2> "$T/p.err" &
started "$T/p.err"
KAFKA_PIDS="$KAFKA_PIDS $PIDS"
wait_groups f g w
checkx "three instances each of cv-features, cv-grade and cv-warn share the six partitions of their topics" \
    '[ $? -eq 0 ]'
cv-cat -b "$B" -T ${KT}sim -f avro "$T/sim.avro"
wait_count warn $nwarn
checkx "the warn topic reaches the pipe chain's $nwarn records" '[ $? -eq 0 ]'
sleep 1		# room for extra records, if any were to come
kill $PIDS
st=0
for p in $PIDS; do
	wait $p && continue
	st=$?
	# which one, and its last words
	for e in $ERRS; do
		[ "${e%%:*}" = "$p" ] && tail -3 "${e#*:}" |
		    sed "s|^|# exit $st, ${e##*/}: |"
	done
done
checkx "SIGTERM: every stage exits 0 (last non-zero status: $st)" \
    '[ $st -eq 0 ]'
$TO cv-cat -b "$B" -t ${KT}feat -E -G ${KT}rfeat -f csv > "$T/feat.got"
$TO cv-cat -b "$B" -t ${KT}warn -E -G ${KT}rwarn -f csv > "$T/warn.got"
echo "# feat: $(($(wc -l < "$T/feat.got") - 1)) records," \
    "warn: $(($(wc -l < "$T/warn.got") - 1))"
for g in f g w; do
	echo "# $g: $(grep -h 'replayed' $T/$g.*.err | tr '\n' ' ')"
done
checkx "feat: the multiset of the pipe chain's cv-features records" \
    'msets_equal "$T/feat.got" "$T/feat.want"'
checkx "warn: the multiset of the pipe chain's cv-warn -L records" \
    'msets_equal "$T/warn.got" "$T/warn.want"'

## B. Partitions move: a clean stop and a kill -9, on a broker slowed
## down (40 ms a request, 1 KiB fetches) so that they move mid-stream.
## On a cluster named by KAFKA_BROKERS: its sim topic, filled in A, with
## 1 KiB fetches only.
if [ -n "${KAFKA_BROKERS:-}" ]; then
	BS=$B
else
	mkfifo "$T/ctl"
	cv-broker -p 6 -t sim < "$T/ctl" > "$T/slow.out" 2> "$T/slow.err" &
	KAFKA_PIDS="$KAFKA_PIDS $!"
	exec 3> "$T/ctl"
	i=0
	while [ "$(grep -c . "$T/slow.out")" -lt 1 ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	BS=$(head -1 "$T/slow.out")
	cv-cat -b "$BS" -T sim -f avro "$T/sim.avro"
	echo "rtt all 40" >&3
fi
SLOW="-X max.partition.fetch.bytes=1024"
PIDS=
for i in 1 2 3; do
	$TO cv-features -b "$BS" -t ${KT}sim -E -G ${KT}sm $FAST_GROUP $SLOW \
	    -o "$T/m.$i.avro" 2> "$T/m.$i.err" &
	PIDS="$PIDS $!"
done
KAFKA_PIDS="$KAFKA_PIDS $PIDS"
set -- $PIDS
wait_groups m
checkx "B: three instances share the six partitions" '[ $? -eq 0 ]'
sleep 1
kill -TERM "$1"
wait "$1"
s1=$?
sleep 2
kill -KILL "$2"
wait "$2"
wait "$3"
s3=$?
checkx "B: the stopped one exits 0, the last one ends at the end (status $s1, $s3)" \
    '[ $s1 -eq 0 ] && [ $s3 -eq 0 ]'
for i in 1 2 3; do
	cv-cat -f csv "$T/m.$i.avro" 2> /dev/null | sed 1d > "$T/m.$i.csv"
done
n1=$(wc -l < "$T/m.1.csv") n3=$(wc -l < "$T/m.3.csv")
sort "$T"/m.[123].csv > "$T/m.got"
sed 1d "$T/feat.want" | sort > "$T/m.want"
uniq "$T/m.got" > "$T/m.set"
dups=$(($(wc -l < "$T/m.got") - $(wc -l < "$T/m.set")))
missing=$(comm -13 "$T/m.set" "$T/m.want" | wc -l)
extra=$(comm -23 "$T/m.set" "$T/m.want" | wc -l)
echo "# B: $(wc -l < "$T/m.got") records out for $nfeat ($n1 by the one" \
    "stopped, $n3 by the last): $missing missing, $extra not the file's," \
    "$dups duplicates (at-least-once)"
checkx "B: the partitions moved mid-stream (the stopped one wrote some, the last one not all)" \
    '[ $n1 -gt 0 ] && [ $n3 -lt $nfeat ]'
checkx "B: after a stop and a kill -9, every record of the file's run, and no other" \
    '[ $missing -eq 0 ] && [ $extra -eq 0 ]'
