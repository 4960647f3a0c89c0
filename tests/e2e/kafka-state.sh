#!/bin/sh
# kafka-state: a stateful stage with a state file (-S) over topics,
# killed with SIGKILL again and again at random moments and restarted,
# ends with the state file and the output of one run that was never
# killed (README, Kafka: state that survives a crash).  On Apache Kafka.
#
# The state and where it stands in the input (each partition's next
# offset) are written in one sqlite transaction at every checkpoint, after
# the outputs are delivered and the offsets committed; a restart reads
# each partition from the state's position, and what it reads again up to
# the group's committed offsets is replayed (state only, no output).
#
#   - cv-features -S -l 86400 --eos over a cv-sim stream on four partitions:
#     records are held a day of event time to be put in order, so a
#     kill always finds some held (they are in the state file, not lost:
#     before, they were acknowledged when held and lost with the process).
#   - cv-grade -S at-least-once (Valuation in): nothing lost, outputs
#     again only as counted duplicates, the state equal.
#   - cv-warn -S --eos (Graded in): exactly the uninterrupted run's output.
#   - cv-index -S --eos (Features in): the same, its series' levels and
#     the sales of their open periods carried over the kills.
# Each stage is killed 20 times, each at a random moment once its state
# file has moved on since the last kill (0-0.2 s later; 0-0.05 s for grade,
# warn and index, which are faster and held four fifths of the time by SIGSTOP
# and SIGCONT), with a checkpoint every 50 ms; then it is
# run to the end (-E).  Half the kills at least must find the state file
# moved on since the one before (it can be written again after the wait).
# The four run at once, each on its own topics.  The reference is the
# same stage, never killed, with a state file of its own, over the same
# topic; its output is also the file run's (the pipe chain's) multiset.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-state.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_kcat
need_python sqlite3
if [ "${VALGRIND:-0}" = 1 ]; then
	echo "skip: not under valgrind (sixty live consumers killed and restarted)"
	exit 77
fi
K=20 N=100000
# Small fetches, so that a stage takes long enough to be killed 20 times;
# cv-grade and cv-warn, which read 50k records a second, are also held
# (SIGSTOP) four fifths of the time while they are to be killed.
SLOW_features="-X max.partition.fetch.bytes=1000" WAIT_features=0.2
SLOW_grade=$SLOW_features WAIT_grade=0.05 HOLD_grade=1
SLOW_warn=$SLOW_features WAIT_warn=0.05 HOLD_warn=1
SLOW_index=$SLOW_features WAIT_index=0.05 HOLD_index=1

cv-sim -N $N --seed 41 -o "$T/sim.avro"
cv-features -l 86400 "$T/sim.avro" > "$T/feat.avro"
cv-predict "$T/feat.avro" > "$T/val.avro"
cv-grade "$T/val.avro" > "$T/graded.avro"
cv-warn "$T/graded.avro" > "$T/warn.avro"
cv-index -n 20 "$T/feat.avro" > "$T/index.avro"
for f in feat graded warn index; do
	cv-cat -f csv "$T/$f.avro" | sed 1d > "$T/$f.want"
done
start_broker B 4 sim,val,graded,feat,feat.k,feat.r,graded.k,graded.r,warn.k,warn.r,index.k,index.r
cv-cat -b "$B" -T "${KT}sim" -f avro "$T/sim.avro"
cv-cat -b "$B" -T "${KT}val" -f avro "$T/val.avro"
cv-cat -b "$B" -T "${KT}graded" -f avro "$T/graded.avro"
cv-cat -b "$B" -T "${KT}feat" -f avro "$T/feat.avro"

# stage NAME RUN: the stage of NAME (features, grade, warn, index) for RUN (k:
# killed, r: the reference) in the background to the input's end, its pid
# in $T/NAME.RUN.pid
stage() {
	case $1 in
	features) in=sim out=feat args="-S $T/features.$2.db -l 86400 --eos" ;;
	grade) in=val out=graded args="-S $T/grade.$2.db" ;;
	warn) in=graded out=warn args="-S $T/warn.$2.db --eos" ;;
	index) in=feat out=index args="-S $T/index.$2.db -n 20 --eos" ;;
	esac
	cv-$1 $args -b "$B" -t "$KT$in" -E -G "${KT}s$1.$2" $FAST_GROUP \
	    --checkpoint 0.05 \
	    $(eval echo \$SLOW_$1) \
	    -T "$KT$out.$2" 2>> "$T/$1.$2.err" &
	echo $! > "$T/$1.$2.pid"
}

# $T/at.py DB [PID AT]: "records-read held" of the state file DB (the sum
# of its partitions' next offsets, and the records it holds for -l); with
# PID and AT, first wait (30 s at most) until it has moved past AT or PID
# has ended
cat > "$T/at.py" <<'PYEOF'
import os, sqlite3, sys, time

def where(path):
    try:
        db = sqlite3.connect(path)
        at = db.execute("SELECT coalesce(sum(next), 0) FROM input_positions").fetchone()[0]
        held = db.execute("SELECT count(*) FROM held").fetchone()[0] \
            if db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'held'").fetchone()[0] else "-"
        db.close()
        return at, held
    except sqlite3.Error:
        return 0, "-"

if len(sys.argv) > 2:
    pid, was = int(sys.argv[2]), int(sys.argv[3])
    end = time.time() + 30
    while where(sys.argv[1])[0] <= was and time.time() < end:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.01)
print(*where(sys.argv[1]))
PYEOF

# killed NAME: the stage killed K times, restarted each time, then run to
# the end; "kills status" in $T/NAME.kills.  Each kill comes once the state
# file has moved on since the last (the run got somewhere), a random 0 to
# WAIT_NAME seconds later.
killed() {
	n=0 at=0
	while [ $n -lt $K ]; do
		: > "$T/$1.k.err"
		stage $1 k
		pid=$(cat "$T/$1.k.pid")
		hp=
		if [ -n "$(eval echo \${HOLD_$1:-})" ]; then
			while kill -STOP "$pid" 2> /dev/null; do
				sleep 0.04
				kill -CONT "$pid" 2> /dev/null
				sleep 0.01
			done &
			hp=$!
		fi
		"$PY" "$T/at.py" "$T/$1.k.db" "$pid" "$at" > /dev/null
		sleep "$(awk -v s=$$$n -v w=$(eval echo \$WAIT_$1) \
		    'BEGIN { srand(s); printf "%.3f", rand() * w }')"
		if ! kill -0 "$pid" 2> /dev/null; then
			wait "$pid"
			[ -n "$hp" ] && wait "$hp"
			break	# done before the kill
		fi
		kill -KILL "$pid"
		wait "$pid" 2> /dev/null
		[ -n "$hp" ] && wait "$hp"
		n=$((n + 1))
		"$PY" "$T/at.py" "$T/$1.k.db" >> "$T/$1.at"
		at=$(tail -1 "$T/$1.at" | cut -d' ' -f1)
		cat "$T/$1.k.err" >> "$T/$1.k.log"
	done
	stage $1 k
	wait "$(cat "$T/$1.k.pid")"
	echo "$n $?" > "$T/$1.kills"
}

t0=$(date +%s.%N)
for s in features grade warn index; do
	( stage $s r; wait "$(cat "$T/$s.r.pid")"; st=$?
	  echo "$st $(echo "$(date +%s.%N) - $t0" | bc)" > "$T/$s.r.done" ) &
	echo $! > "$T/$s.r.pid2"
	killed $s &
	echo $! > "$T/$s.loop"
done
st_r=0
for s in features grade warn index; do
	wait "$(cat "$T/$s.r.pid2")"
	wait "$(cat "$T/$s.loop")"
	set -- $(cat "$T/$s.r.done")
	[ "$1" -eq 0 ] || st_r=$1
	echo "# $s: the reference ran in $2 s"
done
checkx "the references, never killed, exit 0 ($st_r)" '[ $st_r -eq 0 ]'

# out TOPIC: its records as CSV lines, read_committed
out() {
	$TO cv-cat -b "$B" -t "$KT$1" -E -G "${KT}read.$1" -f csv | sed 1d
}

# dump DB: its tables as SQL text, rows sorted, one table after another
dump() {
	"$PY" -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = \"table\" ORDER BY name"):
    for row in sorted(map(repr, db.execute("SELECT * FROM \"%s\"" % t))):
        print(t, row)' "$1"
}

for s in features grade warn index; do
	case $s in
	features) o=feat ;; grade) o=graded ;; warn) o=warn ;; index) o=index ;;
	esac
	wait_msgs "$B" "$o.r" "$(wc -l < "$T/$o.want")"
	out "$o.r" > "$T/$o.r"
	out "$o.k" > "$T/$o.k"
	dump "$T/$s.r.db" > "$T/$s.r.dump"
	dump "$T/$s.k.db" > "$T/$s.k.dump"
	set -- $(cat "$T/$s.kills")
	kills=$1 last=$2
	echo "# $s: killed $kills times, then exit $last;" \
	    "$(wc -l < "$T/$o.k") records out against $(wc -l < "$T/$o.r");" \
	    "$(grep -c '^input_positions ' "$T/$s.k.dump") positions kept"
	[ $s = features ] && echo "# features: records held (-l) in the state" \
	    "file when killed: $(cut -d' ' -f2 "$T/$s.at" | tr '\n' ' ')"
	moved=$(awk '$1 > last { n++ } { last = $1 } END { print n + 0 }' \
	    "$T/$s.at")
	checkx "$s: the reference's output is the file run's multiset" \
	    'msets_equal "$T/$o.r" "$T/$o.want"'
	checkx "$s: killed $kills times at random moments (of $K), then run to the end: exit $last (0)" \
	    '[ "$kills" -eq $K ] && [ "$last" -eq 0 ]'
	checkx "$s: the state file had moved on when killed in $moved of the $kills runs (at least half)" \
	    '[ $((2 * moved)) -ge "$kills" ]'
	checkx "$s: the state file after the kills is the uninterrupted run's, table for table" \
	    '[ -s "$T/$s.r.dump" ] && cmp -s "$T/$s.k.dump" "$T/$s.r.dump" || { diff "$T/$s.k.dump" "$T/$s.r.dump" | head -5 | cut -c1-160 | sed "s/^/#   /"; false; }'
	if [ $s = grade ]; then
		sort "$T/$o.k" > "$T/$o.k.s"
		sort -u "$T/$o.k" > "$T/$o.k.u"
		sort -u "$T/$o.r" > "$T/$o.r.u"
		miss=$(comm -13 "$T/$o.k.u" "$T/$o.r.u" | wc -l)
		extra=$(comm -23 "$T/$o.k.u" "$T/$o.r.u" | wc -l)
		dup=$(($(wc -l < "$T/$o.k.s") - $(wc -l < "$T/$o.k.u")))
		echo "# grade, at-least-once: $miss missing, $extra not the" \
		    "reference's, $dup duplicates (what a stage wrote after" \
		    "its last commit)"
		checkx "grade, at-least-once: every record of the reference's, no other, duplicates counted ($dup)" \
		    '[ $miss -eq 0 ] && [ $extra -eq 0 ]'
	else
		checkx "$s, --eos: the output read_committed is the uninterrupted run's multiset: no loss, no duplicate" \
		    'msets_equal "$T/$o.k" "$T/$o.r"'
	fi
done
