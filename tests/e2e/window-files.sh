#!/bin/sh
# window-files: --from/--until on files, as on topics: a record is read
# when its event time (observed_at, else published_at, else its period)
# is at or after --from and before --until.  On the shipped auction
# sales with the used-car CPI: cv-cat's window equals the CSV of the
# whole stream filtered by awk on those columns; cv-features over a
# window of its input files (a backtest over a date range) equals
# cv-features over inputs cut by awk before cv-ingest; cv-ingest's
# window equals cv-cat's of the whole ingest.
set -u
. tests/e2e/common.inc
. tests/fixtures/events-lib.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/window-files.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
FROM=2015-02-01T00:00:00Z UNTIL=2015-03-15T12:00:00Z
D=pipelines/data

real_events "$T/all.csv"
check "auction sales, CPI and TOTALSA ingested" test $? -eq 0
# awk's window over Event CSV lines: columns by name.
window() {
	awk -F, -v from=$FROM -v until=$UNTIL '
	function norm(s) { return length(s) == 10 ? s "T00:00:00Z" : s }
	NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; print; next }
	{
		if ($1 == "VehicleObs")
			t = $col["VehicleObs.observed_at"]
		else if ((t = $col["IndexObs.published_at"]) == "")
			t = $col["IndexObs.period"]
		t = norm(t)
		sub(/\.[0-9]*Z$/, "Z", t)	# a fraction is within its second
		if (t >= from && t < until)
			print
	}' "$1"
}
for f in sales cpi vol; do
	cv-cat -f csv "$T/$f.avro" > "$T/$f.csv"
	window "$T/$f.csv" > "$T/$f.want"
	cv-cat --from $FROM --until $UNTIL -f csv "$T/$f.avro" > "$T/$f.got"
	n=$(($(wc -l < "$T/$f.want") - 1))
	check "cv-cat --from $FROM --until $UNTIL on $f: the $n records awk keeps" \
	    cmp -s "$T/$f.want" "$T/$f.got"
done
check "the window keeps some sales and leaves some out" sh -c "
	test $(wc -l < "$T/sales.want") -gt 100 -a \
	    $(wc -l < "$T/sales.want") -lt $(wc -l < "$T/sales.csv")"

# A backtest over the window: the Features of the windowed files are
# those of inputs cut before they were ingested.
cv-features --from $FROM --until $UNTIL "$T/cpi.avro" "$T/vol.avro" \
    "$T/sales.avro" | cv-cat -f csv > "$T/f.got"
for f in cpi vol; do
	cv-ingest -M $IM -o "$T/$f.cut.avro" "$T/$f.want"
done
cv-ingest -M $VM -o "$T/sales.cut.avro" "$T/sales.want"
cv-features "$T/cpi.cut.avro" "$T/vol.cut.avro" "$T/sales.cut.avro" |
    cv-cat -f csv > "$T/f.want"
check "cv-features --from --until over files = over inputs cut by awk \
($(($(wc -l < "$T/f.want") - 1)) sales)" cmp -s "$T/f.want" "$T/f.got"

cv-ingest -e skip -M pipelines/maps/auction.map --from $FROM --until $UNTIL \
    -o "$T/ing.avro" $D/auction_toyota_camry_12k.csv 2> /dev/null
cv-ingest -e skip -M pipelines/maps/auction.map -o "$T/ing-all.avro" \
    $D/auction_toyota_camry_12k.csv 2> /dev/null
cv-cat --from $FROM --until $UNTIL -f csv "$T/ing-all.avro" > "$T/ing.want"
check "cv-ingest --from --until = cv-cat's window of the whole ingest" \
    sh -c "cv-cat -f csv '$T/ing.avro' | cmp -s - '$T/ing.want'"
