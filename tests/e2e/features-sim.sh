#!/bin/sh
# features-sim: cv-features recovers what cv-sim put in.  On a cv-sim
# stream with known elasticity, decay rates, mileage slope and condition
# coefficient (-p), the last Features record of each trim segment and of
# each make must hold estimates within 4 standard errors of the truth:
# a z-test at 4 sigma, a false alarm about 6e-5 per check (two-sided
# normal tail), so about 2e-3 for the whole script; the seed is fixed,
# so a pass or a failure is repeatable.
#
# The decay checks run with -D 0 (no forgetting): the fit then uses every
# earlier sale of the segment and its se is the plain OLS one.  With
# forgetting, stat.h documents that the se is conservative by about
# sqrt 2, so the 4-se check there (the default -D 180) is looser.
#
# Besides the truth, numpy redoes cv-features' own regressions from the
# stream: (a) OLS of ln index on ln volume over the make's 36 months,
# (b) OLS of ln(price / index known before the sale) on 1, age in years
# (days / 365.2425, as age_months / 12), km / 1e4, condition - 0.5 and
# an indicator of "no index known yet", over the segment's sales before
# the last one.  They must agree to 1e-8 relative.
#
# A bias to check: cv-features deflates a price by the index known before
# the sale (published at period + 15 days), cv-sim prices it with the
# index of the sale month, so sales in the first half of a month are
# deflated by last month's index.  numpy fits both ways; the shift this
# causes must stay under 1 se, a quarter of the tolerance, and is
# printed.  cv-sim's age uses 365.25-day years, cv-features 365.2425:
# the decay it reports is the truth times 365.2425 / 365.25, a shift of
# 2e-5 relative (about 0.01 se), accounted for below.
#
# Run from the repository root with the programs on PATH (tests/run).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/features-sim.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
SEED=${FEATURES_SIM_SEED:-1}
# Under valgrind (50 times slower) a smaller stream: wider errors, the
# same checks.
N=200000
[ "${VALGRIND:-0}" = 1 ] && N=20000

need_python numpy

cv-sim --seed "$SEED" -N $N --makes 2 --models 2 --trims 2 --loans 0 \
    -p "$T/p.json" -o "$T/s.avro"
check "cv-sim -N $N, 2 makes x 2 models x 2 trims" test $? -eq 0
cv-features -D 0 -w 36 -o "$T/f0.avro" "$T/s.avro" 2> "$T/err"
check "cv-features -D 0 -w 36: status 0, nothing on stderr" \
    test $? -eq 0 -a ! -s "$T/err"
cv-features -o "$T/f180.avro" "$T/s.avro" 2> "$T/err"
check "cv-features (-D 180 -w 24): status 0, nothing on stderr" \
    test $? -eq 0 -a ! -s "$T/err"

I=IndexObs
V=VehicleObs
cv-cat -f csv -C type,$I.segment,$I.period,$I.published_at,$I.value,$I.volume,$V.segment,$V.observed_at,$V.model_year,$V.mileage_km,$V.condition,$V.price \
    "$T/s.avro" > "$T/s.csv"
FC=make,segment,observed_at,mpi_level,elasticity,elasticity_se,elasticity_n
FC=$FC,decay_level,decay_rate,decay_rate_se,mileage_slope,mileage_slope_se
FC=$FC,condition_coef,condition_coef_se,decay_n
cv-cat -f csv -C $FC "$T/f0.avro" > "$T/f0.csv"
cv-cat -f csv -C $FC "$T/f180.avro" > "$T/f180.csv"

"$PY" - "$T/p.json" "$T/s.csv" "$T/f0.csv" "$T/f180.csv" <<'EOF' || exit 1
import bisect, csv, datetime, json, math, sys
import numpy as np

params, stream, f0, f180 = sys.argv[1:5]
UTC = datetime.timezone.utc
YEAR = datetime.timedelta(days=365.2425)
AGE_SCALE = 365.2425 / 365.25   # cv-sim's years in cv-features' years
bad = 0


def report(good, what):
    global bad
    print(("ok - " if good else "not ok - ") + what)
    bad += not good


def ts(s):
    return datetime.datetime.strptime(
        s.replace("Z", "+0000"),
        "%Y-%m-%dT%H:%M:%S.%f%z" if "." in s else "%Y-%m-%dT%H:%M:%S%z")


def ols(X, y):
    """Coefficients and their classical standard errors."""
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    b, _, _, _ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ b
    s2 = r @ r / (len(y) - X.shape[1])
    return b, np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def last_by(path, key):
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out[r[key]] = r
    return out


p = json.load(open(params))
index, sales = {}, {}
with open(stream, newline="") as f:
    for r in csv.DictReader(f):
        if r["type"] == "IndexObs":
            index.setdefault(r["IndexObs.segment"], []).append(
                (ts(r["IndexObs.published_at"]), r["IndexObs.period"],
                 float(r["IndexObs.value"]), float(r["IndexObs.volume"])))
        else:
            sales.setdefault(r["VehicleObs.segment"], []).append(
                (ts(r["VehicleObs.observed_at"]),
                 int(r["VehicleObs.model_year"]),
                 float(r["VehicleObs.mileage_km"]),
                 float(r["VehicleObs.condition"]),
                 float(r["VehicleObs.price"])))
last0 = last_by(f0, "segment")
last180 = last_by(f180, "segment")
lastmake = last_by(f0, "make")


def within(name, est, se, true):
    est, se = float(est), float(se)
    report(abs(est - true) <= 4 * se, "%s: %.5f (se %.5f), true %.5f, "
           "%+.2f se" % (name, est, se, true, (est - true) / se))


# Elasticity: one make index each; a vehicle of the make gets it.
for mk in sorted(lastmake):
    r = lastmake[mk]
    seg = "make:" + mk.lower()
    pts = index[seg]
    b, se = ols([[1, math.log(v)] for _, _, _, v in pts],
                [math.log(x) for _, _, x, _ in pts])
    report(r["mpi_level"] == "make@*" and int(r["elasticity_n"]) ==
           len(pts) == p["months"],
           "%s: last record served by make@* with %s months of %d" %
           (mk, r["elasticity_n"], len(pts)))
    within("elasticity of %s" % seg, r["elasticity"], r["elasticity_se"],
           p["elasticity"])
    report(rel(float(r["elasticity"]), b[1]) < 1e-8 and
           rel(float(r["elasticity_se"]), se[1]) < 1e-8,
           "elasticity of %s and its se as numpy OLS (%.10f, %.10f)" %
           (seg, b[1], se[1]))

# Depreciation, segment by segment.
for s in p["segments"]:
    seg, ix = s["segment"], s["index"]
    r = last0[seg]
    pubs = [t for t, _, _, _ in index[ix]]
    by_period = {per: v for _, per, v, _ in index[ix]}
    at = ts(r["observed_at"])
    rows, y_known, y_month = [], [], []
    for t, my, km, cond, price in sales[seg]:
        if t >= at:
            break
        age = (t - datetime.datetime(my - 1, 10, 1, tzinfo=UTC)) / YEAR
        k = bisect.bisect_left(pubs, t)     # index values published < t
        known = index[ix][k - 1][2] if k else None
        rows.append([1, age, km / 1e4, cond - 0.5, known is None])
        y_known.append(math.log(price / known if known else price))
        y_month.append(math.log(price / by_period[t.strftime("%Y-%m-01")]))
    bk, sek = ols(rows, y_known)
    bm, sem = ols([x[:4] for x in rows], y_month)
    name = "%s (%d sales)" % (seg, len(rows))
    report(r["decay_level"] == "trim" and int(float(r["decay_n"])) ==
           len(rows), "%s: decay_level trim, decay_n %s" %
           (name, r["decay_n"]))
    within("decay rate of " + name, r["decay_rate"], r["decay_rate_se"],
           s["decay"] * AGE_SCALE)
    within("mileage slope of " + name, r["mileage_slope"],
           r["mileage_slope_se"], s["mileage_slope"])
    within("condition coef of " + name, r["condition_coef"],
           r["condition_coef_se"], s["condition_coef"])
    got = [-float(r["decay_rate"]), float(r["mileage_slope"]),
           float(r["condition_coef"])]
    gse = [float(r["decay_rate_se"]), float(r["mileage_slope_se"]),
           float(r["condition_coef_se"])]
    worst = max([rel(g, w) for g, w in zip(got, bk[1:4])] +
                [rel(g, w) for g, w in zip(gse, sek[1:4])])
    report(worst < 1e-8, "%s: the fit and its se as numpy OLS "
           "(worst relative difference %.1e)" % (name, worst))
    shift = (bm[1] - bk[1]) / sek[1]
    report(abs(shift) <= 1, "%s: deflating by the index known before the "
           "sale, not the sale month's, moves the decay by %+.2f se"
           % (name, -shift))
    r = last180[seg]
    within("with forgetting (-D 180): decay rate of " + seg,
           r["decay_rate"], r["decay_rate_se"], s["decay"] * AGE_SCALE)
    within("with forgetting (-D 180): mileage slope of " + seg,
           r["mileage_slope"], r["mileage_slope_se"], s["mileage_slope"])
sys.exit(bad > 0)
EOF
