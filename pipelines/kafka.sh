#!/bin/sh
# kafka.sh: the loan-book chain of make run over Kafka topics (make
# run-kafka).  cv-broker starts librdkafka's mock cluster; cv-features
# merges the shipped files in event time and writes the topic features;
# each later stage reads its topic to the end (-E) and writes the next:
# valuations, graded, warnings; cv-store keeps the warnings in
# out/kafka.db.  Messages are keyed by segment, so a vehicle's and a
# loan's records stay in one partition, in order, which is all the
# stateful stages after cv-features need.  The result is compared with
# the pipe chain's (out/cvpipe.db, from make run).
set -u
cd "$(dirname "$0")/.."
PATH=$PWD/bin:$PATH
[ -s out/cvpipe.db ] && [ -s out/book-models.db ] || pipelines/adhoc.sh > /dev/null
T=$(mktemp -d "${TMPDIR:-/tmp}/cvpipe-kafka.XXXXXX")
bpid=
trap '[ -n "$bpid" ] && kill "$bpid" 2> /dev/null; rm -rf "$T"' EXIT INT TERM
P=8
cv-broker -p $P -t features,valuations,graded,warnings > "$T/addr" &
bpid=$!
i=0
while [ ! -s "$T/addr" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
B=$(head -1 "$T/addr")
[ -n "$B" ] || { echo "kafka: cv-broker did not start" >&2; exit 1; }
# A consumer group per stage; short sessions suit a one-shot run.
K="-b $B -X session.timeout.ms=6000 -X heartbeat.interval.ms=500"
echo "== the loan book over Kafka (cv-broker at $B, $P partitions a topic)"
run() {	# what command...: run a stage, show its summary line
	printf '%-34s ' "$1"
	shift
	"$@" -v 2>&1 | grep ' read ' | sed 's/^[^:]*: //'
}
rm -f out/kafka.db*
run "cv-features (files) -> features" cv-features -T features $K \
    out/cpi-used-sa.avro out/sales-new-saar.avro out/auction-sales.avro \
    out/loanbook.avro
run "cv-predict -> valuations" cv-predict -P -m out/book-models.db $K \
    -t features -E -T valuations
run "cv-grade -> graded" cv-grade -c pipelines/grade.conf \
    -r pipelines/segments.csv $K -t valuations -E -T graded
run "cv-warn -> warnings" cv-warn -L -c pipelines/warn.conf $K \
    -t graded -E -T warnings
run "cv-store <- warnings" cv-store -d out/kafka.db -n warning $K \
    -t warnings -E
echo
echo "-- lights of every snapshot: over Kafka, and by pipes (make run)"
for db in out/kafka.db out/cvpipe.db; do
	sqlite3 "$db" "select light, count(*) from warning group by light
	    order by light" | tr '\n' ' '
	echo "  ($db)"
done
q="select loan_id, observed_at, light, grade, printf('%.9f', ltv)
    from warning order by 1, 2"
if [ "$(sqlite3 out/kafka.db "$q" | md5sum)" = \
    "$(sqlite3 out/cvpipe.db "$q" | md5sum)" ]; then
	echo "the same loans, snapshots, lights, grades and LTVs both ways"
else
	echo "kafka: the two ways differ" >&2
	exit 1
fi
