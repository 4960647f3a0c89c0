#!/bin/sh
# kafka-faults: every record arrives through the faults librdkafka's mock
# cluster injects (README, Kafka: delivery), on a cv-broker of its own
# with 3 brokers and 4 partitions a topic, driven by commands on its
# standard input (a fifo).  The records: the Odyssey auction sales as
# cv-ingest writes them (3,496), compared as multisets of `cv-cat -f csv`
# rows with what went in, losses and duplicates counted and printed.
#
#   a. Produce errors: NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT,
#      NOT_ENOUGH_REPLICAS and a dropped connection (_TRANSPORT) while
#      `cv-cat -T a` writes the file.  The mock appends nothing when it
#      injects an error, and the producer retries: every record once.
#   b. A rolling restart: each broker down for 0.7 s and up again, one
#      after the other, while `cv-ingest -T b` is fed the CSV slowly.
#      Nothing lost.  Duplicates are possible, and only as many as the
#      batches a broker took just before it went down and that were sent
#      again: librdkafka 2.0.2's mock does not deduplicate an idempotent
#      producer by sequence number (it checks them for transactional
#      producers only); a real broker would.
#   c. A stage in a group, `cv-cat -t a -G stage -E -f avro -T c`, slowed
#      down (30 ms round trips, small fetches) so that the faults come
#      while it reads and writes: FindCoordinator, JoinGroup and
#      OffsetCommit (its first) errors set before it starts, then Fetch,
#      Heartbeat, OffsetCommit and Produce errors, and the leader of the
#      busiest partition of a down for 1.2 s.  Nothing lost; duplicates only as
#      in b, or after a rebalance (at-least-once: a partition taken away
#      before its offsets were committed is read again from the last
#      commit).  Run again in the group it reads nothing: the offsets got
#      committed, unless the session timed out and they were refused.
#   d. The commands themselves: a bad one is answered on stderr with its
#      line and the broker goes on; once its stdin ends it still serves
#      (the checks of a, b and c read the topics after that), and it
#      ends with status 0 on SIGTERM.
# Each fault is checked to have happened (librdkafka's debug log names
# it).  Run from the repository root with the programs on PATH (tests/run
# does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-faults.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_mock "injecting faults"
DATA=pipelines/data/auction_honda_odyssey_3500.csv
MAP=pipelines/maps/auction.map
[ -f "$DATA" ] || { echo "skip: $DATA absent"; exit 77; }

cv-ingest -e skip -M $MAP -o "$T/in.avro" "$DATA" 2> /dev/null
cv-cat -f csv "$T/in.avro" | sed 1d > "$T/in.csv"
n=$(wc -l < "$T/in.csv")

# The broker reads its commands from a fifo, held open on fd 3 until d.
mkfifo "$T/ctl"
cv-broker -n 3 -p 4 -t a,b,c < "$T/ctl" > "$T/broker.out" \
    2> "$T/broker.err" &
BROKER=$!
KAFKA_PIDS="$KAFKA_PIDS $BROKER"
exec 3> "$T/ctl"
i=0
while [ ! -s "$T/broker.out" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $BROKER 2> /dev/null; then
		echo "skip: cv-broker printed no bootstrap list"
		exit 77
	fi
	sleep 0.1
done
B=$(head -1 "$T/broker.out")

# ctl COMMAND...: one command to the broker; waits for its answer (10 s at
# most).  True if it was "ok"; a command that was not is counted in
# $BADCTL.
NCTL=0
BADCTL=0
ctl() {
	NCTL=$((NCTL + 1))
	echo "$*" >&3
	i=0
	while [ $i -lt 200 ]; do
		grep -q "^ok $NCTL: " "$T/broker.out" && return 0
		grep -q "stdin:$NCTL: " "$T/broker.err" && break
		sleep 0.05
		i=$((i + 1))
	done
	echo "# command $NCTL, $*: not ok"
	BADCTL=$((BADCTL + 1))
	return 1
}

# wait_log FILE PATTERN: until FILE has a line matching PATTERN (30 s at
# most)
wait_log() {
	i=0
	while ! grep -q "$2" "$1" 2> /dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# persisted TOPIC LOG: the records of TOPIC in batches whose connection
# dropped before the answer (librdkafka: MsgPossiblyPersisted) and that
# were sent again.  The mock appends a batch before it answers and does
# not deduplicate an idempotent producer by sequence (it checks them for
# transactional producers only), so each such batch may be in the topic
# twice; a real broker would drop the second copy.
persisted() {
	sed -n "s/.*: $1 \[[0-9]*\]: MessageSet with \([0-9]*\) message.*encountered error: Local: Broker transport failure.*MsgPossiblyPersisted.*/\1/p" \
	    "$2" | awk '{ s += $1 } END { print s + 0 }'
}

# compare TOPIC CSV: $lost (rows of the input missing from CSV) and $dups
# (rows beyond the input's), as multisets
compare() {
	sort "$T/in.csv" > "$T/in.sorted"
	sort "$2" > "$T/$1.sorted"
	lost=$(comm -23 "$T/in.sorted" "$T/$1.sorted" | wc -l)
	dups=$(comm -13 "$T/in.sorted" "$T/$1.sorted" | wc -l)
}

# a. Produce errors, one per Produce request that follows.
ctl error Produce NOT_LEADER_FOR_PARTITION 3
ctl error Produce REQUEST_TIMED_OUT 3
ctl error Produce NOT_ENOUGH_REPLICAS 2
ctl error Produce _TRANSPORT 1
cv-cat -b "$B" -T a -f avro -X debug=msg "$T/in.avro" 2> "$T/a.err"
sa=$?
ctl clear Produce
failed_a=$(grep -c 'encountered error' "$T/a.err")
drop_a=$(grep -c 'encountered error: Local: Broker transport failure' \
    "$T/a.err")

# b. A rolling restart while cv-ingest streams into b.
awk 'NR > 1 && NR % 50 == 0 { fflush(); system("sleep 0.05") } { print }' \
    "$DATA" | cv-ingest -e skip -M $MAP -b "$B" -T b -X debug=msg \
    2> "$T/b.err" &
pb=$!
wait_log "$T/b.err" ' delivered$'
for id in 1 2 3; do
	ctl down $id
	sleep 0.7
	ctl up $id
done
kill -0 $pb 2> /dev/null && running_b=yes || running_b=no
wait $pb
sb=$?
refused_b=$(grep -c 'Connection refused\|Disconnected' "$T/b.err")
pp_b=$(persisted b "$T/b.err")

# c. The stage.  The busiest partition of a and its leader, from the
# producer's log of a ("127.0.0.1:PORT/ID: a [P]: MessageSet with N
# message(s) ... delivered").
leader=$(sed -n 's|.*/\([0-9]*\): a \[\([0-9]*\)\]: MessageSet with \([0-9]*\) message.* delivered$|\3 \1|p' \
    "$T/a.err" | sort -n | tail -1 | cut -d' ' -f2)
[ -n "$leader" ] || leader=1
# A session long enough for the broker down and the Heartbeat errors
# together (FAST_GROUP's 3 s is not).
STAGE_GROUP="-X session.timeout.ms=6000 -X heartbeat.interval.ms=300"
[ "${VALGRIND:-0}" = 1 ] && STAGE_GROUP=$FAST_GROUP
ctl rtt all 30
ctl error FindCoordinator COORDINATOR_NOT_AVAILABLE 2
ctl error JoinGroup COORDINATOR_LOAD_IN_PROGRESS 1
# Its first commit fails whenever it comes (a stage that ends before the
# faults below still commits at the end).
ctl error OffsetCommit NOT_COORDINATOR 1
$TO cv-cat -b "$B" -t a -G stage $STAGE_GROUP -E \
    -X max.partition.fetch.bytes=1024 -X debug=cgrp,fetch,msg \
    -f avro -T c 2> "$T/c.err" &
pc=$!
# Once it writes c: the faults come while it reads.
wait_log "$T/c.err" ': c \[[0-9]*\]: MessageSet with .* delivered$'
ctl error Fetch NOT_LEADER_FOR_PARTITION 2
ctl error Fetch REQUEST_TIMED_OUT 2
ctl error Heartbeat NOT_COORDINATOR 2
ctl error OffsetCommit REQUEST_TIMED_OUT 2
ctl error Produce NOT_LEADER_FOR_PARTITION 2
ctl down "$leader"
sleep 1.2
ctl up "$leader"
kill -0 $pc 2> /dev/null && running_c=yes || running_c=no
wait $pc
sc=$?
for r in Fetch Heartbeat OffsetCommit Produce FindCoordinator JoinGroup; do
	ctl clear $r
done
ctl rtt all 0
coord_c=$(grep -c 'FindCoordinator response error: COORDINATOR_NOT_AVAILABLE' \
    "$T/c.err")
join_c=$(grep -c 'JoinGroup error: Broker: Coordinator load in progress' \
    "$T/c.err")
fetch_c=$(grep -c 'Fetch backoff .*: Broker: \(Not leader\|Request timed out\)' \
    "$T/c.err")
hb_c=$(grep -c 'heartbeat error response .*: Broker: Not coordinator' \
    "$T/c.err")
commit_c=$(grep -c 'querying for coordinator: OffsetCommitRequest failed' \
    "$T/c.err")
produce_c=$(grep -c ': c \[[0-9]*\]: .*encountered error' "$T/c.err")
joins_c=$(grep -c 'JoinGroup response: GenerationId [0-9]' "$T/c.err")
lostasg_c=$(grep -c 'current assignment of .* lost' "$T/c.err")
# A commit at the end refused for good (librdkafka: COMMITFAIL), e.g.
# UNKNOWN_MEMBER_ID once the mock dropped the member with its coordinator's
# connection.
endfail_c=$(grep -c 'COMMITFAIL.*(\(unassigned partitions\|manual\))' \
    "$T/c.err")
pp_c=$(persisted c "$T/c.err")
# The same group again: nothing left to do if the offsets were committed.
$TO cv-cat -b "$B" -t a -G stage $STAGE_GROUP -E -f csv > "$T/c2.csv" \
    2> "$T/c2.err"
sc2=$?
again=$(grep -vc '^type,' "$T/c2.csv")

# d. A bad command, then a good one; then the end of the commands.
echo "down 9" >&3
NCTL=$((NCTL + 1))
bad=$NCTL
ctl up all
grep "stdin:$bad: " "$T/broker.err" | sed 's/^/# /'
checkx "a bad command: stdin:$bad and why on stderr, the next one done" \
    '[ "$(grep -c "^cv-broker: stdin:$bad: down: 9: " "$T/broker.err")" -eq 1 ] &&
    grep -q "^ok $((bad + 1)): broker all up" "$T/broker.out"'
checkx "every other command answered ok ($NCTL commands, $BADCTL not ok)" \
    '[ $BADCTL -eq 0 ] && [ $NCTL -gt 20 ]'
exec 3>&-
sleep 0.3

# The topics, read back after the broker's stdin ended.
$TO cv-cat -b "$B" -t a -E -G chk-a -f csv > "$T/a.csv" 2> "$T/ra.err" &
p1=$!
$TO cv-cat -b "$B" -t b -E -G chk-b -f csv > "$T/b.csv" 2> "$T/rb.err" &
p2=$!
$TO cv-cat -b "$B" -t c -E -G chk-c -f csv > "$T/c.csv" 2> "$T/rc.err" &
p3=$!
wait $p1; r1=$?
wait $p2; r2=$?
wait $p3; r3=$?
checkx "the broker serves after the end of its stdin (read back: status $r1 $r2 $r3)" \
    'kill -0 $BROKER && [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ $r3 -eq 0 ]'

sed 1d "$T/a.csv" > "$T/a.rows"
compare a "$T/a.rows"
echo "# a: $n records in, $(wc -l < "$T/a.rows") in a: $lost lost," \
    "$dups duplicates; $failed_a Produce requests failed, $drop_a of" \
    "them by a dropped connection"
checkx "a. Produce errors: cv-cat -T a exits 0 and a holds every record once (status $sa, $lost lost, $dups duplicates)" \
    '[ $sa -eq 0 ] && [ $lost -eq 0 ] && [ $dups -eq 0 ]'
checkx "a. the injected Produce errors happened ($failed_a requests failed)" \
    '[ $failed_a -ge 9 ] && [ $drop_a -ge 1 ] &&
    grep -q "encountered error: Broker: Not leader for partition" "$T/a.err" &&
    grep -q "encountered error: Broker: Request timed out" "$T/a.err" &&
    grep -q "encountered error: Broker: Not enough in-sync replicas" "$T/a.err"'

sed 1d "$T/b.csv" > "$T/b.rows"
compare b "$T/b.rows"
echo "# b: $n records in, $(wc -l < "$T/b.rows") in b: $lost lost," \
    "$dups duplicates ($pp_b records sent again after a dropped" \
    "connection); still streaming when the last broker came back:" \
    "$running_b; $refused_b lines on refused or lost connections"
checkx "b. rolling restart of the 3 brokers: cv-ingest -T b delivers every record (status $sb, $lost lost)" \
    '[ $sb -eq 1 ] && grep -q "read 3500 = written $n + absorbed 0 + rejected 4" "$T/b.err" &&
    [ $lost -eq 0 ]'
checkx "b. a duplicate only where a batch was sent again after a dropped connection ($dups duplicates, $pp_b sent again)" \
    '[ $dups -le $pp_b ]'
checkx "b. the restarts came while cv-ingest streamed, and it saw them" \
    '[ $running_b = yes ] && [ $refused_b -gt 0 ]'

sed 1d "$T/c.csv" > "$T/c.rows"
compare c "$T/c.rows"
echo "# c: $n records in, $(wc -l < "$T/c.rows") in c: $lost lost," \
    "$dups duplicates ($pp_c records sent again after a dropped" \
    "connection); $joins_c joins to the group, $lostasg_c assignments" \
    "lost; broker $leader down while the stage ran: $running_c"
echo "# c: failed FindCoordinator $coord_c, JoinGroup $join_c," \
    "Fetch $fetch_c (partitions backed off), Heartbeat $hb_c," \
    "OffsetCommit $commit_c, Produce $produce_c"
checkx "c. faults under a stage in a group: it exits 0 and c holds every record (status $sc, $lost lost)" \
    '[ $sc -eq 0 ] && [ $lost -eq 0 ]'
checkx "c. a duplicate only where a batch was sent again or the group rebalanced ($dups duplicates, $pp_c sent again, $joins_c joins, $lostasg_c lost)" \
    '[ $dups -le $pp_c ] || [ $joins_c -gt 1 ] || [ $lostasg_c -gt 0 ]'
# Fetch, Heartbeat and Produce errors and the broker down land only if
# the stage is still reading then (not on a loaded machine): counted
# above; the group's faults always land.
checkx "c. the group's faults happened while the stage ran" \
    '[ $coord_c -ge 1 ] && [ $join_c -ge 1 ] && [ $commit_c -ge 1 ]'
# Unless the assignment was lost or the last commit refused: then
# at-least-once means reading again from the last commit that stood.
echo "# c: run again in the group: $again records read again;" \
    "$endfail_c commits at the end refused"
checkx "c. its offsets were committed despite the errors: run again, the group reads nothing, unless the last commit was refused (status $sc2, $again records, $endfail_c refused, $lostasg_c assignments lost)" \
    '[ $sc2 -eq 0 ] && { [ $again -eq 0 ] || [ $endfail_c -gt 0 ] ||
    [ $lostasg_c -gt 0 ]; }'

kill -TERM $BROKER
wait $BROKER
st=$?
KAFKA_PIDS=$(echo "$KAFKA_PIDS" | sed "s/ $BROKER\$//; s/ $BROKER / /")
checkx "cv-broker: SIGTERM ends it with status 0 ($st), nothing on stderr but the bad command" \
    '[ $st -eq 0 ] && [ "$(grep -vc "stdin:$bad: " "$T/broker.err")" -eq 0 ]'
