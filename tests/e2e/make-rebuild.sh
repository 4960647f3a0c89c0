#!/bin/sh
# make-rebuild: a second make rebuilds nothing.  Objects made by a chain of
# pattern rules were intermediates, deleted at the end of the first make;
# the next make, told by the .d files that they exist, built them all
# again.  Built at -O0 into a build folder of its own (B=), one program of
# one file and one that is a folder (filters/cv-features/).
. tests/e2e/common.inc
B=$TMPDIR/build
set -- B="$B" CFLAGS=-O0 "$B/bin/cv-cat" "$B/bin/cv-features"
if ! make "$@" > "$TMPDIR/make1" 2>&1; then
	sed 's/^/# /' "$TMPDIR/make1" | tail -20
	echo "not ok - make B=$B: failed"
	exit 1
fi
# make names what it deletes on a line "rm FILE ..." of its own.
check "first make deleted no intermediate" \
    sh -c "! grep '^rm [^-]' '$TMPDIR/make1'"
check "objects kept: cv-cat.o, cv-features/main.o, schemas_embedded.c" \
    test -f "$B/cv-cat.o" -a -f "$B/cv-features/main.o" \
    -a -f "$B/lib/schemas_embedded.c"
make "$@" > "$TMPDIR/make2" 2>&1
check "second make compiled nothing" \
    sh -c "! grep -q -- ' -c -o ' '$TMPDIR/make2'"
check "make -q: up to date" make -q "$@"
