#!/bin/sh
# features-restart: cv-features -S STATE over an input cut in pieces, one
# run per piece with the same state file, writes the same records as one
# run over the whole input (cv-features(1), -S), byte for byte as
# `cv-cat -f csv`.  Inputs: a cv-sim stream (index values, sales, resales
# and a loan book, interleaved) and the real auction sales with the used
# car CPI and TOTALSA volumes.  Cuts at a third, a half, just after an
# index value, between two index values of the same instant, at 0, and
# in three pieces; also with other options (-D, -w, -n, -H, -m, -M).  A
# restart with other options than the state was made with is refused.
#
# How the pieces are made: the Event streams go through `cv-cat -f csv`,
# are sorted into the merge's order (event time: an index value's
# published_at, else its period, a vehicle's observed_at; at equal times
# index values first, else file order), cut at a record, and each piece
# goes back through cv-ingest (tests/fixtures/features-*.map) as an index
# file and a vehicle file; the whole is made the same way.  Run from the
# repository root with the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
. tests/fixtures/events-lib.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/features-restart.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
D=pipelines/data
N=30000
[ "${VALGRIND:-0}" = 1 ] && N=4000

# whole CSV NAME OPTIONS...: one run over all of CSV, $T/NAME.whole.
whole() {
	csv=$1 name=$2
	shift 2
	ingest "$csv" "$T/all" &&
	    cv-features "$@" "$T/all.i.avro" "$T/all.v.avro" |
	    cv-cat -f csv > "$T/$name.whole"
}

# pieces CSV NAME "K1 K2 ..." OPTIONS...: runs with one state over the
# records 1..K1, K1+1..K2, ..., the rest; true when their records are
# those of the whole run.
pieces() {
	csv=$1 name=$2 cuts=$3
	shift 3
	rm -f "$T/state.db" "$T"/r.*.avro
	from=0 i=0 runs=
	for cut in $cuts end; do
		i=$((i + 1))
		head -1 "$csv" > "$T/piece.csv"
		if [ "$cut" = end ]; then
			tail -n +$((from + 2)) "$csv" >> "$T/piece.csv"
		elif [ "$cut" -gt "$from" ]; then
			sed -n "$((from + 2)),$((cut + 1))p" "$csv" >> "$T/piece.csv"
		fi
		ingest "$T/piece.csv" "$T/piece" || return 1
		cv-features -S "$T/state.db" "$@" "$T/piece.i.avro" \
		    "$T/piece.v.avro" > "$T/r.$i.avro" || return 1
		runs="$runs $T/r.$i.avro"
		from=$cut
	done
	cv-cat -f csv $runs > "$T/split" &&
	    cmp -s "$T/split" "$T/$name.whole"
}

# pos CSV TYPE-AND-MORE N: the position (record number) of the first
# record after record N whose CSV line starts with TYPE-AND-MORE.
pos() {
	awk -v want="$2" -v after="$3" \
	    'NR > after + 1 && index($0, want) == 1 { print NR - 1; exit }' "$1"
}

## A cv-sim stream: 5 makes, 60 segments, a loan book, resales.
cv-sim --seed 5 -N $N -o "$T/sim.avro" && events "$T/sim.csv" "$T/sim.avro"
check "cv-sim -N $N into CSV in event time" test $? -eq 0
n=$(($(wc -l < "$T/sim.csv") - 1))
whole "$T/sim.csv" sim
check "whole run over the re-ingested stream: $(($(wc -l < "$T/sim.whole") \
    - 1)) records" test $? -eq 0 -a -s "$T/sim.whole"
cv-features "$T/sim.avro" | cv-cat -f csv | cmp -s - "$T/sim.whole"
check "re-ingested as two files, the same records as cv-sim's stream" \
    test $? -eq 0
# An index value is a market value and then the makes', all at one
# instant: cut after one of them, and after the last.
ix=$(pos "$T/sim.csv" "IndexObs,sim,*," $((n / 2)))
ixm=$(pos "$T/sim.csv" "IndexObs,sim,make:make5," "$ix")
for k in $((n / 3)) $((n / 2)) "$ix" "$ixm" 0 "$((n / 4)) $((n * 3 / 5))"; do
	pieces "$T/sim.csv" sim "$k"
	check "cv-sim: cut at $k of $n: same records" test $? -eq 0
done
OPTS="-D 30 -w 12 -n 6 -H 1.5 -m 5 -M 200"
whole "$T/sim.csv" simo $OPTS
for k in $((n / 2)) "$ixm"; do
	pieces "$T/sim.csv" simo "$k" $OPTS
	check "cv-sim with $OPTS: cut at $k of $n: same records" test $? -eq 0
done

## Real data: auction sales, CPI, TOTALSA.
if [ -f $D/auction_toyota_camry_12k.csv ] &&
    [ -f $D/auction_honda_odyssey_3500.csv ]; then
	real_events "$T/real.csv"
	check "auction sales, CPI and TOTALSA into CSV in event time" \
	    test $? -eq 0
	n=$(($(wc -l < "$T/real.csv") - 1))
	s0=$(pos "$T/real.csv" "VehicleObs," 0)
	ns=$((n - s0 + 1))
	whole "$T/real.csv" real
	check "whole run: $(($(wc -l < "$T/real.whole") - 1)) records" \
	    test $? -eq 0 -a -s "$T/real.whole"
	cv-features "$T/cpi.avro" "$T/vol.avro" "$T/sales.avro" |
	    cv-cat -f csv | cmp -s - "$T/real.whole"
	check "re-ingested, the same records as from cv-ingest's streams" \
	    test $? -eq 0
	# The CPI of a month and TOTALSA's are published at one instant.
	cpi=$(pos "$T/real.csv" "IndexObs,bls.cpi.used.sa," $((s0 + ns / 3)))
	vol=$(pos "$T/real.csv" "IndexObs,fred.totalsa," "$cpi")
	for k in $((s0 + ns / 3)) $((s0 + ns / 2)) "$cpi" "$vol" \
	    "$((s0 - 1)) $((s0 + ns / 4)) $((s0 + ns * 3 / 4))"; do
		pieces "$T/real.csv" real "$k"
		check "real data: cut at $k of $n: same records" test $? -eq 0
	done
	whole "$T/real.csv" realo -D 60 -w 12 -n 6 -M 50
	pieces "$T/real.csv" realo "$cpi" -D 60 -w 12 -n 6 -M 50
	check "real data with -D 60 -w 12 -n 6 -M 50: cut at $cpi: same" \
	    test $? -eq 0
else
	echo "skip - no auction data in $D"
fi

## Other options than the state's: refused, the state left alone.
head -$((N / 10)) "$T/sim.csv" > "$T/part.csv"
ingest "$T/part.csv" "$T/part"
rm -f "$T/state.db"
cv-features -D 90 -S "$T/state.db" "$T/part.i.avro" "$T/part.v.avro" \
    > /dev/null
check "a run with -D 90 makes a state" test $? -eq 0 -a -s "$T/state.db"
cp "$T/state.db" "$T/state.copy"
cv-features -D 180 -S "$T/state.db" "$T/part.i.avro" "$T/part.v.avro" \
    > "$T/out" 2> "$T/err"
st=$?
check "restart with -D 180: status 1, no records" \
    test $st -eq 1 -a ! -s "$T/out"
check "restart with -D 180: the message names the state file" \
    grep -q "^cv-features: $T/state.db: .*options" "$T/err"
check "restart with -D 180: the state is left as it was" \
    cmp -s "$T/state.db" "$T/state.copy"
cv-features -w 12 -D 90 -S "$T/state.db" "$T/part.i.avro" \
    "$T/part.v.avro" > "$T/out" 2> "$T/err"
check "restart with another -w: refused too" \
    test $? -eq 1 -a ! -s "$T/out"
exit 0
