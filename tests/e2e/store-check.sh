#!/bin/sh
# store-check: what cv-store puts in sqlite is the stream, value for value,
# checked independently: tests/fixtures/store-check.py reads the same Avro
# file with python3-avro, flattens each record by cv-store(1)'s rules,
# encodes it again and takes the specification's CRC-64-AVRO for rec_key,
# and compares every row and type with python's sqlite3.  Then storing
# again adds nothing and leaves the table as it was, row for row, and
# storing a first part and then the whole adds each record once.
#
# Streams: the real auction sales (cv-ingest, an Event stream: table
# event), a Warning stream (tests/fixtures/store-warning.py: table
# warning, and the query of the brief), and Features from cv-sim |
# cv-features (NaN, nulls, timestamps).  Run from the repository root with
# the programs on PATH (tests/run does).
set -u
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/store-check.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
CHECK=tests/fixtures/store-check.py
N=5000
[ "${VALGRIND:-0}" = 1 ] && N=1000

need_python avro.datafile sqlite3

# sql DB QUERY: the rows, one a line, columns separated by |
sql() {
	"$PY" - "$1" "$2" <<'EOF'
import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join(str(x) for x in r))
EOF
}

# summary DB FILE...: cv-store -v's read = ... line
summary() {
	db=$1
	shift
	cv-store -v -d "$db" "$@" 2>&1 | grep ' read '
}

# head_of IN OUT K: the first K records of the container file IN, in its
# schema, written by python3-avro
head_of() {
	"$PY" - "$1" "$2" "$3" <<'EOF'
import avro.datafile, avro.io, avro.schema, sys
r = avro.datafile.DataFileReader(open(sys.argv[1], "rb"),
                                 avro.io.DatumReader())
s = avro.schema.parse(r.get_meta("avro.schema").decode())
w = avro.datafile.DataFileWriter(open(sys.argv[2], "wb"),
                                 avro.io.DatumWriter(), s)
for i, d in enumerate(r):
    if i == int(sys.argv[3]):
        break
    w.append(d)
w.close()
EOF
}

# roundtrip NAME AVRO TABLE RECORDS: store, check, store again, check again
roundtrip() {
	what=$1 avro=$2 table=$3 n=$4
	db=$T/$what.db
	check "$what: first run writes $n" \
	    test "$(summary "$db" "$avro")" = \
	    "cv-store: read $n = written $n + absorbed 0 + rejected 0"
	"$PY" "$CHECK" "$avro" "$db" "$table" > "$T/check" 2>&1
	check "$what: every value as python3-avro reads it" \
	    grep -q "^ok $n rows" "$T/check"
	grep -v '^ok' "$T/check" | sed 's/^/# /'
	sql "$db" "SELECT * FROM \"$table\" ORDER BY rowid" > "$T/before"
	check "$what: second run absorbs $n" \
	    test "$(summary "$db" "$avro")" = \
	    "cv-store: read $n = written 0 + absorbed $n + rejected 0"
	sql "$db" "SELECT * FROM \"$table\" ORDER BY rowid" > "$T/after"
	check "$what: the same rows after the second run" \
	    cmp -s "$T/before" "$T/after"
	check "$what: still every value" \
	    sh -c "'$PY' '$CHECK' '$avro' '$db' '$table' | grep -q '^ok $n rows'"
}

# The auction sales: cv-ingest drops a few bad lines (-e skip).
cv-ingest -e skip -M pipelines/maps/auction.map \
    pipelines/data/auction_honda_odyssey_3500.csv > "$T/auction.avro" \
    2> /dev/null
na=$(cv-cat -f csv "$T/auction.avro" | sed 1d | wc -l)
check "auction: cv-ingest wrote over 3000 records" test "$na" -gt 3000
roundtrip auction "$T/auction.avro" event "$na"
check "auction: table event holds the sales" \
    test "$(sql "$T/auction.db" "SELECT type, count(*) FROM event GROUP BY 1")" \
    = "VehicleObs|$na"

# A first part, then the whole: the part's records are absorbed.
head_of "$T/auction.avro" "$T/part.avro" 1000
summary "$T/overlap.db" "$T/part.avro" > /dev/null
check "overlap: the whole after a part writes only the rest" \
    test "$(summary "$T/overlap.db" "$T/auction.avro")" = \
    "cv-store: read $na = written $((na - 1000)) + absorbed 1000 + rejected 0"
check "overlap: every record once, in stream order" \
    sh -c "'$PY' '$CHECK' '$T/auction.avro' '$T/overlap.db' event | grep -q '^ok $na rows'"

# A Warning stream, and the query the table is for.
"$PY" tests/fixtures/store-warning.py -n 3000 "$T/warning.avro" 2> /dev/null
roundtrip warning "$T/warning.avro" warning 3000
check "warning: select light, count(*) from warning group by 1" \
    test "$(sqlite3 "$T/warning.db" \
    'select light, count(*) from warning group by 1' | tr '\n' ' ')" = \
    "|750 GREEN|750 RED|750 YELLOW|750 "

# Features: dozens of nullable doubles, NaN, timestamps.
cv-sim -N "$N" --loans 20 --seed 7 | cv-features > "$T/features.avro"
nf=$(cv-cat -f csv "$T/features.avro" | sed 1d | wc -l)
roundtrip features "$T/features.avro" features "$nf"
