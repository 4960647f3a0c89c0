#!/bin/sh
# pool-sim: cv-features' pooled model on a market with a known hierarchy
# (tests/fixtures/pool-sim.py: sparse models inside dense makes, known
# spread between models and noise): what it holds of a model after n
# earlier sales is partial pooling's posterior, 1 / (n / sigma^2 +
# 1 / tau^2), below no pooling's sigma^2 / n and full pooling's tau^2;
# and pooled_sd's 90 % interval covers 90 % of the prices.  Then the
# vehicle valued long after the state's last sale: its interval widens
# with the staleness, and stays finite.
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/pool-sim.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
need_python
F=tests/fixtures/pool-sim.py
MAP="-m vehicle_id=VIN -m model_year=YEAR -m make=MAKE -m model=MODEL
    -m region=STATE -m observed_at=SALEDATE -m mileage_km=ODOMETER
    -m condition=CONDITION -m price=SELLINGPRICE -s source=sim"

python3 $F gen 4 > "$T/s.csv" &&
    cv-ingest $MAP -o "$T/s.avro" "$T/s.csv" &&
    cv-features -S "$T/state.db" -o "$T/f.avro" "$T/s.avro" &&
    cv-cat -f json "$T/f.avro" > "$T/f.json"
check "a simulated market of 7,600 sales through cv-features" test $? -eq 0
python3 $F check "$T/s.csv" "$T/f.json" 250

# The same sale a day and ten years after the last: value carried, sd
# wider by the market's drift, finite.
last=$(tail -1 "$T/s.csv")
for when in 2015-01-08T00:00:00Z 2025-01-06T00:00:00Z; do
	{ head -1 "$T/s.csv"; echo "$last" | awk -F, -v w=$when \
	    'BEGIN { OFS = "," } { $1 = 2012; $9 = w; $4 = "later"; print }'
	} > "$T/later.csv"
	cp "$T/state.db" "$T/later.db"
	cv-ingest $MAP -o "$T/later.avro" "$T/later.csv" &&
	    cv-features -S "$T/later.db" "$T/later.avro" |
	    cv-cat -f csv -C pooled_value,pooled_sd,stale_days | sed 1d
done > "$T/later.out"
check "valued a day and ten years on: two rows" test \
    "$(wc -l < "$T/later.out")" -eq 2
python3 - "$T/later.out" <<'PY'
import math, sys
(v1, sd1, d1), (v2, sd2, d2) = [map(float, l.split(",")) for l in open(sys.argv[1])]
ok = math.isfinite(v2) and v2 > 0 and sd2 > sd1 and 1 < d1 < 10 and d2 > 3600 and sd2 < 2
print(("ok" if ok else "not ok") + " - ten years stale: sd %.3f > %.3f a day on, "
      "finite (value %.0f, %.0f days stale)" % (sd2, sd1, v2, d2))
PY
