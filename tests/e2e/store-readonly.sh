#!/bin/sh
# store-readonly: a model store in WAL mode, in a folder the reader cannot
# write, was "not a model store (attempt to write a readonly database)":
# sqlite could not make the -shm file it reads a WAL database through.
# With no -wal file (every change checkpointed, as cv-train leaves it)
# cv-predict reads it as immutable and values as from a writable copy;
# with changes still in a -wal file it says what is wrong and what to do.
# Run as a user who cannot write the folder (nobody, when run as root).
. tests/e2e/common.inc
F=tests/fixtures
D=$(mktemp -d /tmp/cvro.XXXXXX) || exit 1
trap 'chmod -R u+w "$D"; rm -rf "$D"' EXIT
chmod 755 "$D"
as=
if [ "$(id -u)" = 0 ]; then
	command -v runuser > /dev/null || { echo "skip: root without runuser"; exit 77; }
	as="runuser -u nobody --"
fi
mkdir "$D/ro"
cp $F/train-features.avro "$D/f.avro"
chmod 644 "$D/f.avro"
cv-train -m "$D/ro/m.db" "$D/f.avro" || echo "not ok - cv-train"
cp "$D/ro/m.db" "$D/copy.db"
cv-predict -m "$D/copy.db" "$D/f.avro" | cv-cat -f csv -C value > "$D/want"
check "cv-train leaves no -wal or -shm file" \
    test ! -e "$D/ro/m.db-wal" -a ! -e "$D/ro/m.db-shm"
chmod 555 "$D/ro"
# $as is a command prefix (or nothing): split on purpose.
# shellcheck disable=SC2086
$as "$BIN/cv-predict" -m "$D/ro/m.db" "$D/f.avro" > "$D/out.avro" 2> "$D/err"
st=$?
cv-cat -f csv -C value "$D/out.avro" > "$D/got"
check "a WAL store in a read-only folder is read (status $st, $(wc -l < "$D/got") rows, stderr: $(head -c 200 "$D/err"))" \
    sh -c "[ $st = 0 ] && [ ! -s '$D/err' ] && [ -s '$D/want' ] && cmp -s '$D/want' '$D/got'"
check "nothing made in the folder" \
    test ! -e "$D/ro/m.db-shm" -a ! -e "$D/ro/m.db-wal"
# A change left in the -wal file: a writer that ended without closing.
chmod 755 "$D/ro"
"$PY" - "$D/ro/m.db" <<'EOF'
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA wal_autocheckpoint = 0")
db.execute("INSERT INTO versions SELECT version + 100, trained_at, data_from, "
           "data_to, rows, input FROM versions")
db.commit()
os._exit(0)
EOF
rm -f "$D/ro/m.db-shm"
check "a -wal file with a change" test -s "$D/ro/m.db-wal"
chmod 555 "$D/ro"
# shellcheck disable=SC2086
$as "$BIN/cv-predict" -m "$D/ro/m.db" "$D/f.avro" > "$D/out.avro" 2> "$D/err"
st=$?
check "with changes in its -wal file: status 1 and what to do ($(head -c 300 "$D/err"))" \
    sh -c "[ $st = 1 ] && grep -q 'm.db: a WAL database in a folder this user cannot write, with changes in .*m.db-wal: sqlite must make its -shm file there to read them' '$D/err'"
