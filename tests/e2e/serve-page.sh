#!/bin/sh
# serve-page: cv-serve's page in headless Chromium (Debian's chromium,
# driven over its DevTools protocol with python3-websocket): the
# dashboard's counts (loans per light, grades, watch list, worst loans,
# data quality) equal the sqlite tables; the form, filled in and
# submitted, shows the value /v1/value gives for that vehicle, and a bad
# year shows the error naming the field.  Screenshots of both go to
# $SERVE_SHOTS (a folder; by default the test's own, removed after).
set -u
. tests/e2e/common.inc
. tests/e2e/serve.inc
need_python websocket sqlite3
CHROME=$(command -v chromium || command -v chromium-browser) ||
    { echo "skip: no chromium"; exit 77; }
command -v curl > /dev/null || { echo "skip: no curl"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/serve-page.XXXXXX")
trap 'kill $SERVE_PID $CHROME_PID 2>/dev/null; rm -rf "$T"' EXIT INT TERM
SERVE_PID= CHROME_PID=
SHOTS=${SERVE_SHOTS:-$T/shots}
mkdir -p "$SHOTS"

serve_world
check "the world made" test $? -eq 0
serve_start
check "cv-serve up" test $? -eq 0
"$CHROME" --headless --no-sandbox --disable-gpu --no-first-run \
    --hide-scrollbars --remote-debugging-port=0 --remote-allow-origins='*' \
    --user-data-dir="$T/chrome" --window-size=1200,900 about:blank \
    > "$T/chrome.log" 2>&1 &
CHROME_PID=$!
i=0
while [ ! -s "$T/chrome/DevToolsActivePort" ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "chromium up, its DevTools port open" test -s "$T/chrome/DevToolsActivePort"
DEVTOOLS=$(head -1 "$T/chrome/DevToolsActivePort")

"$PY" - "$DEVTOOLS" "$URL" "$T/cvpipe.db" "$SHOTS" <<'PYEOF'
import base64, json, sqlite3, sys, time, urllib.request
import websocket

devtools, url, dbpath, shots = sys.argv[1:5]

def check(name, ok, detail=""):
    print(("ok - " if ok else "not ok - ") + name)
    if not ok and detail:
        print("#   " + str(detail).replace("\n", "\n#   "))

targets = json.load(urllib.request.urlopen(
    "http://127.0.0.1:%s/json/list" % devtools))
page = [t for t in targets if t["type"] == "page"][0]
ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
seq = 0

def call(method, **params):
    global seq
    seq += 1
    ws.send(json.dumps({"id": seq, "method": method, "params": params}))
    while True:
        m = json.loads(ws.recv())
        if m.get("id") == seq:
            if "error" in m:
                raise RuntimeError("%s: %s" % (method, m["error"]))
            return m["result"]

def js(expr):
    r = call("Runtime.evaluate", expression=expr, returnByValue=True,
             awaitPromise=True)
    if "exceptionDetails" in r:
        raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
    return r["result"].get("value")

def wait_for(expr, want, seconds=20):
    t0 = time.time()
    while time.time() - t0 < seconds:
        v = js(expr)
        if v in want:
            return v
        time.sleep(0.1)
    return js(expr)

def shot(name, height):
    call("Emulation.setDeviceMetricsOverride", width=1200, height=height,
         deviceScaleFactor=1, mobile=False)
    png = call("Page.captureScreenshot", format="png",
               captureBeyondViewport=True)["data"]
    with open("%s/%s" % (shots, name), "wb") as f:
        f.write(base64.b64decode(png))

call("Page.enable")
call("Runtime.enable")
call("Page.navigate", url=url + "/")
state = wait_for("document.body && document.body.dataset.board",
                 ("loaded", "partial"))
check("the dashboard loaded every part (%s)" % state, state == "loaded",
      js("document.querySelector('#health').textContent"))

db = sqlite3.connect(dbpath)
LAST = """(select w.* from warning w join (select loan_id, max(observed_at)
    as t from warning group by loan_id) l on w.loan_id = l.loan_id and
    w.observed_at = l.t)"""
for light in ("RED", "YELLOW", "GREEN"):
    want = db.execute("select count(*) from %s where light = ?" % LAST,
                      (light,)).fetchone()[0]
    shown = js("document.querySelector('#count-%s b').textContent" % light)
    check("dashboard: %s loans shown %s, the table has %d" %
          (light, shown, want), shown.replace(",", "") == str(want))
grades = db.execute("select grade, count(*) from %s group by grade order by "
                    "grade" % LAST).fetchall()
shown = js("""[...document.querySelectorAll('#grades tbody tr')].map(r =>
    [...r.cells].slice(0, 2).map(c => c.textContent))""")
check("dashboard: loans per grade as the table",
      [(g, int(n.replace(",", ""))) for g, n in shown] == grades,
      (shown, grades))
watch = db.execute("select count(*) from %s where watchlist = 1" %
                   LAST).fetchone()[0]
shown = js("document.querySelector('#watch-total').textContent")
rows = js("document.querySelectorAll('#watchlist tbody tr').length")
check("dashboard: the watch list (%s, %d rows)" % (shown, rows),
      shown == "(%d)" % watch and rows == min(watch, 20))
worst = [r[0] for r in db.execute(
    "select loan_id from %s order by case light when 'RED' then 0 when "
    "'YELLOW' then 1 else 2 end, ltv desc, loan_id limit 10" % LAST)]
shown = js("""[...document.querySelectorAll('#worst tbody tr')].map(r =>
    r.cells[0].textContent)""")
check("dashboard: the ten worst loans, in order", shown == worst,
      (shown, worst))
nq = db.execute("select count(*) from quality").fetchone()[0]
check("dashboard: the quality table's %d sources" % nq,
      js("document.querySelectorAll('#quality-table tbody tr').length") == nq)
check("dashboard: the index and the CPI drawn",
      js("document.querySelectorAll('#index path').length") == 2 and
      js("document.querySelectorAll('#months rect').length") > 0)
shot("dashboard.png", 2400)

vehicle = {"make": "Honda", "model": "Odyssey", "trim": "EX-L",
           "model_year": 2011, "mileage_km": 150000, "condition": 0.4,
           "region": "pa", "vin": "", "loan_balance": 3000,
           "date": "2026-08-01T12:00:00Z"}
call("Emulation.setDeviceMetricsOverride", width=1200, height=900,
     deviceScaleFactor=1, mobile=False)
js("window.scrollTo(0, 0)")
fill = "".join("document.querySelector('[name=%s]').value = %s;" %
               (k, json.dumps(str(v))) for k, v in vehicle.items())
js(fill + "document.querySelector('#submit').click(); true")
state = wait_for("document.body.dataset.state", ("valued", "error"))
check("the form: submitted and valued (%s)" % state, state == "valued",
      js("document.querySelector('#error').textContent"))
shown = js("document.querySelector('#value-out').dataset.value")
body = dict((k, v) for k, v in vehicle.items() if v != "")
req = urllib.request.Request(url + "/v1/value",
                             data=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
api = json.load(urllib.request.urlopen(req))
check("the form shows the value /v1/value gives (%s)" % shown,
      shown is not None and float(shown) == api["value"], (shown, api))
light = js("document.querySelector('#light-out').textContent")
grade = js("document.querySelector('#grade-out').textContent")
check("the form shows its light (%s) and grade (%s)" % (light, grade),
      light == api["light"] and grade.startswith(api["grade"] + " "))
check("the form shows the message",
      js("document.querySelector('#message-out').textContent") ==
      api["message"])
shot("valued.png", 900)

js("document.querySelector('[name=model_year]').value = '3012';"
   "document.querySelector('#submit').click(); true")
state = wait_for("document.body.dataset.state", ("error",))
err = js("document.querySelector('#error').textContent")
check("a bad year: the error shown names the field (%s)" % err,
      state == "error" and err.startswith("model_year: "))
shot("error.png", 600)
ws.close()
PYEOF
kill $CHROME_PID 2>/dev/null
wait $CHROME_PID 2>/dev/null
CHROME_PID=
serve_stop
