#!/bin/sh
# interop: Debian's python3-avro, an Avro implementation independent of
# avro-c, reads what cv-ingest writes from real auction data and checks
# the values against its own parse of the CSV (the shipped copy in
# pipelines/data); cv-cat reads what
# python3-avro writes.  Run from the repository root with the programs on
# PATH (tests/run does both).
set -u
. tests/e2e/common.inc
DATA=pipelines/data/auction_honda_odyssey_3500.csv
T=$(mktemp -d "${TMPDIR:-/tmp}/interop.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

if [ ! -f "$DATA" ]; then
	echo "skip: $DATA absent"
	exit 77
fi
need_python avro.datafile avro.io

# The data has a few rows cv-ingest must reject (placeholder odometers):
# they go to a reject file and the exit status is 1.
cv-ingest -v -e "$T/rejects" -M pipelines/maps/auction.map \
    -o "$T/odyssey.avro" "$DATA" 2> "$T/ingest.err"
st=$?
read=$(sed -n 's/^cv-ingest: read \([0-9]*\) = .*/\1/p' "$T/ingest.err")
written=$(sed -n 's/^cv-ingest: read [0-9]* = written \([0-9]*\) + .*/\1/p' \
    "$T/ingest.err")
check "cv-ingest ran (status $st, written ${written:-?})" \
    [ "$st" -le 1 -a -n "$written" -a -s "$T/odyssey.avro" ]
[ -n "$written" ] || written=-1
[ -n "$read" ] || read=-1

# Every record decodes; the count is the one cv-ingest reported; 20 rows
# picked from an independent csv parse carry the expected values.
"$PY" - "$T/odyssey.avro" "$DATA" "$written" "$read" <<'EOF'
import csv, datetime, math, sys
import avro.datafile, avro.io

path, data = sys.argv[1], sys.argv[2]
written, read = int(sys.argv[3]), int(sys.argv[4])

def check(ok, name):
    print(("ok - " if ok else "not ok - ") + name)
    return ok

recs = []
try:
    with open(path, "rb") as f:
        for r in avro.datafile.DataFileReader(f, avro.io.DatumReader()):
            recs.append(r)
    err = ""
except Exception as e:
    err = "%s: %s" % (type(e).__name__, e)
check(not err, "python3-avro decodes all %d records%s" %
      (len(recs), ": " + err if err else ""))
check(len(recs) == written,
      "record count %d equals cv-ingest's written %d" % (len(recs), written))

def sale_time(text):
    # "Tue Dec 16 2014 12:30:00 GMT-0800 (PST)": drop the zone name.
    t = datetime.datetime.strptime(text.split(" (")[0],
                                   "%a %b %d %Y %H:%M:%S GMT%z")
    return t.astimezone(datetime.timezone.utc)

def close(a, b):
    return a is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)

with open(data, newline="") as f:
    rows = list(csv.DictReader(f))
check(read == len(rows), "cv-ingest read %d rows, python's csv %d" %
      (read, len(rows)))
# Rows with a plain odometer: none of them is a placeholder or sentinel.
usable = [r for r in rows if r["ODOMETER"].isdigit() and
          10 < int(r["ODOMETER"]) < 999990]
picked = [usable[i * len(usable) // 20] for i in range(20)]
by_key = {}
for r in recs:
    by_key.setdefault((r["vehicle_id"], r["observed_at"]), []).append(r)
bad = []
for row in picked:
    key = (row["VIN"].lower(), sale_time(row["SALEDATE"]))
    got = by_key.get(key)
    if not got:
        bad.append("%s %s: no record" % key)
        continue
    r = got[0]
    want = {"price": float(row["SELLINGPRICE"]),
            "reference_value": float(row["MMR"]),
            "mileage_km": int(row["ODOMETER"]) * 1.609344}
    for k, v in want.items():
        if not close(r[k], v):
            bad.append("%s: %s %r, want %r" % (key[0], k, r[k], v))
check(not bad, "20 rows: price, MMR, odometer * 1.609344 and sale time "
      "match python's csv and datetime" + "".join("\n# " + b for b in bad))
EOF
st=$?
[ $st -eq 0 ] || echo "not ok - python3 check of cv-ingest's output ended $st"

# Avro out and in again changes nothing.
cv-cat -f csv "$T/odyssey.avro" > "$T/direct.csv" 2> "$T/err1"
cv-cat -f avro "$T/odyssey.avro" | cv-cat -f csv > "$T/round.csv" 2> "$T/err2"
check "cv-cat -f avro | cv-cat -f csv equals cv-cat -f csv" \
    cmp -s "$T/direct.csv" "$T/round.csv"
check "round trip is quiet and has $written rows" \
    [ ! -s "$T/err1" -a ! -s "$T/err2" -a \
    "$(wc -l < "$T/direct.csv")" -eq $((written + 1)) ]

# An empty input is an empty stream python3-avro reads too.
cv-ingest -M pipelines/maps/auction.map < /dev/null > "$T/empty.avro"
check "empty input: python3-avro reads 0 records" "$PY" -c '
import sys, avro.datafile, avro.io
with open(sys.argv[1], "rb") as f:
    n = sum(1 for _ in avro.datafile.DataFileReader(f, avro.io.DatumReader()))
sys.exit(n != 0)' "$T/empty.avro"

# python3-avro writes Events with the schema cv-cat -W shows; cv-cat reads
# them back.
cv-cat -W "$T/odyssey.avro" > "$T/event.avsc"
"$PY" - "$T/event.avsc" "$T/py.avro" <<'EOF'
import datetime, sys
import avro.datafile, avro.io, avro.schema

UTC = datetime.timezone.utc
schema = avro.schema.parse(open(sys.argv[1]).read())
with open(sys.argv[2], "wb") as f:
    w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), schema)
    w.append({"vehicle_id": "5fnrl5h24cb009338", "loan_id": None,
              "source": "auction", "make": "Honda", "model": "Odyssey",
              "trim": "LX", "segment": "honda/odyssey/lx", "region": "ca",
              "observed_at": datetime.datetime(2014, 12, 18, 20, 0, tzinfo=UTC),
              "model_year": 2012, "mileage_km": 61277.382144,
              "condition": 0.725, "price": 17400.0,
              "reference_value": 15150.0, "loan_balance": None,
              "currency": "USD"})
    w.append({"source": "bls.cpi.used.sa", "segment": "*", "region": "*",
              "period": datetime.date(2014, 12, 1),
              "published_at": datetime.datetime(2015, 1, 15, tzinfo=UTC),
              "value": 180.5, "volume": None, "days_supply": None})
    w.close()
EOF
st=$?
[ $st -eq 0 ] || echo "not ok - python3-avro writing Events ended $st"
cv-cat -f csv -C type,VehicleObs.vehicle_id,VehicleObs.trim,VehicleObs.observed_at,VehicleObs.model_year,VehicleObs.mileage_km,VehicleObs.condition,VehicleObs.price,VehicleObs.loan_id,IndexObs.source,IndexObs.period,IndexObs.published_at,IndexObs.value \
    "$T/py.avro" > "$T/py.csv" 2>&1
cat > "$T/want.csv" <<'EOF'
type,VehicleObs.vehicle_id,VehicleObs.trim,VehicleObs.observed_at,VehicleObs.model_year,VehicleObs.mileage_km,VehicleObs.condition,VehicleObs.price,VehicleObs.loan_id,IndexObs.source,IndexObs.period,IndexObs.published_at,IndexObs.value
VehicleObs,5fnrl5h24cb009338,LX,2014-12-18T20:00:00Z,2012,61277.382144,0.725,17400,,,,,
IndexObs,,,,,,,,,bls.cpi.used.sa,2014-12-01,2015-01-15T00:00:00Z,180.5
EOF
if cmp -s "$T/want.csv" "$T/py.csv"; then
	echo "ok - cv-cat reads Events written by python3-avro"
else
	echo "not ok - cv-cat reads Events written by python3-avro"
	diff "$T/want.csv" "$T/py.csv" | sed 's/^/# /'
fi
exit 0
