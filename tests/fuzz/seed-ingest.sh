#!/bin/sh
# seed-ingest.sh: write tests/fuzz/corpus-ingest/, the seeds of
# fuzz-ingest: each shipped map file, a line "%%", then the first rows of
# the shipped data it maps (header and 12 rows), as CSV and again as JSON
# lines (an object a row, keyed by the header); and the rows alone, under
# the default mapping.  Run from the top folder; the seeds are kept in git.
set -eu
cd "$(dirname "$0")/../.."
C=tests/fuzz/corpus-ingest
D=pipelines/data
M=pipelines/maps
rm -rf "$C"
mkdir -p "$C"
# seed NAME MAP DATA: NAME-csv and NAME-json
seed() {
	head -13 "$3" > "$C/.rows"
	{ cat "$2"; echo '%%'; cat "$C/.rows"; } > "$C/$1-csv"
	{ cat "$2"; echo '%%'; python3 -c '
import csv, json, sys
for row in csv.DictReader(open(sys.argv[1], newline="")):
    print(json.dumps(row))' "$C/.rows"; } > "$C/$1-json"
}
seed auction $M/auction.map $D/auction_toyota_camry_12k.csv
seed multi $M/auction.map $D/auction_car_prices_first_10k.csv
seed fred $M/fred.map $D/CUSR0000SETA02_cpi_used_cars_trucks_SA_1953-2026.csv
seed volume $M/fred-volume.map $D/TOTALSA_total_vehicle_sales_SAAR_1976-2026.csv
seed loanbook $M/loanbook.map $D/loanbook.csv
seed manheim $M/manheim.map $D/manheim_uvvi_with_ev_nonev_2020-2026.csv
seed uk $M/uk-listings.map $D/uk_used_cars_100k.csv
# The default mapping: columns named as the fields.
printf '%s\n' \
    'vehicle_id,make,model,trim,observed_at,model_year,mileage_km,condition,price' \
    'VIN1,Toyota,Camry,LE,2015-01-02T10:00:00Z,2012,80000,0.6,9000' \
    'VIN2,Honda,Odyssey,EX,2015-01-01,2010,,,7000' > "$C/default-csv"
printf '%s\n' \
    '{"vehicle_id":"VIN1","make":"Toyota","model":"Camry","observed_at":"2015-01-02","model_year":2012,"price":9000}' \
    '{"vehicle_id":"VIN2","make":"Honda","model":"Odyssey","observed_at":"2015-01-01T00:00:00Z","model_year":"2010","mileage_km":1e5}' \
    > "$C/default-json"
rm -f "$C/.rows"
ls "$C" | wc -l
