#!/bin/sh
# features-lookahead: nothing in a Features record comes from its own
# sighting or from anything later (cv-features(1), schemas/Features.avsc).
#
#   (a) doubling the price of sale k leaves record k's features (all but
#       its own price) and every earlier record unchanged, and changes
#       the depreciation features of every later record of its segment,
#       and nothing of the other segment but the region offset, which
#       pools all segments of a region; changing an index value
#       changes nothing before its publication and the mpi of the next
#       vehicle of its make;
#   (b) records appended after the end leave the earlier output as it
#       was: a run over a prefix of the input writes a prefix of the
#       output (cv-sim data, and the auction sales with the CPI);
#   (c) an index value published after a vehicle's observed_at is not
#       used by it even when its file comes first (the merge goes by
#       event time), and is used by a vehicle a millisecond later.
#
# Inputs go through `cv-cat -f csv`, are edited or cut as CSV and come
# back through cv-ingest (tests/fixtures/features-*.map).  Run from the
# repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/features-lookahead.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
IM=tests/fixtures/features-index.map
VM=tests/fixtures/features-vehicle.map
D=pipelines/data
N=5000

need_python csv

# ingest CSV PREFIX: PREFIX.i.avro (index values) and PREFIX.v.avro from
# the CSV of an Event stream.
ingest() {
	awk -F, 'NR == 1 || $1 == "IndexObs"' "$1" > "$2.i.csv"
	awk -F, 'NR == 1 || $1 == "VehicleObs"' "$1" > "$2.v.csv"
	cv-ingest -M $IM -o "$2.i.avro" "$2.i.csv" &&
	    cv-ingest -M $VM -o "$2.v.avro" "$2.v.csv"
}

# features PREFIX: PREFIX.csv, the Features of PREFIX.i.avro and .v.avro.
features() {
	cv-features "$1.i.avro" "$1.v.avro" | cv-cat -f csv > "$1.csv"
}

## (a) A sale's own price, an index value: two segments, two makes.
cv-sim --seed 3 -N $N --makes 2 --models 1 --trims 1 --loans 5 \
    -o "$T/sim.avro" && cv-cat -f csv "$T/sim.avro" > "$T/sim.csv" &&
    ingest "$T/sim.csv" "$T/a" && features "$T/a"
check "cv-sim -N $N, 2 segments: Features of the stream" test $? -eq 0
# The sale: the first priced one after two thirds of the stream.  p is
# the Event CSV's column VehicleObs.price; 6 and 7 are
# IndexObs.published_at and value.
p=$(head -1 "$T/sim.csv" | tr , '\n' | grep -nx VehicleObs.price | cut -d: -f1)
k=$(awk -F, -v from=$((N * 2 / 3)) -v p="$p" \
    'NR > from && $1 == "VehicleObs" && $p != "" { print NR; exit }' \
    "$T/sim.csv")
awk -F, -v OFS=, -v CONVFMT=%.17g -v OFMT=%.17g -v k="$k" -v p="$p" \
    'NR == k { $p = $p * 2 } { print }' "$T/sim.csv" > "$T/price.csv"
ingest "$T/price.csv" "$T/b" && features "$T/b"
check "the same with line $k's price doubled" test $? -eq 0
# An index value of make2 after half the stream, times 1.25.
j=$(awk -F, -v from=$((N / 2)) \
    'NR > from && $1 == "IndexObs" && $3 == "make:make2" { print NR; exit }' \
    "$T/sim.csv")
awk -F, -v OFS=, -v CONVFMT=%.17g -v OFMT=%.17g -v j="$j" 'NR == j { $7 = $7 * 1.25 } { print }' \
    "$T/sim.csv" > "$T/index.csv"
ingest "$T/index.csv" "$T/c" && features "$T/c"
check "the same with line $j's index value raised by a quarter" \
    test $? -eq 0

"$PY" - "$T/sim.csv" "$k" "$j" "$T/a.csv" "$T/b.csv" "$T/c.csv" <<'EOF' ||
import csv, sys

events, k, j, a, b, c = sys.argv[1:7]
k, j = int(k), int(j)
bad = 0


def report(good, what):
    global bad
    print(("ok - " if good else "not ok - ") + what)
    bad += not good


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


ev = rows(events)
# Which Features record (0-based) is the sale on line k of the events, and
# the first vehicle after the index value on line j.
veh_before = lambda line: sum(r["type"] == "VehicleObs"
                              for r in ev[:line - 2])
sale, after_ix = veh_before(k), veh_before(j)
A, B, C = rows(a), rows(b), rows(c)
seg = A[sale]["segment"]
report(len(A) == len(B) == len(C) and
       A[sale]["vehicle_id"] == ev[k - 2]["VehicleObs.vehicle_id"],
       "record %d of %d is the sale edited (%s, %s)"
       % (sale + 1, len(A), seg, A[sale]["vehicle_id"]))
report(A[:sale] == B[:sale], "doubled price: the %d earlier records "
       "unchanged" % sale)
own = dict(A[sale], price=B[sale]["price"])
report(float(B[sale]["price"]) == 2 * float(A[sale]["price"]) and
       own == B[sale], "doubled price: its own features unchanged "
       "(price %s, decay_rate %s)" % (B[sale]["price"], B[sale]["decay_rate"]))
later = [i for i in range(sale + 1, len(A)) if A[i]["segment"] == seg]
other = [i for i in range(sale + 1, len(A)) if A[i]["segment"] != seg]
dep = ("decay_rate", "decay_rate_se", "mileage_slope", "condition_coef",
       "price_level")
report(later and all(all(A[i][f] != B[i][f] for f in dep) and
                     A[i]["decay_level"] == "trim" for i in later),
       "doubled price: all %d later records of %s have other %s"
       % (len(later), seg, ", ".join(dep)))
# The region offset pools every segment of the region (all are region *
# here), and the pooled model every sale (its curve and market level),
# so they alone may move in the other segment.
pooled = ("pooled_value", "pooled_sd", "pooled_next", "weight_make",
          "weight_model", "weight_trim", "comps_value", "comps_spread")
strip = lambda r: dict(r, region_offset=None, **{f: None for f in pooled})
report(other and all(strip(A[i]) == strip(B[i]) and
                     A[i]["decay_level"] == "trim" for i in other),
       "doubled price: the %d later records of the other segment "
       "(served by their own trim) unchanged but for region_offset and "
       "the pooled model's fields" % len(other))
report(any(A[i]["pooled_value"] != B[i]["pooled_value"] for i in later),
       "doubled price: the pooled model learned it (a later pooled_value "
       "of %s differs)" % seg)
report(A[:after_ix] == C[:after_ix], "index value raised: the %d "
       "records before its publication unchanged" % after_ix)
nxt = next(i for i in range(after_ix, len(A))
           if A[i]["segment"].startswith("make2/"))
report(abs(float(C[nxt]["mpi"]) / float(A[nxt]["mpi"]) - 1.25) < 1e-12,
       "index value raised: the next make2 vehicle (record %d) sees its "
       "mpi raised by a quarter" % (nxt + 1))
sys.exit(bad > 0)
EOF
	echo "not ok - comparing the runs failed"

## (b) Prefixes: what comes after cannot change what was written.
prefix() {	# prefix NAME CSV K: a run over K records writes a prefix
	head -$(($3 + 1)) "$2" > "$T/p.csv"
	ingest "$T/p.csv" "$T/p" && features "$T/p" &&
	    test "$(wc -l < "$T/p.csv")" -gt 1 &&
	    head -$(wc -l < "$T/p.csv") "$T/$1.csv" | cmp -s - "$T/p.csv"
}
for k in 1000 2500 $((N - 1)); do
	prefix a "$T/sim.csv" $k
	check "cv-sim: the output over the first $k records is a prefix" \
	    test $? -eq 0
done
if [ -f $D/auction_honda_odyssey_3500.csv ]; then
	cv-ingest -O -e skip -M pipelines/maps/auction.map \
	    -o "$T/sales.avro" $D/auction_honda_odyssey_3500.csv 2> /dev/null
	cv-ingest -M pipelines/maps/fred.map -s source=bls.cpi.used.sa \
	    -o "$T/cpi.avro" $D/CUSR0000SETA02_*.csv
	cv-features "$T/cpi.avro" "$T/sales.avro" | cv-cat -f csv \
	    > "$T/real.csv"
	# Events in time: CPI values published before each sale, then it.
	cv-cat -f csv "$T/cpi.avro" "$T/sales.avro" > "$T/ev.csv"
	n=$(($(wc -l < "$T/real.csv") - 1))
	for k in $((n / 3)) $((n - 1)); do
		at=$(sed -n "$((k + 1))p" "$T/real.csv" | cut -d, -f9)
		# Sales up to record k and the CPI published by then (at a
		# tie the CPI, the first input, goes first).
		awk -F, -v k=$k 'NR == 1 || ($1 == "VehicleObs" && ++v <= k)' \
		    "$T/ev.csv" > "$T/s.csv"
		awk -F, -v at="$at" 'NR == 1 || ($1 == "IndexObs" && $6 <= at)' \
		    "$T/ev.csv" > "$T/i.csv"
		cv-ingest -M $IM -o "$T/i.avro" "$T/i.csv" &&
		    cv-ingest -M $VM -o "$T/s.avro" "$T/s.csv" &&
		    cv-features "$T/i.avro" "$T/s.avro" | cv-cat -f csv \
		    > "$T/p.csv"
		check "auction sales with the CPI: the output over the first $k \
sales is a prefix" sh -c "test \$(wc -l < '$T/p.csv') -eq $((k + 1)) &&
		    head -$((k + 1)) '$T/real.csv' | cmp -s - '$T/p.csv'"
	done
else
	echo "skip - no auction data in $D"
fi

## (c) Publication time, not file order.
cat > "$T/ix.csv" <<'EOF'
IndexObs.source,IndexObs.segment,IndexObs.region,IndexObs.period,IndexObs.published_at,IndexObs.value,IndexObs.volume,IndexObs.days_supply
t,*,*,2020-01-01,2020-02-10T00:00:00Z,100,,
t,*,*,2020-02-01,2020-03-10T12:00:00Z,110,,
t,make:toyota,*,2020-02-01,2020-03-20T00:00:00Z,50,,
EOF
cat > "$T/vx.csv" <<'EOF'
VehicleObs.vehicle_id,VehicleObs.loan_id,VehicleObs.source,VehicleObs.make,VehicleObs.model,VehicleObs.trim,VehicleObs.region,VehicleObs.observed_at,VehicleObs.model_year,VehicleObs.mileage_km,VehicleObs.condition,VehicleObs.price,VehicleObs.reference_value,VehicleObs.loan_balance,VehicleObs.currency
v1,,t,Toyota,Camry,LE,ca,2020-02-09T23:59:59.999Z,2018,,,20000,,,USD
v2,,t,Toyota,Camry,LE,ca,2020-03-10T11:59:59.999Z,2018,,,20000,,,USD
v3,,t,Toyota,Camry,LE,ca,2020-03-10T12:00:00.001Z,2018,,,20000,,,USD
v4,,t,Toyota,Camry,LE,ca,2020-03-19T23:59:59.999Z,2018,,,20000,,,USD
v5,,t,Toyota,Camry,LE,ca,2020-03-20T00:00:00.001Z,2018,,,20000,,,USD
EOF
cv-ingest -M $IM -o "$T/ix.avro" "$T/ix.csv" &&
    cv-ingest -M $VM -o "$T/vx.avro" "$T/vx.csv"
check "ingest index values and vehicles around their publication" \
    test $? -eq 0
want="v1,,
v2,100,market@*
v3,110,market@*
v4,110,market@*
v5,50,make@*"
for order in "ix vx" "vx ix"; do
	set -- $order
	got=$(cv-features "$T/$1.avro" "$T/$2.avro" |
	    cv-cat -f csv -C vehicle_id,mpi,mpi_level | awk -F, 'NR > 1 {
		printf "%s,%s,%s\n", $1, $2 == "" ? "" : sprintf("%.9g", $2), $3
	    }')
	check "files $1 then $2: each vehicle sees only the values published \
before it" test "$got" = "$want"
done
exit 0
