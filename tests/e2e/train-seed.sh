#!/bin/sh
# train-seed: cv-train recovers the seed model from data made with its
# formula, and cv-predict applies what it stored.
#
# tests/fixtures/train-features.py writes N Features records over a year
# with
#
#   price = a V + b mpi + c condition + d elasticity + e + N(0, SD^2),
#   V = price_level exp(cohort_offset + region_offset)
#
# (a, b, c, d, e) = (0.9, 20, 3000, -2000, 500), SD = 500, the offsets
# uniform on +-0.05, and three rows with a null elasticity, which the seed
# fit must leave out.  After cv-train -k seed:
#
#   - each stored coefficient is within 4 of its standard errors (the
#     square root of the stored covariance's diagonal) of the truth: a
#     z-test at 4 sigma, a false alarm about 6e-5 per check; the data's
#     seed is fixed, so a pass or a failure is repeatable;
#   - numpy's lstsq on the same rows, read back from the Avro file with
#     python3-avro (an independent decoder and fit), gives the same
#     coefficients, covariance s^2 (X'X)^-1 with s^2 = RSS / (n - 5),
#     rmse s, R^2 and MdAPE to 1e-6 relative;
#   - the rmse is within 4 of its standard errors (SD / sqrt(2 (n - 5)))
#     of SD.
#
# Then cv-predict -k seed on the same file: value = a'V + b'mpi +
# c'condition + d'elasticity + e' with the stored coefficients, to 1e-9
# relative on every row, null where the elasticity is; the interval
# value -+ z sqrt(x'Cx + rmse^2) (z the normal 0.95 quantile, the lower
# end at least 0) and value_next (the formula again with V = value), both
# to 1e-9 relative, as cv-predict.c documents them.
#
# Run from the repository root with the programs on PATH (tests/run).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/train-seed.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
N=20000
NULL_EL=5,4321,19999

need_python numpy avro.datafile sqlite3

"$PY" tests/fixtures/train-features.py -n $N --null-el $NULL_EL \
    --coef 0.9,20,3000,-2000,500 --sd 500 "$T/f.avro"
check "train-features.py: $N Features records" test $? -eq 0

cv-train -v -k seed -m "$T/m.db" "$T/f.avro" 2> "$T/train.err"
st=$?
check "cv-train -v -k seed: status $st" test $st -eq 0
grep -q 'version 1 from' "$T/train.err"
check "cv-train -v: names the version it wrote" test $? -eq 0

cv-predict -k seed -m "$T/m.db" -o "$T/v.avro" "$T/f.avro" 2> "$T/predict.err"
st=$?
check "cv-predict -k seed: status $st, nothing on stderr" \
    test $st -eq 0 -a ! -s "$T/predict.err"

"$PY" - "$T/f.avro" "$T/m.db" "$T/v.avro" "$N" "$NULL_EL" <<'EOF' || exit 1
import json, math, sqlite3, statistics, sys
import avro.datafile, avro.io
import numpy as np

features, store, valuations = sys.argv[1:4]
n_all = int(sys.argv[4])
null_el = {int(x) for x in sys.argv[5].split(",")}
TRUE = [500.0, 0.9, 20.0, 3000.0, -2000.0]     # const, value, mpi, ...
SD = 500.0
TERMS = ["const", "value", "mpi", "condition", "elasticity"]
bad = 0


def report(good, what):
    global bad
    print(("ok - " if good else "not ok - ") + what)
    bad += not good


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def read(path):
    with open(path, "rb") as f:
        return list(avro.datafile.DataFileReader(f, avro.io.DatumReader()))


recs = read(features)
X, y, idx = [], [], []
for i, r in enumerate(recs):
    if r["elasticity"] is None:
        continue
    v = r["price_level"] * math.exp(r["cohort_offset"] + r["region_offset"])
    X.append([1.0, v, r["mpi"], r["condition"], r["elasticity"]])
    y.append(r["price"])
    idx.append(i)
X, y = np.array(X), np.array(y)
n, p = X.shape
report(len(recs) == n_all and n == n_all - len(null_el),
       "%d records, %d with every seed term" % (len(recs), n))

db = sqlite3.connect(store)
vers = db.execute("select version, rows from versions").fetchall()
report(vers == [(1, n_all)], "store: one version, %d rows used: %s" %
       (n_all, vers))
ms = db.execute("select kind, class, method, terms, coef, cov, n, r2, "
                "rmse, mdape from models").fetchall()
report(len(ms) == 1 and ms[0][:3] == ("seed", "*", "ols"),
       "store: one model, seed * ols: %s" % [m[:3] for m in ms])
kind, cls, method, terms, coef, cov, sn, r2, rmse, mdape = ms[0]
terms, coef, cov = json.loads(terms), json.loads(coef), json.loads(cov)
report(terms == TERMS, "terms %s" % terms)
report(sn == n, "n %d (the rows without a null elasticity)" % sn)
coef = np.array(coef, float)
cov = np.array(cov, float).reshape(p, p)
se = np.sqrt(np.diag(cov))

# The truth, within 4 se.
for name, c, s, t in zip(TERMS, coef, se, TRUE):
    report(abs(c - t) <= 4 * s, "%s: %.6g (se %.3g), true %g, %+.2f se" %
           (name, c, s, t, (c - t) / s))

# numpy on the same rows.
b, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
res = y - X @ b
s2 = res @ res / (n - p)
ncov = s2 * np.linalg.inv(X.T @ X)
worst = max(rel(c, w) for c, w in zip(coef, b))
report(rank == p and worst < 1e-6,
       "coefficients as numpy lstsq (worst relative difference %.1e)" % worst)
worst = max(rel(cov[i, j], ncov[i, j]) for i in range(p) for j in range(p))
report(worst < 1e-6, "covariance as numpy s^2 (X'X)^-1 (worst relative "
       "difference %.1e)" % worst)
report(rel(rmse, math.sqrt(s2)) < 1e-6,
       "rmse %.6g as numpy's sqrt(RSS / (n - 5)) %.6g" % (rmse, math.sqrt(s2)))
nr2 = 1 - res @ res / ((y - y.mean()) @ (y - y.mean()))
report(rel(r2, nr2) < 1e-6, "R^2 %.8f as numpy's %.8f" % (r2, nr2))
nmdape = float(np.median(np.abs((X @ b) / y - 1)))
report(rel(mdape, nmdape) < 1e-6, "MdAPE %.6g as numpy's %.6g" %
       (mdape, nmdape))
se_s = SD / math.sqrt(2 * (n - p))
report(abs(rmse - SD) <= 4 * se_s, "rmse %.2f, noise sd %g: %+.2f se" %
       (rmse, SD, (rmse - SD) / se_s))

# cv-predict -k seed with these coefficients.
out = read(valuations)
report(len(out) == len(recs), "cv-predict: %d Valuation records" % len(out))
z = statistics.NormalDist().inv_cdf(0.95)
worst = {"value": 0.0, "value_lo": 0.0, "value_hi": 0.0, "value_next": 0.0}
wrong = []
for i, (r, o) in enumerate(zip(recs, out)):
    if o["valuation_model"] != "seed" or o["model_version"] != 1 or \
            o["interval"] != 0.9 or o["vehicle_id"] != r["vehicle_id"]:
        wrong.append("%d: model %s version %s" %
                     (i, o["valuation_model"], o["model_version"]))
        continue
    if r["elasticity"] is None:
        if any(o[k] is not None for k in worst):
            wrong.append("%d: a value without an elasticity" % i)
        continue
    v = r["price_level"] * math.exp(r["cohort_offset"] + r["region_offset"])
    x = np.array([1.0, v, r["mpi"], r["condition"], r["elasticity"]])
    val = float(coef @ x)
    sd = math.sqrt(float(x @ cov @ x) + rmse * rmse)
    xn = x.copy()
    xn[1] = val
    want = {"value": val, "value_lo": max(val - z * sd, 0),
            "value_hi": val + z * sd, "value_next": float(coef @ xn)}
    for k, w in want.items():
        if o[k] is None:
            wrong.append("%d: %s null, want %r" % (i, k, w))
        else:
            worst[k] = max(worst[k], rel(o[k], w))
report(not wrong, "every record valued by seed version 1, null where the "
       "elasticity is (%d wrong%s)" % (len(wrong), ": " + "; ".join(
           wrong[:3]) if wrong else ""))
for k, w in worst.items():
    report(w < 1e-9, "%s as recomputed from the stored model (worst "
           "relative difference %.1e)" % (k, w))
sys.exit(bad > 0)
EOF
