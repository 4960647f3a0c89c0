#!/bin/sh
# kafka.sh: the loan-book chain of make run over Kafka topics (make
# run-kafka).  scripts/kafka starts an Apache Kafka broker on loopback
# (fetched once into a cache) with the four topics, 8 partitions each,
# and stops it at the end; cv-features
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
trap 'scripts/kafka stop "$T/kafka"; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
P=8
B=$(scripts/kafka start -p $P -t features,valuations,graded,warnings \
    "$T/kafka") || exit 1
# A consumer group per stage; short sessions suit a one-shot run.
K="-b $B -X session.timeout.ms=6000 -X heartbeat.interval.ms=500"
echo "== the loan book over Kafka (a broker at $B, $P partitions a topic)"
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
