#!/bin/sh
# latency: an idle chain passes a record on at once.  A writer that keeps
# its end of a fifo open sends one record and waits for it to come out of
# the chain: nothing may sit in a block buffer waiting for more input.
# Then the writer closes and every program must end cleanly.  Run from the
# repository root with the programs on PATH (tests/run does both).
set -u
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/latency.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
MAP=pipelines/maps/auction.map

if [ ! -x "$PY" ]; then
	echo "skip: no $PY"
	exit 77
fi

# One record: a container header and one block, as cv-ingest writes them
# for one row; and its JSON line as cv-cat shows it.
head -2 tests/fixtures/ingest-auction.csv > "$T/one.csv"
cv-ingest -M "$MAP" "$T/one.csv" > "$T/one.avro"
cv-cat "$T/one.avro" > "$T/want.json"
if [ "$(wc -l < "$T/want.json")" -ne 1 ]; then
	echo "not ok - one-record stream from cv-ingest"
	exit 1
fi

# feed NAME FIFO DATA OUT: open FIFO for writing, write DATA, and without
# closing wait (5 s at most) until OUT holds want.json; then close.
feed() {
	"$PY" - "$@" "$T/want.json" <<'EOF'
import os, sys, time
name, fifo, data, out, want = sys.argv[1:6]
data = open(data, "rb").read()
want = open(want, "rb").read()
fd = os.open(fifo, os.O_WRONLY)
os.write(fd, data)
t0 = time.monotonic()
got = b""
while time.monotonic() - t0 < 5:
    with open(out, "rb") as f:
        got = f.read()
    if got == want:
        break
    time.sleep(0.002)
ms = (time.monotonic() - t0) * 1000
print("# latency: %.0f ms" % ms)
if got == want:
    print("ok - %s: the record came out while the writer was open" % name)
else:
    print("not ok - %s: nothing after %.0f ms (writer still open)\n# got %r"
          % (name, ms, got[:200]))
os.close(fd)
EOF
}

# ends NAME: the programs' statuses and stderr, once the writer closed.
ends() {
	bad=
	for s in "$T"/st*; do
		[ "$(cat "$s")" = 0 ] || bad="$bad $(basename "$s")=$(cat "$s")"
	done
	for e in "$T"/err*; do
		[ -s "$e" ] && bad="$bad $(basename "$e"): $(head -1 "$e")"
	done
	if [ -z "$bad" ]; then
		echo "ok - $1: clean exit after the writer closed"
	else
		echo "not ok - $1: after the writer closed:$bad"
	fi
	rm -f "$T"/st* "$T"/err*
}

# Three cv-cats, Avro between them.
mkfifo "$T/fifo"
: > "$T/out"
timeout 60 sh -c '
	T=$1
	{ cv-cat -f avro < "$T/fifo" 2> "$T/err1"; echo $? > "$T/st1"; } |
	{ cv-cat -f avro 2> "$T/err2"; echo $? > "$T/st2"; } |
	{ cv-cat > "$T/out" 2> "$T/err3"; echo $? > "$T/st3"; }' sh "$T" &
chain=$!
feed "cv-cat -f avro | cv-cat -f avro | cv-cat" "$T/fifo" "$T/one.avro" \
    "$T/out"
wait $chain
echo $? > "$T/st0"
ends "cv-cat chain"

# cv-ingest reading CSV from an idle pipe, into cv-cat.
rm -f "$T/fifo"
mkfifo "$T/fifo"
: > "$T/out"
timeout 60 sh -c '
	T=$1 MAP=$2
	{ cv-ingest -M "$MAP" < "$T/fifo" 2> "$T/err1"; echo $? > "$T/st1"; } |
	{ cv-cat > "$T/out" 2> "$T/err2"; echo $? > "$T/st2"; }' sh "$T" "$MAP" &
chain=$!
feed "cv-ingest | cv-cat" "$T/fifo" "$T/one.csv" "$T/out"
wait $chain
echo $? > "$T/st0"
ends "cv-ingest | cv-cat"
exit 0
