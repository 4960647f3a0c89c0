#!/bin/sh
# adhoc.sh: the main job on the shipped data (make run).  Ingests the market
# indices and the vehicle sales into Event streams under out/, printing each
# input's reconciliation (read = written + rejected) and a look at the data,
# then computes each sale's market features (cv-features) from the used-car
# CPI, total vehicle sales and the earlier sales, and shows the depreciation
# and elasticity estimates as they stood at the last sale of each segment;
# then values each auction file's sales walk-forward (pipelines/backtest.sh:
# cv-train monthly, cv-predict -P) and scores the values, the naive
# baselines and the MMR on the same rows (cv-score); computes the sales'
# own value index (cv-index) beside the CPI and Manheim's MMR; draws the
# charts (pipelines/charts.sh: PNG and SVG in out/); leaves the
# dashboard's tables in out/cvpipe.db and says how to start cv-serve.
# Rejected rows go to out/rejects-*.json with their file:line and reason.
set -u
cd "$(dirname "$0")/.."
PATH=$PWD/bin:$PATH
D=pipelines/data
M=pipelines/maps
mkdir -p out

# ingest NAME MAP [cv-ingest options] FILE...: cv-ingest exits 1 when it
# rejected rows (the real data has some); anything worse stops the job.
ingest() {
	name=$1; shift
	printf '%-22s ' "$name"
	cv-ingest -v -e "out/rejects-$name.json" -o "out/$name.avro" "$@" \
	    2>&1 | grep 'read' | sed 's/^cv-ingest: //'
	[ -s "out/$name.avro" ] || { echo "adhoc: $name: no output" >&2; exit 1; }
}

echo "== ingest (rejects in out/rejects-*.json)"
ingest cpi-used-sa     -M $M/fred.map -s source=bls.cpi.used.sa $D/CUSR0000SETA02_*.csv
ingest cpi-used-nsa    -M $M/fred.map -s source=bls.cpi.used.nsa $D/CUUR0000SETA02_*.csv
for r in 1:northeast 2:midwest 3:south 4:west; do
	ingest "cpi-$(echo $r | cut -d: -f2)" -M $M/fred.map \
	    -s source=bls.cpi.used.nsa -s region="$(echo $r | cut -d: -f2)" \
	    $D/CUUR0$(echo $r | cut -d: -f1)00SETA02_*.csv
done
ingest sales-new-saar  -M $M/fred-volume.map -s source=fred.totalsa $D/TOTALSA_*.csv
ingest used-dealer-usd -M $M/fred-volume.map -s source=census.mrts.used $D/MRTSSM44112USN_*.csv
ingest manheim-uvvi    -M $M/manheim.map $D/manheim_uvvi_*.csv
ingest auction-sales   -M $M/auction.map $D/auction_toyota_camry_12k.csv $D/auction_honda_odyssey_3500.csv
ingest uk-listings     -M $M/uk-listings.map $D/uk_used_cars_100k.csv

echo
echo "== used-car CPI (SA), last 6 months known"
cv-cat -f csv -C IndexObs.period,IndexObs.published_at,IndexObs.value \
    out/cpi-used-sa.avro | tail -6 | tr , '\t'

echo
echo "== auction sales in event time, first 8"
cv-cat -f table -C VehicleObs.observed_at,VehicleObs.segment,VehicleObs.region,VehicleObs.model_year,VehicleObs.mileage_km,VehicleObs.condition,VehicleObs.price,VehicleObs.reference_value \
    out/auction-sales.avro | head -9

echo
echo "== auction sales per segment (top 8)"
cv-cat -f csv -C VehicleObs.segment out/auction-sales.avro | sed 1d |
    sort | uniq -c | sort -rn | head -8

echo
echo "== first rejects"
cat out/rejects-auction-sales.json | head -3

echo
echo "== features: CPI (SA) with total vehicle sales as volume, auction sales"
rm -f out/features.db
cv-features -v -S out/features.db -o out/features.avro out/cpi-used-sa.avro \
    out/sales-new-saar.avro out/auction-sales.avro 2>&1 | grep read |
    sed 's/^cv-features: //'
echo
echo "== depreciation and elasticity at each segment's last sale (decay per year)"
cv-cat -f csv -C segment,decay_level,decay_n,decay_rate,decay_rate_se,decay_half_life,mileage_slope,condition_coef,elasticity,elasticity_se,elasticity_n \
    out/features.avro | awk -F, 'NR > 1 { last[$1] = $0; n[$1]++ }
	END { for (s in last) if (n[s] >= 100) print last[s] }' | sort |
    awk -F, 'BEGIN { printf "%-24s %-6s %7s %14s %9s %9s %8s %13s\n",
	"segment", "level", "n_eff", "decay/yr", "half-life", "km/10k", "cond",
	"elasticity" }
	{ printf "%-24s %-6s %7.0f %7.3f±%.3f %8.1fy %9.4f %8.3f %6.3f±%.3f\n",
	$1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
echo "(n_eff: effective sales after forgetting, half-life 180 days; state in out/features.db)"

echo
echo "== cv-index: the auction sales' own mix-adjusted value index (market *)"
echo "(MMR: the same index over Manheim's valuations of the same vehicles;"
echo " the shipped Manheim UVVI starts in 2020-01, no month in common; every"
echo " level, region and month in out/index.avro)"
cv-index -R -l market,make,model,trim -o out/index.avro out/features.avro &&
    cv-index -p reference_value -o out/index-mmr.avro out/features.avro &&
    DAT=out/index-compare.dat pipelines/index-compare.sh out/index.avro \
    out/index-mmr.avro out/cpi-used-nsa.avro out/cpi-used-sa.avro || exit 1

echo
echo "== valuation backtest: every sale valued from earlier sales only"
echo "(pipelines/valuation.sh: cv-features' pooled model refitted on earlier"
echo " sales, cv-train monthly on the sales before each month, cv-predict -P;"
echo " scored by cv-score against Manheim's MMR on the same rows)"
pipelines/valuation.sh || exit 1
for name in camry odyssey; do
	echo "-- $name: seed model (V(t+1) = a V + b MPI + c H + d elasticity"
	echo "   + e), on the sales it can value (after its first version):"
	cv-predict -k seed -P -m out/models-$name.db out/features-$name.avro |
	    cv-score -C value,reference_value | sed 1d
done

echo
echo "== the loan book: features | predict | grade | warn | store, piped"
echo "(floor-plan loans over the auction vehicles, month-end snapshots:"
echo " pipelines/data/loanbook.csv, made by scripts/make-loanbook)"
ingest loanbook -O -M $M/loanbook.map $D/loanbook.csv
rm -f out/book-*.db out/book-*.db.log out/cvpipe.db*
cv-features -o out/book-features.avro out/cpi-used-sa.avro \
    out/sales-new-saar.avro out/auction-sales.avro out/loanbook.avro || exit 1
# Models retrained monthly on the sales (loan records have no price);
# each snapshot valued with the version in force at its month-end.
pipelines/backtest.sh out/book-features.avro out/book-models.db - |
    cv-grade -c pipelines/grade.conf -r pipelines/segments.csv \
	-S out/book-grade.db | tee out/book-graded.avro |
    cv-warn -L -c pipelines/warn.conf -S out/book-warn.db |
    cv-store -d out/cvpipe.db -n warning || exit 1
# The book as it stands: each loan's last snapshot.
sqlite3 out/cvpipe.db "create index warning_loan on warning(loan_id,
    observed_at)" || exit 1
LAST="(select w.* from warning w join (select loan_id, max(observed_at) as t
    from warning group by loan_id) l on w.loan_id = l.loan_id
    and w.observed_at = l.t)"
echo
echo "-- loans per light and per grade, at each loan's last snapshot"
sqlite3 -column -header out/cvpipe.db "select light, count(*) as loans,
    printf('%.2f', avg(ltv)) as mean_ltv from $LAST group by light
    order by case light when 'RED' then 0 when 'YELLOW' then 1 else 2 end"
echo
sqlite3 -column -header out/cvpipe.db "select grade, count(*) as loans,
    sum(watchlist) as on_watch_list from $LAST group by grade order by grade"
echo
echo "-- the ten worst loans (light, then LTV)"
sqlite3 -column -header out/cvpipe.db "select loan_id, segment, grade,
    light, printf('%.2f', ltv) as ltv, message from $LAST
    order by case light when 'RED' then 0 when 'YELLOW' then 1 else 2 end,
    ltv desc limit 10" | cut -c1-200
echo "(everything in out/cvpipe.db, table warning: sqlite3 out/cvpipe.db)"

echo
echo "-- stress: the book at the end of June 2015 (the last month of sales)"
echo "(cv-stress: every value moved by each scenario, lit by warn.conf's rules"
echo " without hysteresis; decay:0.05 takes 5 % more a year of age)"
X="-x -0.05 -x -0.10 -x -0.15 -x make:honda:-0.20 -x decay:0.05"
cv-stress --until 2015-07-01 -c pipelines/warn.conf $X out/book-graded.avro ||
    exit 1
# The same scenarios into out/cvpipe.db (table stress) for the dashboard.
cv-stress --until 2015-07-01 -f csv -c pipelines/warn.conf $X \
    out/book-graded.avro > out/stress.csv &&
    sqlite3 out/cvpipe.db "drop table if exists stress" \
    ".import --csv out/stress.csv stress" || exit 1
echo "the loans whose LTV is projected to cross RED soonest (at the index trend,"
echo "balance held; -p lists them all):"
cv-stress --until 2015-07-01 -p -c pipelines/warn.conf out/book-graded.avro |
    awk 'NR == 1 || ($9 != "now" && $9 != "-")' |
    { IFS= read -r head; echo "$head"; LC_ALL=C sort -k9,9 | head -5; }

echo
echo "== data quality per source (cv-quality: red and black list flags, worst first)"
# The auction files' sales carry their file's name as source (valuation.sh).
Q="-N 2015-08-01
    -r out/rejects-camry.json=auction_toyota_camry_12k.csv
    -r out/rejects-odyssey.json=auction_honda_odyssey_3500.csv
    -r out/rejects-multi.json=auction_car_prices_first_10k.csv
    -r out/rejects-loanbook.json=loanbook
    -r out/rejects-uk-listings.json=listing out/valuation-camry.avro
    out/valuation-odyssey.avro out/valuation-multi.avro out/loanbook.avro
    out/uk-listings.avro"
cv-quality -d out/cvpipe.db $Q || exit 1
echo "(staleness to 2015-08-01; the UK listings are of c. 2020 and lack trim and"
echo " condition; bias: the median of (price - value) / value)"
echo "-- the rejects by reason (cv-quality -R; in out/cvpipe.db, quality_reason)"
cv-quality -R $Q || exit 1

echo
echo "== charts"
pipelines/charts.sh || exit 1

# The dashboard's index beside the CPI, in out/cvpipe.db too.
cv-store -d out/cvpipe.db -n idx out/index.avro &&
    cv-store -d out/cvpipe.db -n cpi out/cpi-used-nsa.avro || exit 1
echo
echo "== cv-serve: the valuation page and the dashboard on this run"
echo "(out/cvpipe.db: tables warning, idx, cpi, quality, stress; the market"
echo " state out/features.db and the model store out/book-models.db)"
echo "    make serve        # then open http://127.0.0.1:8080/"
echo "or  cv-serve -S out/features.db -m out/book-models.db -d out/cvpipe.db \\"
echo "        -g pipelines/grade.conf -r pipelines/segments.csv -w pipelines/warn.conf"

