#!/bin/sh
# features-cpi: cv-features' index state on real data, against numpy.
# The used-car CPI (CUSR0000SETA02, seasonally adjusted, fred.map) is the
# index and total vehicle sales (TOTALSA, fred-volume.map) the volume;
# vehicles made up here at chosen dates see the market as it stood.
# Python parses the two CSVs itself (not cv-ingest's output) and, for
# each vehicle, takes the months whose published_at (period + 45 days,
# as fred.map says) is before observed_at, then computes:
#
#   mpi         the latest known month's CPI
#   mpi_ret_1m  ln CPI(last) - ln CPI(last - 1 month)   (and 3 months)
#   volatility  sample sd (n - 1) of the monthly log returns that end in
#               the window (last - 23 .. last months: 24 returns, the
#               first reaching back to last - 24), null below 3 returns
#               (cv-features.c derive())
#   elasticity  OLS slope of ln CPI on ln TOTALSA over the window's
#               months where both are known, its classical se (RSS on
#               n - 2 dof over Sxx) and R^2; null below 12 months (-n)
#   ewma        alpha = 1 - 2^(-1/3) over every known month
#
# Agreement to 1e-9 relative (the ewma to 1e-6: cv-features starts it at
# the oldest of the 72 months it keeps, numpy at 1953, a difference of
# about 2^-24).  Dates sit away from publication instants: at a tie the
# merge goes by file order.  Run from the repository root with the
# programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
D=pipelines/data
M=pipelines/maps
CPI=$(ls $D/CUSR0000SETA02_*.csv 2>/dev/null | head -1)
VOL=$(ls $D/TOTALSA_*.csv 2>/dev/null | head -1)
T=$(mktemp -d "${TMPDIR:-/tmp}/features-cpi.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

if [ -z "$CPI" ] || [ -z "$VOL" ]; then
	echo "skip: no CPI or TOTALSA data in $D"
	exit 77
fi
need_python numpy

# Vehicles in time order: before any CPI; with one CPI month; while
# TOTALSA (from 1976-01) has 10, 11, 12 and 16 months in the window;
# across the series (recessions, the 2021 spike); a second before and
# after the last CPI month (2026-04) is published, 2026-05-16; after the
# CPI ends while TOTALSA goes on to 2026-06.
cat > "$T/veh.csv" <<'EOF'
id,make,model,at,year,price
a01,Toyota,Camry,1952-06-01T00:00:00Z,1950,900
a02,Toyota,Camry,1953-03-01T00:00:00Z,1951,900
a03,Toyota,Camry,1953-06-20T08:00:00Z,1951,900
a04,Toyota,Camry,1976-12-01T00:00:00Z,1975,3000
b01,Toyota,Camry,1977-01-01T00:00:00Z,1975,3000
b02,Toyota,Camry,1977-02-01T00:00:00Z,1975,3000
a05,Toyota,Camry,1977-06-10T00:00:00Z,1975,3000
a06,Toyota,Camry,1990-01-20T00:00:00Z,1988,8000
a07,Toyota,Camry,2001-09-11T14:00:00Z,1999,9000
a08,Honda,Odyssey,2008-11-30T23:59:59Z,2006,12000
a09,Toyota,Camry,2020-04-30T12:00:00Z,2018,18000
a10,Honda,Odyssey,2021-07-01T06:30:00Z,2019,30000
a11,Toyota,Camry,2022-12-31T23:00:00Z,2020,25000
a12,Toyota,Camry,2026-05-15T23:59:59Z,2024,24000
a13,Toyota,Camry,2026-05-16T00:00:01Z,2024,24000
a14,Toyota,Camry,2026-06-20T00:00:00Z,2024,24000
a15,Toyota,Camry,2026-08-01T00:00:00Z,2024,24000
EOF

cv-ingest -M $M/fred.map -s source=bls.cpi.used.sa -o "$T/cpi.avro" "$CPI" &&
    cv-ingest -M $M/fred-volume.map -s source=fred.totalsa \
    -o "$T/vol.avro" "$VOL" &&
    cv-ingest -m vehicle_id=id -m make=make -m model=model \
    -m observed_at=at -m model_year=year -m price=price -s source=test \
    -o "$T/veh.avro" "$T/veh.csv"
check "ingest the CPI, TOTALSA and the vehicles" test $? -eq 0

COLS=vehicle_id,observed_at,mpi,mpi_ret_1m,mpi_ret_3m,mpi_level,mpi_source
COLS=$COLS,elasticity,elasticity_se,elasticity_n,elasticity_r2,volatility,ewma
cv-features "$T/cpi.avro" "$T/vol.avro" "$T/veh.avro" > "$T/f.avro" \
    2> "$T/err"
check "cv-features: status 0, nothing on stderr" \
    test $? -eq 0 -a ! -s "$T/err"
cv-cat -f csv -C $COLS "$T/f.avro" > "$T/f.csv"
# The inputs in another order give the same records: the merge is in
# event time.
cv-features "$T/veh.avro" "$T/vol.avro" "$T/cpi.avro" |
    cv-cat -f csv -C $COLS > "$T/f2.csv"
check "inputs in another order: same records" cmp -s "$T/f.csv" "$T/f2.csv"

"$PY" - "$CPI" "$VOL" "$T/veh.csv" "$T/f.csv" <<'EOF' || exit 1
import csv, datetime, math, sys
import numpy as np

cpi_csv, vol_csv, veh_csv, out_csv = sys.argv[1:5]
UTC = datetime.timezone.utc
WINDOW, MIN_N, LAG = 24, 12, datetime.timedelta(days=45)
bad = 0


def report(good, what):
    global bad
    print(("ok - " if good else "not ok - ") + what)
    bad += not good


def series(path):
    """month number (y * 12 + m - 1) -> (value, published_at)"""
    out = {}
    with open(path, newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for date, v in rows:
            d = datetime.datetime.strptime(date, "%Y-%m-%d").replace(
                tzinfo=UTC)
            out[d.year * 12 + d.month - 1] = (float(v), d + LAG)
    return out


def when(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S%z")


cpi, vol = series(cpi_csv), series(vol_csv)
months = sorted(cpi)
report(months == list(range(months[0], months[-1] + 1)),
       "CPI: %d months without a gap" % len(months))


def expect(at):
    """What a vehicle observed at `at` should see, from the CSVs alone."""
    known = [m for m in months if cpi[m][1] < at]
    if not known:
        return None
    last = known[-1]
    ln = {m: math.log(cpi[m][0]) for m in known}
    e = {"mpi": cpi[last][0], "mpi_level": "market@*",
         "mpi_source": "bls.cpi.used.sa"}
    e["mpi_ret_1m"] = ln[last] - ln[last - 1] if last - 1 in ln else None
    e["mpi_ret_3m"] = ln[last] - ln[last - 3] if last - 3 in ln else None
    rets = [ln[m] - ln[m - 1] for m in known
            if m > last - WINDOW and m - 1 in ln]
    e["volatility"] = float(np.std(rets, ddof=1)) if len(rets) >= 3 else None
    alpha = 1 - 2 ** (-1 / 3)
    w = None
    for m in known:
        w = cpi[m][0] if w is None else alpha * cpi[m][0] + (1 - alpha) * w
    e["ewma"] = w
    pairs = [(math.log(vol[m][0]), ln[m]) for m in known
             if m > last - WINDOW and m in vol and vol[m][1] < at]
    e["elasticity_n"] = len(pairs) if len(pairs) >= MIN_N else 0
    e["elasticity"] = e["elasticity_se"] = e["elasticity_r2"] = None
    if len(pairs) >= MIN_N:
        x = np.array([p[0] for p in pairs])
        y = np.array([p[1] for p in pairs])
        X = np.column_stack([np.ones_like(x), x])
        b, _, _, _ = np.linalg.lstsq(X, y, rcond=None)
        r = y - X @ b
        rss = float(r @ r)
        sxx = float(((x - x.mean()) ** 2).sum())
        e["elasticity"] = float(b[1])
        e["elasticity_se"] = math.sqrt(rss / (len(x) - 2) / sxx)
        e["elasticity_r2"] = 1 - rss / float(((y - y.mean()) ** 2).sum())
    return e


def close(got, want, rel):
    if want is None or got == "":
        return want is None and got == ""
    g = float(got)
    return abs(g - want) <= rel * max(abs(want), 1e-3)


with open(veh_csv, newline="") as f:
    vehicles = list(csv.DictReader(f))
with open(out_csv, newline="") as f:
    out = list(csv.DictReader(f))
report(len(out) == len(vehicles) and
       [r["vehicle_id"] for r in out] == [v["id"] for v in vehicles],
       "one Features record per vehicle, in order")
fields = ("mpi", "mpi_ret_1m", "mpi_ret_3m", "volatility", "elasticity",
          "elasticity_se", "elasticity_r2")
for v, r in zip(vehicles, out):
    at = when(v["at"].replace("Z", "+0000"))
    e = expect(at)
    what = "%s %s" % (v["id"], v["at"])
    if e is None:
        report(all(r[k] == "" for k in fields + ("ewma", "mpi_level")) and
               r["elasticity_n"] == "0", what + ": no index known, all null")
        continue
    wrong = [k for k in fields if not close(r[k], e[k], 1e-9)]
    if not close(r["ewma"], e["ewma"], 1e-6):
        wrong.append("ewma")
    if int(r["elasticity_n"]) != e["elasticity_n"]:
        wrong.append("elasticity_n")
    if (r["mpi_level"], r["mpi_source"]) != (e["mpi_level"],
                                             e["mpi_source"]):
        wrong.append("mpi_level/source")
    report(not wrong, "%s: mpi %.3f, elasticity %s (se %s, n %d), "
           "volatility %s as numpy%s" % (what, e["mpi"],
           "null" if e["elasticity"] is None else "%.4f" % e["elasticity"],
           "null" if e["elasticity_se"] is None else
           "%.4f" % e["elasticity_se"], e["elasticity_n"],
           "null" if e["volatility"] is None else "%.5f" % e["volatility"],
           "" if not wrong else "; differ: " + ", ".join(
               "%s %s want %s" % (k, r.get(k.split("/")[0]),
                                  e.get(k.split("/")[0])) for k in wrong)))
sys.exit(bad > 0)
EOF
