#!/bin/sh
# state-damaged: a state file or model store with a damaged page is an
# error, never a shorter table.  The loops that read state stopped at the
# first step that was not a row, so SQLITE_CORRUPT (or BUSY) read as the
# end of the table: cv-features, cv-grade and cv-warn went on from part of
# their state, and cv-predict took an older model version for the latest.
# Here one leaf page in the middle of the table each reads is overwritten
# (its page type byte), and each program must stop at once with sqlite's
# message naming the file, status 1, and write no record.
. tests/e2e/common.inc
need_python avro
T=$TMPDIR
F=tests/fixtures

# damage DB TABLE [MIN]: break the middle leaf page of TABLE (an index
# too), which must have MIN (3) leaves at least; a rollback journal
# first, so that the pages are all in DB.
damage() {
	"$PY" - "$1" "$2" "${3:-3}" <<'EOF'
import sqlite3, sys
path, table, least = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(path)
db.execute("PRAGMA journal_mode=DELETE")
leaves = [r[0] for r in db.execute(
    "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' "
    "ORDER BY pageno", (table,))]
size = db.execute("PRAGMA page_size").fetchone()[0]
db.close()
if len(leaves) < least:
    sys.exit("%s: %s has %d leaf pages, too few" % (path, table,
                                                   len(leaves)))
with open(path, "r+b") as f:
    f.seek((leaves[len(leaves) // 2] - 1) * size)
    f.write(b"\0")
EOF
}

# expect NAME DB: the run's status 1, stderr sqlite's message on DB, no
# record written ($T/out).
expect() {
	st=$1 name=$2 db=$3
	if [ "$st" = 1 ] && [ ! -s "$T/out" ] &&
	    [ "$(cat "$T/err")" = "$name: $db: database disk image is malformed" ]
	then
		echo "ok - $name: a damaged $db stops it at once (status 1, the message, nothing written)"
	else
		echo "not ok - $name: status $st, $(wc -c < "$T/out") bytes out, stderr:"
		sed 's/^/# /' "$T/err" | head -5
	fi
}

# cv-features: the first half of a market with -S, then the second half.
cv-sim -N 20000 -o "$T/ev.avro" || exit 1
"$PY" - "$T/ev.avro" "$T/ev1.avro" "$T/ev2.avro" <<'EOF'
import sys, avro.datafile, avro.io
r = avro.datafile.DataFileReader(open(sys.argv[1], "rb"), avro.io.DatumReader())
schema = r.meta["avro.schema"].decode()
recs = list(r)
import avro.schema
s = avro.schema.parse(schema)
for path, part in ((sys.argv[2], recs[:len(recs) // 2]),
                   (sys.argv[3], recs[len(recs) // 2:])):
    w = avro.datafile.DataFileWriter(open(path, "wb"), avro.io.DatumWriter(), s)
    for x in part:
        w.append(x)
    w.close()
EOF
cv-features --state "$T/f.db" "$T/ev1.avro" > /dev/null ||
    echo "not ok - cv-features --state: the first half"
damage "$T/f.db" vehicles || echo "not ok - damage f.db"
cv-features --state "$T/f.db" "$T/ev2.avro" > "$T/out" 2> "$T/err"
expect $? cv-features "$T/f.db"

# cv-index: the first half's series and open period, then the second half.
cv-features "$T/ev.avro" > "$T/feat.avro" &&
    cv-cat -f avro --until 2021-06-01T00:00:00Z "$T/feat.avro" > "$T/feat1.avro" &&
    cv-cat -f avro --from 2021-06-01T00:00:00Z "$T/feat.avro" > "$T/feat2.avro" &&
    cv-index -n 20 -S "$T/i.db" "$T/feat1.avro" > /dev/null ||
    echo "not ok - cv-index --state: the first half"
damage "$T/i.db" index_sale || echo "not ok - damage i.db"
cv-index -n 20 -S "$T/i.db" "$T/feat2.avro" > "$T/out" 2> "$T/err"
expect $? cv-index "$T/i.db"

# cv-grade and cv-warn: a state of 4000 vehicles (or loans).
cv-grade --state "$T/g.db" -c $F/gw-grade-cycle.conf -r $F/gw-cuts.csv \
    $F/gw-grade-rate.avro > /dev/null &&
    cv-warn --state "$T/w.db" $F/gw-warn-hyst.avro > /dev/null ||
    echo "not ok - cv-grade --state, cv-warn --state: a first run"
"$PY" - "$T/g.db" "$T/w.db" <<'EOF'
import sqlite3, sys
g = sqlite3.connect(sys.argv[1])
g.executemany("INSERT INTO streaks VALUES (?, 1, 0, 0)",
              (("vehicle-%06d" % i,) for i in range(4000)))
g.commit()
w = sqlite3.connect(sys.argv[2])
w.executemany("INSERT INTO lights(loan_id, light, ltv_level, drop_level) "
              "VALUES (?, 'GREEN', 0, 0)",
              (("loan-%06d" % i,) for i in range(4000)))
w.commit()
EOF
damage "$T/g.db" streaks && damage "$T/w.db" lights ||
    echo "not ok - damage"
cv-grade --state "$T/g.db" -c $F/gw-grade-cycle.conf -r $F/gw-cuts.csv \
    $F/gw-grade-rate.avro > "$T/out" 2> "$T/err"
expect $? cv-grade "$T/g.db"
cv-warn --state "$T/w.db" $F/gw-warn-hyst.avro > "$T/out" 2> "$T/err"
expect $? cv-warn "$T/w.db"

# cv-predict: a store of six versions.  -P reads every version (a page
# of the models: the old loop took the versions before it, and found a
# version without its hedonic model); without it, the latest version
# with a hedonic model is looked up in the models' index (its one page).
for i in 1 2 3 4 5 6; do
	cv-train -m "$T/m.db" $F/train-features.avro ||
	    echo "not ok - cv-train, version $i"
done
cp "$T/m.db" "$T/m2.db"
damage "$T/m.db" models || echo "not ok - damage m.db"
cv-predict -P -m "$T/m.db" $F/train-features.avro > "$T/out" 2> "$T/err"
expect $? cv-predict "$T/m.db"
damage "$T/m2.db" sqlite_autoindex_models_1 1 || echo "not ok - damage m2.db"
cv-predict -m "$T/m2.db" $F/train-features.avro > "$T/out" 2> "$T/err"
expect $? cv-predict "$T/m2.db"
