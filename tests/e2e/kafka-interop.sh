#!/bin/sh
# kafka-interop: tools that share no code with cvpipe read what cv- filters
# write to Kafka (README, Kafka) on a cv-broker of its own (4 partitions).
# The topics: ev (a cv-sim Event stream written by cv-cat -T), feat
# (cv-features on that file writing -T) and idx (cv-ingest -T of
# tests/fixtures/kafka-index.csv: index values with and without
# published_at).
#
#   - kcat (librdkafka's own consumer, no group): the key, the header and
#     the timestamp of every message, `-f '%k\t%h\t%T\n'`, are as a
#     multiset the record's key (an Event's segment, a later record's
#     vehicle_id: README, Kafka), schema=NAME and its event time
#     (observed_at, else published_at, else for an index value never
#     published its period, DESIGN: Records) in milliseconds, computed here
#     with awk from `cv-cat -f csv` of the file; an IndexObs counts once per
#     partition.
#   - python3-confluent-kafka + python3-avro (tests/fixtures/
#     kafka-check.py): bytes 0..1 C3 01, bytes 2..9 the CRC-64-AVRO
#     fingerprint of the schema's canonical form computed in python from
#     schemas/, the body decoded by BinaryDecoder to the values
#     `cv-cat -f json` shows of the file, header, key and timestamp again;
#     every IndexObs in every partition once, the records of one key in
#     one partition.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-interop.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_kcat
need_python avro.io avro.schema confluent_kafka

cv-sim -N 3000 --seed 11 -o "$T/sim.avro"
cv-features -o "$T/feat.avro" "$T/sim.avro"
cv-ingest -M tests/fixtures/kafka-index.map -o "$T/idx.avro" \
    tests/fixtures/kafka-index.csv
for s in sim feat idx; do
	cv-cat -f csv "$T/$s.avro" > "$T/$s.csv"
	cv-cat -f json "$T/$s.avro" > "$T/$s.json"
done

start_broker B 4 ev,feat,idx
cv-cat -b "$B" -T ${KT}ev -f avro "$T/sim.avro"
s1=$?
cv-features -b "$B" -T ${KT}feat "$T/sim.avro"
s2=$?
cv-ingest -b "$B" -T ${KT}idx -M tests/fixtures/kafka-index.map \
    tests/fixtures/kafka-index.csv
s3=$?
checkx "cv-cat, cv-features and cv-ingest write topics (status $s1 $s2 $s3)" \
    '[ $s1 -eq 0 -a $s2 -eq 0 -a $s3 -eq 0 ]'

# expect SCHEMA CSV NPART: "key TAB schema=SCHEMA TAB ms" for each record of
# CSV (cv-cat -f csv), an IndexObs NPART times; columns found by name.
expect() {
	awk -F, -v schema="$1" -v np="$3" "$AWK_MS"'
	NR == 1 {
		for (i = 1; i <= NF; i++)
			col[$i] = i
		next
	}
	$1 == "IndexObs" {
		t = $col["IndexObs.published_at"]
		if (t == "")
			t = $col["IndexObs.period"]
		for (i = 0; i < np; i++)
			printf "%s\tschema=%s\t%s\n", $col["IndexObs.segment"],
			    schema, ms(t)
		next
	}
	$1 == "VehicleObs" {
		printf "%s\tschema=%s\t%s\n", $col["VehicleObs.segment"],
		    schema, ms($col["VehicleObs.observed_at"])
		next
	}
	{
		printf "%s\tschema=%s\t%s\n", $col["vehicle_id"], schema,
		    ms($col["observed_at"])
	}' "$2"
}

for t in ev:Event:sim feat:Features:feat idx:Event:idx; do
	topic=${t%%:*}
	schema=$(echo "$t" | cut -d: -f2)
	file=${t##*:}
	$TO kcat -C -b "$B" -t "$KT$topic" -e -q -f '%k\t%h\t%T\n' \
	    > "$T/$topic.kcat" 2> "$T/$topic.kcat.err"
	expect "$schema" "$T/$file.csv" 4 > "$T/$topic.want"
	checkx "kcat: $topic's keys, headers and timestamps are the records' keys, schema=$schema and event times ($(wc -l < "$T/$topic.kcat") messages)" \
	    '[ -s "$T/$topic.want" ] && msets_equal "$T/$topic.kcat" "$T/$topic.want"'
done
# The finding behind a failure above, spelled out: an index value without
# published_at.
$TO kcat -C -b "$B" -t ${KT}idx -p 0 -e -q -f '%k %T\n' > "$T/idx.p0"
period=$(echo 2015-02-01 | awk "$AWK_MS"'{ print ms($0) }')
echo "# idx[0], key and timestamp: $(paste -s -d ';' "$T/idx.p0");" \
    "the unpublished values' period, 2015-02-01, is $period, the time" \
    "now $(date +%s)000"

for t in ev:Event:sim feat:Features:feat idx:Event:idx; do
	topic=${t%%:*}
	schema=$(echo "$t" | cut -d: -f2)
	file=${t##*:}
	"$PY" tests/fixtures/kafka-check.py "$B" "$KT$topic" "$schema" \
	    "$T/$file.json" 2>&1
done
