#!/bin/sh
# synopsis: each program says its synopsis in three places, and they
# agree: the usage line (-h prints it first, up to the first option
# line), the man page's SYNOPSIS (filters/PROG.1, as groff sets it) and
# the README's (an indented line "PROG [..."), compared
# with runs of blanks as one.  Every program in BIN.
. tests/e2e/common.inc
T=$(mktemp -d "${TMPDIR:-/tmp}/synopsis.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
command -v groff > /dev/null || { echo "skip: no groff"; exit 77; }
squeeze() { tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//'; }
n=0
for p in "$BIN"/cv-*; do
	name=$(basename "$p")
	n=$((n + 1))
	"$name" -h | awk 'NR == 1 { sub(/^usage: /, "") } /^  *-/ { exit }
	    { print }' | squeeze > "$T/usage"
	groff -man -Tascii -P-cbou -rLL=2000n "filters/$name.1" 2> /dev/null |
	    awk '/^SYNOPSIS/ { on = 1; next } /^[A-Z]/ { on = 0 } on' |
	    squeeze > "$T/man"
	awk -v p="$name" '/^    / && $1 == p && $2 ~ /^[[-]/ {
	    sub(/^ */, ""); print; exit }' README.md | squeeze > "$T/readme"
	for w in man readme; do
		# A program new enough to have no man page or README
		# section yet is said to be so, not passed.
		if [ ! -s "$T/$w" ]; then
			echo "skip - $name: no synopsis in the $w yet"
		elif cmp -s "$T/usage" "$T/$w"; then
			echo "ok - $name: usage and $w agree"
		else
			echo "not ok - $name: usage and $w differ"
			echo "#   usage:  $(cat "$T/usage")"
			echo "#   $w: $(cat "$T/$w")"
		fi
	done
done
[ $n -ge 14 ] || echo "not ok - only $n programs in $BIN"

# One letter, one meaning, for the options many programs share: what a
# letter takes (its argument's name in the usage: a format for a|b|c, a
# setting for k=value; or "flag") must be the one below, in every
# program that has the letter (issue 13: no exceptions).
for p in "$BIN"/cv-*; do
	name=$(basename "$p")
	"$name" -h | awk 'NR == 1 { sub(/^usage: [^ ]* /, "") } /^  *-/ { exit }
	    { print }' | tr -s ' \t\n' '   ' |
	    grep -o '\[-[A-Za-z]*\]\|\[-[A-Za-z] [^] []*\| -[A-Za-z] [^] []*' |
	    tr -d '[' | awk -v p="$name" '
	    NF == 1 { for (i = 2; i <= length($1); i++)
		print p, substr($1, i, 1), "flag"; next }
	    { a = $2; if (a ~ /\|/) a = "format"
	      else if (a ~ /=value$/) a = "key=value"
	      print p, substr($1, 2), a }'
done > "$T/letters"
awk '
BEGIN {
	n = split("e on-error,o file,v flag,h flag,f format,d file," \
	    "s key=value,S state,c config", c, ",")
	for (i = 1; i <= n; i++) { split(c[i], w, " "); want[w[1]] = w[2] }
}
!($2 in want) { next }
{ seen[$2]++ }
$3 != want[$2] {
	printf "not ok - %s -%s is %s: everywhere else -%s is %s\n", $1, $2,
	    $3, $2, want[$2]
	bad[$2]++
}
END {
	for (l in want)
		if (!(l in bad))
			printf "ok - -%s means %s in the %d programs with it\n",
			    l, want[l], seen[l]
}' "$T/letters"
