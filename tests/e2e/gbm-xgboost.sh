#!/bin/sh
# gbm-xgboost: the boosted trees cv-train stores (model kind gbm, XGBoost's
# JSON in model_bytes) are what python3-xgboost (another implementation of
# the evaluation: its own loader and predictor) makes of the same bytes and
# rows: cv-predict's gbm_value equals exp(Booster.predict) with the terms
# computed here from the Features fields as filters/lib/gbm.c documents
# them.  Then the store's refusals: a gbm without its bytes, with damaged
# bytes, with other terms, or without a blend weight in 0..1.
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/gbm-xgboost.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
need_python numpy xgboost
MAP="-m vehicle_id=VIN -m model_year=YEAR -m make=MAKE -m model=MODEL
    -m region=STATE -m observed_at=SALEDATE -m mileage_km=ODOMETER
    -m condition=CONDITION -m price=SELLINGPRICE -s source=sim"

$PY tests/fixtures/pool-sim.py gen 4 > "$T/s.csv" &&
    cv-ingest $MAP -o "$T/s.avro" "$T/s.csv" &&
    cv-features -o "$T/f.avro" "$T/s.avro" &&
    cv-train -k hedonic,gbm -m "$T/m.db" -u 2015-01-05 "$T/f.avro" &&
    cv-predict -m "$T/m.db" "$T/f.avro" | cv-cat -f json > "$T/v.json"
check "7,600 simulated sales: features, a version with gbm, valued" \
    test $? -eq 0
check "the version has a gbm model and its bytes" test "$(sqlite3 "$T/m.db" \
    "SELECT count(*) FROM models JOIN model_bytes USING (version, kind, class)
     WHERE kind = 'gbm'")" -eq 1
sqlite3 "$T/m.db" "SELECT writefile('$T/gbm.json', bytes) FROM model_bytes
    WHERE kind = 'gbm'" > /dev/null

$PY - "$T/v.json" "$T/gbm.json" <<'PY'
import json, math, sys
import numpy as np
import xgboost as xgb

rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if r["pooled_value"]]
def opt(x):
    return np.nan if x is None else x
# The terms as filters/lib/gbm.h lists them, in float32 as XGBoost takes them.
X = np.array([[math.log(r["pooled_value"]), opt(r["pooled_sd"]),
               math.log(r["comps_value"] / r["pooled_value"]) if r["comps_value"] else np.nan,
               r["comps_sales"], opt(r["comps_spread"]), math.log1p(r["model_n"]),
               opt(r["weight_model"]), opt(r["weight_trim"]), opt(r["stale_days"]),
               r["age_months"], opt(r["mileage_km"]), opt(r["condition"])]
              for r in rows], dtype=np.float32)
b = xgb.Booster(model_file=sys.argv[2])
d = xgb.DMatrix(X, base_margin=X[:, 0], missing=np.nan)
want = np.exp(b.predict(d).astype(np.float64))
got = np.array([r["gbm_value"] if r["gbm_value"] else np.nan for r in rows])
worst = np.nanmax(np.abs(got / want - 1))
ok = len(rows) > 7000 and not np.isnan(got).any() and worst < 1e-6
print("%s - gbm_value of %d rows equals python3-xgboost %s on the stored "
      "bytes (worst relative difference %.2g)"
      % ("ok" if ok else "not ok", len(rows), xgb.__version__, worst))
# The trees must have learned something: not the margin alone.
moved = np.median(np.abs(np.log(want) - X[:, 0]))
print("%s - the trees move the pooled value (median |ln gbm - ln pooled| %.4f)"
      % ("ok" if moved > 1e-4 else "not ok", moved))
PY

# refuse WHAT SQL MESSAGE: a copy of the store so damaged, cv-predict
# exits 1 naming the version, the gbm and the reason.
refuse() {
	cp "$T/m.db" "$T/bad.db"
	sqlite3 "$T/bad.db" "$2"
	cv-predict -m "$T/bad.db" "$T/f.avro" > /dev/null 2> "$T/err"
	rc=$? says=$3
	check "refused, $1 (exit 1, says: $3)" eval \
	    'test $rc -eq 1 && grep -q "version 1: gbm.*$says" "$T/err"'
}
refuse "no bytes" "DELETE FROM model_bytes" "no model bytes"
refuse "damaged bytes" "UPDATE model_bytes SET bytes = x'7b2262'" \
    "XGBoost: loading the model"
refuse "another term list" "UPDATE models SET terms = replace(terms,
    'stale_days', 'days_stale') WHERE kind = 'gbm'" "term 9 is days_stale"
refuse "no blend weight" "DELETE FROM models WHERE kind = 'blend' AND
    class = 'gbm'" "no blend weight in 0..1"
refuse "a weight of 1.5" "UPDATE models SET coef = '[1.5]' WHERE
    kind = 'blend' AND class = 'gbm'" "no blend weight in 0..1"

# The trees value records in batches: records that trickle in are not
# held for the batch to fill.  Five records, then a pause of 4 s: their
# five valuations are out (through cv-cat) within 2 s.
$PY - "$T/f.avro" "$T/g.avro" > "$T/cut" <<'PY'
import sys
import avro.datafile, avro.io, avro.schema
r = avro.datafile.DataFileReader(open(sys.argv[1], "rb"), avro.io.DatumReader())
schema = avro.schema.parse(r.meta["avro.schema"].decode())
w = avro.datafile.DataFileWriter(open(sys.argv[2], "wb"), avro.io.DatumWriter(), schema)
for i, rec in enumerate(r):
    w.append(rec)
    if i == 4:
        print(w.sync())        # where the first five records' block ends
w.close()
PY
cut=$(cat "$T/cut")
{ head -c "$cut" "$T/g.avro"; sleep 4; tail -c "+$((cut + 1))" "$T/g.avro"; } |
    cv-predict -m "$T/m.db" | cv-cat -f csv -C gbm_value > "$T/trickle.csv" &
sleep 2
early=$(($(wc -l < "$T/trickle.csv") - 1))
wait
check "five records, then a pause: their five valuations out before it ends ($early)" \
    test "$early" -eq 5
cv-predict -m "$T/m.db" "$T/f.avro" | cv-cat -f csv -C gbm_value > "$T/whole.csv"
check "and then every record, valued as in one go ($(sed 1d "$T/whole.csv" | wc -l))" \
    cmp -s "$T/trickle.csv" "$T/whole.csv"
