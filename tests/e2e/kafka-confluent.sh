#!/bin/sh
# kafka-confluent: Confluent framing (README, Kafka: 00, the schema id as 4
# bytes big-endian, the body) against python3-confluent-kafka and
# python3-avro, which share no code with cvpipe, on a cv-broker of its own
# (4 partitions a topic).  The ids come from a file (--schema-ids): 1001
# for Features (written by full name) and 7 for Event.
#
#   - cv-features --schema-ids FILE --framing confluent -T feat, and
#     cv-cat ... -T ev of the cv-sim stream it read: python reads every
#     message raw and checks byte 0 is 00, bytes 1..4 big-endian are the
#     file's id for the schema the header "schema" names (the file parsed
#     in python), and that the body decodes with python3-avro's
#     BinaryDecoder to its last byte under the writer schema `cv-cat -W`
#     prints of the file; the Features records it decoded, written by
#     python3-avro to a container file, are as a multiset what
#     `cv-cat -f csv` shows of cv-features' own file.
#   - The other way: python encodes the records of that file with
#     python3-avro, frames them 00 + id 1001 big-endian (no header), and
#     produces them to topic py; `cv-cat -t py -E --schema-ids FILE -f csv`
#     shows the same rows as the file.  Without --schema-ids the first
#     message is rejected as py[0]@0, naming id 1001 (exit 1).
#   - Topic bad: a message with id 999, not in the file, then a good one:
#     with -e skip cv-cat rejects bad[0]@0 with a reason naming id 999,
#     reads the good one, and exits 1.
# Run from the repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/kafka-confluent.XXXXXX")
. tests/fixtures/kafka-lib.sh
need_python avro.datafile avro.io avro.schema confluent_kafka

cat > "$T/ids" <<'EOF'
# Schema ids as a registry would give them: ID NAME.
1001 cvpipe.Features

7	Event	# the union cv-ingest and cv-sim write
EOF

cv-sim -N 1500 --seed 5 -o "$T/sim.avro"
cv-features -o "$T/feat.avro" "$T/sim.avro"
cv-cat -W "$T/feat.avro" > "$T/feat.avsc"
cv-cat -W "$T/sim.avro" > "$T/sim.avsc"
cv-cat -f csv "$T/feat.avro" > "$T/feat.csv"
nfeat=$(($(wc -l < "$T/feat.csv") - 1))

start_broker B 4 feat,ev,py,bad
cv-features -b "$B" -T ${KT}feat --schema-ids "$T/ids" \
    --framing confluent "$T/sim.avro" 2> "$T/w1.err"
s1=$?
cv-cat -b "$B" -T ${KT}ev -f avro --schema-ids "$T/ids" \
    --framing confluent "$T/sim.avro" 2> "$T/w2.err"
s2=$?
cat "$T/w1.err" "$T/w2.err" | head -4 | sed 's/^/# /'
checkx "cv-features and cv-cat write Confluent-framed topics (status $s1 $s2)" \
    '[ $s1 -eq 0 -a $s2 -eq 0 ]'

# 1. What cv- filters wrote, read by python.  Prints ok / not ok lines;
# writes the decoded records of TOPIC to OUT (an Avro container file).
readback() {	# readback TOPIC SCHEMA AVSC OUT
	"$PY" - "$B" "$T/ids" "$@" <<'EOF'
import io, json, struct, sys, time
import avro.datafile, avro.io, avro.schema
from confluent_kafka import Consumer, KafkaError, TopicPartition, \
    OFFSET_BEGINNING

brokers, ids_path, topic, want_schema, avsc, out = sys.argv[1:7]
ids = {}
with open(ids_path) as f:
    for line in f:
        w = line.split("#")[0].split()
        if len(w) == 2:
            ids[w[1].split(".")[-1]] = int(w[0])
with open(avsc) as f:
    writer = avro.schema.parse(f.read())

c = Consumer({"bootstrap.servers": brokers, "group.id": "kafka-confluent",
              "enable.auto.commit": False, "enable.partition.eof": True})
parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
msgs, eof, deadline = [], set(), time.time() + 30
while len(eof) < len(parts) and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            eof.add(m.partition())
        continue
    msgs.append(m)
c.close()

bad = {"magic": [], "id": [], "header": [], "decode": []}
reader = avro.io.DatumReader(writer)
w = avro.datafile.DataFileWriter(open(out, "wb"), avro.io.DatumWriter(),
                                 writer)
for m in msgs:
    where = "%s[%d]@%d" % (topic, m.partition(), m.offset())
    v = m.value() or b""
    hdr = dict(m.headers() or [])
    if hdr.get("schema") != want_schema.encode():
        bad["header"].append("%s: header schema %r" %
                             (where, hdr.get("schema")))
    if len(v) < 5 or v[0] != 0:
        bad["magic"].append("%s: begins %s" % (where, v[:5].hex()))
        continue
    sid = struct.unpack(">I", v[1:5])[0]
    if sid != ids.get(want_schema):
        bad["id"].append("%s: id %d, the file says %s for %s" %
                         (where, sid, ids.get(want_schema), want_schema))
        continue
    body = io.BytesIO(v[5:])
    try:
        rec = reader.read(avro.io.BinaryDecoder(body))
    except Exception as e:
        bad["decode"].append("%s: %s" % (where, e))
        continue
    if body.tell() != len(v) - 5:
        bad["decode"].append("%s: %d bytes after the record" %
                             (where, len(v) - 5 - body.tell()))
    w.append(rec)
w.close()


def check(ok, name, detail):
    print(("ok - " if ok else "not ok - ") + name)
    for d in ([] if ok else detail[:5]):
        print("#   " + d)


check(len(eof) == len(parts) and msgs, "%s: read %d messages from %d "
      "partitions" % (topic, len(msgs), len(parts)), [])
check(msgs and not bad["header"], "%s: header schema=%s" % (topic, want_schema),
      bad["header"])
check(msgs and not bad["magic"], "%s: every message begins 00" % topic,
      bad["magic"])
check(msgs and not bad["id"], "%s: bytes 1..4 are %s's id in the file, %s, "
      "big-endian" % (topic, want_schema, ids.get(want_schema)), bad["id"])
check(msgs and not bad["decode"], "%s: every body decodes with "
      "python3-avro to its last byte" % topic, bad["decode"])
EOF
}
readback "${KT}feat" Features "$T/feat.avsc" "$T/feat.py.avro"
readback "${KT}ev" Event "$T/sim.avsc" "$T/ev.py.avro"
cv-cat -f csv "$T/feat.py.avro" > "$T/feat.py.csv" 2>&1
checkx "feat: the records python decoded are the $nfeat of cv-features' file (cv-cat -f csv)" \
    '[ $nfeat -gt 100 ] && msets_equal "$T/feat.py.csv" "$T/feat.csv"'

# 2. What python wrote, read by cv-cat: the records of feat.avro to py,
# 00 + id 1001; to bad, id 999 and then the first record with 1001.
"$PY" - "$B" "$T/feat.avro" "$KT" <<'EOF'
import io, struct, sys
import avro.datafile, avro.io
from confluent_kafka import Producer

brokers, path, prefix = sys.argv[1:4]
p = Producer({"bootstrap.servers": brokers})
r = avro.datafile.DataFileReader(open(path, "rb"), avro.io.DatumReader())
writer = avro.io.DatumWriter(r.datum_reader.writers_schema)
bodies = []
for rec in r:
    b = io.BytesIO()
    writer.write(rec, avro.io.BinaryEncoder(b))
    bodies.append(b.getvalue())
r.close()
for body in bodies:
    p.produce(prefix + "py", b"\0" + struct.pack(">I", 1001) + body,
              partition=0)
p.produce(prefix + "bad", b"\0" + struct.pack(">I", 999) + bodies[0],
          partition=0)
p.produce(prefix + "bad", b"\0" + bytes([0, 0, 0x03, 0xe9]) + bodies[0],
          partition=0)
left = p.flush(30)
print("# python produced %d records to py, 2 to bad; %d undelivered" %
      (len(bodies), left))
sys.exit(1 if left else 0)
EOF
st=$?
checkx "python3-confluent-kafka produced Confluent-framed messages (status $st)" \
    '[ $st -eq 0 ]'

$TO cv-cat -b "$B" -t ${KT}py -E -G ${KT}c1 $FAST_GROUP \
    --schema-ids "$T/ids" -f csv > "$T/py.csv" 2> "$T/py.err" &
p1=$!
$TO cv-cat -b "$B" -t ${KT}py -E -G ${KT}c2 $FAST_GROUP -f csv \
    > "$T/py2.csv" 2> "$T/py2.err" &
p2=$!
$TO cv-cat -b "$B" -t ${KT}bad -E -G ${KT}c3 $FAST_GROUP -e skip \
    --schema-ids "$T/ids" -f csv > "$T/bad.csv" 2> "$T/bad.err" &
p3=$!
wait $p1; s1=$?
wait $p2; s2=$?
wait $p3; s3=$?
for f in py py2 bad; do
	head -1 "$T/$f.err" | sed 's/^/# /'
done
checkx "py: cv-cat --schema-ids shows the $nfeat records python wrote (status $s1)" \
    '[ $s1 -eq 0 -a $nfeat -gt 100 ] && msets_equal "$T/py.csv" "$T/feat.csv"'
checkx "py: without --schema-ids py[0]@0 is rejected naming id 1001, exit 1 (status $s2)" \
    '[ $s2 -eq 1 ] && grep -q "^cv-cat: ${KT}py\[0\]@0: .*1001" "$T/py2.err"'
head -2 "$T/feat.csv" > "$T/bad.want"
checkx "bad: id 999 is rejected as bad[0]@0 naming the id, the next read, exit 1 (status $s3)" \
    '[ $s3 -eq 1 ] &&
    grep -q "^cv-cat: ${KT}bad\[0\]@0: .*\<999\>" "$T/bad.err" &&
    cmp -s "$T/bad.csv" "$T/bad.want"'
