#!/bin/sh
# seed-message.sh: write tests/fuzz/corpus-message/, the seeds of
# fuzz-message: messages as the stages put them on a topic of a real
# broker (scripts/kafka), three of each record type, in both framings.
# The Confluent ids are fuzz-message's: 1, 2, ... for the embedded
# schemas in the order of schemas/ (Event, Features, ...).
#
#	tests/fuzz/seed-message.sh	(from the repository root, after make)
set -eu
B=build/rel/bin
OUT=tests/fuzz/corpus-message
T=$(mktemp -d "${TMPDIR:-/tmp}/seed-message.XXXXXX")
trap 'scripts/kafka stop "$T/k" > /dev/null 2>&1 || :; rm -rf "$T"' EXIT

i=0
for f in schemas/*.avsc; do
	i=$((i + 1))
	echo "$i $(basename "$f" .avsc)"
done > "$T/ids"

$B/cv-sim -N 2000 --seed 5 -o "$T/Event.avro"
$B/cv-features "$T/Event.avro" > "$T/Features.avro"
$B/cv-predict "$T/Features.avro" > "$T/Valuation.avro"
$B/cv-grade "$T/Valuation.avro" > "$T/Graded.avro"
$B/cv-warn "$T/Graded.avro" > "$T/Warning.avro"

kinds="Event Features Valuation Graded Warning"
topics=
for k in $kinds; do
	topics="$topics${topics:+,}$k-so,$k-cf"
done
BROKER=$(scripts/kafka start -t "$topics" "$T/k")
for k in $kinds; do
	$B/cv-cat -b "$BROKER" -T "$k-so" -f avro "$T/$k.avro"
	$B/cv-cat -b "$BROKER" -T "$k-cf" --framing confluent \
	    --schema-ids "$T/ids" -f avro "$T/$k.avro"
done

mkdir -p "$OUT"
# The first messages of each kind, three for each first byte of the body
# (the branch of the Event union; the length of a first string field).
/usr/bin/python3 - "$BROKER" "$OUT" $kinds <<'EOF'
import os, sys
from confluent_kafka import Consumer, TopicPartition

broker, out, kinds = sys.argv[1], sys.argv[2], sys.argv[3:]
for kind in kinds:
    for framing, head in (("so", 10), ("cf", 5)):
        topic = f"{kind}-{framing}"
        c = Consumer({"bootstrap.servers": broker, "group.id": "seed",
                      "enable.auto.commit": False})
        c.assign([TopicPartition(topic, 0, 0)])
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), 10)
        seen = {}
        for _ in range(hi - lo):
            m = c.poll(10)
            if m is None:
                raise SystemExit(f"{topic}: no message in 10 s")
            if m.error():
                raise SystemExit(f"{topic}: {m.error()}")
            v = m.value()
            branch = v[head] if len(v) > head else 0
            n = seen.get(branch, 0)
            if n < 3:
                name = f"{topic}-{branch}-{n}"
                with open(os.path.join(out, name), "wb") as fp:
                    fp.write(v)
                seen[branch] = n + 1
        c.close()
EOF
ls "$OUT" | wc -l
