#!/bin/sh
# kafka-shared: the Kafka tests on a cluster they share, as with
# KAFKA_BROKERS naming a production cluster (tests/fixtures/kafka-lib.sh):
# one broker (scripts/kafka) for all of them.  Each test named below runs
# with KAFKA_BROKERS and KAFKA_TOPIC_PREFIX set, creates its topics there
# with the prefix, and its checks count here, named "shared: ...".  That
# shows the tests keep to their own topics and groups, and need nothing of
# a cluster of their own but what they skip (kafka-faults).  With
# KAFKA_BROKERS already set the tests run on it themselves: skipped.  Run
# from the repository root with the programs on PATH (tests/run does).
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
real_broker BROKER
echo "# one broker at $BROKER for: $TESTS"

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
# The topics each test made, with their prefixes, and none unprefixed.
if command -v kcat > /dev/null 2>&1; then
	$TO kcat -L -b "$BROKER" | sed -n 's/^ *topic "\(.*\)" with .*/\1/p' |
	    grep -v '^__' > "$T/topics"
	checkx "every topic the tests made carries its test's prefix ($(wc -l < "$T/topics") topics)" \
	    '[ -s "$T/topics" ] && ! grep -v "^$PREFIX" "$T/topics"'
fi
