#!/bin/sh
# train-store: the model store's versions, as cv-train writes them and
# cv-predict chooses them, and cv-train's refusals.
#
# (a) Each cv-train run adds a version (1, 2, ...) stamped with the time
#     it was trained; cv-predict uses the latest that has a model of its
#     kind, or -V N, and names it in model_version; -V N with no such
#     version, or without a model of the kind asked for, fails (status 1,
#     a message, no records).
# (b) -P (point in time): a version trained with -u T is in force for
#     records observed at T or later; before the first, the built-in
#     defaults (version 0).  That holds whatever order the versions were
#     trained in.
# (c) A refused fit (too few rows, a singular design, no rows at all)
#     leaves the store as it was (the same versions and models tables,
#     row for row) and exits 1 with a message naming the model and why.
#     When one kind is refused and the other fits, the one that fits is
#     written (status 1 still) and cv-predict of the refused kind keeps
#     using its earlier version.
# (d) NaN (bad data, not a missing value) never reaches a stored
#     coefficient.  A NaN price or price_level is rejected with its place:
#     by default the run stops and the store is unchanged (status 1);
#     with -e skip the rest is fitted and written (status 1 still).  A
#     NaN age_months is rejected too, not fitted as a value.
# (e) Vehicles all past two age knots (hinges collinear with the
#     constant) still get a hedonic model.
#
# The data come from tests/fixtures/train-features.py (prices from the
# seed formula, observed over 2020).  Run from the repository root with
# the programs on PATH (tests/run).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/train-store.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
G=tests/fixtures/train-features.py
N=3000

need_python avro.datafile sqlite3

# dump STORE: the versions and models tables, row for row
dump() {
	"$PY" - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for t in ("versions", "models"):
    for r in db.execute("select * from %s order by 1, 2, 3" % t):
        print(t, r)
EOF
}

# sql STORE QUERY: the rows, one a line, columns separated by |
sql() {
	"$PY" - "$1" "$2" <<'EOF'
import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join(str(x) for x in r))
EOF
}

# versions_in FILE: the model_version of each Valuation record, in order
versions_in() {
	cv-cat -f csv -C model_version "$1" | sed 1d | tr '\n' ' ' |
	    sed 's/ $//'
}

# distinct_versions FILE: the model_versions that occur
distinct_versions() {
	cv-cat -f csv -C model_version "$1" | sed 1d | sort -u | tr '\n' ' ' |
	    sed 's/ $//'
}

# lines FILE: the number of lines in FILE, valgrind's (VALGRIND=1) aside
lines() {
	grep -vc '^==[0-9]*==' "$1"
}

# has FILE TEXT: FILE has a line with TEXT
has() {
	grep -qF -- "$2" "$1"
}

"$PY" $G -n $N "$T/f.avro" &&
    "$PY" $G -n $N --seed 2 --const-mpi 100 --const-el -1 "$T/s.avro" &&
    "$PY" $G -n $N --nan-price 3,1500 --nan-level 7,2999 "$T/n.avro" &&
    "$PY" $G -n $N --nan-age 10,20,30,40,50 "$T/age.avro" &&
    "$PY" $G -n 6 --at 2020-01-01T00:00:00,2020-04-30T23:59:59.999,2020-05-01T00:00:00,2020-08-31T23:59:59.999,2020-09-01T00:00:00,2021-01-01T00:00:00 \
    "$T/p.avro"
check "train-features.py: the streams" test $? -eq 0
cv-features < /dev/null > "$T/empty.avro"
check "cv-features: an empty Features stream" test $? -eq 0

# (a) Versions 1 and 2; -V.
before=$("$PY" -c 'import time; print(int(time.time() * 1000))')
cv-train -m "$T/a.db" "$T/f.avro" 2> "$T/err"
check "cv-train: version 1, status 0, nothing on stderr" \
    test $? -eq 0 -a ! -s "$T/err"
cv-predict -m "$T/a.db" -o "$T/a1.avro" "$T/f.avro"
check "cv-predict with version 1 alone: status 0" test $? -eq 0
cv-train -a 2020-03-01 -m "$T/a.db" "$T/f.avro" 2> "$T/err"
check "cv-train -a 2020-03-01: version 2, status 0, nothing on stderr" \
    test $? -eq 0 -a ! -s "$T/err"
after=$("$PY" -c 'import time; print(int(time.time() * 1000))')
got=$(sql "$T/a.db" 'select version from versions order by version' |
    tr '\n' ' ')
check "versions: 1 2 ($got)" test "$got" = "1 2 "
got=$(sql "$T/a.db" "select count(*) from versions where trained_at
    between $before and $after")
check "versions.trained_at: the wall clock in unix ms, between $before and $after ($(sql "$T/a.db" 'select trained_at from versions' | tr '\n' ' '))" \
    test "$got" = 2

cv-predict -m "$T/a.db" -o "$T/a.avro" "$T/f.avro"
st=$?
got=$(distinct_versions "$T/a.avro")
check "cv-predict without -V: model_version 2 ($got), status $st" \
    test "$got" = 2 -a $st -eq 0
cv-predict -m "$T/a.db" -V 1 -o "$T/v1.avro" "$T/f.avro"
st=$?
got=$(distinct_versions "$T/v1.avro")
check "cv-predict -V 1: model_version 1 ($got), status $st" \
    test "$got" = 1 -a $st -eq 0
cv-cat -f csv -C vehicle_id,value,value_lo,value_hi "$T/a1.avro" > "$T/a1.csv"
cv-cat -f csv -C vehicle_id,value,value_lo,value_hi "$T/v1.avro" > "$T/v1.csv"
cv-cat -f csv -C vehicle_id,value,value_lo,value_hi "$T/a.avro" > "$T/a.csv"
cmp -s "$T/a1.csv" "$T/v1.csv" && ! cmp -s "$T/a1.csv" "$T/a.csv"
check "cv-predict -V 1 values as before version 2 existed, version 2 otherwise" \
    test $? -eq 0
cv-predict -m "$T/a.db" -V 3 "$T/f.avro" > "$T/out" 2> "$T/err"
st=$?
check "cv-predict -V 3: status 1 ($st), no output, a message: $(cat "$T/err")" \
    test $st -eq 1 -a ! -s "$T/out" -a "$(lines "$T/err")" -eq 1
has "$T/err" "cv-predict: $T/a.db: no version 3"
check "cv-predict -V 3: the message names the store and the version" \
    test $? -eq 0
cv-train -k seed -m "$T/a.db" "$T/f.avro" 2> "$T/err"
check "cv-train -k seed: version 3, status 0" test $? -eq 0 -a ! -s "$T/err"
cv-predict -m "$T/a.db" -o "$T/a.avro" "$T/f.avro"
st=$?
got=$(distinct_versions "$T/a.avro")
check "cv-predict (hedonic) without -V: still version 2, the latest with a hedonic model ($got)" \
    test "$got" = 2 -a $st -eq 0
cv-predict -m "$T/a.db" -k seed -o "$T/a.avro" "$T/f.avro"
st=$?
got=$(distinct_versions "$T/a.avro")
check "cv-predict -k seed without -V: version 3 ($got)" \
    test "$got" = 3 -a $st -eq 0
cv-predict -m "$T/a.db" -V 3 "$T/f.avro" > "$T/out" 2> "$T/err"
st=$?
check "cv-predict -V 3 (a seed model only): status 1 ($st), no output, a message: $(cat "$T/err")" \
    test $st -eq 1 -a ! -s "$T/out" -a -s "$T/err"

# (b) -P.
T1=2020-05-01T00:00:00Z
T2=2020-09-01T00:00:00Z
for k in hedonic seed; do
	rm -f "$T/p.db"
	cv-train -k $k -u $T1 -m "$T/p.db" "$T/f.avro" &&
	    cv-train -k $k -u $T2 -m "$T/p.db" "$T/f.avro"
	check "$k: cv-train -u $T1, then -u $T2" test $? -eq 0
	got=$(sql "$T/p.db" 'select version, data_to from versions' |
	    tr '\n' ' ')
	check "$k: versions 1 and 2 in force from $T1 and $T2 ($got)" \
	    test "$got" = "1|1588291200000 2|1598918400000 "
	cv-predict -k $k -P -m "$T/p.db" -o "$T/p.out" "$T/p.avro"
	st=$?
	got=$(versions_in "$T/p.out")
	check "$k: cv-predict -P: 2020-01-01, $T1 - 1 ms: 0; $T1, $T2 - 1 ms: 1; $T2, 2021-01-01: 2 ($got)" \
	    test "$got" = "0 0 1 1 2 2" -a $st -eq 0
done
# The same versions trained the other way round: version 1 from T2,
# version 2 from T1.  From T1 to T2 only version 2 is in force; from T2
# on, version 1, whose data end latest (cv-predict(1) -P).
rm -f "$T/p.db"
cv-train -u $T2 -m "$T/p.db" "$T/f.avro" &&
    cv-train -u $T1 -m "$T/p.db" "$T/f.avro"
check "cv-train -u $T2, then -u $T1" test $? -eq 0
cv-predict -P -m "$T/p.db" -o "$T/p.out" "$T/p.avro"
st=$?
got=$(versions_in "$T/p.out")
check "cv-predict -P, versions trained out of time order: 2020-01-01, $T1 - 1 ms: 0; $T1, $T2 - 1 ms: 2; $T2, 2021-01-01: 1 ($got)" \
    test "$got" = "0 0 2 2 1 1" -a $st -eq 0

# (c) Refusals leave the store as it was.
cv-train -m "$T/c.db" "$T/f.avro"
check "cv-train: version 1 of the store for the refusals" test $? -eq 0
dump "$T/c.db" > "$T/c.before"

# refused NAME STATUS: status 1 and the store unchanged
refused() {
	dump "$T/c.db" > "$T/c.after"
	check "$1: status 1 ($2)" test "$2" -eq 1
	check "$1: the store unchanged" cmp -s "$T/c.before" "$T/c.after"
}

cv-train -n 3001 -m "$T/c.db" "$T/f.avro" 2> "$T/err"
refused "-n 3001 on 3000 rows" $?
has "$T/err" "cv-train: hedonic: fit refused: 3000 rows with a price and a fitted price level, fewer than 3001; the store keeps its last hedonic model" &&
    has "$T/err" "cv-train: seed: fit refused: 3000 rows with a price, fitted price level, index, condition and elasticity, fewer than 3001; the store keeps its last seed model" &&
    has "$T/err" "cv-train: $T/c.db: nothing written"
check "-n 3001 on 3000 rows: the messages" test $? -eq 0

cv-train -k seed -m "$T/c.db" "$T/s.avro" 2> "$T/err"
refused "seed with constant mpi and elasticity" $?
has "$T/err" "cv-train: seed: fit refused: singular design (reciprocal condition number" &&
    has "$T/err" "cv-train: $T/c.db: nothing written"
check "seed with constant mpi and elasticity: the messages: $(head -1 "$T/err")" \
    test $? -eq 0

cv-train -m "$T/c.db" "$T/empty.avro" 2> "$T/err"
refused "no rows (an empty Features stream)" $?
has "$T/err" "cv-train: hedonic: fit refused: 0 rows" &&
    has "$T/err" "cv-train: seed: fit refused: 0 rows" &&
    has "$T/err" "cv-train: $T/c.db: nothing written"
check "no rows: the messages" test $? -eq 0

cv-train -m "$T/c.db" < /dev/null 2> "$T/err"
refused "no rows (nothing on stdin)" $?

cv-train -a 2021-01-01 -m "$T/c.db" "$T/f.avro" 2> "$T/err"
refused "no rows in the window (-a after the data)" $?

# Seed singular, hedonic fine: the hedonic is written.
cv-train -m "$T/c.db" "$T/s.avro" 2> "$T/err"
st=$?
check "seed singular, hedonic fine: status 1 ($st)" test $st -eq 1
check "seed singular, hedonic fine: one message, the seed's: $(cat "$T/err")" \
    test "$(lines "$T/err")" -eq 1 -a "$(grep -c '^cv-train: seed: fit refused: singular design' "$T/err")" -eq 1
got=$(sql "$T/c.db" 'select distinct kind from models where version = 2
    order by 1' | tr '\n' ' ')
check "seed singular, hedonic fine: version 2 holds calibration, hedonic ($got)" \
    test "$got" = "calibration hedonic "
cv-predict -m "$T/c.db" -k seed -o "$T/c.out" "$T/f.avro"
st=$?
got=$(distinct_versions "$T/c.out")
check "cv-predict -k seed: still version 1 ($got)" test "$got" = 1 -a $st -eq 0
cv-predict -m "$T/c.db" -o "$T/c.out" "$T/f.avro"
st=$?
got=$(distinct_versions "$T/c.out")
check "cv-predict (hedonic): version 2 ($got)" test "$got" = 2 -a $st -eq 0

# (d) NaN: rows 3 and 1500 with a NaN price, 7 and 2999 with a NaN
# price_level.
dump "$T/c.db" > "$T/c.before"
cv-train -m "$T/c.db" "$T/n.avro" 2> "$T/err"
refused "NaN price, -e fail (default)" $?
has "$T/err" "cv-train: $T/n.avro: record 4: price: NaN" &&
    has "$T/err" "cv-train: input failed; the model store is unchanged"
check "NaN price, -e fail: the messages: $(tr '\n' ' ' < "$T/err")" \
    test $? -eq 0 -a "$(lines "$T/err")" -eq 2

cv-train -e skip -m "$T/n.db" "$T/n.avro" 2> "$T/nan.err"
st=$?
"$PY" - "$T/n.db" "$st" "$N" "$T/nan.err" "$T/n.avro" <<'EOF'
import json, math, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
st, n = int(sys.argv[2]), int(sys.argv[3])
err = open(sys.argv[4]).read().splitlines()
path = sys.argv[5]
bad = 0


def report(good, what):
    global bad
    print(("ok - " if good else "not ok - ") + what)
    bad += not good


want = ["cv-train: %s: record %d: %s: NaN" % (path, i + 1, f)
        for i, f in ((3, "price"), (7, "price_level"), (1500, "price"),
                     (2999, "price_level"))]
want.append("cv-train: read %d = written 0 + absorbed %d + rejected 4"
            % (n, n - 4))
report(st == 1 and err == want, "NaN price and price_level, -e skip: "
       "status %d, each rejected with its place: %r" % (st, err))
models = db.execute("select kind, class, coef, cov, n, rmse from models "
                    "where kind != 'calibration'").fetchall()
report(sorted(m[0] for m in models) == ["hedonic", "seed"],
       "NaN, -e skip: hedonic and seed written")
for kind, cls, coef, cov, mn, rmse in models:
    coef, cov = json.loads(coef), json.loads(cov)
    finite = all(x is not None and math.isfinite(x) for x in coef + cov)
    report(finite and math.isfinite(rmse), "NaN, -e skip: %s: every "
           "coefficient, covariance and the rmse finite" % kind)
    report(mn == n - 4, "NaN, -e skip: %s fitted on %d rows, the %d "
           "without a NaN" % (kind, mn, n - 4))
rows = db.execute("select rows from versions").fetchall()
report(rows == [(n - 4,)], "NaN, -e skip: versions.rows %s" % rows)
sys.exit(bad > 0)
EOF

cv-train -e skip -k hedonic -m "$T/age.db" "$T/age.avro" 2> "$T/err"
st=$?
got=$(sql "$T/age.db" "select n from models where kind = 'hedonic'")
check "5 NaN age_months, -e skip: rejected, not fitted as values (hedonic n $((N - 5))): status $st, n ${got:-none}" \
    test $st -eq 1 -a "$got" = $((N - 5))
check "5 NaN age_months: each rejected naming age_months: $(head -1 "$T/err")" \
    test "$(grep -c "^cv-train: $T/age.avro: record [0-9]*: age_months" "$T/err")" -eq 5

# (e) Vehicles all past the first two age knots (model year 2018, seen in
# 2020, 27 to 39 months old): the age>1y and age>2y hinges are then both
# straight lines in age, collinear with the constant, as a hinge no row
# reaches is all zeros.  cv-train must leave out both kinds, or the
# hedonic model cannot be fitted on older cars.
"$PY" $G -n 1000 --years 2018 "$T/old.avro"
cv-train -k hedonic -m "$T/old.db" "$T/old.avro" 2> "$T/err"
st=$?
check "hedonic on vehicles all 27..39 months old: fitted, status $st $(cat "$T/err")" \
    test $st -eq 0
