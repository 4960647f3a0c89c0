#!/bin/sh
# charts.sh [VALUATION.avro ...]: the charts of make run, each as PNG and
# SVG in out/ (gnuplot):
#   error-by-month     MdAPE of the hedonic value and of MMR per month
#   error-by-density   the same per density class (cv-score -g density)
#   predicted          value against the realised price, log-log
#   lights             the loan book's lights per month (out/cvpipe.db)
#   index              the cvpipe index beside Manheim's MMR index and the
#                      used-car CPI (out/index-compare.dat)
# The valuations default to make run's Camry and Odyssey backtests, scored
# together; the data behind each chart is left beside it as NAME.dat.
set -u
cd "$(dirname "$0")/.."
PATH=$PWD/bin:$PATH
O=out
[ $# -gt 0 ] || set -- $O/valuation-camry.avro $O/valuation-odyssey.avro \
    $O/valuation-multi.avro
command -v gnuplot > /dev/null || { echo "charts: no gnuplot" >&2; exit 1; }

# plot NAME SCRIPT: SCRIPT (gnuplot commands after the terminal) to
# NAME.png and NAME.svg.
plot() {
	for t in "pngcairo size 900,540 font 'Sans,10':png" \
	    "svg size 900,540 font 'Sans,10' background '#ffffff':svg"; do
		printf "set terminal %s\nset output '%s'\n%s\n" "${t%:*}" \
		    "$O/$1.${t##*:}" "$2" | gnuplot ||
		    { echo "charts: $1: gnuplot failed" >&2; exit 1; }
	done
}

# score GROUPING: cv-score's CSV rows of that grouping for value and MMR,
# as "group value-mdape mmr-mdape value-n" lines.
score() {
	g=$1
	shift
	cv-score -f csv -C value,reference_value -g "$g" "$@" 2>/dev/null |
	    awk -F, -v g="$g" '$1 == g && $3 == "value" { n[$2] = $4;
		v[$2] = $5; o[++k] = $2 }
	    $1 == g && $3 == "reference_value" { r[$2] = $5 }
	    END { for (i = 1; i <= k; i++) printf "%s %s %s %d\n", o[i],
		v[o[i]] == "" ? "NaN" : 100 * v[o[i]],
		r[o[i]] == "" ? "NaN" : 100 * r[o[i]], n[o[i]] }'
}

score month "$@" > $O/error-by-month.dat || exit 1
plot error-by-month "
set title 'Valuation error by month (walk-forward backtest, same sales)'
set ylabel 'median absolute % error'; set xlabel 'month of sale'
set style data histograms; set style histogram clustered gap 1
set style fill solid 0.8 border -1; set yrange [0:*]; set key top right
set grid ytics
plot '$O/error-by-month.dat' using 2:xtic(1) title 'cvpipe value' lc rgb '#3465a4', \
     '' using 3 title 'Manheim MMR' lc rgb '#cc8000', \
     '' using 0:(\$2 + 0.4):(sprintf('n %d', \$4)) with labels offset -1.5,0.5 notitle"

score density "$@" > $O/error-by-density.dat || exit 1
plot error-by-density "
set title 'Valuation error by density: earlier sales of the same make/model in the stream'
set ylabel 'median absolute % error'; set xlabel 'earlier sales of the model'
set style data histograms; set style histogram clustered gap 1
set style fill solid 0.8 border -1; set yrange [0:*]; set key top right
set grid ytics
plot '$O/error-by-density.dat' using 2:xtic(1) title 'cvpipe value' lc rgb '#3465a4', \
     '' using 3 title 'Manheim MMR' lc rgb '#cc8000', \
     '' using 0:(valid(2) ? \$2 + 0.4 : 0.4):(sprintf('n %d', \$4)) with labels offset -1.5,0.5 notitle"

cv-cat -f csv -C price,value,reference_value "$@" |
    awk -F, 'NR > 1 && $1 != "" && $2 != "" { print $1, $2, $3 == "" ? "NaN" : $3 }' \
    > $O/predicted.dat || exit 1
plot predicted "
set title sprintf('Predicted against realised price (%d sales, walk-forward)', $(wc -l < $O/predicted.dat))
set xlabel 'realised price (USD)'; set ylabel 'cvpipe value (USD)'
set logscale xy; set xrange [200:60000]; set yrange [200:60000]
set grid; set key top left; set size square
plot '$O/predicted.dat' using 1:2 with points pt 7 ps 0.25 lc rgb '#803465a4' title 'sales', \
     x with lines lw 2 lc rgb '#cc0000' title 'value = price', \
     0.9 * x with lines dt 2 lw 2 lc rgb '#e08000' title '±10 %', 1.1 * x with lines dt 2 lw 2 lc rgb '#e08000' notitle"

sqlite3 -separator ' ' $O/cvpipe.db "select strftime('%Y-%m', observed_at / 1000,
    'unixepoch'), sum(light = 'GREEN'), sum(light = 'YELLOW'),
    sum(light = 'RED') from warning where light is not null group by 1
    order by 1" > $O/lights.dat || exit 1
plot lights "
set title 'The loan book: loans per light at each month-end snapshot'
set ylabel 'loans'; set xlabel 'month'
set style data histograms; set style histogram rowstacked
set style fill solid 0.85 border -1; set boxwidth 0.75; set key top right
set grid ytics; set yrange [0:*]
plot '$O/lights.dat' using 2:xtic(1) title 'GREEN' lc rgb '#4e9a06', \
     '' using 3 title 'YELLOW' lc rgb '#edd400', '' using 4 title 'RED' lc rgb '#cc0000'"

[ -s $O/index-compare.dat ] || { echo "charts: no $O/index-compare.dat (make run)" >&2; exit 1; }
cp $O/index-compare.dat $O/index.dat
plot index "
set title 'The cvpipe index of the auction sales beside Manheim and the CPI (first month = 100)'
set ylabel 'index'
set xdata time; set timefmt '%Y-%m-%d'; set format x '%b %Y'
set grid; set key outside below horizontal; set offsets 864000, 864000, 0.5, 0.5
plot '$O/index.dat' using 1:2:(1.96 * \$3) with yerrorlines lw 2 pt 7 lc rgb '#3465a4' title 'cvpipe.index (market *, ±1.96 se)', \
     '' using 1:4 with linespoints lw 2 pt 5 lc rgb '#cc8000' title 'same index over Manheim MMR', \
     '' using 1:5 with linespoints lw 2 pt 9 lc rgb '#555753' title 'used-car CPI, NSA', \
     '' using 1:6 with linespoints dt 2 pt 9 lc rgb '#888a85' title 'used-car CPI, SA'"
echo "charts: $(ls $O/*.png | wc -l) PNG and $(ls $O/*.svg | wc -l) SVG in $O/"
