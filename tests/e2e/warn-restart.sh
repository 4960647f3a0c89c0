#!/bin/sh
# warn-restart: cv-warn -S STATE over an input cut in two, one run per
# piece with the same state file, writes the same records as one run over
# the whole input, byte for byte as `cv-cat -f csv`: each loan's last
# light and the levels its ltv and predicted fall had (the hysteresis)
# carry over, and so does --changes' idea of what changed.  The input: 40
# Graded records of three loans whose ltv hovers about 0.78..0.91 and
# whose predicted fall about 0.03..0.11 (around the thresholds and their
# hysteresis margins), now and then on the watch list or graded 3-3, and
# some records without a loan; cut at every K from 0 to 40, plain, with
# --changes, and with --changes -s ltv.hysteresis=0.05; and in three
# pieces.  Without the state file some cut differs (so the comparison can
# fail).  Run from the repository root with the programs on PATH.
set -u
. tests/e2e/common.inc
need_python avro
T=$(mktemp -d "${TMPDIR:-/tmp}/warn-restart.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

$PY -c '
import json, random
rnd = random.Random(11)
ltvs = [0.77, 0.779, 0.785, 0.79, 0.805, 0.82, 0.87, 0.879, 0.885, 0.895,
        0.91]
falls = [None, 0.03, 0.039, 0.045, 0.055, 0.085, 0.095, 0.105]
for i in range(40):
    r = {"loan_id": rnd.choice(["P", "Q", "R", "P", "Q", "R", None]),
         "value": 1000.0, "loan_balance": 1000.0 * rnd.choice(ltvs)}
    f = rnd.choice(falls)
    r["value_next"] = None if f is None else 1000.0 * (1 - f)
    if rnd.random() < 0.15:
        r["watchlist"], r["tier3_streak"] = True, 3
    if rnd.random() < 0.15:
        r["grade"] = "3-3"
    r["observed_at"] = 1577836800000 + i * 86400000	# a day apart
    print(json.dumps(r))
' > "$T/in.jsonl"
$PY tests/fixtures/gw-records.py --cuts Graded "$T/p" < "$T/in.jsonl"
check "40 Graded records and their cuts written" \
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
		cv-warn -S "$T/state.db" "$@" "$T/p.$k.a.avro" > "$T/o1.avro" &&
		    cv-warn -S "$T/state.db" "$@" "$T/p.$k.b.avro" \
		    > "$T/o2.avro" &&
		    cv-cat -f csv "$T/o1.avro" "$T/o2.avro" > "$T/split" &&
		    cmp -s "$T/split" "$T/$name.whole" || printf ' %d' $k
		k=$((k + 1))
	done
}

cv-warn "$T/p.whole.avro" | cv-cat -f csv > "$T/w.whole"
held=$(grep -c 'margin, held' "$T/w.whole")
check "whole run: 40 records, $held lights held by the hysteresis" \
    test "$(wc -l < "$T/w.whole")" -eq 41 -a "$held" -gt 2
for l in GREEN YELLOW RED; do
	check "whole run: some $l" grep -q ",$l," "$T/w.whole"
done
for opts in "" "--changes" "--changes -s ltv.hysteresis=0.05"; do
	cv-warn $opts "$T/p.whole.avro" | cv-cat -f csv > "$T/w.whole"
	n=$(($(wc -l < "$T/w.whole") - 1))
	bad=$(cuts w $opts)
	check "${opts:-plain} ($n records): cut at each K of 0..40, two runs\
 with -S: same records${bad:+ (not at$bad)}" test -z "$bad"
done

# Three pieces: 1..13, 14..27, 28..40, with --changes.
cv-warn --changes "$T/p.whole.avro" | cv-cat -f csv > "$T/w.whole"
sed -n 1,13p "$T/in.jsonl" > "$T/in.0.jsonl"
sed -n 14,27p "$T/in.jsonl" > "$T/in.1.jsonl"
sed -n 28,40p "$T/in.jsonl" > "$T/in.2.jsonl"
rm -f "$T/state.db"
for i in 0 1 2; do
	$PY tests/fixtures/gw-records.py Graded "$T/q.$i.avro" \
	    < "$T/in.$i.jsonl" &&
	    cv-warn --changes -S "$T/state.db" "$T/q.$i.avro" > "$T/r.$i.avro"
done
cv-cat -f csv "$T/r.0.avro" "$T/r.1.avro" "$T/r.2.avro" |
    cmp -s - "$T/w.whole"
check "--changes, three pieces (13, 14, 13 records) with -S: same records" \
    test $? -eq 0

# Without -S the second run knows no loan's light.
cv-warn "$T/p.whole.avro" | cv-cat -f csv > "$T/w.whole"
nostate=
k=1
while [ $k -lt $N ]; do
	cv-warn "$T/p.$k.a.avro" > "$T/o1.avro"
	cv-warn "$T/p.$k.b.avro" > "$T/o2.avro"
	cv-cat -f csv "$T/o1.avro" "$T/o2.avro" | cmp -s - "$T/w.whole" ||
	    nostate="$nostate $k"
	k=$((k + 1))
done
check "without -S some cuts differ (at$nostate)" test -n "$nostate"
exit 0
