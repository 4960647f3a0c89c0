#!/bin/sh
# features-ties: cv-features writes the same records whatever the order in
# which records of one instant arrive (cv-features(1): an update waits for
# a later time; records of an instant are learned in the order of their
# encodings).  Topic partitions merged in event time interleave such
# records in any order, so a scaled-out stage relies on this.
#
# The real auction sales (sale dates: thousands of sales share a day) with
# the used-car CPI and TOTALSA go into CSV in the merge's order; a copy has
# the records of every instant shuffled (awk's rand, seeded), and both go
# back through cv-ingest.  The Features of both runs, as sorted
# `cv-cat -f csv` lines, must be equal.  That the shuffle moved records
# and that same-day sales do not see each other are checked too, so that
# the comparison cannot pass for want of ties.
set -u
. tests/e2e/common.inc
. tests/fixtures/events-lib.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/features-ties.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

real_events "$T/real.csv"
check "auction sales, CPI and TOTALSA into CSV in event time" \
    test $? -eq 0

# shuffle IN OUT SEED: the records of each instant (the sort key events()
# used: index values by published_at, sales by observed_at) in a random
# order; instants stay in order.
shuffle() {
	head -1 "$1" > "$2"
	awk -F, -v seed="$3" 'BEGIN { srand(seed) }
	NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	{
		if ($1 == "IndexObs")
			t = $6 != "" ? $6 : $5
		else
			t = $col["VehicleObs.observed_at"]
		if (t != last) n++
		last = t
		printf "%09d\t%.9f\t%s\n", n, rand(), $0
	}' "$1" | sort -t "	" -k1,1 -k2,2g | cut -f3- >> "$2"
}

run() {	# run CSV NAME: Features of the re-ingested CSV, sorted CSV lines
	ingest "$1" "$T/$2" &&
	    cv-features "$T/$2.i.avro" "$T/$2.v.avro" > "$T/$2.avro" &&
	    cv-cat -f csv "$T/$2.avro" | sort > "$T/$2.sorted"
}

run "$T/real.csv" orig
check "features of the records in their order" test $? -eq 0
n=$(($(wc -l < "$T/orig.sorted") - 1))
ties=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $1 == "VehicleObs" { print $col["VehicleObs.observed_at"] }' "$T/real.csv" |
    uniq -c | awk '$1 > 1 { n += $1 } END { print n + 0 }')
check "$ties of $n sales share their instant with another" \
    test "$ties" -gt 1000
for seed in 1 2 3; do
	shuffle "$T/real.csv" "$T/shuf.csv" $seed
	moved=$(paste -d '\n' "$T/real.csv" "$T/shuf.csv" | paste - - |
	    awk -F'\t' '$1 != $2' | wc -l)
	run "$T/shuf.csv" shuf
	check "shuffled within instants (seed $seed, $moved records moved):\
 the same $n records" cmp -s "$T/orig.sorted" "$T/shuf.sorted"
done
check "shuffle moved records" test "$moved" -gt 1000

# segment_last_price is the price of one of the segment's sales at its
# latest earlier instant, never of a sale of the same instant.
cv-cat -f csv -C observed_at,segment,price,segment_last_price \
    "$T/orig.avro" | awk -F, 'NR > 1 {
	k = $2
	if ($1 != at[k]) {		# a new instant for the segment
		if (at[k] != "")
			before[k] = now[k]
		at[k] = $1
		now[k] = ","
	}
	if (before[k] == "")
		bad += $4 != ""
	else
		bad += index(before[k], "," $4 ",") == 0
	if (index(now[k], "," $3 ",") == 0)
		now[k] = now[k] $3 ","
	if (before[k] != "") n++
} END { print n + 0, bad + 0 }' > "$T/sameday"
read n bad < "$T/sameday"
check "segment_last_price of $n sales: a price of the segment's latest\
 earlier instant (not so: $bad)" test "$n" -gt 10000 -a "$bad" -eq 0
