#!/bin/sh
# grade-restart: cv-grade -S STATE over an input cut in two, one run per
# piece with the same state file, writes the same records as one run over
# the whole input, byte for byte as `cv-cat -f csv` (the watch-list
# streaks carry over).  The input: 40 Valuation records of three vehicles
# whose grades (tiers 1, 2 and 3, from tests/fixtures/gw-cuts.csv with
# gw-grade-cycle.conf) make them enter and leave the watch list; cut at
# every K from 0 to 40, with the default watch.enter/leave and with
# enter 2, leave 1; and in three pieces.  Without the state file a
# restart forgets the streaks: some cut then differs (so the comparison
# can fail).  Run from the repository root with the programs on PATH.
set -u
. tests/e2e/common.inc
need_python avro
T=$(mktemp -d "${TMPDIR:-/tmp}/grade-restart.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
G="-c tests/fixtures/gw-grade-cycle.conf -r tests/fixtures/gw-cuts.csv"

# 40 grades of vehicles a, b, c; tier 3 twice as likely as 1 or 2, so
# runs of three tier-3 grades happen.
$PY -c '
import json, random
rnd = random.Random(7)
segs = ["b/90", "b/61h", "b/45", "b/44", "b/30", "b/14", "b/29", "b/1"]
for i in range(40):
    print(json.dumps({"vehicle_id": rnd.choice("abc"),
                      "segment": rnd.choice(segs),
                      "observed_at": 1577836800000 + i * 86400000}))
' > "$T/in.jsonl"
$PY tests/fixtures/gw-records.py --cuts Valuation "$T/p" < "$T/in.jsonl"
check "40 Valuation records and their cuts written" \
    test $? -eq 0 -a -s "$T/p.40.a.avro"
N=40

# cuts NAME OPTIONS...: for every K, two runs with one state over records
# 1..K and K+1..N; prints the K whose output differs from $T/NAME.whole.
cuts() {
	name=$1
	shift
	k=0
	while [ $k -le $N ]; do
		rm -f "$T/state.db"
		cv-grade -S "$T/state.db" "$@" "$T/p.$k.a.avro" > "$T/o1.avro" &&
		    cv-grade -S "$T/state.db" "$@" "$T/p.$k.b.avro" \
		    > "$T/o2.avro" &&
		    cv-cat -f csv "$T/o1.avro" "$T/o2.avro" > "$T/split" &&
		    cmp -s "$T/split" "$T/$name.whole" || printf ' %d' $k
		k=$((k + 1))
	done
}

for opts in "" "-s watch.enter=2 -s watch.leave=1"; do
	cv-grade $G $opts "$T/p.whole.avro" | cv-cat -f csv > "$T/w.whole"
	check "whole run ${opts:-(defaults)}: 40 records" \
	    test "$(wc -l < "$T/w.whole")" -eq 41
	on=$(grep -c ',true$' "$T/w.whole")
	off=$(grep -c ',false$' "$T/w.whole")
	check "whole run ${opts:-(defaults)}: $on on the watch list, $off off" \
	    test "$on" -gt 3 -a "$off" -gt 3
	bad=$(cuts w $G $opts)
	check "${opts:-defaults}: cut at each K of 0..40, two runs with -S:\
 same records${bad:+ (not at$bad)}" test -z "$bad"
done

# Three pieces: 1..13, 14..27, 28..40.
cv-grade $G "$T/p.whole.avro" | cv-cat -f csv > "$T/w.whole"
sed -n 1,13p "$T/in.jsonl" > "$T/in.0.jsonl"
sed -n 14,27p "$T/in.jsonl" > "$T/in.1.jsonl"
sed -n 28,40p "$T/in.jsonl" > "$T/in.2.jsonl"
rm -f "$T/state.db"
for i in 0 1 2; do
	$PY tests/fixtures/gw-records.py Valuation "$T/q.$i.avro" \
	    < "$T/in.$i.jsonl" &&
	    cv-grade $G -S "$T/state.db" "$T/q.$i.avro" > "$T/r.$i.avro"
done
cv-cat -f csv "$T/r.0.avro" "$T/r.1.avro" "$T/r.2.avro" |
    cmp -s - "$T/w.whole"
check "three pieces (13, 14, 13 records) with -S: same records" test $? -eq 0

# Without -S the second run starts with no streaks.
nostate=
k=1
while [ $k -lt $N ]; do
	cv-grade $G "$T/p.$k.a.avro" > "$T/o1.avro"
	cv-grade $G "$T/p.$k.b.avro" > "$T/o2.avro"
	cv-cat -f csv "$T/o1.avro" "$T/o2.avro" | cmp -s - "$T/w.whole" ||
	    nostate="$nostate $k"
	k=$((k + 1))
done
check "without -S some cuts differ (at$nostate)" test -n "$nostate"
exit 0
