#!/bin/sh
# grade-reference: cv-grade with the segment reference table
# pipelines/segments.csv and the default settings, every component and
# the score recomputed here in Python from the documented rules
# (pipelines/grade.conf, cv-grade.c's header):
#   brand       100 / (1 + exp(-p / brand.scale)), p = -(decay_rate -
#               brand.reference_decay) * age_months / 12 (no table
#               brand_premium here); null without a decay_rate
#   holdings    100 * ln(1 + decay_n) / ln(1 + holdings.full), 0..100
#   cycle       100 * cycle_years / cycle.full_years (x cycle.ev_factor
#               for an ev) from the finest row covering the segment
#               (trim, model, make); null without one
#   volatility  100 * (1 - volatility / volatility.max), 0..100
#   interval    100 * (1 - (value_hi - value_lo) / value /
#               interval.max_width), 0..100; null without value or ends
#   ltv         100 * (ltv.worst - balance / value) / (ltv.worst -
#               ltv.best), 0..100; null without a balance or value
#   score       the weighted mean of the components present, weights
#               renormalised over them
# toyota/camry/le has no row of its own: toyota/camry's, 5.5 years, so
# score_cycle = 100 * 5.5 / 8 = 68.75 exactly; an unknown segment, a
# make alone (no make rows) and toyota/camry-hybrid/le (not a trim of
# toyota/camry) get a null score_cycle and the others' weights.  Then
# -c pipelines/grade.conf (the defaults) changes nothing.
set -u
. tests/e2e/common.inc
need_python avro
T=$(mktemp -d "${TMPDIR:-/tmp}/grade-reference.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
cat > "$T/in.jsonl" <<'EOF'
{"vehicle_id": "v1", "segment": "toyota/camry/le", "decay_rate": 0.12, "age_months": 27.0, "decay_n": 50.0, "volatility": 0.01, "value": 20000.0, "value_lo": 17000.0, "value_hi": 23500.0, "loan_balance": 15000.0}
{"vehicle_id": "v2", "segment": "honda/odyssey/ex-l", "decay_rate": 0.2, "age_months": 40.0, "decay_n": 3.0, "volatility": 0.03, "value": 15000.0, "value_lo": 9000.0, "value_hi": 21000.0, "loan_balance": 16000.0}
{"vehicle_id": "v3", "segment": "acme/rocket/x", "decay_rate": 0.15, "age_months": 12.0, "decay_n": 2000.0, "volatility": 0.07, "value": 30000.0, "value_lo": 29000.0, "value_hi": 31000.0, "loan_balance": 5000.0}
{"vehicle_id": "v4", "segment": "toyota", "decay_rate": 0.1, "age_months": 60.0, "decay_n": 0.0, "volatility": 0.02, "value": 8000.0, "value_lo": 6000.0, "value_hi": 10000.0, "loan_balance": null}
{"vehicle_id": "v5", "segment": "toyota/camry", "decay_rate": null, "age_months": 30.0, "decay_n": 500.0, "volatility": null, "value": 25000.0, "value_lo": 24000.0, "value_hi": 26000.0, "loan_balance": 30000.0}
{"vehicle_id": "v6", "segment": "toyota/camry-hybrid/le", "decay_rate": 0.3, "age_months": 24.0, "decay_n": 10.0, "volatility": 0.005, "value": 20000.0, "value_lo": 5000.0, "value_hi": 45000.0, "loan_balance": 8000.0}
{"vehicle_id": "v7", "segment": "vw/golf/gti", "decay_rate": null, "age_months": 24.0, "decay_n": 100.0, "volatility": null, "value": 18000.0, "value_lo": null, "value_hi": null, "loan_balance": null}
{"vehicle_id": "v8", "segment": "acme/rocket", "decay_rate": null, "age_months": 24.0, "decay_n": 100.0, "volatility": null, "value": null, "value_lo": null, "value_hi": null, "loan_balance": 9000.0}
{"vehicle_id": "v9", "segment": "ford/fiesta/zetec", "decay_rate": 0.18, "age_months": 50.0, "decay_n": 20.0, "volatility": 0.04, "value": 6000.0, "value_lo": 5000.0, "value_hi": 7000.0, "loan_balance": 5500.0}
EOF
$PY tests/fixtures/gw-records.py Valuation "$T/in.avro" < "$T/in.jsonl"
check "9 Valuation records written" test $? -eq 0 -a -s "$T/in.avro"
C=vehicle_id,score_brand,score_holdings,score_cycle,score_volatility
C=$C,score_interval,score_ltv,score,tier,level,grade,rate_adjust_bp
cv-grade -r pipelines/segments.csv "$T/in.avro" | cv-cat -f csv -C $C \
    > "$T/out.csv"
check "cv-grade -r pipelines/segments.csv" test $? -eq 0 -a -s "$T/out.csv"
cv-grade -c pipelines/grade.conf -r pipelines/segments.csv "$T/in.avro" |
    cv-cat -f csv -C $C | cmp -s - "$T/out.csv"
check "-c pipelines/grade.conf: the same records" test $? -eq 0

check "toyota/camry/le, toyota/camry, vw/golf/gti: score_cycle 68.75" \
    test "$(awk -F, '$1 ~ /^v[157]$/ { print $4 }' "$T/out.csv" |
    tr '\n' ' ')" = "68.75 68.75 68.75 "
check "honda/odyssey/ex-l: 75 (6 years), ford/fiesta/zetec: 93.75 (7.5)" \
    test "$(awk -F, '$1 ~ /^v[29]$/ { print $4 }' "$T/out.csv" |
    tr '\n' ' ')" = "75 93.75 "
check "no row (acme/rocket/x, toyota, toyota/camry-hybrid/le, acme/rocket):\
 score_cycle null" test "$(awk -F, '$1 ~ /^v[3468]$/ { print $4 "." }' \
    "$T/out.csv" | tr '\n' ' ')" = ". . . . "

$PY - "$T/in.jsonl" "$T/out.csv" > "$T/why" <<'EOF'
import csv, json, math, sys
W = {"brand": 0.20, "holdings": 0.15, "cycle": 0.10, "volatility": 0.15,
     "interval": 0.20, "ltv": 0.20}
CYCLE = {"toyota/camry": 5.5, "honda/odyssey": 6, "ford/fiesta": 7.5,
         "ford/focus": 7, "vw/golf": 5.5, "vw/polo": 8,
         "vauxhall/corsa": 6.5, "toyota/yaris": 7}	# segments.csv, all ice
clamp = lambda x: min(100.0, max(0.0, x))
ins = [json.loads(l) for l in open(sys.argv[1])]
outs = list(csv.DictReader(open(sys.argv[2])))
bad = 0
for r, o in zip(ins, outs):
    c = {}
    if r["decay_rate"] is not None:
        p = -(r["decay_rate"] - 0.15) * r["age_months"] / 12
        c["brand"] = 100 / (1 + math.exp(-p / 0.10))
    c["holdings"] = clamp(100 * math.log(1 + r["decay_n"]) / math.log(1001))
    seg = r["segment"]
    while seg not in CYCLE and "/" in seg:
        seg = seg.rsplit("/", 1)[0]
    if seg in CYCLE:
        c["cycle"] = clamp(100 * CYCLE[seg] / 8)
    if r["volatility"] is not None:
        c["volatility"] = clamp(100 * (1 - r["volatility"] / 0.05))
    v = r["value"]
    if v and r["value_lo"] is not None and r["value_hi"] is not None:
        c["interval"] = clamp(100 * (1 - (r["value_hi"] - r["value_lo"]) / v))
    if v and r["loan_balance"] is not None:
        c["ltv"] = clamp(100 * (1.2 - r["loan_balance"] / v) / 0.7)
    score = sum(W[k] * c[k] for k in c) / sum(W[k] for k in c)
    tier = 1 if score >= 70 else 2 if score >= 45 else 3
    lo, hi = {1: (70, 100), 2: (45, 70), 3: (0, 45)}[tier]
    level = 1 if score >= lo + 2 * (hi - lo) / 3 else \
        2 if score >= lo + (hi - lo) / 3 else 3
    vol = r["volatility"] or 0
    rate = {1: -50, 2: 0, 3: 100 + 50 * 100 * vol}[tier]
    want = dict(("score_" + k, c.get(k)) for k in W)
    want.update(score=score, tier=tier, level=level, rate_adjust_bp=rate)
    for k, x in want.items():
        got = o[k]
        ok = (got == "") if x is None else \
            got != "" and math.isclose(float(got), x, rel_tol=1e-12,
                                       abs_tol=1e-12)
        if not ok:
            bad += 1
            print("%s %s: got %r, want %r" % (r["vehicle_id"], k, got, x))
    if o["grade"] != "%d-%d" % (tier, level):
        bad += 1
        print("%s grade: got %s" % (r["vehicle_id"], o["grade"]))
    print("# %s: %s of %s -> %.6g %s" % (r["vehicle_id"], len(c),
          "+".join(sorted(c)), score, o["grade"]))
sys.exit(1 if bad or len(ins) != len(outs) else 0)
EOF
st=$?
grep '^#' "$T/why"
check "each component, the renormalised score, tier, level and rate as\
 recomputed" test $st -eq 0
[ $st -eq 0 ] || sed 's/^/#   /' "$T/why" | grep -v '^#   #'
exit 0
