#!/bin/sh
# signals: SIGTERM stops every filter cleanly.  Each filter reads its
# input from a pipe, and gets SIGTERM
#   mid-stream  while a writer fills the pipe slowly (records flow);
#   idle        after a third of the input, the writer holding the pipe
#               open with nothing more (the filter waits in read);
#   in write    with all the input there and its output a pipe nobody
#               reads for a while (the filter is blocked writing; stdio
#               used to fail with "Interrupted system call").
# The filter must then exit 0 within a second (of the reader starting,
# in write), with nothing on stderr, and what it wrote must be a valid
# stream whose records are the first ones of an undisturbed run on the
# whole input.  cv-train stores nothing (a model of part of the input
# would pass for one of all of it) and says so.  The wait that a signal
# just before it used to make endless is tests/unit/test-signal.c.
. tests/e2e/common.inc
need_python
T=$TMPDIR
MAP=pipelines/maps/auction.map

# The inputs of each stage, from one simulated market.
cv-sim -N 40000 --segments 40 --loans 200 -o "$T/events.avro" 2> "$T/err" &&
    cv-features -o "$T/features.avro" "$T/events.avro" &&
    cv-predict -o "$T/valuation.avro" "$T/features.avro" &&
    cv-grade -o "$T/graded.avro" "$T/valuation.avro" &&
    cv-warn -o "$T/warning.avro" "$T/graded.avro" ||
    { echo "not ok - the chain's inputs: $(cat "$T/err")"; exit 1; }
cv-train -m "$T/models.db" "$T/features.avro" 2> "$T/err" ||
    { echo "not ok - a model store: $(cat "$T/err")"; exit 1; }
# Sales that cv-ingest takes whole (its rejects left out), six times over.
CSV=pipelines/data/auction_toyota_camry_12k.csv
cv-ingest -e "$T/rejects" -M "$MAP" "$CSV" > /dev/null 2>&1
sed -n 's/^{"where":"[^"]*:\([0-9]*\)".*/\1d/p' "$T/rejects" > "$T/drop.sed"
sed -f "$T/drop.sed" "$CSV" > "$T/clean.csv"
for i in 1 2 3 4 5 6; do
	sed 1d "$T/clean.csv"
done | { head -1 "$T/clean.csv"; cat; } > "$T/sales.csv"

# NAME | INPUT | OUTPUT KIND (avro, csv, table: text at the end, db) | CMD
cat > "$T/cases" <<EOF
cv-cat -f avro|events.avro|avro|cv-cat -f avro
cv-cat -f csv|events.avro|csv|cv-cat -f csv
cv-ingest|sales.csv|avro|cv-ingest -M $MAP
cv-features|events.avro|avro|cv-features
cv-predict|features.avro|avro|cv-predict -m $T/models.db
cv-grade|valuation.avro|avro|cv-grade
cv-warn|graded.avro|avro|cv-warn
cv-store|warning.avro|db|cv-store -d OUT.db
cv-score|valuation.avro|text|cv-score
cv-train|features.avro|none|cv-train -m OUT.db
EOF

"$PY" - "$T" <<'EOF'
import os, shlex, signal, sqlite3, subprocess, sys, threading, time
T = sys.argv[1]
# Under valgrind everything is 20 to 50 times slower.
SLOW = 8 if os.environ.get("VALGRIND") == "1" else 1
LIMIT = 1.0 * SLOW
TRAIN_SAYS = b"cv-train: stopped by a signal; the model store is unchanged\n"

def records(kind, path):
    """The records of an output as lines of text, or None if invalid."""
    if kind == "avro":
        p = subprocess.run(["cv-cat", path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        return p.stdout.splitlines() if p.returncode == 0 and \
            not p.stderr else None
    if kind == "csv":
        return open(path, "rb").read().splitlines(keepends=True)
    if kind == "db":
        try:
            db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
            rows = db.execute("SELECT * FROM warning ORDER BY rowid") \
                .fetchall()
            db.close()
            return [repr(r).encode() for r in rows]
        except sqlite3.Error as e:
            print("# %s: %s" % (path, e))
            return None
    return []

def feed(proc, data, mode, stop):
    """Write data to proc's stdin: slowly, a third and hold, or all."""
    n = len(data) // 3 if mode == "idle" else len(data)
    pos = 0
    try:
        while pos < n and not stop.is_set():
            k = min(16384, n - pos)
            proc.stdin.write(data[pos:pos + k])
            proc.stdin.flush()
            pos += k
            if mode == "mid":
                time.sleep(0.01)
        stop.wait()
    except (BrokenPipeError, ValueError):
        pass

def drain(pipe, out, start):
    """Copy pipe to the file out once start is set."""
    start.wait()
    with open(out, "wb") as f:
        while True:
            b = pipe.read(65536)
            if not b:
                break
            f.write(b)

def remove(*paths):
    for f in paths:
        if os.path.exists(f):
            os.remove(f)

def try_one(name, kind, cmd, data, want, mode):
    label = "%s, SIGTERM %s" % (name, {"mid": "mid-stream", "idle":
                                       "while idle", "write": "in write"}[mode])
    out, db, err = (os.path.join(T, f) for f in ("sig.out", "sig.db",
                                                 "sig.err"))
    remove(out, db, db + "-journal", db + "-wal", db + "-shm")
    start = threading.Event()
    stop = threading.Event()
    with open(err, "wb") as e:
        p = subprocess.Popen(shlex.split(cmd.replace("OUT.db", db)),
                             stdin=subprocess.PIPE, stderr=e,
                             stdout=subprocess.PIPE if mode == "write"
                             else open(out, "wb"))
        w = threading.Thread(target=feed, args=(p, data, mode, stop))
        w.start()
        if mode == "write":
            r = threading.Thread(target=drain, args=(p.stdout, out, start))
            r.start()
        time.sleep(0.6 * SLOW)
        p.send_signal(signal.SIGTERM)
        if mode == "write":
            time.sleep(0.6 * SLOW)
            start.set()
        t0 = time.monotonic()
        try:
            st = p.wait(timeout=LIMIT)
            dt = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            st = None
            p.kill()
            p.wait()
        stop.set()
        start.set()
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        w.join()
        if mode == "write":
            r.join()
    said = open(err, "rb").read()
    if st is None:
        return "not ok - %s: still running %g s after %s" % (
            label, LIMIT, "its reader began" if mode == "write" else
            "SIGTERM")
    if st != 0 or said != (TRAIN_SAYS if name == "cv-train" else b""):
        return "not ok - %s: status %d, stderr %r" % (label, st,
                                                      said[:300])
    if kind == "none":
        return "%s - %s: exit 0 in %.2f s, the store %s" % (
            "not ok" if os.path.exists(db) else "ok", label, dt,
            "made" if os.path.exists(db) else "not made")
    if kind == "text":
        ok = os.path.getsize(out) > 0
        return "%s - %s: exit 0 in %.2f s, the scores of what it read" % (
            "ok" if ok else "not ok", label, dt)
    got = records(kind, db if kind == "db" else out)
    ok = got is not None and got == want[:len(got)] and len(got) > 0
    return "%s - %s: exit 0 in %.2f s, %s of %d records" % (
        "ok" if ok else "not ok", label, dt, "invalid output" if got is
        None else "a valid prefix, %d" % len(got), len(want))

for line in open(os.path.join(T, "cases")):
    name, inp, kind, cmd = line.rstrip("\n").split("|")
    full, fdb = os.path.join(T, "full.out"), os.path.join(T, "full.db")
    remove(full, fdb)
    with open(os.path.join(T, inp), "rb") as i, open(full, "wb") as o:
        if subprocess.run(shlex.split(cmd.replace("OUT.db", fdb)),
                          stdin=i, stdout=o).returncode != 0:
            print("not ok - %s: the undisturbed run failed" % name)
            continue
    want = records(kind, fdb if kind == "db" else full)
    data = open(os.path.join(T, inp), "rb").read()
    for mode in ("mid", "idle", "write"):
        if mode == "write" and kind not in ("avro", "csv"):
            continue
        print(try_one(name, kind, cmd, data, want, mode))

# The two that read no records: cv-sim while it writes, cv-broker while it
# serves.
def stopped(p):
    p.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    try:
        st = p.wait(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        st = None
        p.kill()
        p.wait()
    return st, time.monotonic() - t0

out = os.path.join(T, "sim.out")
with open(out, "wb") as o:
    p = subprocess.Popen(["cv-sim", "-N", "5000000"], stdout=o,
                         stderr=subprocess.PIPE)
    time.sleep(0.6 * SLOW)
    st, dt = stopped(p)
said = p.stderr.read()
c = subprocess.run(["cv-cat", "-v", "-f", "avro", out],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
n = c.stderr.decode().split("read ")[-1].split(" ")[0]
print("%s - cv-sim, SIGTERM while writing: status %s in %.2f s, stderr "
      "%r, cv-cat %s (%s records)" % ("ok" if st == 0 and not said and
      c.returncode == 0 and n.isdigit() and int(n) > 0 else "not ok",
      st, dt, said[:200], "reads it all" if c.returncode == 0 else
      "fails", n))
p = subprocess.Popen(["cv-broker"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, stdin=subprocess.PIPE)
line = p.stdout.readline()
time.sleep(2 * SLOW)
# librdkafka's mock broker threads wait in poll() with a one-second
# timeout before they see the cluster go: up to a second more.
LIMIT += 1.5
st, dt = stopped(p)
said = p.stderr.read()
print("%s - cv-broker, SIGTERM while serving %s: status %s in %.2f s, "
      "stderr %r" % ("ok" if st == 0 and not said and line else "not ok",
                     line.strip().decode(), st, dt, said[:200]))
EOF
