#!/bin/sh
# predict-sim: cv-predict's valuations are as good as the simulated market
# allows, and no better.  cv-sim draws each sale's ln price about its
# segment's curve with N(0, s^2) noise (-n s); cv-features fits the curves
# on earlier sales; cv-predict values every sale from them.  On the sales
# after a burn-in (the first 20 % skipped: the fits need comparables):
#
# 1. Noise floor.  A sale's absolute percentage error is |value / price - 1|
#    = |exp(d - u) - 1|, u the sale's noise, d the model's own error.  With
#    d = 0 its median is the floor m(s), the root of
#        Phi(ln(1 + m) / s) - Phi(ln(1 - m) / s) = 1/2
#    (|exp(u) - 1| <= m exactly when ln(1 - m) <= u <= ln(1 + m)); solved by
#    bisection: m(0.10) = 0.067364, m(0.05) = 0.033714 (about 0.6745 s).
#    numpy's median of 10^6 simulated |exp(u) - 1| must agree within 5 of
#    its standard errors (below).
#    Lower bound: a model whose error d is independent of the sale's own
#    noise cannot beat the floor (Anderson's theorem: adding independent
#    symmetric error to u only moves mass out of the interval).  The best
#    constant bias c = ln(1 - m^2) / 2 recentres the interval and lowers
#    the floor by 3e-4 relative (2.6e-4 at s = 0.10, 6e-5 at 0.05), a
#    tenth of the sampling error, so it is ignored.  The sampling error of
#    a median of n draws is 1 / (2 f(m) sqrt n), f the density of
#    |exp(u) - 1| at m:
#        f(m) = phi(ln(1 + m) / s) / (s (1 + m))
#             + phi(ln(1 - m) / s) / (s (1 - m)),
#    about 0.29 % of m for n = 160,000 sales (0.92 % for the 16,000 of a
#    valgrind run).  Check MdAPE >= m - 4 se: a false alarm 3e-5.
#    Upper bound: MdAPE <= 1.15 m.  For small s, |exp(x) - 1| ~ |x|, so
#    the MdAPE grows like the sd of d - u, sqrt(s^2 + sd(d)^2): 15 % allows
#    sd(d) up to sqrt(1.15^2 - 1) s = 0.57 s (0.057 at s = 0.10, 0.028 at
#    0.05).  What d should be: cv-features deflates a price by the index
#    known before the sale (a month's index is published on the 16th),
#    cv-sim prices it with the sale month's, so the ~49 % of sales before
#    the 16th are off by a month's move of ln index, sd sqrt(volatility^2
#    + make_volatility^2 + 2 index_noise^2) = sqrt(4e-4) = 0.02 with the
#    defaults: rms sqrt(0.49 * 4e-4) = 0.014 over all sales.  Add the fit's
#    own uncertainty (price_level_lse, median about 0.007, printed) and
#    the cohort and region offsets' noise: sd(d) about 0.02, an expected
#    ratio of sqrt(1 + (0.02 / s)^2): 1.02 at s = 0.10, 1.08 at 0.05.
#    A valgrind run fits on a tenth of the sales: price_level_lse grows
#    by about sqrt 10 to 0.023, sd(d) to about 0.03, a ratio of 1.17 at
#    s = 0.05; there the bound is 1.25 (sd(d) up to 0.75 s).
#    The same bounds hold for the rms of ln(value / price) against s
#    (E (d - u)^2 = s^2 + E d^2 when d and u are independent; the sample
#    rms of n normal draws has se s / sqrt(2n), 4 se = 0.7 % of s).
# 2. Interval coverage.  The share of prices in [value_lo, value_hi] must
#    be the nominal p within 4 binomial standard errors, 4 sqrt(p (1 - p)
#    / n) (0.003 at p = 0.9, n = 160,000), plus a model allowance of 0.02:
#    the interval assumes normal errors of sd sqrt(decay_sigma^2 +
#    price_level_lse^2), but the error is a mixture (the index lag above
#    hits half the sales), the offsets' uncertainty is left out, and
#    neighbouring sales share estimation errors, so the binomial se is too
#    small (per month the coverage ranges from about 0.86 to 0.91).  Run
#    with the built-in defaults (-i 0.9 and -i 0.8; -i only narrows the
#    interval: ln(value_hi / value) scales by z(0.90) / z(0.95) = 1.28155
#    / 1.64485, to 1e-9) and with a model store: cv-train -u at the first
#    sale of the second half, cv-predict -P, scored on the second half,
#    where every sale must carry version 1 and every earlier one version 0
#    (the built-in defaults: no version was trained on data before it).
# 3. value_next.  With no store, cv-predict moves ln value a month on by
#    -decay_rate / 12 + mileage_slope * km_month / 1e4, km_month = km /
#    age_months (0 under a month of age), the index held where it is;
#    checked to 1e-9 from the Features columns.  cv-sim's decay rates are
#    positive (0.10 to 0.20 a year) and its mileage slope negative, so a
#    vehicle loses value month on month at a constant index and value_next
#    < value must hold for at least 95 % of sales (all, in practice).  The
#    index drift (0.002 a month, realised up to 0.0084 for one make) is not
#    part of the forecast, so --drift need not be 0.  Against the truth:
#    per sale, 12 ln(value_next / value) should be -decay_s + mileage_slope
#    * km_year / 1e4, decay_s the segment's true rate (-p) and km_year =
#    km / (age_months / 12); the median over sales of the difference must
#    be within 4 times the median decay_rate_se (about 0.009 a year, 5 %
#    of the 0.18 a year lost): the difference is mostly the fitted decay's
#    error, and a median over 60 segments' errors is smaller than one
#    segment's se.  cv-sim's age uses 365.25-day years, cv-features'
#    365.2425: a 2e-5 relative shift, ignored.  A rough figure,
#    -(median true decay) + slope * 15,000 km / 1e4 = -0.145 - 0.03, is
#    printed beside the median: the median of a sum is not the sum of the
#    medians, so it is not checked.
# 4. Baselines.  naive_value is this vehicle's prev_value, else its
#    segment's last price: null only on the first sale of each segment (60
#    of them), and segment_last_price must be the price of the segment's
#    previous sale in the stream.  index_value = naive_value * mpi /
#    (prev_mpi, or segment_last_mpi when naive_value came from the
#    segment), to 1e-12 relative, null exactly when a term is missing or
#    the old mpi is not positive.
#
# The seed is fixed, so a pass or a failure is repeatable.
# Run from the repository root with the programs on PATH (tests/run).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/predict-sim.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
SEED=${PREDICT_SIM_SEED:-1}
# Under valgrind (50 times slower) a smaller stream: wider bounds, the
# same checks.
N=200000 TOL=0.15
[ "${VALGRIND:-0}" = 1 ] && N=20000 TOL=0.25

need_python numpy

for n in 10 05; do
	cv-sim --seed "$SEED" -N $N -n 0.$n --loans 0 -p "$T/p$n.json" \
	    -o "$T/s$n.avro"
	check "cv-sim -N $N -n 0.$n --loans 0" test $? -eq 0
	# The hedonic path this test's bounds are worked out for: without
	# the pooled model (-R 0; tests/e2e/pool-sim.sh checks that one).
	cv-features -R 0 -o "$T/f$n.avro" "$T/s$n.avro" 2> "$T/err"
	check "cv-features on -n 0.$n: status 0, nothing on stderr" \
	    test $? -eq 0 -a ! -s "$T/err"
	cv-predict -o "$T/v$n.avro" "$T/f$n.avro" 2> "$T/err"
	check "cv-predict on -n 0.$n: status 0, nothing on stderr" \
	    test $? -eq 0 -a ! -s "$T/err"
done
cv-predict -i 0.8 -o "$T/v8.avro" "$T/f10.avro" 2> "$T/err"
check "cv-predict -i 0.8: status 0, nothing on stderr" \
    test $? -eq 0 -a ! -s "$T/err"

# The first sale of the second half; the stream is in event time.
cv-cat -f csv -C VehicleObs.observed_at "$T/s10.avro" |
    awk 'NR > 1 && $0 != ""' > "$T/times"
U=$(sed -n "$(($(wc -l < "$T/times") / 2 + 1))p" "$T/times")
cv-train -m "$T/m.db" -u "$U" "$T/f10.avro" 2> "$T/err"
check "cv-train -u $U: status 0, nothing on stderr" \
    test $? -eq 0 -a ! -s "$T/err"
cv-predict -P -m "$T/m.db" -o "$T/vp.avro" "$T/f10.avro" 2> "$T/err"
check "cv-predict -P -m: status 0, nothing on stderr" \
    test $? -eq 0 -a ! -s "$T/err"

V=observed_at,price,value,value_lo,value_hi,interval,valuation_model
V=$V,model_version
C=$V,segment,value_next,age_months,mileage_km,decay_rate,decay_rate_se
C=$C,mileage_slope,decay_sigma,price_level_lse,mpi,prev_value,prev_mpi
C=$C,segment_last_price,segment_last_mpi,naive_value,index_value
cv-cat -f csv -C $C "$T/v10.avro" > "$T/v10.csv" &&
    cv-cat -f csv -C $V "$T/v05.avro" > "$T/v05.csv" &&
    cv-cat -f csv -C $V "$T/v8.avro" > "$T/v8.csv" &&
    cv-cat -f csv -C $V "$T/vp.avro" > "$T/vp.csv"
check "cv-cat the valuations" test $? -eq 0

"$PY" - "$T" "$U" $TOL <<'EOF' || exit 1
import csv, datetime, json, math, sys
from statistics import NormalDist
import numpy as np

T, U = sys.argv[1:3]
TOL = float(sys.argv[3])    # MdAPE and rms at most this much over the floor
NORM = NormalDist()
BURN = 0.2          # share of the sales skipped
ALLOW = 0.02        # coverage: model allowance beyond 4 binomial se
bad = 0


def report(good, what):
    global bad
    print(("ok - " if good else "not ok - ") + what)
    bad += not good


def ts(s):
    return datetime.datetime.strptime(
        s.replace("Z", "+0000"),
        "%Y-%m-%dT%H:%M:%S.%f%z" if "." in s else "%Y-%m-%dT%H:%M:%S%z")


def load(name):
    with open("%s/%s.csv" % (T, name), newline="") as f:
        rows = list(csv.reader(f))
    return {k: [r[i] for r in rows[1:]] for i, k in enumerate(rows[0])}


def num(v):
    return np.array([float(x) if x != "" else np.nan for x in v])


def floor(s):
    """Median of |exp(u) - 1|, u ~ N(0, s^2), and its density there."""
    lo, hi = 0.0, 1.0
    for _ in range(100):
        m = (lo + hi) / 2
        inside = (NORM.cdf(math.log1p(m) / s) -
                  NORM.cdf(math.log1p(-m) / s))
        lo, hi = (m, hi) if inside < 0.5 else (lo, m)
    f = (NORM.pdf(math.log1p(m) / s) / (s * (1 + m)) +
         NORM.pdf(math.log1p(-m) / s) / (s * (1 - m)))
    return m, f


def coverage(what, c, p, keep):
    price, lo, hi = num(c["price"]), num(c["value_lo"]), num(c["value_hi"])
    keep = keep & ~np.isnan(lo)
    k = keep.sum()
    share = np.mean((price[keep] >= lo[keep]) & (price[keep] <= hi[keep]))
    tol = 4 * math.sqrt(p * (1 - p) / k) + ALLOW
    report(abs(share - p) <= tol, "%s: coverage %.4f of nominal %.2f "
           "(tolerance %.4f, %d sales)" % (what, share, p, tol, k))


def burnt(c):
    n = len(c["price"])
    keep = np.zeros(n, bool)
    keep[int(n * BURN):] = True
    return keep


# 1. Noise floor, 2. coverage with the built-in defaults.
for name in ("v10", "v05"):
    s = json.load(open("%s/p%s.json" % (T, name[1:])))["noise"]
    c = load(name)
    keep = burnt(c)
    price, value = num(c["price"]), num(c["value"])
    keep &= ~np.isnan(value)
    k = keep.sum()
    m, f = floor(s)
    se = 1 / (2 * f * math.sqrt(k))
    sim = np.median(np.abs(np.expm1(
        np.random.default_rng(1).normal(0, s, 10**6))))
    sim_se = 1 / (2 * f * math.sqrt(10**6))
    report(abs(sim - m) <= 5 * sim_se, "s = %.2f: the floor %.6f "
           "(closed form) is numpy's 10^6 draws' %.6f within 5 se (%.1e)"
           % (s, m, sim, sim_se))
    ape = np.abs(value[keep] / price[keep] - 1)
    mdape = np.median(ape)
    report(mdape >= m - 4 * se, "s = %.2f: MdAPE %.5f >= floor %.5f - "
           "4 se (%.5f): the model does not beat the noise" %
           (s, mdape, m, 4 * se))
    report(mdape <= m * (1 + TOL), "s = %.2f: MdAPE %.5f <= floor * %.2f "
           "= %.5f (%.3f of the floor, %d sales)" %
           (s, mdape, 1 + TOL, m * (1 + TOL), mdape / m, k))
    lr = np.log(value[keep] / price[keep])
    rms = math.sqrt(np.mean(lr * lr))
    report(s * (1 - 4 / math.sqrt(2 * k)) <= rms <= s * (1 + TOL),
           "s = %.2f: rms ln(value / price) %.5f, %.3f s (bias %+.5f)" %
           (s, rms, rms / s, np.mean(lr)))
    if "price_level_lse" in c:
        print("# s = %.2f: median price_level_lse %.4f, decay_sigma %.4f"
              % (s, np.median(num(c["price_level_lse"])[keep]),
                 np.median(num(c["decay_sigma"])[keep])))
    report(set(c["valuation_model"]) == {"hedonic"} and
           set(c["model_version"]) == {"0"} and set(c["interval"]) ==
           {"0.9"}, "s = %.2f: without -m every record is hedonic, "
           "version 0, interval 0.9" % s)
    coverage("s = %.2f, built-in defaults" % s, c, 0.9, keep)

c10 = load("v10")
c8 = load("v8")
keep = burnt(c8)
report(set(c8["interval"]) == {"0.8"}, "-i 0.8: interval 0.8 on every "
       "record")
coverage("-i 0.8, built-in defaults", c8, 0.8, keep)
v8, v9 = num(c8["value"]), num(c10["value"])
z = NORM.inv_cdf(0.9) / NORM.inv_cdf(0.95)
ratio = np.log(num(c8["value_hi"]) / v8) / np.log(num(c10["value_hi"]) / v9)
has = ~np.isnan(v9)
report(np.array_equal(np.isnan(v8), np.isnan(v9)) and
       np.all(v8[has] == v9[has]) and np.all(np.abs(ratio[has] - z) < 1e-9),
       "-i 0.8: the same values, ln(value_hi / value) scaled by %.6f to "
       "1e-9 (worst %.1e)" % (z, np.max(np.abs(ratio[has] - z))))

# With a model store trained on the first half.
cp = load("vp")
u = ts(U)
late = np.array([ts(t) >= u for t in cp["observed_at"]])
ver = np.array([int(v) for v in cp["model_version"]])
report(late.sum() == len(late) - len(late) // 2 and
       np.all(ver[late] == 1) and np.all(ver[~late] == 0),
       "-P: the %d sales from %s carry version 1, the %d before version 0"
       % (late.sum(), U, (~late).sum()))
coverage("-m, -P, second half", cp, 0.9, late)
value, price = num(cp["value"]), num(cp["price"])
keep = late & ~np.isnan(value)
mdape = np.median(np.abs(value[keep] / price[keep] - 1))
m, f = floor(0.10)
report(m - 4 / (2 * f * math.sqrt(keep.sum())) <= mdape <= m * (1 + TOL),
       "-m, -P, second half: MdAPE %.5f, %.3f of the floor" %
       (mdape, mdape / m))

# 3. value_next, on the -n 0.10 run with the built-in defaults.
p = json.load(open(T + "/p10.json"))
c = c10
keep = burnt(c)
decay = {g["segment"]: g["decay"] for g in p["segments"]}
value, nxt = num(c["value"]), num(c["value_next"])
keep &= ~np.isnan(value) & ~np.isnan(nxt)
age, km = num(c["age_months"]), num(c["mileage_km"])
g = 12 * np.log(nxt / value)
own = -num(c["decay_rate"]) + num(c["mileage_slope"]) * \
    np.where(age >= 1, km / np.where(age > 0, age, 1), 0) * 12 / 1e4
worst = np.max(np.abs(g - own)[keep])
report(worst < 1e-9, "value_next: ln(value_next / value) = -decay_rate / "
       "12 + mileage_slope * km / age_months / 1e4, to 1e-9 (worst %.1e)"
       % worst)
report(all(d > 0 for d in decay.values()) and p["mileage_slope"] < 0,
       "cv-sim: every true decay rate positive (%.3f to %.3f), mileage "
       "slope %.3f" % (min(decay.values()), max(decay.values()),
                       p["mileage_slope"]))
down = np.mean(nxt[keep] < value[keep])
report(down >= 0.95, "value_next < value on %.4f of %d sales (>= 0.95)"
       % (down, keep.sum()))
seg = np.array([decay[x] for x in c["segment"]])
truth = -seg + p["mileage_slope"] * km / (age / 12) / 1e4
diff = np.median((g - truth)[keep])
tol = 4 * np.median(num(c["decay_rate_se"])[keep])
report(abs(diff) <= tol, "value_next: median of 12 ln(value_next / value) "
       "%.5f, of the truth %.5f: %+.5f a year (tolerance %.5f)" %
       (np.median(g[keep]), np.median(truth[keep]), diff, tol))
print("# rough figure, not checked: -(median true decay %.4f) - %.3f "
      "(15,000 km a year) = %.4f" %
      (np.median(seg[keep]), -p["mileage_slope"] * 1.5,
       -np.median(seg[keep]) + p["mileage_slope"] * 1.5))

# 4. Baselines, recomputed from the Features columns.
price = num(c["price"])
naive, index = num(c["naive_value"]), num(c["index_value"])
prev, prev_mpi = num(c["prev_value"]), num(c["prev_mpi"])
seg_price, seg_mpi = num(c["segment_last_price"]), num(c["segment_last_mpi"])
mpi = num(c["mpi"])
last, want_seg = {}, []
for i, x in enumerate(c["segment"]):
    want_seg.append(last.get(x, np.nan))
    last[x] = price[i]
want_seg = np.array(want_seg)
first = np.isnan(want_seg)
report(np.array_equal(np.isnan(seg_price), first) and
       np.all(seg_price[~first] == want_seg[~first]),
       "segment_last_price is the price of the segment's previous sale")
report(np.array_equal(np.isnan(naive), first) and first.sum() == len(last),
       "naive_value null on the first sale of each of the %d segments "
       "only (%d nulls)" % (len(last), np.isnan(naive).sum()))
from_prev = ~np.isnan(prev)
want = np.where(from_prev, prev, seg_price)
report(np.all((naive == want) | (np.isnan(naive) & np.isnan(want))),
       "naive_value is prev_value (%d sales), else segment_last_price"
       % from_prev.sum())
old = np.where(from_prev, prev_mpi, seg_mpi)
defined = ~np.isnan(want) & ~np.isnan(old) & ~np.isnan(mpi) & (old > 0)
with np.errstate(invalid="ignore", divide="ignore"):
    expect = want * mpi / old
rel = np.abs(index[defined] / expect[defined] - 1)
report(np.array_equal(~np.isnan(index), defined) and np.all(rel <= 1e-12),
       "index_value = naive_value * mpi / (prev_mpi or segment_last_mpi) "
       "on %d sales to 1e-12 (worst %.1e), null on the other %d" %
       (defined.sum(), rel.max(), (~defined).sum()))
sys.exit(bad > 0)
EOF
