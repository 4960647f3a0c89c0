#!/bin/sh
# valuation.sh: how good the value is (make run).  Each shipped auction
# file is valued walk-forward on its own (cv-features: the pooled model
# refitted on earlier sales only; pipelines/backtest.sh: cv-train monthly,
# cv-predict -P) and then all of them as one stream, scored per file;
# every score beside Manheim's MMR on the same rows, the pooled model,
# the comparables and the blend (the value) apart, with the breakdown by
# density (earlier sales of the model) for the multi-make file.  Then the
# UK listings valued in a fixed random order, and a 2012 Camry valued on
# 2026-12-01 from the state the Camry sales left.  Needs the CPI and
# TOTALSA ingested into out/ (pipelines/adhoc.sh does it first).
set -u
cd "$(dirname "$0")/.."
PATH=$PWD/bin:$PATH
D=pipelines/data
M=pipelines/maps
IX="out/cpi-used-sa.avro out/sales-new-saar.avro"
for f in $IX; do
	[ -s "$f" ] || { echo "valuation: $f: run pipelines/adhoc.sh first" >&2; exit 1; }
done
COLS=value,pooled_value,comps_value,reference_value

# value NAME CSV...: ingest (source: the file's name), features, backtest.
value() {
	name=$1; shift
	cv-ingest -O -M $M/auction.map -s source=%f \
	    -e out/rejects-$name.json -o out/sales-$name.avro "$@" 2> /dev/null
	[ -s out/sales-$name.avro ] || { echo "valuation: $name: no sales" >&2; exit 1; }
	rm -f out/features-$name.db
	cv-features -S out/features-$name.db -o out/features-$name.avro $IX \
	    out/sales-$name.avro || exit 1
	pipelines/backtest.sh out/features-$name.avro out/models-$name.db \
	    out/valuation-$name.avro 2> /dev/null || exit 1
}

# gbm NAME: the boosted trees on the rows they valued (the same rows for
# the three), and the blend weight each monthly version gave them.
gbm() {
	cv-score -C value,pooled_value,gbm_value out/valuation-$1.avro | sed 1d |
	    awk '{ print "  " $0 }'
	echo "  gbm weight by version: $(sqlite3 out/models-$1.db "SELECT
	    group_concat(printf('%.2f', json_extract(coef, '\$[0]')), ' ') FROM
	    models WHERE kind = 'blend' AND class = 'gbm'")"
}

# score FILE [cv-score options]: value, pooled, comps and MMR on the rows
# that have all four (cv-score -a: the same rows), then the value alone.
score() {
	f=$1; shift
	cv-score -a -C $COLS "$@" "$f" | sed 1d | awk '{ print "  " $0 }'
}

echo "(MdAPE: median absolute % error against the sale price; ±5 %: share"
echo " within 5 %; cover: share inside the 90 % interval.  value is the blend"
echo " cv-predict gives, pooled_value the pooled model alone, comps_value the"
echo " comparable sales, each on the rows it has (cv-score -a); then the"
echo " boosted trees (gbm_value) beside value and pooled on the rows they"
echo " valued, with their weight in the blend per monthly version)"
printf '  %-24s %-18s %6s %8s %8s %6s %6s %8s %7s\n' group prediction n \
    MdAPE MAPE ±5% ±10% bias cover
for f in camry:auction_toyota_camry_12k odyssey:auction_honda_odyssey_3500 \
    multi:auction_car_prices_first_10k; do
	name=${f%%:*}
	value $name $D/${f#*:}.csv
	echo "-- $name alone"
	score out/valuation-$name.avro
	gbm $name
done
echo "-- the multi-make file by density (earlier sales of the model: 0, 1-4,"
echo "   5-19, 20+), every row (value and MMR)"
cv-score -C value,reference_value -g density out/valuation-multi.avro | sed 1d |
    awk '$1 != "all" { print "  " $0 }'

echo "-- all auction sales as one stream, scored per file (value and MMR)"
value all $D/auction_toyota_camry_12k.csv $D/auction_honda_odyssey_3500.csv \
    $D/auction_car_prices_first_10k.csv
cv-score -C value,reference_value -g source out/valuation-all.avro | sed 1d |
    awk '$1 != "all" { print "  " $0 }'

echo "-- UK listings (no date: one a second in a fixed random order, no MMR;"
echo "   the pooled model alone, no monthly retrain within two days)"
# A fixed order: the rows shuffled by a seeded generator, then a second
# apart from 2020-06-01 (a day has 86,400: the rest go on into June 2).
{ head -1 $D/uk_used_cars_100k.csv | sed 's/^/listed_at,/'
  sed 1d $D/uk_used_cars_100k.csv | awk 'BEGIN { srand(20201) }
	{ printf "%.9f\t%s\n", rand(), $0 }' | sort -k1,1 | cut -f2- |
  awk '{ t = NR; d = 1 + int(t / 86400); t %= 86400
	printf "2020-06-%02dT%02d:%02d:%02dZ,%s\n", d, int(t / 3600),
	    int(t / 60) % 60, t % 60, $0 }'; } > out/uk-ordered.csv
cv-ingest -M $M/uk-listings.map -m observed_at=listed_at \
    -m transmission=transmission -e out/rejects-uk-ordered.json \
    -o out/uk-ordered.avro out/uk-ordered.csv 2> /dev/null
cv-features -o out/features-uk.avro out/uk-ordered.avro || exit 1
cv-predict -o out/valuation-uk.avro out/features-uk.avro || exit 1
cv-score -C value,pooled_value,comps_value out/valuation-uk.avro | sed 1d |
    awk '{ print "  " $0 }'

echo "-- a 2012 Camry LE, 95,000 km, condition 0.5, valued on 2026-12-01 from"
echo "   the state the Camry sales left (their last sale: July 2015)"
cp out/features-camry.db out/features-today.db
printf 'vin,year,make,model,trim,state,date,km,condition\n4t1bf1fk5cu000001,2012,Toyota,Camry,LE,ca,2026-12-01,95000,0.5\n' \
    > out/today.csv
cv-ingest -m vehicle_id=vin -m model_year=year -m make=make -m model=model \
    -m trim=trim -m region=state -m observed_at=date -m mileage_km=km \
    -m condition=condition -s source=today -o out/today.avro out/today.csv &&
    cv-features -S out/features-today.db out/today.avro |
    cv-predict -P -m out/models-camry.db |
    cv-cat -f table -C observed_at,age_months,mpi,value,value_lo,value_hi,pooled_sd,stale_days,comps_sales ||
    exit 1
