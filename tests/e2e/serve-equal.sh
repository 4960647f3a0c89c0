#!/bin/sh
# serve-equal: the page and the pipeline never disagree.  Each vehicle
# posted to cv-serve's /v1/value is also made a record by cv-ingest and
# run through cv-features -S (a copy of the same state) | cv-predict -m
# (the same store) | cv-grade | cv-warn (the same settings); the answer's
# record must equal the pipeline's, field for field (cv-cat -f json), and
# a vehicle the pipeline rejects must be refused with the same reason.
set -u
. tests/e2e/common.inc
. tests/e2e/serve.inc
command -v curl > /dev/null || { echo "skip: no curl"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/serve-equal.XXXXXX")
trap 'kill $SERVE_PID 2>/dev/null; rm -rf "$T"' EXIT INT TERM
SERVE_PID=

serve_world
check "the world made" test $? -eq 0
serve_start
check "cv-serve up" test $? -eq 0
# A VIN the state has seen (its last price is prev_value).
VIN=$(cv-cat -f csv -C VehicleObs.vehicle_id "$T/sales.avro" | sed -n 5000p)

cat > "$T/vehicles" <<JSON
camry, every field|{"make":"Toyota","model":"Camry","trim":"LE","model_year":2012,"mileage_km":80000,"condition":0.6,"region":"ca","vin":"4T1BF1FK4CU555242","loan_id":"L-1","loan_balance":9000,"date":"2026-12-01T00:00:00Z"}
odyssey, region in capitals, no VIN|{"make":"Honda","model":"Odyssey","trim":"EX-L","model_year":2011,"mileage_km":150000,"condition":0.4,"region":"PA","loan_balance":3000,"date":"2026-08-01T12:00:00Z"}
a VIN seen before (prev_value)|{"make":"Toyota","model":"Camry","trim":"LE","model_year":2000,"mileage_km":200000,"condition":0.3,"region":"md","vin":"$VIN","loan_balance":500,"date":"2026-09-15T00:00:00Z"}
a model unknown, its make's level|{"make":"Toyota","model":"Supra","model_year":2014,"mileage_km":50000,"condition":0.8,"region":"fl","loan_balance":20000,"date":"2026-12-01T00:00:00Z"}
no region, no condition, no balance|{"make":"Toyota","model":"Camry","trim":"SE","model_year":2013,"mileage_km":70000,"date":"2027-01-01T00:00:00Z"}
a trim of punctuation only|{"make":"honda","model":"odyssey","trim":"--","model_year":2012,"mileage_km":90000,"condition":0.7,"region":"tx","loan_balance":12000,"date":"2026-12-01T00:00:00Z"}
JSON
# The pipeline's input line: what cv-serve fills when a field is not given.
"$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    name, req = line.rstrip("\n").split("|", 1)
    j = json.loads(req)
    j.setdefault("vin", "-")
    j.setdefault("region", "*")
    if "loan_balance" in j:
        j.setdefault("loan_id", "request")
    print(json.dumps(j))' "$T/vehicles" > "$T/inputs"

n=0
while IFS="|" read -r what req; do
	n=$((n + 1))
	sed -n "${n}p" "$T/inputs" > "$T/in.json"
	cp "$T/state.db" "$T/copy.db"
	cv-ingest -f json -s source=cv-serve -s currency=USD -m vehicle_id=vin \
	    -m observed_at=date -m make=make -m model=model -m trim=trim \
	    -m model_year=model_year -m mileage_km=mileage_km \
	    -m condition=condition -m region=region -m loan_id=loan_id \
	    -m loan_balance=loan_balance "$T/in.json" |
	    cv-features -S "$T/copy.db" | cv-predict -m "$T/models.db" |
	    cv-grade $GRADE | cv-warn $WARN | cv-cat -f json > "$T/pipe.json"
	st=$(post "$req")
	check "$what: valued (200) by both" test "$st" = 200 -a -s "$T/pipe.json"
	check "$what: the page's record is the pipeline's" "$PY" -c '
import json, sys
page = json.load(open(sys.argv[1]))["record"]
pipe = json.loads(open(sys.argv[2]).read())
diff = sorted(k for k in set(page) | set(pipe) if page.get(k) != pipe.get(k))
if diff:
    for k in diff:
        print("#", k, page.get(k), pipe.get(k))
    sys.exit(1)' "$T/resp" "$T/pipe.json"
	check "$what: the summary is the record's" "$PY" -c '
import json, sys
a = json.load(open(sys.argv[1])); r = a["record"]
assert all(abs(a[k] - r[k]) <= 1e-12 * abs(r[k]) for k in
    ("value", "value_lo", "value_hi", "value_next"))
assert (a["grade"], a["light"], a["reasons"], a["message"]) == \
    (r["grade"], r["light"], r["reasons"], r["message"])
assert a["served"]["level"] == r["decay_level"]' "$T/resp"
done < "$T/vehicles"

# Valued by both, the same: no mileage, eleven years after the last sale
# (before the pooled model both refused it, the hedonic interval's low
# end underflowing to 0; the pooled value carries it forward with an
# interval that widens with the staleness).
R='{"make":"Honda","model":"Odyssey","model_year":2010,"date":"2026-12-01T00:00:00Z"}'
echo "$R" | sed 's/^{/{"vin":"-","region":"*",/' > "$T/in.json"
cp "$T/state.db" "$T/copy.db"
cv-ingest -f json -s source=cv-serve -s currency=USD -m vehicle_id=vin \
    -m observed_at=date -m make=make -m model=model -m model_year=model_year \
    -m region=region "$T/in.json" | cv-features -S "$T/copy.db" |
    cv-predict -m "$T/models.db" | cv-cat -f csv -C value,value_lo,value_hi |
    sed 1d > "$T/stale.csv"
st=$(post "$R")
check "eleven years stale: valued by both, the same value and interval" \
    test "$st" = 200 -a -s "$T/stale.csv" -a "$(json_get "$T/resp" \
    '"%.6g,%.6g,%.6g" % (j["value"], j["value_lo"], j["value_hi"])')" = \
    "$(awk -F, '{ printf "%.6g,%.6g,%.6g", $1, $2, $3 }' "$T/stale.csv")"
serve_stop
