#!/bin/sh
# backtest.sh FEATURES MODELS OUT [month|quarter]: walk-forward valuation.
# At the start of every month (or quarter) of the sales in FEATURES,
# cv-train fits the models on the sales before it (-u) into the store
# MODELS; then cv-predict -P values every sale with the version in force
# at its time.  So each prediction uses only earlier sales, as a monthly
# (quarterly) retrain in production would.  Sales before the first version
# get the built-in defaults (version 0).  cv-train's messages go to
# MODELS.log; a refused fit keeps the store's last model of its kind.
set -u
# The programs of this tree first, so the script runs without bin/ on PATH.
PATH=$(cd "$(dirname "$0")/.." && pwd)/bin:$PATH
[ $# -ge 3 ] || { echo "usage: backtest.sh features models out [month|quarter]" >&2; exit 2; }
F=$1 M=$2 OUT=$3 STEP=${4:-month}
rm -f "$M" "$M.log"
written=0 refused=0
for month in $(cv-cat -f csv -C observed_at "$F" | sed 1d | cut -c1-7 |
    sort -u | sed 1d); do
	case $STEP:$month in
	quarter:*-0[2356]|quarter:*-0[89]|quarter:*-1[12]) continue ;;
	esac
	if cv-train -m "$M" -u "$month-01" "$F" 2>> "$M.log"; then
		written=$((written + 1))
	else
		refused=$((refused + 1))
	fi
done
echo >&2 "backtest: $(sqlite3 "$M" 'select count(*) from versions' 2>/dev/null ||
    echo 0) versions in $M ($refused runs refused a fit: $M.log)"
cv-predict -P -m "$M" -o "$OUT" "$F"
