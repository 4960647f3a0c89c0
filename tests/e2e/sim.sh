#!/bin/sh
# End-to-end checks of cv-sim: its command line, reproducibility, write
# errors, and that the parameters it reports with -p come back out of its
# output by ordinary least squares (numpy), each within 4 standard errors.
#
#	BIN=build/rel/bin TMPDIR=/tmp sh tests/e2e/sim.sh
set -u
: "${BIN:?set BIN to the directory of the built programs}"
T=$(mktemp -d "${TMPDIR:-/tmp}/sim.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
SIM=$BIN/cv-sim
PY=/usr/bin/python3
failed=0

[ -x "$SIM" ] || { echo "no cv-sim in $BIN"; exit 77; }

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; failed=1; }
check() {	# check NAME: ok when the rest of the line, a command, succeeds
	name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}

# Smaller runs under valgrind, which is 50 times slower.
N=20000 BIG=1000000
if [ "${VALGRIND:-0}" = 1 ]; then
	N=3000 BIG=20000
fi

"$SIM" -h > "$T/out" 2> "$T/err"
st=$?
check "-h: status 0, usage and options on stdout, nothing on stderr" \
    test $st -eq 0 -a ! -s "$T/err"
check "-h: usage line first" sh -c "head -1 '$T/out' | grep -q '^usage: cv-sim '"
check "-h: one line per option" sh -c "
	for o in -N -n -o -p -v -h --condition-coef --decay --drift \
	    --elasticity --index-noise --loans --makes --make-volatility \
	    --mileage-slope --models --months --resale --seed --segments \
	    --shock --start --trims --volatility; do
		grep -q \"^ *\$o[ ,]\" '$T/out' || exit 1
	done"

"$SIM" --no-such-option > "$T/out" 2> "$T/err"
st=$?
check "bad option: status 2, usage on stderr, nothing on stdout" \
    sh -c "test $st -eq 2 -a ! -s '$T/out' && grep -q '^usage: cv-sim' '$T/err'"
"$SIM" -N ten > "$T/out" 2> "$T/err"
st=$?
check "bad -N: status 2 and what is wrong" \
    sh -c "test $st -eq 2 && grep -q '^cv-sim: -N: .*ten' '$T/err'"
"$SIM" -N 100 > "$T/out" 2> "$T/err"
st=$?
check "-N smaller than the index and loan records: status 2" \
    sh -c "test $st -eq 2 && grep -q '^cv-sim: -N 100: ' '$T/err'"

"$SIM" --seed 7 -N 5000 > "$T/a.avro" && "$SIM" --seed 7 -N 5000 -o "$T/b.avro"
check "same seed: byte-identical output (stdout and -o)" \
    cmp -s "$T/a.avro" "$T/b.avro"
"$SIM" --seed 8 -N 5000 > "$T/c.avro"
check "different seed: different output" \
    sh -c "! cmp -s '$T/a.avro' '$T/c.avro'"

"$SIM" > /dev/full 2> "$T/err"
st=$?
check "write error (>/dev/full): status 1 and a message" \
    sh -c "test $st -eq 1 && grep -q '^cv-sim: stdout: ' '$T/err'"
"$SIM" -p /dev/full > /dev/null 2> "$T/err"
st=$?
check "write error on -p /dev/full: status 1 and a message" \
    sh -c "test $st -eq 1 && grep -q '^cv-sim: /dev/full: ' '$T/err'"
# Killed by SIGPIPE, as it should be; valgrind then reports the memory
# still in use, so its lines (==pid==) do not count.
"$SIM" -N $BIG 2> "$T/err" | head -c 100 > "$T/out"
check "cv-sim | head -c 100 ends quietly" \
    sh -c "test \$(wc -c < '$T/out') -eq 100 &&
	! grep -qv '^==[0-9]*==' '$T/err'"

t0=$(date +%s.%N)
"$SIM" -N $BIG -o "$T/big.avro"
st=$?
t1=$(date +%s.%N)
check "$BIG records: status 0, $(awk -v a="$t0" -v b="$t1" -v n=$BIG \
    'BEGIN { printf "%.2f s, %.0f records/s", b - a, n / (b - a) }')" \
    test $st -eq 0
rm -f "$T/big.avro"

if ! "$PY" -c 'import avro.datafile, avro.io, numpy' 2> /dev/null; then
	echo "skip - $PY with avro and numpy not found: no decoding checks"
	exit $failed
fi

"$SIM" --seed 3 -N $N -p "$T/p.json" -o "$T/s.avro" &&
    "$SIM" --seed 3 -N $N --segments 7 --loans 0 -p "$T/p7.json" -o "$T/s7.avro"
check "runs with -p" test $? -eq 0

"$PY" - "$T/s.avro" "$T/p.json" "$T/s7.avro" "$T/p7.json" $N <<'EOF' ||
import datetime, json, math, sys
import avro.datafile, avro.io
import numpy as np

stream, params, stream7, params7, n_want = sys.argv[1:6]
n_want = int(n_want)
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
MS = datetime.timedelta(milliseconds=1)
bad = 0


def report(good, what):
    global bad
    print(("ok - " if good else "not ok - ") + what)
    bad += not good


def read(path):
    with open(path, "rb") as f:
        return list(avro.datafile.DataFileReader(f, avro.io.DatumReader()))


def ols(X, y):
    """Coefficients and their standard errors, classical OLS."""
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    b, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ b
    s2 = resid @ resid / (len(y) - X.shape[1])
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    return b, se


def within(name, est, se, true):
    report(abs(est - true) <= 4 * se,
           "%s: %.4f (se %.4f), true %.4f" % (name, est, se, true))


try:
    recs = read(stream)
    p = json.load(open(params))
    report(True, "output decodes with python3-avro; -p is JSON")
except Exception as e:
    report(False, "output decodes with python3-avro: %s" % e)
    sys.exit(1)

report(len(recs) == n_want == p["records"],
       "record count %d equals -N %d" % (len(recs), n_want))


def when(r):
    t = r["observed_at"] if "vehicle_id" in r else r["published_at"]
    return (t - EPOCH) // MS


times = [when(r) for r in recs]
report(all(a <= b for a, b in zip(times, times[1:])),
       "event times never decrease")

idx = [r for r in recs if "vehicle_id" not in r]
sales = [r for r in recs if "vehicle_id" in r and r["loan_id"] is None]
book = [r for r in recs if "vehicle_id" in r and r["loan_id"] is not None]
c = p["counts"]
report(len(idx) == c["index"] and len(sales) == c["sales"] and
       len(book) == c["loanbook"],
       "counts by kind match -p: %d index, %d sales, %d loan-book"
       % (len(idx), len(sales), len(book)))
report(all(r["segment"] == ("%s/%s/%s" % (r["make"], r["model"],
                                          r["trim"])).lower()
           for r in sales + book), "segment keys are make/model/trim")
report(all(r["published_at"] - datetime.datetime.combine(
    r["period"], datetime.time(), datetime.timezone.utc) ==
    datetime.timedelta(days=15) for r in idx),
    "published_at is period + 15 days")
ids = {}
for r in sales:
    ids[r["vehicle_id"]] = ids.get(r["vehicle_id"], 0) + 1
report(sum(v - 1 for v in ids.values()) == c["resales"] > 0,
       "%d resales reuse a vehicle_id" % c["resales"])

# Loan book: each loan's balance falls month by month, prices are null.
bal = {}
mono = True
for r in book:
    last = bal.get(r["loan_id"])
    mono &= last is None or r["loan_balance"] < last
    mono &= r["price"] is None and r["reference_value"] is None
    bal[r["loan_id"]] = r["loan_balance"]
report(mono and len(bal) > 0,
       "%d loans: balances amortise, no price" % len(bal))
first = {}
for r in book:
    first.setdefault(r["loan_id"], r["loan_balance"])
ltv = [first[l["loan_id"]] / l["price"] for l in p["loans"]
       if l["loan_id"] in first and first[l["loan_id"]] == l["principal"]]
report(len(ltv) > 0 and all(0.8 <= x <= 1.0 for x in ltv),
       "LTV at origination from 0.8 to 1.0 (%d loans seen from the start)"
       % len(ltv))

# Elasticity: OLS of ln(index) on ln(volume), one make and the market.
for seg in ("make:make1", "*"):
    pts = [(math.log(r["volume"]), math.log(r["value"])) for r in idx
           if r["segment"] == seg]
    b, se = ols([[1, x] for x, _ in pts], [y for _, y in pts])
    within("elasticity of %s from %d months" % (seg, len(pts)),
           b[1], se[1], p["elasticity"])

# Depreciation: OLS of ln(price / (index(t) / index(0))) of the busiest
# trim on age (years since 1 October before the model year), mileage in
# 10^4 km and condition.
index = {(r["segment"], r["period"]): r["value"] for r in idx}
seg = max(p["segments"], key=lambda s: s["sales"])
first_period = min(r["period"] for r in idx)
rows, y = [], []
for r in sales:
    if r["segment"] != seg["segment"]:
        continue
    t = r["observed_at"]
    launch = datetime.datetime(r["model_year"] - 1, 10, 1,
                               tzinfo=datetime.timezone.utc)
    age = (t - launch) / datetime.timedelta(days=365.25)
    rel = (index[(seg["index"], datetime.date(t.year, t.month, 1))] /
           index[(seg["index"], first_period)])
    rows.append([1, age, r["mileage_km"] / 1e4, r["condition"] - 0.5])
    y.append(math.log(r["price"] / rel))
b, se = ols(rows, y)
name = "%s (%d sales)" % (seg["segment"], len(y))
within("decay of " + name, -b[1], se[1], seg["decay"])
within("mileage slope of " + name, b[2], se[2], seg["mileage_slope"])
within("condition coef of " + name, b[3], se[3], seg["condition_coef"])
within("ln level of " + name, b[0], se[0], math.log(seg["level"]))
resid = np.asarray(y) - np.asarray(rows) @ b
sd = float(np.std(resid, ddof=4))
report(abs(sd - p["noise"]) <= 4 * p["noise"] / math.sqrt(2 * len(y)),
       "log-price noise %.4f, true %.4f" % (sd, p["noise"]))

# --segments 7 --loans 0: seven trim segments dealt over the makes and models.
recs7 = read(stream7)
p7 = json.load(open(params7))
segs7 = sorted({r["segment"] for r in recs7 if "vehicle_id" in r})
report(len(recs7) == n_want and len(p7["segments"]) == 7 and
       segs7 == sorted(s["segment"] for s in p7["segments"]) and
       not any(r.get("loan_id") for r in recs7 if "vehicle_id" in r),
       "--segments 7 --loans 0: %d segments, no loans" % len(segs7))
sys.exit(bad > 0)
EOF
	failed=1

exit $failed
