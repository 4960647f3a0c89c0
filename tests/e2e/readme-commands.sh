#!/bin/sh
# readme-commands: every command the README shows runs as written, in
# order, on a fresh tree (the files git tracks, with the build under test
# copied in as build/rel, as `make` would leave it), from a PATH without
# the programs, as a new user's would be.  A command is a line of an
# indented block that begins with "$ " (a line ending in \ goes on on the
# next); it must end with status 0, or the status its "# status N"
# comment says.  A line of a block that looks like a command but has no
# "$ " (and is no synopsis, [options]) fails the check: an example that
# nobody runs goes stale.  Not run, and said so: make test and its kin
# (this is part of them), make bench and make fuzz (minutes, and no
# pass/fail), make clean (it would remove the build being tested), and
# commands that need a Kafka broker (-t, -T, make run-kafka).
set -u
. tests/e2e/common.inc
[ "${VALGRIND:-0}" = 1 ] && { echo "skip: make run under valgrind takes hours"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/readme.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
ROOT=$PWD
B=$(cd "$BIN/.." && pwd)

# The commands, as "LINE<TAB>STATUS<TAB>COMMAND"; unmarked ones to $T/bad.
awk -v bad="$T/bad" '
function flush() {
	if (cmd != "")
		printf "%d\t%d\t%s\n", at, want, cmd
	cmd = ""
}
/^    / && (inblock || prev == "") {
	inblock = 1
	line = substr($0, 5)
	sub(/^  /, "", line)	# a block inside a list item
	if (cont) {
		cmd = cmd "\001" line
		cont = line ~ /\\$/
		if (!cont) flush()
		prev = $0
		next
	}
	if (line ~ /^\$ /) {
		at = NR; cmd = substr(line, 3); want = 0
		if (match(cmd, /# status [0-9]+/))
			want = substr(cmd, RSTART + 9, RLENGTH - 9) + 0
		cont = cmd ~ /\\$/
		if (!cont) flush()
	} else if ((line ~ /^(cv-[a-z]+|make|sqlite3|export|cat|mkdir) / ||
	    line ~ /^(pipelines|scripts|bin)\/[^ ]/) &&
	    line !~ /\[-|\[file|\[options/)
		printf "README.md:%d: %s\n", NR, line > bad
	prev = $0
	next
}
{ inblock = 0; prev = $0 }
END { flush() }' README.md > "$T/cmds"
n=$(wc -l < "$T/cmds")
check "the README shows commands ($(grep -c . "$T/cmds") of them)" \
    test -s "$T/cmds"
if [ -s "$T/bad" ]; then
	echo "not ok - every command of the README is marked \$ and run"
	sed 's/^/#   /' "$T/bad"
else
	echo "ok - every command of the README is marked \$ and run"
fi

mkdir "$T/tree"
# What a clone has: the files git tracks (outside git, as from an
# archive, everything but what builds and runs leave behind).
if git ls-files > /dev/null 2>&1; then
	git ls-files -z
else
	find . \( -path ./build -o -path ./out -o -path ./bin -o -name .git \) \
	    -prune -o -type f -print0
fi | xargs -0 cp -p --parents -t "$T/tree"
mkdir -p "$T/tree/build"
cp -a "$B" "$T/tree/build/rel"
cd "$T/tree" || exit 1
PATH=/usr/local/bin:/usr/bin:/bin
export PATH
while IFS="	" read -r at want cmd; do
	cmd=$(printf '%s' "$cmd" | tr '\001' '\n')
	case $cmd in
	"make test"*|"make bench"*|"make fuzz"*|"make clean"*)
		echo "skip - README.md:$at: $cmd (see the head of this test)"
		continue ;;
	"make run-kafka"*|*" -t "*|*" -T "*|*KAFKA_BROKERS*)
		echo "skip - README.md:$at: $cmd (needs a Kafka broker)"
		continue ;;
	export\ *)
		eval "$cmd"
		echo "ok - README.md:$at: $cmd"
		continue ;;
	esac
	timeout 600 sh -c "$cmd" > "$T/out" 2> "$T/err" < /dev/null
	st=$?
	if [ "$st" = "$want" ]; then
		echo "ok - README.md:$at: status $st: $(echo "$cmd" | head -1 | cut -c1-100)"
	else
		echo "not ok - README.md:$at: status $st, want $want: $cmd"
		tail -5 "$T/err" | sed 's/^/#   /'
	fi
done < "$T/cmds"
exit 0
