#!/bin/sh
# index-compare.sh INDEX REFERENCE CPI-NSA CPI-SA: the market series (*) of
# cv-index's output INDEX beside the same index over Manheim's MMR
# (REFERENCE: cv-index -p reference_value on the same sales) and the
# used-car CPI, not seasonally adjusted and adjusted (IndexObs streams),
# month by month, with the Pearson correlation of their log changes over
# the months all four have (a month the index left out makes the next
# change span two months, for all of them); and with the CPI a month
# later, as retail prices follow wholesale ones.  The table goes to stdout; with
# DAT=file also the joined months as columns for gnuplot (month, cvpipe,
# se, MMR index, CPI NSA, CPI SA, each rebased to 100 in the first month).
set -u
[ $# -eq 4 ] || { echo "usage: index-compare.sh index reference cpi-nsa cpi-sa" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/index-compare.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
market() {	# market FILE COLUMNS: the * series of an IndexObs stream
	cv-cat -f csv -C segment,region,period,value,value_se,value_n "$1" |
	    awk -F, '$1 == "*" && $2 == "*" { print $3, $4, $5, $6 }'
}
market "$1" > "$T/a" && market "$2" > "$T/b" || exit 1
for f in 3:c 4:d; do
	eval "src=\${${f%%:*}}"
	cv-cat -f csv -C IndexObs.segment,IndexObs.region,IndexObs.period,IndexObs.value "$src" |
	    awk -F, '$1 == "*" && $2 == "*" && $4 != "" { print $3, $4 }' \
	    > "$T/${f#*:}" || exit 1
done
awk -v dat="${DAT:-}" '
FILENAME == ARGV[1] { v[$1] = $2; se[$1] = $3; n[$1] = $4; m[++nm] = $1; next }
FILENAME == ARGV[2] { b[$1] = $2; next }
FILENAME == ARGV[3] { c[$1] = $2; next }
{ d[$1] = $2 }
function ch(x, p, q) { return 100 * log(x[q] / x[p]) }
END {
	printf "%-8s %8s %6s %6s %8s %8s %8s %8s\n", "month", "cvpipe", "se",
	    "sales", "change", "MMR", "CPI NSA", "CPI SA"
	for (i = 1; i <= nm; i++) {
		q = m[i]
		if (i == 1 || !(q in b) || !(q in c) || !(q in d)) {
			printf "%-8s %8.2f %6.2f %6d %8s %8s %8s %8s\n",
			    substr(q, 1, 7), v[q], se[q], n[q], "", "", "", ""
			continue
		}
		p = m[i - 1]
		x = ch(v, p, q); y1 = ch(b, p, q); y2 = ch(c, p, q)
		y3 = ch(d, p, q)
		printf "%-8s %8.2f %6.2f %6d %+7.2f%% %+7.2f%% %+7.2f%% %+7.2f%%\n",
		    substr(q, 1, 7), v[q], se[q], n[q], x, y1, y2, y3
		k++; X[k] = x; Y1[k] = y1; Y2[k] = y2; Y3[k] = y3
		if ((nxt(p) in c) && (nxt(q) in c)) {
			kl++; XL[kl] = x; YL[kl] = ch(c, nxt(p), nxt(q))
		}
	}
	if (dat != "")
		for (i = 1; i <= nm; i++) {
			q = m[i]
			if (!(q in b) || !(q in c) || !(q in d))
				continue
			if (f == "")
				f = q
			printf "%s %.4f %.4f %.4f %.4f %.4f\n", q, v[q] / v[f] * 100,
			    se[q] / v[f] * 100, b[q] / b[f] * 100,
			    c[q] / c[f] * 100, d[q] / d[f] * 100 > dat
		}
	printf "correlation of the changes over %d months: with MMR %+.2f, with the CPI NSA %+.2f, with the CPI SA %+.2f; with the CPI NSA a month later %+.2f (%d months)\n",
	    k, r(X, Y1, k), r(X, Y2, k), r(X, Y3, k), r(XL, YL, kl), kl
}
function nxt(m,    y, mo) {	# "2015-01-01" -> "2015-02-01"
	y = substr(m, 1, 4) + 0; mo = substr(m, 6, 2) + 1
	if (mo == 13) { y++; mo = 1 }
	return sprintf("%04d-%02d-01", y, mo)
}
function r(x, y, k,    i, mx, my, sxy, sxx, syy) {
	for (i = 1; i <= k; i++) { mx += x[i] / k; my += y[i] / k }
	for (i = 1; i <= k; i++) {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) ^ 2; syy += (y[i] - my) ^ 2
	}
	return (sxx > 0 && syy > 0) ? sxy / sqrt(sxx * syy) : 0
}' "$T/a" "$T/b" "$T/c" "$T/d"
