#!/bin/sh
# index-sim: cv-index recovers the index cv-sim priced its sales with, its
# standard errors are honest, numpy's own regressions give the same
# numbers, and nothing is published before its period is over.
#
# (1) The truth.  cv-sim prices a sale of make k in month t with its
# make's index, ln price = ... + ln index_k(t) - ln index_k(0) (cv-sim -p
# writes the model; the index values are the IndexObs records of the same
# stream), so every make and model series of cv-index must follow
# index_k(t) / index_k(base) of its make.  z = (ln value / 100 - ln truth)
# / (value_se / value) over every make and model month after the base:
# at least 90 % within 2 (95 % if the se is right; the months of one
# series are correlated, so the share moves more than for independent
# points) and the mean of z^2 between 0.6 and 1.5 (1 if right; an se
# twice too large gives 0.25, half too large 4).  The seed is fixed.
#
# (2) numpy (tests/fixtures/index-check.py) refits every link with
# explicit dummies and np.linalg.lstsq / pinv and sums the level's
# variance over every sale: on cv-sim with all four levels, on cv-sim by
# week, and on the shipped auction sales with all levels and -R (states).
#
# (3) No look-ahead: cv-index on the auction sales up to 2015-03-15 (cut
# before cv-ingest) publishes exactly the records of the whole run whose
# published_at is at most 2015-03-15, and every published_at is the end
# of its period (a month, or 7 days after a Monday with -w).
set -u
. tests/e2e/common.inc
need_python numpy
T=$(mktemp -d "${TMPDIR:-/tmp}/index-sim.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
N=200000 NSMALL=30000
[ "${VALGRIND:-0}" = 1 ] && N=30000 NSMALL=8000

cv-sim --seed 3 -N $N -p "$T/truth.json" -o "$T/sim.avro" &&
    cv-features -o "$T/f.avro" "$T/sim.avro" &&
    cv-index -n 20 -l make,model -o "$T/idx.avro" "$T/f.avro" ||
    { echo "not ok - cv-sim | cv-features | cv-index ran"; exit 1; }
cv-cat -f csv "$T/idx.avro" > "$T/idx.csv"
cv-cat -f csv -C type,IndexObs.segment,IndexObs.period,IndexObs.value \
    "$T/sim.avro" | awk -F, '$1 == "IndexObs"' > "$T/truth.csv"
"$PY" - "$T/truth.csv" "$T/idx.csv" <<'EOF'
import csv, math, sys
truth = {(seg, per): math.log(float(v))
         for _, seg, per, v in csv.reader(open(sys.argv[1]))}
base, z = {}, []
for r in csv.DictReader(open(sys.argv[2])):
    seg = r["segment"]
    make = "make:" + seg.replace("make:", "").split("/")[0]
    if seg not in base:
        base[seg] = r["period"]
        continue
    est = math.log(float(r["value"]) / 100)
    true = truth[(make, r["period"])] - truth[(make, base[seg])]
    z.append((est - true) / (float(r["value_se"]) / float(r["value"])))
within = sum(abs(x) < 2 for x in z) / len(z)
z2 = sum(x * x for x in z) / len(z)
print("# %d make and model months: %.1f %% within 2 se, mean z^2 %.2f, "
      "mean z %+.2f" % (len(z), 100 * within, z2, sum(z) / len(z)))
print(("ok" if len(z) > 100 and within >= 0.90 else "not ok") +
      " - the index is within 2 se of the simulated one (90 % or more)")
print(("ok" if 0.6 <= z2 <= 1.5 else "not ok") +
      " - its se is honest: mean z^2 between 0.6 and 1.5")
EOF

cv-sim --seed 5 -N $NSMALL -o "$T/small.avro" &&
    cv-features -o "$T/fs.avro" "$T/small.avro" || exit 1
cv-cat -f csv -C segment,region,observed_at,price,age_months,mileage_km,condition \
    "$T/fs.avro" > "$T/fs.csv"
cv-index -n 20 -l market,make,model,trim "$T/fs.avro" | cv-cat -f csv \
    > "$T/is.csv"
"$PY" tests/fixtures/index-check.py "$T/fs.csv" "$T/is.csv" 20 \
    market,make,model,trim | sed 's/^\(not \)*ok - /&cv-sim, by month: /'
cv-index -w -n 20 -l market,make "$T/fs.avro" | cv-cat -f csv > "$T/iw.csv"
"$PY" tests/fixtures/index-check.py "$T/fs.csv" "$T/iw.csv" 20 \
    market,make week | sed 's/^\(not \)*ok - /&cv-sim, by week: /'

D=pipelines/data
cv-ingest -O -M pipelines/maps/auction.map -e skip -o "$T/ev.avro" \
    $D/auction_toyota_camry_12k.csv $D/auction_honda_odyssey_3500.csv \
    2> /dev/null
cv-features -o "$T/fa.avro" "$T/ev.avro" || exit 1
cv-cat -f csv -C segment,region,observed_at,price,age_months,mileage_km,condition \
    "$T/fa.avro" > "$T/fa.csv"
cv-index -R -n 20 -l market,make,model,trim "$T/fa.avro" | cv-cat -f csv \
    > "$T/ia.csv"
"$PY" tests/fixtures/index-check.py "$T/fa.csv" "$T/ia.csv" 20 \
    market,make,model,trim | sed 's/^\(not \)*ok - /&auction sales, -R: /'

CUT=2015-03-15T00:00:00Z
cv-cat -f csv "$T/ev.avro" | awk -F, -v cut=$CUT 'NR == 1 { for (i = 1;
    i <= NF; i++) if ($i == "VehicleObs.observed_at") c = i; print; next }
    $c < cut' | cv-ingest -M tests/fixtures/features-vehicle.map |
    cv-features | cv-index -R -n 20 -l market,make,model,trim |
    cv-cat -f csv > "$T/cut.csv"
awk -F, -v cut=$CUT 'NR == 1 || $5 <= cut' "$T/ia.csv" > "$T/want.csv"
check "cut at $CUT: the values published by then, and only those" \
    cmp -s "$T/cut.csv" "$T/want.csv"
echo "# $(($(wc -l < "$T/want.csv") - 1)) values published by $CUT, of $(($(wc -l < "$T/ia.csv") - 1))"
check "cut at $CUT: some values published before it, some after" \
    test "$(wc -l < "$T/want.csv")" -gt 10 -a \
    "$(wc -l < "$T/ia.csv")" -gt "$(wc -l < "$T/want.csv")"
"$PY" - "$T/ia.csv" "$T/iw.csv" <<'EOF'
import csv, datetime, sys
def ends(path, week):
    bad = 0
    for r in csv.DictReader(open(path)):
        p = datetime.date.fromisoformat(r["period"])
        if week:
            end = p + datetime.timedelta(days=7)
            bad += p.weekday() != 0
        else:
            end = (p.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            bad += p.day != 1
        bad += r["published_at"] != end.isoformat() + "T00:00:00Z"
    return bad
print(("ok" if ends(sys.argv[1], False) == 0 else "not ok") +
      " - by month: published at the first instant of the next month")
print(("ok" if ends(sys.argv[2], True) == 0 else "not ok") +
      " - by week: periods begin on a Monday, published 7 days on")
EOF
