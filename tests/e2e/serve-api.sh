#!/bin/sh
# serve-api: cv-serve end to end with curl on a small world made from the
# shipped data (tests/e2e/serve.inc): every endpoint, checked against the
# sqlite tables it reads; every kind of bad request answered with a 4xx
# and a JSON error naming the field (malformed JSON, unknown make,
# impossible year, negative mileage, a 10 MB body, unknown fields, wrong
# methods and queries); a slow client neither blocks another nor holds
# its connection past the timeout; the server still up after all of it;
# nothing it read changed; a new model version picked up without restart.
set -u
. tests/e2e/common.inc
. tests/e2e/serve.inc
command -v curl > /dev/null || { echo "skip: no curl"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/serve-api.XXXXXX")
trap 'kill $SERVE_PID 2>/dev/null; rm -rf "$T"' EXIT INT TERM
SERVE_PID=

serve_world
check "the world made (state, models, book in sqlite)" test $? -eq 0
cksum "$T/state.db" "$T/models.db" "$T/cvpipe.db" > "$T/sums.before"
serve_start -t 2
check "cv-serve up" test $? -eq 0
q() { sqlite3 "$T/cvpipe.db" "$1"; }
LAST="(select w.* from warning w join (select loan_id, max(observed_at) as t
    from warning group by loan_id) l on w.loan_id = l.loan_id and
    w.observed_at = l.t)"
get() {	# get PATH: the status, the body into $T/resp
	curl -s -o "$T/resp" -w '%{http_code}' "$URL$1"
}

st=$(get /healthz)
check "/healthz: 200, model version 1" test "$st" = 200 -a \
    "$(json_get "$T/resp" 'j["status"], j["model_version"]')" = "('ok', 1)"

V='{"make":"Toyota","model":"Camry","trim":"LE","model_year":2012,
    "mileage_km":80000,"condition":0.6,"region":"ca","loan_balance":9000,
    "date":"2026-12-01T00:00:00Z"}'
st=$(post "$V")
check "/v1/value: 200, a value inside its interval" test "$st" = 200 -a \
    "$(json_get "$T/resp" 'j["value_lo"] < j["value"] < j["value_hi"]')" = True
cp "$T/resp" "$T/first"
check "/v1/value: level, staleness, grade, LTV and light with reasons" test \
    "$(json_get "$T/resp" '(j["served"]["level"], j["served"]["data_as_of"],
    j["served"]["stale_days"] > 0, j["grade"] is not None,
    abs(j["ltv"] - 9000 / j["value"]) < 1e-9, j["light"] in
    ("GREEN", "YELLOW", "RED"), type(j["reasons"]) is list,
    j["record"]["light"] == j["light"])')" = \
    "('trim', '2026-07-16T00:00:00Z', True, True, True, True, True, True)"
st=$(post "$V" record=0)
check "/v1/value: the record only when asked for" test "$st" = 200 -a \
    "$(json_get "$T/resp" '"record" in j, j["light"] is not None')" = \
    "(False, True)"
st=$(post '{"make":"Honda","model":"Odyssey","model_year":2010,
    "mileage_km":120000,"condition":0.5}')
check "/v1/value: without a balance, graded and not lit" test "$st" = 200 -a \
    "$(json_get "$T/resp" '(j["light"], j["ltv"], j["grade"] is not None)')" \
    = "(None, None, True)"

red=$(q "select count(*) from $LAST where light = 'RED'")
st=$(get '/v1/loans?light=RED&limit=5')
check "/v1/loans?light=RED: the RED loans of the book ($red)" test "$st" = 200 \
    -a "$(json_get "$T/resp" 'j["total"], len(j["items"]),
    set(i["light"] for i in j["items"])')" = "($red, $([ $red -lt 5 ] &&
    echo $red || echo 5), {'RED'})"
get '/v1/loans?limit=3' > /dev/null; cp "$T/resp" "$T/all"
get '/v1/loans?limit=1&offset=2' > /dev/null
check "/v1/loans: paged (offset 2 is the third)" test \
    "$(json_get "$T/all" 'j["items"][2]["loan_id"]')" = \
    "$(json_get "$T/resp" 'j["items"][0]["loan_id"]')"
check "/v1/loans: every loan of the book" test \
    "$(json_get "$T/all" 'j["total"]')" = \
    "$(q "select count(distinct loan_id) from warning")"
id=$(json_get "$T/all" 'j["items"][0]["loan_id"]')
st=$(get "/v1/loans/$id")
check "/v1/loans/ID: its history, in time order" test "$st" = 200 -a \
    "$(json_get "$T/resp" 'j["total"], [i["observed_at"] for i in
    j["items"]] == sorted(i["observed_at"] for i in j["items"])')" = \
    "($(q "select count(*) from warning where loan_id = '$id'"), True)"
st=$(get /v1/loans/NO-SUCH-LOAN)
check "/v1/loans/ID: 404 for a loan not in the book" test "$st" = 404 -a \
    "$(json_get "$T/resp" 'j["field"]')" = id
st=$(get /v1/watchlist)
check "/v1/watchlist: the loans on it" test "$st" = 200 -a \
    "$(json_get "$T/resp" 'j["total"]')" = \
    "$(q "select count(*) from $LAST where watchlist = 1")"
st=$(get /v1/summary)
check "/v1/summary: loans per light" test "$st" = 200 -a \
    "$(json_get "$T/resp" '" ".join("%s=%d" % (r["light"], r["loans"])
    for r in j["lights"])')" = "$(q "select group_concat(light || '=' || n,
    ' ') from (select light, count(*) as n from $LAST group by light order
    by case light when 'RED' then 0 when 'YELLOW' then 1 else 2 end)")"
check "/v1/summary: loans per grade" test \
    "$(json_get "$T/resp" '" ".join("%s=%d" % (r["grade"], r["loans"])
    for r in j["grades"])')" = "$(q "select group_concat(grade || '=' || n,
    ' ') from (select grade, count(*) as n from $LAST group by grade order
    by grade)")"
st=$(get /v1/index)
check "/v1/index: the market index and the CPI beside it" test "$st" = 200 \
    -a "$(json_get "$T/resp" 'len(j["index"]), len(j["cpi"]) > 0')" = \
    "($(q "select count(*) from idx where segment = '*' and region = '*'"), True)"
st=$(get /v1/quality)
check "/v1/quality: the league table" test "$st" = 200 -a \
    "$(json_get "$T/resp" 'j["total"], j["items"][0]["source"]')" = \
    "($(q "select count(*) from quality"), '$(q "select source from quality
    where rank = 1")')"
st=$(get /v1/stress)
check "/v1/stress: base and the two scenarios, as numbers" test "$st" = 200 \
    -a "$(json_get "$T/resp" '[i["scenario"] for i in j["items"]],
    j["items"][0]["loans"]')" = "(['base', '-0.10', 'decay:0.05'], \
$(q "select loans from stress where scenario = 'base'").0)"
st=$(get /)
check "/: the page" test "$st" = 200 -a "$(grep -c 'id="vehicle-form"' \
    "$T/resp")" = 1
check "/app.js and /style.css" test "$(curl -s -o /dev/null -w \
    '%{http_code} %{content_type}' "$URL/app.js")" = \
    "200 text/javascript; charset=utf-8" -a "$(curl -s -o /dev/null -w \
    '%{http_code}' "$URL/style.css")" = 200

# Bad requests: a 4xx, a JSON error, the field named.
bad() {	# bad NAME WANT-STATUS WANT-FIELD BODY
	st=$(post "$4")
	check "bad request: $1: $2, field $3" test "$st" = "$2" -a \
	    "$(json_get "$T/resp" 'j.get("field")')" = "$3"
}
bad "malformed JSON" 400 body '{"make": "Toyota", "model":'
bad "not an object" 422 None '[1, 2]'
bad "empty body" 400 body ''
bad "a key twice" 400 body '{"make":"Toyota","make":"Honda","model":"X","model_year":2012}'
bad "unknown make" 422 make '{"make":"Trabant","model":"601","model_year":1980}'
bad "impossible year (future)" 422 model_year '{"make":"Toyota","model":"Camry","model_year":3012}'
bad "impossible year (1800)" 422 model_year '{"make":"Toyota","model":"Camry","model_year":1800}'
bad "year not whole" 422 model_year '{"make":"Toyota","model":"Camry","model_year":2012.5}'
bad "year as text" 422 model_year '{"make":"Toyota","model":"Camry","model_year":"2012"}'
bad "negative mileage" 422 mileage_km '{"make":"Toyota","model":"Camry","model_year":2012,"mileage_km":-1}'
bad "condition above 1" 422 condition '{"make":"Toyota","model":"Camry","model_year":2012,"condition":1.5}'
bad "negative balance" 422 loan_balance '{"make":"Toyota","model":"Camry","model_year":2012,"loan_balance":-5}'
bad "missing model" 422 model '{"make":"Toyota","model_year":2012}'
bad "unknown field" 422 paint '{"make":"Toyota","model":"Camry","model_year":2012,"paint":"red"}'
bad "bad date" 422 date '{"make":"Toyota","model":"Camry","model_year":2012,"date":"31/12/2026"}'
bad "date before the state" 422 date '{"make":"Toyota","model":"Camry","model_year":2012,"date":"2015-01-01"}'
bad "make over 255 bytes" 422 make "{\"make\":\"$(printf '%0300d' 0)\",\"model\":\"X\",\"model_year\":2012}"
head -c 10485760 /dev/zero | tr '\0' ' ' > "$T/big"
st=$(curl -s -o "$T/resp" -w '%{http_code}' --data-binary @"$T/big" "$URL/v1/value")
check "bad request: a 10 MB body: 413, field body" test "$st" = 413 -a \
    "$(json_get "$T/resp" 'j["field"]')" = body
st=$(curl -s -o "$T/resp" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
    --data-binary @"$T/big" "$URL/v1/value")
check "bad request: a 10 MB body, chunked: 413" test "$st" = 413
st=$(curl -s -o "$T/resp" -w '%{http_code}' "$URL/v1/value")
check "bad request: GET /v1/value: 405" test "$st" = 405
st=$(curl -s -o "$T/resp" -w '%{http_code}' -X DELETE "$URL/v1/loans")
check "bad request: DELETE /v1/loans: 405" test "$st" = 405
check "bad request: unknown path: 404" test "$(get /v1/nothing)" = 404
st=$(get '/v1/loans?light=BLUE')
check "bad request: light=BLUE: 400, field light" test "$st" = 400 -a \
    "$(json_get "$T/resp" 'j["field"]')" = light
st=$(get '/v1/loans?limit=-1')
check "bad request: limit=-1: 400, field limit" test "$st" = 400 -a \
    "$(json_get "$T/resp" 'j["field"]')" = limit

# A slow client (headers sent, the body trickling) and 50 idle
# connections: another request is answered at once; the slow one is
# closed after the 2 s timeout.
"$PY" - "$PORT" > "$T/slow" 2>&1 <<'PYEOF' &
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/value HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{")
t0 = time.time()
s.settimeout(10)
try:
    data = s.recv(4096)
except socket.timeout:
    data = b"still open"
print("closed after %.1f s: %r" % (time.time() - t0, data[:40]))
PYEOF
SLOW=$!
sleep 0.5
t0=$(date +%s%N)
st=$(post "$V")
t1=$(date +%s%N)
check "a slow client and 50 idle ones do not block another (200 in $(( (t1 - t0) / 1000000 )) ms)" \
    test "$st" = 200 -a $(( (t1 - t0) / 1000000 )) -lt 1000
wait $SLOW
check "the slow client is closed after the timeout ($(cat "$T/slow"))" \
    grep -q "closed after [2-5]\.[0-9] s: b''" "$T/slow"

st=$(get /metrics)
check "/metrics: requests by route and status, latency histogram, errors" \
    test "$st" = 200 -a "$(grep -c \
    -e '^cv_serve_requests_total{route="/v1/value",code="200"} [1-9]' \
    -e '^cv_serve_requests_total{route="/v1/value",code="422"} [1-9]' \
    -e '^cv_serve_request_seconds_bucket{route="/v1/value",le="+Inf"} [1-9]' \
    -e '^cv_serve_request_seconds_count{route="/v1/value"} [1-9]' \
    -e '^cv_serve_errors_total{route="/v1/value"} [1-9]' \
    -e '^cv_serve_timeouts_total [1-9]' \
    -e '^# TYPE cv_serve_request_seconds histogram' "$T/resp")" = 7
# Many requests at other dates and of other vehicles, four at a time:
# the answer for the first vehicle does not move (each request is served
# from the state as read).
pids=
for k in 1 2 3 4; do
	(for y in 2005 2008 2011 2014; do
		for d in 2026-08-01 2027-03-15 2030-01-01; do
			curl -s -o /dev/null -d "{\"make\":\"Toyota\",\"model\":
			    \"Camry\",\"model_year\":$y,\"mileage_km\":9000$k,
			    \"region\":\"ca\",\"date\":\"$d\"}" "$URL/v1/value"
		done
	done) &
	pids="$pids $!"
done
wait $pids
post "$V" > /dev/null
check "the same vehicle, the same answer after 48 others at other dates" \
    cmp -s "$T/first" "$T/resp"
check "still up after every bad request" test "$(get /healthz)" = 200
cksum "$T/state.db" "$T/models.db" "$T/cvpipe.db" > "$T/sums.after"
check "read-only: the state, the models and the tables unchanged" \
    cmp -s "$T/sums.before" "$T/sums.after"

# A new model version, picked up without a restart.
cv-train -m "$T/models.db" -u 2015-06-01 "$T/f.avro" 2>/dev/null
sleep 1.2
get /healthz > /dev/null
check "a new model version picked up without a restart" test \
    "$(json_get "$T/resp" 'j["model_version"]')" = 2
serve_stop
check "SIGTERM: exits 0" test $? -eq 0
check "no complaint from the server" test ! -s "$T/serve.err" -o \
    "$(grep -vc 'changed, reading it again' "$T/serve.err")" = 0
