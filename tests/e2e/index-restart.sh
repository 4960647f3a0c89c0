#!/bin/sh
# index-restart: cv-index -S STATE over its input cut in pieces, one run
# per piece with the same state file, writes the same records as one run
# over the whole input, byte for byte as `cv-cat -f csv`: each series'
# level, its variance, the sales of its last published period and of the
# open one carry over, so a link made across a cut is the link made
# without it.  The input: 30,000 cv-sim sales through cv-features; cut
# (cv-cat --until / --from) in the middle of a month, at a month's first
# instant, and in three pieces; by month and by week (-w), with regions
# (-R).  Without the state file a cut differs, so the comparison can
# fail; a state made by month and read by week (or with other levels,
# regions or -p) is refused with exit 2 naming both.
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/index-restart.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
N=30000
[ "${VALGRIND:-0}" = 1 ] && N=6000

cv-sim --seed 5 -N $N -o "$T/sim.avro" && cv-features -o "$T/f.avro" \
    "$T/sim.avro" || { echo "not ok - cv-sim | cv-features ran"; exit 1; }

# pieces NAME "CUT..." [cv-index options]: run per piece with -S (or
# without, NAME nostate), then compare with the whole run.
pieces() {
	name=$1 cuts=$2
	shift 2
	rm -f "$T/state.db" "$T"/r.*.avro
	from= i=0 runs=
	for cut in $cuts end; do
		i=$((i + 1))
		if [ "$cut" = end ]; then
			cv-cat -f avro ${from:+--from $from} "$T/f.avro" \
			    > "$T/piece.avro"
		else
			cv-cat -f avro ${from:+--from $from} --until "$cut" \
			    "$T/f.avro" > "$T/piece.avro"
		fi || return 1
		if [ "$name" = nostate ]; then
			cv-index "$@" -o "$T/r.$i.avro" "$T/piece.avro"
		else
			cv-index -S "$T/state.db" "$@" -o "$T/r.$i.avro" \
			    "$T/piece.avro"
		fi || return 1
		runs="$runs $T/r.$i.avro"
		from=$cut
	done
	cv-cat -f csv $runs > "$T/split" && cmp -s "$T/split" "$T/whole"
}

check() {	# check DESCRIPTION "CUT..." [cv-index options]
	what=$1 cuts=$2
	shift 2
	cv-index "$@" -o "$T/w.avro" "$T/f.avro" && cv-cat -f csv "$T/w.avro" \
	    > "$T/whole" || { echo "not ok - $what: the whole run"; return; }
	n=$(($(wc -l < "$T/whole") - 1))
	if pieces state "$cuts" "$@"; then
		echo "ok - $what ($n records): cut at $cuts with -S: same records"
	else
		echo "not ok - $what: cut at $cuts with -S: the records differ"
		diff "$T/whole" "$T/split" | head -5 | sed 's/^/# /'
	fi
}

M="-n 20 -l make,model"
check "by month" 2021-06-17T12:00:00Z $M
check "by month" 2021-07-01T00:00:00Z $M
check "by month, three pieces" "2020-03-20T00:00:00Z 2022-02-01T00:00:00Z" $M
check "by week" 2021-06-17T12:00:00Z -w $M
check "by month, every level, regions" 2020-09-09T09:00:00Z -R -n 10 \
    -l market,make,model,trim

cv-index $M -o "$T/w.avro" "$T/f.avro" && cv-cat -f csv "$T/w.avro" \
    > "$T/whole"
if pieces nostate 2021-06-17T12:00:00Z $M; then
	echo "not ok - without -S a cut at 2021-06-17T12:00:00Z gives the same records: the check cannot fail"
else
	echo "ok - without -S a cut at 2021-06-17T12:00:00Z gives other records"
fi

rm -f "$T/state.db"
cv-index -S "$T/state.db" $M -o /dev/null "$T/f.avro"
for other in "-w $M" "-R $M" "-n 20 -l make" "-p reference_value $M"; do
	cv-index -S "$T/state.db" $other -o /dev/null "$T/f.avro" 2> "$T/err"
	st=$?
	if [ $st -eq 2 ] && grep -q "state.db: the state was made with levels=0110 regions=0 weekly=0 price=price; this run has" "$T/err"; then
		echo "ok - a state made with $M, read with $other: exit 2, naming both"
	else
		echo "not ok - a state made with $M, read with $other: exit $st: $(cat "$T/err")"
	fi
done
