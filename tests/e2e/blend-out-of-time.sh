#!/bin/sh
# blend-out-of-time: the blend's weights (the comparables' per class and
# the boosted trees') and the trees themselves never use the sales they
# value.  cv-train -u T fits on sales before T only: given the same
# Features with every price at or after T scrambled, it writes the same
# weights and the same model bytes; and cv-predict -P values the sales
# from T on with that version, the sales before T with none of it.
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/blend-oot.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
need_python avro
MAP="-m vehicle_id=VIN -m model_year=YEAR -m make=MAKE -m model=MODEL
    -m region=STATE -m observed_at=SALEDATE -m mileage_km=ODOMETER
    -m condition=CONDITION -m price=SELLINGPRICE -s source=sim"
CUT=2015-01-05

$PY tests/fixtures/pool-sim.py gen 4 > "$T/s.csv" &&
    cv-ingest $MAP -o "$T/s.avro" "$T/s.csv" &&
    cv-features -o "$T/f.avro" "$T/s.avro"
check "7,600 simulated sales through cv-features" test $? -eq 0

# scramble IN OUT after|before: the same Features, each price from CUT on
# (or before it) multiplied by a random factor of 0.5 to 2 (seeded); the
# number changed on stdout.
cat > "$T/scramble.py" <<'PY'
import datetime, random, sys
import avro.datafile, avro.io, avro.schema
random.seed(7)
r = avro.datafile.DataFileReader(open(sys.argv[1], "rb"), avro.io.DatumReader())
schema = avro.schema.parse(r.meta["avro.schema"].decode())
w = avro.datafile.DataFileWriter(open(sys.argv[2], "wb"), avro.io.DatumWriter(), schema)
changed = 0
for rec in r:
    # observed_at: a timestamp-millis, python-avro's datetime
    after = rec["observed_at"] >= datetime.datetime(2015, 1, 5,
                                                    tzinfo=datetime.timezone.utc)
    if after == (sys.argv[3] == "after") and rec["price"] is not None:
        rec["price"] *= 2 ** random.uniform(-1, 1)
        changed += 1
    w.append(rec)
w.close()
print(changed)
PY
$PY "$T/scramble.py" "$T/f.avro" "$T/g.avro" after > "$T/changed"
check "prices scrambled from $CUT on ($(cat "$T/changed") sales)" \
    test "$(cat "$T/changed")" -gt 1000

cv-train -k hedonic,gbm -m "$T/a.db" -u $CUT "$T/f.avro" &&
    cv-train -k hedonic,gbm -m "$T/b.db" -u $CUT "$T/g.avro"
check "cv-train -u $CUT on both" test $? -eq 0
# weights DB: every blend weight with its class, and the trees' bytes
weights() {
	sqlite3 "$1" "SELECT class, coef, n FROM models WHERE kind = 'blend'
	    ORDER BY class; SELECT hex(bytes) FROM model_bytes"
}
weights "$T/a.db" > "$T/a.w"
weights "$T/b.db" > "$T/b.w"
check "the store has the blend's three weights and the trees" test \
    "$(sqlite3 "$T/a.db" "SELECT count(*) FROM models WHERE kind = 'blend'
    OR kind = 'gbm'")" -eq 4
check "the same weights and trees whatever the prices from $CUT on" \
    cmp -s "$T/a.w" "$T/b.w"
# A change before the cut is seen (so the check above can fail).
$PY "$T/scramble.py" "$T/f.avro" "$T/h.avro" before > /dev/null &&
    cv-train -k hedonic,gbm -m "$T/c.db" -u $CUT "$T/h.avro" &&
    weights "$T/c.db" > "$T/c.w"
check "prices before $CUT scrambled: other weights or trees" eval \
    '! cmp -s "$T/a.w" "$T/c.w"'
sqlite3 "$T/a.db" "SELECT data_to FROM versions" > "$T/to"
check "the version is in force from $CUT (data_to $(cat "$T/to"))" \
    test "$(cat "$T/to")" -eq 1420416000000

cv-predict -P -m "$T/a.db" "$T/f.avro" |
    cv-cat -f csv -C observed_at,model_version,gbm_value > "$T/v.csv"
check "cv-predict -P: sales before $CUT valued by version 0, without trees" \
    test "$(awk -F, 'NR > 1 && $1 < "2015-01-05" && ($2 != 0 || $3 != "")' \
    "$T/v.csv" | wc -l)" -eq 0
check "and the sales from $CUT on by version 1, with them" \
    test "$(awk -F, 'NR > 1 && $1 >= "2015-01-05" && ($2 != 1 || $3 == "")' \
    "$T/v.csv" | wc -l)" -eq 0
