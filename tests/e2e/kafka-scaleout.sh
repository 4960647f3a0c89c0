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
#   B. Partitions move mid-stream: the input comes to a topic sim2 in
#      three parts (event-time windows of sim copied with cv-cat --from
#      --until).  Instances 1 and 2 of cv-features share sim2; after the
#      first part, once 1 has written some, 1 is stopped (SIGTERM) and 2
#      takes its partitions from the offsets 1 committed; the second part;
#      instance 3 joins; while the third part is written, 2 is killed
#      (kill -9) and 3 takes its partitions from 2's last commits; 3 is
#      stopped once every record is out.  Each instance reads every
#      partition for the state, so what each writes for its partitions is
#      what one process writes: every record of the file's run must be in
#      the output, no other record, and the duplicates (at-least-once:
#      what 2 did after its last commit) are counted and printed.
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
# cv-features' state spans partitions, so its values are the pipe chain's
# only when the merge takes the records in event time; a partition that
# falls behind by more than --idle (2 s), as one can on a loaded machine
# under the sanitizers, is passed over and its records come late (the
# likeliest cause of a CI run where the feat multiset differed and the
# warnings did not).  The input is written live, so the last records of
# a run wait this out once.
FEAT_IDLE="--idle 10"

cv-sim -N $N --seed 11 -o "$T/sim.avro"
cv-features "$T/sim.avro" > "$T/feat.avro" &&
    cv-cat -f csv "$T/feat.avro" > "$T/feat.want" &&
    cv-predict "$T/feat.avro" | cv-grade -v 2> "$T/grade.v" |
    cv-warn -L -v 2> "$T/warn.v" | cv-cat -f csv > "$T/warn.want"
nfeat=$(($(wc -l < "$T/feat.want") - 1))
nwarn=$(($(wc -l < "$T/warn.want") - 1))
checkx "the pipe chain: $nfeat features, $nwarn warnings" \
    '[ $nfeat -gt 4000 ] && [ $nwarn -gt 500 ]'

start_broker B 6 sim,feat,val,graded,warn,sim2

# wait_parts ERRFILE...: until the last "partitions here" lines of these
# instances' stderr say 6 in all (60 s); the names may be patterns, which
# are matched at each look (a file comes when its instance has started)
wait_parts() {
	poll 600 six_here "$@" && return 0
	for f in $*; do
		echo "# ${f##*/}: $(grep 'partitions here' "$f" | tail -1)"
	done
	return 1
}

# six_here ERRFILE...: their last "partitions here" lines say 6 in all
six_here() {
	n=0
	for f in $*; do
		k=$(grep 'partitions here' "$f" 2> /dev/null | tail -1 |
		    sed 's/.*kafka: \([0-9]*\) of.*/\1/')
		n=$((n + ${k:-0}))
	done
	[ $n -eq 6 ]
}

# wait_groups G...: wait_parts for each group of instances, $T/G.*.err
wait_groups() {
	for g in "$@"; do
		wait_parts "$T/$g.*.err" || return 1
	done
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

## A. The chain, each stateful stage three times.  No member leaves
## before the end, so a session long enough for a loaded machine: one
## evicted mid-run (3 s of FAST_GROUP) rebalances the group, and the
## records since the last commit are written again (at-least-once).
GROUP_A="-X session.timeout.ms=10000 -X heartbeat.interval.ms=1000"
PIDS= ERRS=
# started ERRFILE: note the stage just started in the background
started() {
	PIDS="$PIDS $!"
	ERRS="$ERRS $!:$1"
}
for i in 1 2 3; do
	$TO cv-features $FEAT_IDLE -b "$B" -t ${KT}sim -G ${KT}sf $GROUP_A \
	    -T ${KT}feat 2> "$T/f.$i.err" &
	started "$T/f.$i.err"
	$TO cv-grade -v -b "$B" -t ${KT}val -G ${KT}sg $GROUP_A \
	    -T ${KT}graded 2> "$T/g.$i.err" &
	started "$T/g.$i.err"
	$TO cv-warn -L -v -b "$B" -t ${KT}graded -G ${KT}sw $GROUP_A \
	    -T ${KT}warn 2> "$T/w.$i.err" &
	started "$T/w.$i.err"
done
$TO cv-predict -b "$B" -t ${KT}feat -G ${KT}sp $GROUP_A -T ${KT}val \
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
# -v: each instance counts its own records, not those it replayed for the
# state; summed over the three, the pipe chain's counts.
# vsum PATTERN FILE...: the numbers of the -v lines matching PATTERN,
# summed field by field
vsum() {
	p=$1
	shift
	grep -h "$p" "$@" | sed 's/tier [0-9]://g' | tr -cs '0-9\n' ' ' |
	    awk '{
		for (i = 1; i <= NF; i++)
			s[i] += $i
		n = NF
	} END {
		for (i = 1; i <= n; i++)
			printf "%s%d", (i > 1 ? " " : ""), s[i]
		print ""
	}'
}
gv=$(vsum 'tier 1:' "$T/grade.v") gv3=$(vsum 'tier 1:' "$T"/g.?.err)
wv=$(vsum 'GREEN' "$T/warn.v") wv3=$(vsum 'GREEN' "$T"/w.?.err)
echo "# -v, the pipe chain: cv-grade $gv, cv-warn $wv; three instances" \
    "summed: $gv3, $wv3"
checkx "-v: the three instances' counts of tiers, watch list, lights sum to the pipe chain's" \
    '[ -n "$gv" ] && [ "$gv" = "$gv3" ] && [ -n "$wv" ] && [ "$wv" = "$wv3" ]'

## B. Partitions move mid-stream.  The windows: a third and two thirds
## of the way through the sales, by day.
cv-cat -f csv "$T/sim.avro" | awk -F, '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 == "VehicleObs" { print substr($col["VehicleObs.observed_at"], 1, 10) }' |
    sort > "$T/days"
nv=$(wc -l < "$T/days")
d1=$(sed -n "$((nv / 3))p" "$T/days")
d2=$(sed -n "$((nv * 2 / 3))p" "$T/days")
# part N FROM UNTIL: the records of sim in the window, copied to sim2
part() {
	$TO cv-cat -b "$B" -t ${KT}sim -E -G ${KT}part$1 ${2:+--from $2} \
	    ${3:+--until $3} -f avro -T ${KT}sim2 2> "$T/part$1.err"
}
# records FILE: the records in an instance's output so far
records() {
	cv-cat -f csv "$1" 2> /dev/null | sed 1d
}
wrote_some() {
	[ -n "$(records "$1" | head -1)" ]
}
gone() {
	! kill -0 "$1" 2> /dev/null
}
# all_out: every record of the file's run is in the outputs
all_out() {
	! for k in 1 2 3; do
		records "$T/m.$k.avro"
	done | sort -u | comm -13 - "$T/m.want" | grep -q .
}
# stopped PID: its status once it ends (60 s, then kill -9)
stopped() {
	poll 600 gone "$1" || kill -KILL "$1"
	wait "$1"
}
# Not under $TO: kill -9 must reach the instance itself.
feat_b() {
	cv-features $FEAT_IDLE -b "$B" -t ${KT}sim2 -G ${KT}sm $FAST_GROUP \
	    -o "$T/m.$1.avro" 2> "$T/m.$1.err" &
	KAFKA_PIDS="$KAFKA_PIDS $!"
}
feat_b 1
m1=$!
feat_b 2
m2=$!
wait_parts "$T/m.1.err" "$T/m.2.err"
sb1=$?
part 1 "" "$d1"
poll 300 wrote_some "$T/m.1.avro"
kill -TERM $m1
stopped $m1
s1=$?
part 2 "$d1" "$d2"
feat_b 3
m3=$!
# 3 has its partitions, and 2 has given them up
poll 600 grep -q '[1-9][0-9]* of 6 partitions here' "$T/m.3.err"
wait_parts "$T/m.2.err" "$T/m.3.err"
sb2=$?
part 3 "$d2" "" &
pp=$!
sleep 0.5
kill -KILL $m2
stopped $m2
s2=$?
wait $pp
sed 1d "$T/feat.want" | sort > "$T/m.want"
poll 600 all_out
kill -TERM $m3
stopped $m3
s3=$?
echo "# B: windows from $d1, from $d2; instance 1 stopped (status $s1)," \
    "2 killed ($s2), 3 stopped ($s3)"
checkx "B: 1 and 2 share the six partitions, then 2 and 3" \
    '[ $sb1 -eq 0 ] && [ $sb2 -eq 0 ]'
checkx "B: SIGTERM: 1 and 3 exit 0; kill -9 ends 2 (status $s1, $s2, $s3)" \
    '[ $s1 -eq 0 ] && [ $s2 -eq 137 ] && [ $s3 -eq 0 ]'
for i in 1 2 3; do
	records "$T/m.$i.avro" > "$T/m.$i.csv"
done
n1=$(wc -l < "$T/m.1.csv") n2=$(wc -l < "$T/m.2.csv")
n3=$(wc -l < "$T/m.3.csv")
sort "$T"/m.[123].csv > "$T/m.got"
uniq "$T/m.got" > "$T/m.set"
dups=$(($(wc -l < "$T/m.got") - $(wc -l < "$T/m.set")))
missing=$(comm -13 "$T/m.set" "$T/m.want" | wc -l)
extra=$(comm -23 "$T/m.set" "$T/m.want" | wc -l)
echo "# B: $(wc -l < "$T/m.got") records out for $nfeat ($n1 by 1," \
    "$n2 by 2, $n3 by 3): $missing missing, $extra not the file's," \
    "$dups duplicates (at-least-once)"
checkx "B: each wrote some, none all (the partitions moved mid-stream)" \
    '[ $n1 -gt 0 ] && [ $n2 -gt 0 ] && [ $n3 -gt 0 ] &&
    [ $n1 -lt $nfeat ] && [ $n2 -lt $nfeat ] && [ $n3 -lt $nfeat ]'
checkx "B: after a stop and a kill -9, every record of the file's run, and no other" \
    '[ $missing -eq 0 ] && [ $extra -eq 0 ]'
