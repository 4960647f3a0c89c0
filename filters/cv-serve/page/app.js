// cv-serve's page: the valuation form (POST /v1/value) and the dashboard
// (GET /v1/summary, /v1/watchlist, /v1/loans, /v1/stress, /v1/index,
// /v1/quality).  No build step, no library.
"use strict";

const $ = (sel) => document.querySelector(sel);
// Numbers with thousands separators; beyond a billion (an interval from
// data years older than the date) in powers of ten.
const fmt = (x, d = 0) => x == null ? "–" : Math.abs(x) >= 1e9 ?
  Number(x).toExponential(2) : Number(x).toLocaleString("en-US",
    { maximumFractionDigits: d, minimumFractionDigits: d });
const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "'": "&#39;" }[c]));
const light = (l) => l ? `<span class="light ${esc(l)}">${esc(l)}</span>` : "–";

async function getJSON(url) {
  const r = await fetch(url);
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

function fillRows(table, rows, cells) {
  $(table + " tbody").innerHTML = rows.map((r) =>
    "<tr>" + cells(r).map((c) => `<td${typeof c === "number" ||
      /^[\d.,–-]+$/.test(c) ? ' class="n"' : ""}>${c}</td>`).join("") +
    "</tr>").join("");
}

// The valuation form.
$("#vehicle-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = {};
  for (const [k, v] of new FormData(ev.target)) {
    if (v.trim() === "") continue;
    body[k] = ["model_year", "mileage_km", "condition", "loan_balance"]
      .includes(k) ? Number(v) : v.trim();
  }
  $("#error").hidden = true;
  document.body.dataset.state = "valuing";
  try {
    const r = await fetch("/v1/value", { method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
    const a = await r.json();
    if (!r.ok) {
      $("#result").hidden = true;
      $("#error").textContent = a.error;
      $("#error").dataset.field = a.field || "";
      $("#error").hidden = false;
      document.body.dataset.state = "error";
      return;
    }
    const s = a.served;
    $("#value-out").textContent = a.value == null ? "no value" :
      fmt(a.value) + " " + a.currency;
    $("#value-out").dataset.value = a.value;
    $("#light-out").outerHTML = `<span id="light-out" class="light ${esc(a.light || "")}">${esc(a.light || "no loan")}</span>`;
    $("#interval-out").textContent = fmt(a.value_lo) + " – " + fmt(a.value_hi);
    $("#next-out").textContent = fmt(a.value_next);
    $("#level-out").textContent = `${s.level || "no fit"} level of ${s.segment}, ` +
      `${fmt(s.comparables, 1)} effective comparables; index ${s.index_level || "none"}; ` +
      `${s.model} model v${s.model_version}`;
    $("#stale-out").textContent = `last sale at that level ${s.sales_as_of || "–"} ` +
      `(${fmt(s.stale_days, 1)} days before the date); market data ${s.data_as_of || "–"}`;
    $("#grade-out").textContent = `${a.grade} (score ${fmt(a.score, 1)}${a.watchlist ? ", on the watch list" : ""})`;
    $("#ltv-out").textContent = a.ltv == null ? "no balance" : fmt(a.ltv, 2);
    $("#reasons-out").textContent = (a.reasons || []).join(", ") || "–";
    $("#message-out").textContent = a.message || "";
    $("#result").hidden = false;
    document.body.dataset.state = "valued";
  } catch (e) {
    $("#error").textContent = String(e);
    $("#error").hidden = false;
    document.body.dataset.state = "error";
  }
});

function bars(svg, months) {
  const W = 600, H = 200, B = 20, n = months.length || 1;
  const max = Math.max(1, ...months.map((m) => m.GREEN + m.YELLOW + m.RED));
  const w = (W - 40) / n;
  let out = "";
  months.forEach((m, i) => {
    let y = H - B;
    for (const k of ["GREEN", "YELLOW", "RED"]) {
      const h = (H - B - 10) * m[k] / max;
      y -= h;
      out += `<rect x="${30 + i * w}" y="${y}" width="${w * 0.8}" height="${h}" fill="var(--${k.toLowerCase()})"><title>${m.month} ${k} ${m[k]}</title></rect>`;
    }
    out += `<text x="${30 + i * w}" y="${H - 5}">${m.month.slice(2)}</text>`;
  });
  out += `<text x="0" y="15">${max}</text>`;
  $(svg).innerHTML = out;
}

function lines(svg, series) {
  const W = 600, H = 220, L = 40, B = 25;
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) { $(svg).innerHTML = '<text x="10" y="20">no index</text>'; return; }
  const ts = all.map((p) => Date.parse(p.period)), vs = all.map((p) => p.value);
  const t0 = Math.min(...ts), t1 = Math.max(...ts);
  const v0 = Math.min(...vs) * 0.98, v1 = Math.max(...vs) * 1.02;
  const x = (t) => L + (W - L - 10) * (t - t0) / Math.max(1, t1 - t0);
  const y = (v) => H - B - (H - B - 10) * (v - v0) / (v1 - v0);
  let out = `<text x="0" y="15">${v1.toFixed(0)}</text><text x="0" y="${H - B}">${v0.toFixed(0)}</text>`;
  series.forEach((s, k) => {
    const d = s.points.map((p, i) => (i ? "L" : "M") + x(Date.parse(p.period)).toFixed(1) +
      "," + y(p.value).toFixed(1)).join(" ");
    out += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`;
    out += `<text x="${L + 10}" y="${20 + 14 * k}" style="fill:${s.color}">${esc(s.name)}</text>`;
  });
  out += `<text x="${L}" y="${H - 5}">${new Date(t0).toISOString().slice(0, 7)}</text>`;
  out += `<text x="${W - 60}" y="${H - 5}">${new Date(t1).toISOString().slice(0, 7)}</text>`;
  $(svg).innerHTML = out;
}

async function dashboard() {
  try {
    const h = await getJSON("/healthz");
    $("#health").textContent = `model v${h.model_version}, market data as of ${h.data_as_of || "–"}`;
  } catch (e) { $("#health").textContent = String(e); }
  const jobs = [];
  jobs.push(getJSON("/v1/summary").then((s) => {
    $("#as-of").textContent = `${fmt(s.book.loans)} loans as of ${s.book.as_of}, ` +
      `balance ${fmt(s.book.balance)} USD against value ${fmt(s.book.value)} USD`;
    $("#lights").innerHTML = ["RED", "YELLOW", "GREEN"].map((l) => {
      const x = s.lights.find((r) => r.light === l) || { loans: 0 };
      return `<div class="${l}" id="count-${l}"><b>${fmt(x.loans)}</b>${l} · mean LTV ${fmt(x.mean_ltv, 2)}</div>`;
    }).join("");
    fillRows("#grades", s.grades, (r) => [esc(r.grade), fmt(r.loans), fmt(r.watchlist)]);
    bars("#months", s.months);
  }));
  jobs.push(getJSON("/v1/watchlist?limit=20").then((w) => {
    $("#watch-total").textContent = `(${w.total})`;
    fillRows("#watchlist", w.items, (r) => [esc(r.loan_id), esc(r.segment), esc(r.grade),
      light(r.light), fmt(r.ltv, 2), fmt(r.value)]);
  }));
  jobs.push(getJSON("/v1/loans?limit=10").then((w) => {
    fillRows("#worst", w.items, (r) => [esc(r.loan_id), esc(r.segment), esc(r.grade),
      light(r.light), fmt(r.ltv, 2), fmt(r.loan_balance), fmt(r.value)]);
  }));
  jobs.push(getJSON("/v1/stress").then((t) => {
    const cols = t.items.length ? Object.keys(t.items[0]) : [];
    $("#stress thead").innerHTML = "<tr>" + cols.map((c) => `<th>${esc(c)}</th>`).join("") + "</tr>";
    fillRows("#stress", t.items, (r) => cols.map((c) => typeof r[c] === "number" &&
      c !== "scenario" ? fmt(r[c]) : esc(r[c])));
  }));
  jobs.push(getJSON("/v1/index").then((ix) => {
    const first = ix.index[0];
    const base = first ? ix.cpi.find((p) => p.period >= first.period) : null;
    const cpi = base ? ix.cpi.filter((p) => p.period >= first.period)
      .map((p) => ({ period: p.period, value: 100 * p.value / base.value })) : [];
    const idx = first ? ix.index.map((p) => ({ period: p.period, value: 100 * p.value / first.value })) : [];
    lines("#index", [{ name: "cvpipe index (auction sales)", color: "#2456a4", points: idx },
      { name: "used-car CPI", color: "#c0392b", points: cpi }]);
  }));
  jobs.push(getJSON("/v1/quality").then((q) => {
    fillRows("#quality-table", q.items, (r) => [fmt(r.rank), esc(r.source), esc(r.flag),
      fmt(r.read), fmt(r.rejected), esc(r.top_reason || "–"), fmt(r.stale_days, 1),
      fmt(100 * r.missing, 2) + " %", r.median_dev == null ? "–" : fmt(100 * r.median_dev, 2) + " %"]);
  }));
  const done = await Promise.allSettled(jobs);
  const failed = done.filter((d) => d.status === "rejected");
  if (failed.length) $("#health").textContent += " · " + failed.map((f) => f.reason.message).join("; ");
  document.body.dataset.board = failed.length ? "partial" : "loaded";
}

dashboard();
