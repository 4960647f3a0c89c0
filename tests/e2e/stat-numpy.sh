#!/bin/sh
# stat-numpy: the fits of filters/lib/stat.c against numpy on random
# data, an implementation that shares nothing with GSL's: (1) the rolling
# regression (window 24) against least squares on each window with the
# textbook slope SE; (2) the forgetting weighted least squares (half-life
# 90 days, irregular times, a constant and three regressors) against
# weighted least squares on every point so far with weights
# 2^-((t - t_i) / 90), and the SE formula documented in stat.h.  Agreement
# to 1e-9 relative.  tests/e2e/stat-driver.c feeds the library; this
# script builds it against the libcv.a beside $BIN (else build/rel).  Run
# from the repository root (tests/run does).
set -u
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/stat-numpy.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

if ! "$PY" -c 'import numpy' 2>/dev/null; then
	echo "skip: no numpy for $PY"
	exit 77
fi

LIB=build/rel/libcv.a
if [ -n "${BIN:-}" ] && [ -f "$BIN/../libcv.a" ]; then
	LIB=$BIN/../libcv.a
fi
if [ ! -f "$LIB" ]; then
	echo "not ok - $LIB: run make first"
	exit 1
fi
# A sanitized library needs the sanitizer runtimes in the driver too.
SAN=
if nm "$LIB" 2>/dev/null | grep -q __asan_; then
	SAN=address
fi
if nm "$LIB" 2>/dev/null | grep -q __ubsan_; then
	SAN=${SAN:+$SAN,}undefined
fi
SANFLAGS=${SAN:+-fsanitize=$SAN}

if ${CC:-cc} -std=c11 -D_GNU_SOURCE -Ifilters $SANFLAGS -o "$T/driver" \
    tests/e2e/stat-driver.c "$LIB" \
    $(pkg-config --cflags --libs avro-c gsl jansson sqlite3 rdkafka) -lm \
    2> "$T/cc.err"; then
	echo "ok - build stat-driver"
else
	echo "not ok - build stat-driver"
	sed 's/^/#   /' "$T/cc.err" | head -20
	exit 1
fi
DRIVER=$T/driver
if [ "${VALGRIND:-0}" = 1 ]; then
	{
		echo '#!/bin/sh'
		echo "exec valgrind -q --error-exitcode=99 --leak-check=full \\"
		echo "    --errors-for-leak-kinds=definite '$T/driver' \"\$@\""
	} > "$T/vgdriver"
	chmod +x "$T/vgdriver"
	DRIVER=$T/vgdriver
fi

"$PY" - "$DRIVER" <<'EOF'
import subprocess, sys
import numpy as np

driver = sys.argv[1]
REL = 1e-9
rng = np.random.default_rng(20240611)


def run(args, text):
    p = subprocess.run([driver] + args, input=text, capture_output=True,
                       text=True)
    if p.returncode != 0:
        print("# driver exited %d: %s" % (p.returncode, p.stderr.strip()))
        return None
    return p.stdout.splitlines()


def report(ok, name, detail=""):
    print("%s - %s" % ("ok" if ok else "not ok", name))
    if detail:
        print("# " + detail)


class Worst:
    """The largest relative error seen per quantity."""

    def __init__(self):
        self.err = {}

    def add(self, name, got, want):
        e = abs(got - want) / max(abs(want), 1e-300)
        if e > self.err.get(name, (0, ""))[0]:
            self.err[name] = (e, "got %.17g want %.17g" % (got, want))

    def check(self, prefix):
        for name in sorted(self.err):
            e, what = self.err[name]
            report(e <= REL, "%s %s within %g" % (prefix, name, REL),
                   "max relative error %.3g (%s)" % (e, what))


# (1) Rolling OLS, window 24: ln index on ln volume with noise.
W = 24
n = 300
x = rng.normal(8, 0.4, n)
y = 4 + 0.35 * x + rng.normal(0, 0.15, n)
x[100:130] = rng.normal(8, 0.02, 30)    # little spread for a while
out = run(["ols", str(W)], "".join("%r %r\n" % (a, b) for a, b in zip(x, y)))
if out is None or len(out) != n:
    report(False, "ols: one line per point")
else:
    worst = Worst()
    bad = []
    for k, line in enumerate(out, 1):
        f = line.split()
        xs, ys = x[max(0, k - W):k], y[max(0, k - W):k]
        m = len(xs)
        if int(f[0]) != m:
            bad.append("line %d: n %s, want %d" % (k, f[0], m))
            continue
        if m < 3:
            if f[1:] != ["-"]:
                bad.append("line %d: fit with %d points" % (k, m))
            continue
        if f[1:] == ["-"]:
            bad.append("line %d: no fit" % k)
            continue
        X = np.column_stack([np.ones(m), xs])
        (b0, b1), _, _, _ = np.linalg.lstsq(X, ys, rcond=None)
        rss = np.sum((ys - b0 - b1 * xs) ** 2)
        sxx = np.sum((xs - xs.mean()) ** 2)
        tss = np.sum((ys - ys.mean()) ** 2)
        want = [b1, np.sqrt(rss / (m - 2) / sxx), b0, 1 - rss / tss]
        for name, g, w in zip(["slope", "slope_se", "intercept", "r2"],
                              map(float, f[1:]), want):
            worst.add(name, g, w)
    report(not bad, "ols: a fit for every window of 3 or more points",
           "; ".join(bad[:5]))
    worst.check("ols:")

# (2) WLS with forgetting: ln price on 1, age, mileage/1e4, condition-0.5.
H = 90.0
P = 4
n = 400
gaps = rng.exponential(6, n) * (rng.random(n) > 0.2)    # ties too
t = 16000 + np.cumsum(gaps)
age = rng.uniform(0, 12, n)
mil = np.maximum(0, 1.4 * age + rng.normal(0, 2, n))
cond = rng.uniform(-0.4, 0.4, n)
X = np.column_stack([np.ones(n), age, mil, cond])
y = 10 - 0.11 * age - 0.025 * mil + 0.5 * cond + rng.normal(0, 0.1, n)
lines, events = [], []
for i in range(n):
    lines.append("%r %s %r\n" % (t[i], " ".join("%r" % v for v in X[i]),
                                 y[i]))
    events.append((i + 1, t[i]))
    if i % 37 == 36:    # a fit some time after the latest point
        tf = t[i] + rng.uniform(1, 200)
        lines.append("fit %r\n" % tf)
        events.append((i + 1, tf))
out = run(["wls", str(P), repr(H)], "".join(lines))
if out is None or len(out) != len(events):
    report(False, "wls: one line per event")
else:
    worst = Worst()
    bad = []
    nfit = 0
    for (k, tnow), line in zip(events, out):
        f = line.split()
        w = 2.0 ** (-(tnow - t[:k]) / H)
        sw, sw2 = w.sum(), (w * w).sum()
        neff = sw * sw / sw2
        if abs(neff - (P + 1)) < 1e-9:
            continue
        if neff < P + 1:
            if f != ["-"]:
                bad.append("n_eff %.3g: fit" % neff)
            continue
        if f == ["-"]:
            bad.append("n_eff %.3g: no fit" % neff)
            continue
        nfit += 1
        Xk, yk = X[:k], y[:k]
        sq = np.sqrt(w)
        beta, _, _, _ = np.linalg.lstsq(Xk * sq[:, None], yk * sq,
                                        rcond=None)
        r = yk - Xk @ beta
        rss = np.sum(w * r * r)
        ybar = np.sum(w * yk) / sw
        tss = np.sum(w * (yk - ybar) ** 2)
        sig2 = rss / sw * neff / (neff - P)
        cov = sig2 * np.linalg.inv(Xk.T @ (Xk * w[:, None]))
        se = np.sqrt(np.diag(cov))
        got = list(map(float, f))
        names = ["n_eff", "sum_w", "sigma", "r2"] + \
            ["beta%d" % j for j in range(P)] + \
            ["se%d" % j for j in range(P)]
        want = [neff, sw, np.sqrt(sig2), 1 - rss / tss] + list(beta) + \
            list(se)
        for name, g, wv in zip(names, got, want):
            worst.add(name, g, wv)
    report(not bad and nfit > 300,
           "wls: a fit exactly when n_eff >= p + 1 (%d fits)" % nfit,
           "; ".join(bad[:5]))
    worst.check("wls:")
EOF
