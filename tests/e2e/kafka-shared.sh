#!/bin/sh
# kafka-shared: the Kafka tests on a cluster they share, as with
# KAFKA_BROKERS naming a real broker (tests/fixtures/kafka-lib.sh): one
# cv-broker, made before them with every topic they use, each topic with
# the run's prefix and its own number of partitions (cv-broker -t
# name:partitions; the mock has no CreateTopics, so the tests' creating
# finds them there).  Each test named below runs with KAFKA_BROKERS and
# KAFKA_TOPIC_PREFIX set and its checks count here, named "shared: ...".
# That shows the tests keep to their own topics and groups, and need
# nothing of a cluster of their own but what they skip (kafka-faults).
# With KAFKA_BROKERS already set the tests run on it themselves: skipped.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-shared.XXXXXX")
if [ -n "${KAFKA_BROKERS:-}" ]; then
	rm -rf "$T"
	echo "skip: KAFKA_BROKERS is set: the Kafka tests run on it"
	exit 77
fi
. tests/fixtures/kafka-lib.sh
need_python confluent_kafka
TESTS=${KAFKA_SHARED_TESTS:-kafka-roundtrip kafka-interop kafka-eos}
PREFIX=shared-$$-

# Every topic a test's start_broker lines name, with a prefix for each
# test, "PREFIXtest-name:partitions" a line.
for t in $TESTS; do
	sed -n "s/^start_broker [A-Z0-9]* \([0-9]*\) \(.*\)\$/$t \1 \2/p" \
	    "tests/e2e/$t.sh"
done | awk -v pre="$PREFIX" '{
	n = split($3, name, ",")
	for (i = 1; i <= n; i++)
		print pre $1 "-" name[i] ":" $2
}' | sort > "$T/topics.want"
mock_broker BROKER -t "$(paste -s -d , "$T/topics.want")"
echo "# one cv-broker, $(wc -l < "$T/topics.want") topics made" \
    "beforehand, for: $TESTS"
if command -v kcat > /dev/null 2>&1; then
	$TO kcat -L -b "$BROKER" |
	    sed -n 's/^ *topic "\(.*\)" with \([0-9]*\) partitions:$/\1:\2/p' |
	    sort > "$T/topics.got"
	checkx "cv-broker -t name:partitions,...: each topic with its own partitions (kcat -L)" \
	    'msets_equal "$T/topics.got" "$T/topics.want"'
fi

for t in $TESTS; do
	mkdir "$T/$t"
	t0=$(date +%s)
	KAFKA_BROKERS=$BROKER KAFKA_TOPIC_PREFIX=$PREFIX$t- \
	    TMPDIR=$T/$t sh "tests/e2e/$t.sh" > "$T/$t.out" 2>&1
	st=$?
	echo "# $t: $(($(date +%s) - t0)) s"
	sed -n "s/^\\(ok\\|not ok\\) - /\\1 - shared: $t: /p; s/^#/# $t:/p" \
	    "$T/$t.out"
	if [ $st -eq 77 ]; then
		echo "skip - shared: $t: $(tail -1 "$T/$t.out")"
	elif [ $st -ne 0 ] && ! grep -q '^not ok' "$T/$t.out"; then
		echo "not ok - shared: $t exited $st"
		tail -5 "$T/$t.out" | sed 's/^/#   /'
	fi
done
