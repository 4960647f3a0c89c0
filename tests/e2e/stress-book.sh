#!/bin/sh
# stress-book: cv-stress on the shipped loan book (the make run chain up
# to cv-grade, --until 2015-07-01: the book at the end of June 2015),
# checked against python redoing it from the records' CSV: the book (each
# loan's last snapshot, if it is within a day of the latest), the
# scenarios' lights by warn.conf's rules without hysteresis (ltv and
# predicted fall against their thresholds, at least YELLOW on the watch
# list, graded 3-3 or thin), balance, value, shortfall and the loans
# that change light; and -p's crossing months, the first month m with
# balance / (value e^(trend m)) above the threshold, trend = mpi_ret_3m /
# 3 - decay_rate / 12 a month.  And the same light as cv-warn where
# cv-warn held none by hysteresis.
set -u
. tests/e2e/common.inc
# Monthly retrains over the shipped book take an hour under valgrind; the
# cv-stress golden cases run under it.
[ "${VALGRIND:-0}" = 1 ] && { echo "skip: the shipped book's chain under valgrind"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/stress-book.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
D=pipelines/data M=pipelines/maps

cv-ingest -O -M $M/auction.map -e skip -o "$T/sales.avro" \
    $D/auction_toyota_camry_12k.csv $D/auction_honda_odyssey_3500.csv 2>/dev/null
cv-ingest -M $M/fred.map -s source=bls.cpi.used.sa -o "$T/cpi.avro" \
    $D/CUSR0000SETA02_*.csv &&
    cv-ingest -O -M $M/loanbook.map -o "$T/book.avro" $D/loanbook.csv &&
    cv-features -o "$T/f.avro" "$T/cpi.avro" "$T/sales.avro" \
    "$T/book.avro" &&
    pipelines/backtest.sh "$T/f.avro" "$T/models.db" - 2>/dev/null |
    cv-grade -c pipelines/grade.conf -r pipelines/segments.csv \
    > "$T/graded.avro"
check "the loan book graded" test $? -eq 0 -a -s "$T/graded.avro"
X="-x -0.10 -x toyota/camry:-0.20,-0.05 -x make:honda:-0.30 -x decay:0.05"
cv-stress --until 2015-07-01 -f csv -c pipelines/warn.conf $X \
    "$T/graded.avro" > "$T/stress.csv"
cv-stress --until 2015-07-01 -f csv -p -c pipelines/warn.conf \
    "$T/graded.avro" > "$T/project.csv"
cv-cat --until 2015-07-01 -f csv -C loan_id,segment,observed_at,loan_balance,value,value_next,decay_n,watchlist,grade,age_months,decay_rate,mpi_ret_3m \
    "$T/graded.avro" > "$T/in.csv"
cv-warn -L -c pipelines/warn.conf --until 2015-07-01 "$T/graded.avro" |
    cv-cat -f csv -C loan_id,observed_at,light,message > "$T/warn.csv"
"$PY" - "$T/in.csv" "$T/stress.csv" "$T/project.csv" "$T/warn.csv" <<'PYEOF'
import csv, datetime, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
fails = 0
def check(ok, name, detail=""):
    global fails
    print(("ok - " if ok else "not ok - ") + name)
    if not ok:
        fails += 1
        print("#   " + detail)
Y, R, DY, DR, THIN = 0.80, 0.90, 0.05, 0.10, 10     # warn.conf
last = {}
for r in rows:
    if r["loan_id"] == "" or r["loan_balance"] == "":
        continue
    if r["loan_id"] not in last or r["observed_at"] >= last[r["loan_id"]]["observed_at"]:
        last[r["loan_id"]] = r
ts = lambda s: datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
latest = max(ts(r["observed_at"]) for r in last.values())
book = [r for r in last.values()
        if (latest - ts(r["observed_at"])).total_seconds() <= 86400]
def f(r, k):
    return float(r[k]) if r[k] != "" else None
def light(r, fac):
    v = f(r, "value")
    lt = 0
    if v is not None and v > 0:
        ltv = f(r, "loan_balance") / (v * fac)
        lt = 2 if ltv > R else 1 if ltv > Y else 0
        n = f(r, "value_next")
        if n is not None and n > 0:
            d = (v - n) / v
            lt = max(lt, 2 if d > DR else 1 if d > DY else 0)
    if r["watchlist"] == "true" or r["grade"] == "3-3":
        lt = max(lt, 1)
    if v is None or not v > 0 or float(r["decay_n"]) < THIN:
        lt = max(lt, 1)
    return lt
def fac(r, spec):
    if spec == "base":
        return 1.0
    if spec.startswith("decay:"):
        return math.exp(-float(spec[6:]) * float(r["age_months"]) / 12)
    best, x = 0, 0.0
    for item in spec.split(","):
        seg, _, sh = item.rpartition(":")
        seg = seg or "*"
        key = seg[5:] if seg.startswith("make:") else seg
        s = r["segment"]
        m = 1 if seg == "*" else (len(key) + 1 if s == key or s.startswith(key + "/") else 0)
        if m > best:
            best, x = m, float(sh)
    return 1 + x
got = list(csv.DictReader(open(sys.argv[2])))
bad = []
for g in got:
    sc = g["scenario"]
    n = [0, 0, 0]; bal = val = sf = 0.0; worse = better = 0
    for r in book:
        k = fac(r, sc); l = light(r, k); b = light(r, 1.0)
        n[l] += 1; worse += l > b; better += l < b
        v = f(r, "value")
        if v is not None and v > 0:
            bal += f(r, "loan_balance"); val += v * k
            sf += max(0.0, f(r, "loan_balance") - v * k)
    want = [len(book), n[0], n[1], n[2], worse, better]
    have = [int(g[c]) for c in ("loans", "GREEN", "YELLOW", "RED", "worse", "better")]
    money = [(bal, float(g["balance"])), (val, float(g["value"])), (sf, float(g["shortfall"]))]
    if want != have or any(abs(a - b) > 0.01 + 1e-9 * a for a, b in money):
        bad.append("%s: %s %s, python %s %s" % (sc, have, [m[1] for m in money], want, [round(m[0], 2) for m in money]))
print("# %d loans in the book at %s; scenarios: %s" % (len(book), latest, ", ".join(g["scenario"] for g in got)))
check(len(got) == 5 and not bad, "every scenario's lights, balance, value, shortfall and changes as python has them", "; ".join(bad[:3]))
check(int(got[1]["worse"]) > 0 and float(got[1]["shortfall"]) > float(got[0]["shortfall"]),
      "a 10 % fall makes some loans worse and the shortfall larger")
# Projections.
def month(at, m):
    if m is None: return "-"
    if m == 0: return "now"
    t = ts(at); y, mo = t.year, t.month + m
    y += (mo - 1) // 12; mo = (mo - 1) % 12 + 1
    return "%04d-%02d" % (y, mo)
def cross(r, thr, trend):
    v = f(r, "value"); b = f(r, "loan_balance")
    ltv = b / v
    if ltv > thr: return 0
    if not trend < 0: return None
    m = 1
    while m <= 36:
        if b / (v * math.exp(trend * m)) > thr: return m
        m += 1
    return None
proj = {p["loan_id"]: p for p in csv.DictReader(open(sys.argv[3]))}
badp = []
for r in book:
    p = proj.get(r["loan_id"])
    v = f(r, "value")
    if v is None or not v > 0:
        continue
    trend = (f(r, "mpi_ret_3m") or 0) / 3 - (f(r, "decay_rate") or 0) / 12
    want = (month(r["observed_at"], cross(r, Y, trend)), month(r["observed_at"], cross(r, R, trend)))
    if p is None or (p["yellow"], p["red"]) != want:
        badp.append("%s: %s, python %s" % (r["loan_id"], p and (p["yellow"], p["red"]), want))
n_cross = sum(1 for p in proj.values() if p["yellow"] not in ("now", "-"))
print("# %d loans projected, %d cross YELLOW later within 36 months" % (len(proj), n_cross))
check(len(proj) == len(book) and not badp and n_cross > 0,
      "-p: every loan's YELLOW and RED month as python finds it stepping month by month", "; ".join(badp[:3]))
# Against cv-warn's own lights, where no hysteresis held one.
w = {}
for r in csv.DictReader(open(sys.argv[4])):
    w[r["loan_id"]] = r
same = diff = 0
names = ["GREEN", "YELLOW", "RED"]
for r in book:
    x = w.get(r["loan_id"])
    if x is None or "held" in x["message"]:
        continue
    if names[light(r, 1.0)] == x["light"]: same += 1
    else: diff += 1
check(diff == 0 and same > 100, "base lights equal cv-warn's where it held none (%d loans)" % same, "%d differ" % diff)
sys.exit(1 if fails else 0)
PYEOF
