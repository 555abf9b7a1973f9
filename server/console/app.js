// The weir console: pages over the server's REST API (/api/v1), no framework, no build
// step. Hash routes: #/jobs, #/jobs/<id>, #/lake, #/tables/<name>, #/sql.
"use strict";

const POLL_MS = 2000;
const COLORS = ["#2457c5", "#1f8a4c", "#c98a06", "#c4302b", "#6a4fc9", "#0f8b8d", "#a23b72", "#5c6b7a"];

// ---------- small helpers ----------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(n), unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${fmtNumber(ms, ms < 10 ? 1 : 0)} ms`;
  if (ms < 120000) return `${fmtNumber(ms / 1000, 1)} s`;
  if (ms < 7200000) return `${fmtNumber(ms / 60000, 1)} min`;
  if (ms < 172800000) return `${fmtNumber(ms / 3600000, 1)} h`;
  return `${fmtNumber(ms / 86400000, 1)} days`;
}

function badge(text) {
  return el("span", { class: `badge ${text}` }, text);
}

function toast(message) {
  const node = document.getElementById("toast");
  node.textContent = message;
  node.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => node.classList.remove("show"), 3000);
}

// ---------- the API ----------

class ApiError extends Error {
  constructor(status, body, text) {
    super((body && body.error) || text || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body, headers = {}, signal) {
  const token = localStorage.getItem("weir.token");
  const all = { ...headers };
  if (token) all.Authorization = `Bearer ${token}`;
  const response = await fetch(`/api/v1${path}`, { method, headers: all, body, signal });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  if (!response.ok) {
    if (response.status === 401) document.getElementById("token-form").hidden = false;
    throw new ApiError(response.status, json, text);
  }
  return json;
}

const get = (path, signal) => api("GET", path, undefined, {}, signal);

// ---------- charts (SVG, drawn here) ----------

// A line chart of `series` ([{name, points: [[x, y], ...]}]) with x as time in ms.
function lineChart(series, { width = 640, height = 180, unit = "", bars = false, xIsTime = true } = {}) {
  const pad = { left: 56, right: 12, top: 10, bottom: 24 };
  const all = series.flatMap((s) => s.points);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
  if (all.length === 0) {
    root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", fill: "#98a2b3" }, "no data yet"));
    return root;
  }
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  const count = Math.max(...series.map((s) => s.points.length));
  if (bars && count > 1) {
    // Half a bar's room at either end, so the first and last bars fit.
    const half = (x1 - x0) / (count - 1) / 2;
    x0 -= half; x1 += half;
  }
  const y1 = Math.max(...ys, 0) * 1.1 || 1;
  const sx = (x) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const sy = (y) => height - pad.bottom - (y / y1) * (height - pad.top - pad.bottom);
  for (let i = 0; i <= 4; i++) {
    const y = (y1 / 4) * i;
    root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: sy(y), y2: sy(y), stroke: "#eef0f4" }));
    root.append(svg("text", { x: pad.left - 6, y: sy(y) + 4, "text-anchor": "end", "font-size": 11, fill: "#667085" }, fmtNumber(y, y < 10 ? 1 : 0) + unit));
  }
  const label = (x) => xIsTime ? new Date(x).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : fmtNumber(x);
  for (const [x, anchor] of [[x0, "start"], [(x0 + x1) / 2, "middle"], [x1, "end"]]) {
    root.append(svg("text", { x: sx(x), y: height - 6, "text-anchor": anchor, "font-size": 11, fill: "#667085" }, label(x)));
  }
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    if (bars) {
      const w = Math.max(2, (width - pad.left - pad.right) / Math.max(1, count) / series.length - 2);
      s.points.forEach(([x, y]) => root.append(svg("rect", { x: sx(x) - w / 2 + i * w, y: sy(y), width: w, height: sy(0) - sy(y), fill: color })));
    } else {
      const d = s.points.map(([x, y], j) => `${j ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
      root.append(svg("path", { d, fill: "none", stroke: color, "stroke-width": 2 }, svg("title", {}, s.name)));
    }
  });
  return root;
}

function legend(series) {
  return el("div", { class: "legend" }, series.map((s, i) => el("span", {}, el("i", { style: `background:${s.color || COLORS[i % COLORS.length]}` }), s.name)));
}

function sparkline(points, width = 110, height = 24) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, "aria-hidden": "true" });
  if (points.length < 2) return root;
  const ys = points.map((p) => p[1]);
  const max = Math.max(...ys, 1);
  const d = points.map((p, i) => `${i ? "L" : "M"}${((i / (points.length - 1)) * width).toFixed(1)},${(height - 2 - (p[1] / max) * (height - 4)).toFixed(1)}`).join(" ");
  root.append(svg("path", { d, fill: "none", stroke: "#2457c5", "stroke-width": 1.5 }));
  return root;
}

// ---------- routing ----------

let pageTimer = null;
let pageAbort = null;

function route() {
  clearInterval(pageTimer);
  if (pageAbort) pageAbort.abort();
  pageAbort = new AbortController();
  const hash = location.hash || "#/jobs";
  const [, page, ...rest] = hash.split("/");
  const arg = decodeURIComponent(rest.join("/"));
  document.querySelectorAll("nav a").forEach((a) => {
    const current = a.dataset.page === page || (a.dataset.page === "lake" && page === "tables") || (a.dataset.page === "jobs" && page === "jobs");
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  const main = document.getElementById("page");
  main.replaceChildren();
  const pages = { jobs: arg ? () => jobPage(main, arg) : () => jobsPage(main), lake: () => lakePage(main), tables: () => tablePage(main, arg), sql: () => sqlPage(main) };
  (pages[page] || pages.jobs)();
}

function every(ms, fn) {
  fn();
  pageTimer = setInterval(fn, ms);
}

// ---------- jobs ----------

const rateHistory = new Map(); // job id -> [[time, rows/s]]

function remember(id, time, value) {
  const points = rateHistory.get(id) || [];
  if (!points.length || points[points.length - 1][0] < time) points.push([time, value]);
  while (points.length > 300) points.shift();
  rateHistory.set(id, points);
}

async function act(id, action) {
  try {
    await api("POST", `/jobs/${encodeURIComponent(id)}/${action}`);
    toast(`${action}: ${id}`);
  } catch (e) {
    toast(`${action} ${id}: ${e.message}`);
  }
  route();
}

function actions(job) {
  const running = ["running", "starting", "restarting", "scheduled"].includes(job.status);
  return el("div", { class: "actions" },
    el("button", { type: "button", disabled: !running || undefined, onclick: () => act(job.id, "stop"), "aria-label": `stop ${job.id}` }, "Stop"),
    el("button", { type: "button", disabled: !running || undefined, onclick: () => act(job.id, "cancel"), "aria-label": `cancel ${job.id}` }, "Cancel"),
    el("button", { type: "button", disabled: running || undefined, onclick: () => act(job.id, "resume"), "aria-label": `resume ${job.id}` }, "Resume"));
}

function jobsPage(main) {
  const chart = el("div");
  const chartLegend = el("div");
  const tbody = el("tbody");
  main.append(
    el("h1", {}, "Jobs"),
    el("section", { class: "panel", "aria-labelledby": "rate-title" },
      el("h2", { id: "rate-title" }, "Rows per second of running jobs"), chart, chartLegend),
    el("section", { class: "panel scroll" },
      el("table", { id: "jobs" },
        el("thead", {}, el("tr", {}, ["job", "kind", "status", "rows/s", "", "watermark lag", "last checkpoint", "restarts", "next run", ""].map((h, i) => el("th", { class: [3, 5, 7].includes(i) ? "num" : undefined }, h)))),
        tbody)),
    submitPanel());
  let seeded = false;
  every(POLL_MS, async () => {
    let jobs;
    try { jobs = await get("/jobs", pageAbort.signal); } catch (e) { if (e.name !== "AbortError") tbody.replaceChildren(el("tr", {}, el("td", { colspan: 10, class: "error" }, e.message))); return; }
    const now = Date.now();
    if (!seeded) {
      seeded = true;
      await Promise.all(jobs.filter((j) => j.status === "running").map(async (j) => {
        try {
          const detail = await get(`/jobs/${encodeURIComponent(j.id)}`, pageAbort.signal);
          for (const p of detail.rows_per_second_history) remember(j.id, p.time_ms, p.rows_per_second);
        } catch (_) { /* the list still shows */ }
      }));
    }
    for (const job of jobs) if (job.status === "running") remember(job.id, now, job.rows_per_second);
    tbody.replaceChildren(...jobs.map((job) => el("tr", { "data-job": job.id },
      el("td", {}, el("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.id)),
      el("td", {}, job.kind),
      el("td", {}, badge(job.status), job.failure ? el("div", { class: "error", title: job.failure }, job.failure.slice(0, 80)) : null),
      el("td", { class: "num rate" }, fmtNumber(job.rows_per_second)),
      el("td", {}, sparkline((rateHistory.get(job.id) || []).slice(-60))),
      el("td", { class: "num" }, job.watermark_lag_ms == null ? "–" : fmtMs(job.watermark_lag_ms)),
      el("td", {}, job.last_checkpoint ? `#${job.last_checkpoint.id} (${fmtMs(job.last_checkpoint.duration_ms)})` : "–"),
      el("td", { class: "num" }, job.restarts),
      el("td", {}, job.next_run ? new Date(job.next_run).toLocaleString() : "–"),
      el("td", {}, actions(job)))));
    const running = jobs.filter((j) => j.status === "running").map((j) => ({ name: j.id, points: (rateHistory.get(j.id) || []).filter((p) => p[0] > now - 300000) }));
    chart.replaceChildren(lineChart(running, { width: Math.max(320, chart.clientWidth || 1200), height: 220 }));
    chartLegend.replaceChildren(legend(running));
  });
}

function submitPanel() {
  const text = el("textarea", { id: "job-text", class: "code", spellcheck: "false", "aria-label": "job file (YAML)", placeholder: "name: my-job\nsources:\n  ..." });
  const name = el("input", { id: "job-file-name", value: "job.yaml", "aria-label": "file name", size: 16 });
  const upload = el("input", { type: "file", accept: ".yaml,.yml", "aria-label": "upload a job file", onchange: async (event) => {
    const file = event.target.files[0];
    if (file) { text.value = await file.text(); name.value = file.name; }
  } });
  const result = el("div", { id: "submit-result", "aria-live": "polite" });
  const submit = async () => {
    result.replaceChildren();
    try {
      const job = await api("POST", `/jobs?file=${encodeURIComponent(name.value || "job.yaml")}`, text.value, { "Content-Type": "application/yaml" });
      toast(`submitted ${job.id}`);
      text.value = "";
      location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
    } catch (e) {
      const mistakes = (e.body && e.body.mistakes) || [];
      const lines = new Set(mistakes.map((m) => Number((m.location.match(/:(\d+):\d+$/) || [])[1])).filter(Boolean));
      result.append(el("p", { class: "error" }, e.message));
      if (mistakes.length) {
        result.append(el("ul", { class: "mistakes error" }, mistakes.map((m) => el("li", {}, `${m.location}: ${m.message}`))));
        result.append(el("pre", { class: "code lines", "aria-label": "the job file with its mistakes marked" },
          text.value.split("\n").map((line, i) => el("span", { class: lines.has(i + 1) ? "mistake" : undefined }, line || " "))));
      }
    }
  };
  return el("section", { class: "panel", "aria-labelledby": "submit-title" },
    el("h2", { id: "submit-title" }, "Submit a job"),
    el("div", { class: "form-row" }, el("label", { for: "job-file-name" }, "File name"), name, upload),
    text,
    el("div", { class: "form-row" }, el("button", { type: "button", class: "primary", id: "submit-job", onclick: submit }, "Submit")),
    result);
}

// ---------- one job ----------

// Lays the graph out in columns by depth from the sources; edges as curves.
function graphView(nodes, edges) {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const target = (from) => from.split(".")[0];
  const depth = new Map();
  const visit = (name, d) => {
    if ((depth.get(name) ?? -1) >= d || d > nodes.length) return;
    depth.set(name, d);
    edges.filter((e) => target(e.from) === name).forEach((e) => visit(e.to, d + 1));
  };
  nodes.filter((n) => n.role === "source").forEach((n) => visit(n.name, 0));
  nodes.forEach((n) => { if (!depth.has(n.name)) depth.set(n.name, 0); });
  const columns = [];
  for (const n of nodes) (columns[depth.get(n.name)] ||= []).push(n);
  const boxW = 170, boxH = 58, gapX = 60, gapY = 18;
  const height = Math.max(...columns.map((c) => c.length)) * (boxH + gapY) + gapY;
  const width = columns.length * (boxW + gapX) + gapX;
  const at = new Map();
  columns.forEach((column, i) => column.forEach((n, j) => {
    const offset = (height - column.length * (boxH + gapY) + gapY) / 2;
    at.set(n.name, { x: gapX + i * (boxW + gapX), y: offset + j * (boxH + gapY) });
  }));
  // Drawn at its own size; a panel narrower than the graph scrolls.
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "graph", role: "img", "aria-label": "the job's graph" });
  for (const e of edges) {
    const a = at.get(target(e.from)), b = at.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + boxW, y1 = a.y + boxH / 2, x2 = b.x, y2 = b.y + boxH / 2;
    root.append(svg("path", { d: `M${x1},${y1} C${x1 + gapX / 2},${y1} ${x2 - gapX / 2},${y2} ${x2},${y2}`, fill: "none", stroke: "#98a2b3", "stroke-width": 1.5 },
      svg("title", {}, `${e.from} → ${e.to} (${e.partitioning})`)));
    if (e.from.includes(".")) root.append(svg("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 4, "text-anchor": "middle", "font-size": 10, fill: "#667085" }, e.from.split(".")[1]));
  }
  for (const n of nodes) {
    const { x, y } = at.get(n.name);
    const pressure = n.backpressure || 0;
    const fill = pressure > 0.5 ? "#fde8e7" : pressure > 0.1 ? "#fff4d6" : "#e8f5ee";
    const stroke = pressure > 0.5 ? "#c4302b" : pressure > 0.1 ? "#c98a06" : "#1f8a4c";
    root.append(svg("g", { class: "node", "data-node": n.name },
      svg("rect", { x, y, width: boxW, height: boxH, rx: 6, fill, stroke }),
      svg("text", { x: x + 8, y: y + 18, "font-size": 13, "font-weight": 600, fill: "#1d2433" }, `${n.name} ×${n.parallelism}`),
      svg("text", { x: x + 8, y: y + 34, "font-size": 11, fill: "#667085" }, `${n.role} · ${n.kind}`),
      svg("text", { x: x + 8, y: y + 50, "font-size": 11, fill: "#1d2433" }, `${fmtNumber(n.role === "source" ? n.rows_out_per_second : n.rows_in_per_second)} rows/s · bp ${(pressure * 100).toFixed(0)}%`),
      svg("title", {}, `${n.name}: backpressure ${(pressure * 100).toFixed(0)}% of the last seconds`)));
  }
  return root;
}

function table(headers, rows, numeric = []) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { class: numeric.includes(i) ? "num" : undefined }, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td", { class: numeric.includes(i) ? "num" : undefined }, c))))));
}

// Sample rows of the tables where a job's dead letters, late rows and quarantined rows
// went: sinks reading a `dead_letters` or `late` output, and the quarantine tables of
// sinks that quarantined rows. Looked up again every 10 s.
function samplesOf(job, panel, fetched) {
  const wanted = [];
  for (const node of job.nodes) {
    const lakeTable = job.sink_tables[node.name];
    if (!lakeTable) continue;
    const input = job.edges.find((e) => e.to === node.name);
    const port = input && input.from.includes(".") ? input.from.split(".").pop() : null;
    if (port === "dead_letters" || port === "late") wanted.push([`${port === "late" ? "Late rows" : "Dead letters"} (${lakeTable})`, lakeTable]);
    if (node.quarantined_rows > 0) wanted.push([`Quarantined rows (${lakeTable}_quarantine)`, `${lakeTable}_quarantine`]);
  }
  panel.hidden = wanted.length === 0;
  for (const [title, name] of wanted) {
    if (fetched.has(name) && Date.now() - fetched.get(name) < 10000) continue;
    fetched.set(name, Date.now());
    api("POST", "/sql", JSON.stringify({ query: `SELECT * FROM ${name} LIMIT 5` }), { "Content-Type": "application/json" })
      .then((result) => {
        const box = el("div", { "data-samples": name }, el("h2", {}, title),
          result.rows.length ? table(result.columns.map((c) => c.name), result.rows.map((r) => result.columns.map((c) => r[c.name] === null ? "NULL" : String(r[c.name]).slice(0, 120))))
            : el("p", { class: "muted" }, "No rows yet."));
        const old = panel.querySelector(`[data-samples="${CSS.escape(name)}"]`);
        if (old) old.replaceWith(box); else panel.append(box);
      })
      .catch(() => fetched.delete(name));
  }
}

function jobPage(main, id) {
  const head = el("h1", {}, id);
  const body = el("div");
  const samples = el("section", { class: "panel scroll", id: "samples", hidden: true });
  const sampled = new Map();
  main.append(head, body);
  const checkpointsSeen = [];
  every(POLL_MS, async () => {
    let job, backfills = [];
    try {
      job = await get(`/jobs/${encodeURIComponent(id)}`, pageAbort.signal);
      backfills = await get(`/jobs/${encodeURIComponent(id)}/backfills`, pageAbort.signal).catch(() => []);
    } catch (e) {
      if (e.name !== "AbortError") body.replaceChildren(el("p", { class: "error" }, e.message));
      return;
    }
    head.replaceChildren(id, badge(job.status), el("span", { class: "muted" }, job.kind), actions(job));
    for (const c of job.checkpoints) if (!checkpointsSeen.some((s) => s.id === c.id)) checkpointsSeen.push(c);
    const checkpoints = checkpointsSeen.slice(-60);
    // Charts are drawn at the width they get, so their text stays the page's size.
    const halfWidth = Math.max(300, main.clientWidth > 900 ? (main.clientWidth - 80) / 2 : main.clientWidth - 50);
    const nodes = job.nodes;
    const lags = nodes.flatMap((n) => (n.kafka_lag || []).map((l) => [n.name, `${l.topic}/${l.partition}`, fmtNumber(l.lag)]));
    const partitionWatermarks = nodes.flatMap((n) => (n.partition_watermarks || []).map((w) => [n.name, w.partition, w.watermark, fmtMs(w.lag_ms)]));
    const sinks = nodes.filter((n) => n.delta_version !== undefined && n.delta_version !== null);
    const history = job.events.slice(-40).reverse();
    body.replaceChildren(...[
      job.failure ? el("section", { class: "panel" }, el("h2", {}, "Failure"), el("p", { class: "error" }, job.failure)) : null,
      el("section", { class: "panel scroll" }, el("h2", {}, "Graph"), graphView(nodes, job.edges),
        el("p", { class: "muted" }, "Node colour: the share of the last seconds its subtasks waited on full output channels (green under 10%, amber under 50%, red above).")),
      el("section", { class: "panel scroll" }, el("h2", {}, "Nodes"),
        table(["node", "rows in", "rows out", "rows/s in", "rows/s out", "bytes in", "dead letters", "late rows", "quarantined", "watermark", "lag", "backpressure"],
          nodes.map((n) => [n.name, fmtNumber(n.rows_in), fmtNumber(n.rows_out), fmtNumber(n.rows_in_per_second), fmtNumber(n.rows_out_per_second), fmtBytes(n.bytes_in),
            fmtNumber(n.dead_letters), fmtNumber(n.late_rows), fmtNumber(n.quarantined_rows), n.watermark || "–", n.watermark_lag_ms == null ? "–" : fmtMs(n.watermark_lag_ms), `${(n.backpressure * 100).toFixed(0)}%`]),
          [1, 2, 3, 4, 5, 6, 7, 8, 10, 11])),
      el("div", { class: "grid" },
        el("section", { class: "panel" }, el("h2", {}, "Checkpoints: duration (ms)"),
          lineChart([{ name: "duration", points: checkpoints.map((c) => [c.id, c.duration_ms]) }], { width: halfWidth, height: 150, bars: true, xIsTime: false })),
        el("section", { class: "panel" }, el("h2", {}, "Checkpoints: size"),
          lineChart([{ name: "state bytes", points: checkpoints.map((c) => [c.id, c.state_bytes / 1024]) }], { width: halfWidth, height: 150, unit: " KiB", xIsTime: false }))),
      el("div", { class: "grid" },
        el("section", { class: "panel scroll" }, el("h2", {}, "Delta versions committed"),
          sinks.length ? table(["sink", "newest version", "commits"], sinks.map((n) => [n.name, n.delta_version, fmtNumber(n.delta_commits)]), [1, 2]) : el("p", { class: "muted" }, "No Delta commits in this run yet.")),
        el("section", { class: "panel scroll" }, el("h2", {}, "Kafka consumer lag"),
          lags.length ? table(["source", "partition", "messages behind"], lags, [2]) : el("p", { class: "muted" }, "No Kafka source."))),
      partitionWatermarks.length ? el("section", { class: "panel scroll", id: "partition-watermarks" }, el("h2", {}, "Watermark per source partition"),
        table(["source", "partition", "watermark", "lag"], partitionWatermarks, [3])) : null,
      backfills.length ? el("section", { class: "panel scroll" }, el("h2", {}, "Backfills"),
        table(["range", "parallel", "done", "failed", "running", "pending", "dates"], backfills.map((b) => [`${b.from} → ${b.to}`, b.parallel, b.done, b.failed, b.running, b.pending,
          el("span", { class: "timeline" }, b.dates.map((d) => el("span", { class: d.state === "done" ? "pass" : d.state === "failed" ? "fail" : undefined, title: `${d.date}: ${d.state}${d.error ? ` (${d.error})` : ""}` })))]), [1, 2, 3, 4, 5])) : null,
      samples,
      el("section", { class: "panel scroll" }, el("h2", {}, "History: restarts, errors and runs (newest first)"),
        table(["time", "event", "detail"], history.map((e) => [new Date(e.time_ms).toLocaleString(), badge(e.event), el("span", { class: ["failed", "restarting"].includes(e.event) ? "error" : undefined }, e.detail || "")]))),
      el("section", { class: "panel" }, el("h2", {}, "Job file"), el("pre", { class: "code" }, job.definition))].filter(Boolean));
    samplesOf(job, samples, sampled);
  });
}

// ---------- the lake ----------

function compactionText(json) {
  if (!json) return "–";
  try {
    const c = typeof json === "string" ? JSON.parse(json) : json;
    const parts = [];
    if (c.version !== undefined) parts.push(`v${c.version}`);
    if (c.filesRemoved !== undefined) parts.push(`${c.filesRemoved} → ${c.filesAdded} files`);
    if (c.clusterBy && c.clusterBy.length) parts.push(`clustered by ${c.clusterBy.join(", ")}`);
    const skipping = Object.entries(c.pointSkipping || {});
    if (skipping.length) parts.push(`a point filter skips ${skipping.map(([k, v]) => `${(v * 100).toFixed(0)}% on ${k}`).join(", ")}`);
    return parts.join(" · ") || String(json);
  } catch (_) {
    return String(json);
  }
}

async function lakePage(main) {
  main.append(el("h1", {}, "Lake"));
  const panel = el("section", { class: "panel scroll" }, el("p", { class: "muted" }, "Loading…"));
  main.append(panel);
  try {
    const tables = await get("/tables", pageAbort.signal);
    panel.replaceChildren(table(["table", "files", "size", "rows", "versions", "partitioned by", "last compaction"],
      tables.map((t) => [el("a", { href: `#/tables/${encodeURIComponent(t.name)}` }, t.name), fmtNumber(t.details.files), fmtBytes(t.details.size_bytes), fmtNumber(t.details.rows),
        fmtNumber((t.details.version ?? -1) + 1), t.details.partition_columns || "–", compactionText(t.details.last_compaction)]), [1, 2, 3, 4]));
    if (!tables.length) panel.append(el("p", { class: "muted" }, "The lake has no tables yet."));
  } catch (e) {
    if (e.name !== "AbortError") panel.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

// Per version: `pass`, `fail` or none from its verdicts, `compaction` for OPTIMIZE.
// A version's verdict: `fail` when a rule of severity fail failed, `warn` when only other
// rules failed, `pass` when all passed.
function versionStates(history, quality) {
  const rank = { pass: 0, warn: 1, fail: 2 };
  const verdicts = new Map();
  for (const q of quality) {
    const state = q.passed !== false ? "pass" : q.severity === "fail" ? "fail" : "warn";
    const before = verdicts.get(q.version) || "pass";
    verdicts.set(q.version, rank[state] > rank[before] ? state : before);
  }
  return history.slice().reverse().map((h) => ({
    version: h.version,
    state: verdicts.get(h.version) || (h.operation === "OPTIMIZE" ? "compaction" : ""),
    operation: h.operation,
  }));
}

async function tablePage(main, name) {
  main.append(el("h1", {}, name));
  const body = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  main.append(body);
  try {
    const t = await get(`/tables/${encodeURIComponent(name)}`, pageAbort.signal);
    const states = versionStates(t.history, t.quality);
    const failing = t.quality.filter((q) => q.passed === false);
    body.replaceChildren(
      el("section", { class: "panel" }, el("h2", {}, "Details"),
        table(["version", "files", "size", "rows", "partitioned by", "location", "last compaction"],
          [[t.details.version, fmtNumber(t.details.files), fmtBytes(t.details.size_bytes), fmtNumber(t.details.rows), t.details.partition_columns || "–", t.details.location, compactionText(t.details.last_compaction)]], [0, 1, 2, 3])),
      el("section", { class: "panel" }, el("h2", { id: "timeline-title" }, "Quality per version"),
        el("div", { class: "timeline", role: "list", "aria-labelledby": "timeline-title" },
          states.map((s) => el("span", { role: "listitem", class: s.state || undefined, "data-version": s.version, title: `version ${s.version}: ${s.operation || ""} ${s.state || "no verdict"}` }))),
        el("div", { class: "legend" }, ...[["#1f8a4c", "rules passed"], ["#c98a06", "a warn or quarantine rule failed"], ["#c4302b", "a fail rule failed"], ["#6a4fc9", "compaction"], ["#98a2b3", "no verdict"]].map(([color, text]) => el("span", {}, el("i", { style: `background:${color}` }), text))),
        failing.length ? el("div", { class: "scroll" }, table(["version", "rule", "severity", "observed", "threshold", "rows failing"],
          failing.slice(0, 20).map((q) => [q.version, q.rule, q.severity, q.observed, q.threshold, fmtNumber(q.rows_failing)]), [0, 5])) : null),
      el("section", { class: "panel scroll" }, el("h2", {}, "History (newest first)"),
        table(["version", "time", "operation", "rows added", "files +", "files −", "writer", "quality"],
          t.history.map((h) => {
            const state = (states.find((s) => s.version === h.version) || {}).state;
            return [h.version, h.timestamp ? new Date(h.timestamp).toLocaleString() : "–", h.operation || "–", fmtNumber(h.rows_added), fmtNumber(h.files_added), fmtNumber(h.files_removed),
              h.app_id ? `${h.app_id} #${h.app_version}` : "–", state ? badge(state === "compaction" ? "compaction" : state) : "–"];
          }), [0, 3, 4, 5])),
      el("section", { class: "panel scroll" }, el("h2", {}, "Schema"),
        table(["column", "type"], t.columns.map((c) => [c.name, c.type]))));
  } catch (e) {
    if (e.name !== "AbortError") body.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

// ---------- SQL ----------

const TIME_TYPES = /^(Timestamp|Date)/;
const NUMBER_TYPES = /^(Int|UInt|Float|Decimal)/;

function resultChart(result) {
  const time = result.columns.find((c) => TIME_TYPES.test(c.type));
  const numbers = result.columns.filter((c) => NUMBER_TYPES.test(c.type));
  if (!time || !numbers.length || result.rows.length < 2) return null;
  const series = numbers.slice(0, 6).map((c) => ({
    name: c.name,
    points: result.rows.map((r) => [Date.parse(r[time.name]), Number(r[c.name])]).filter((p) => !Number.isNaN(p[0]) && !Number.isNaN(p[1])).sort((a, b) => a[0] - b[0]),
  }));
  const holder = el("div");
  const draw = (bars) => holder.replaceChildren(lineChart(series, { width: Math.max(320, document.getElementById("page").clientWidth - 300), height: 260, bars }), legend(series));
  const kind = el("select", { "aria-label": "chart kind", onchange: (e) => draw(e.target.value === "bar") }, el("option", { value: "line" }, "line"), el("option", { value: "bar" }, "bar"));
  draw(false);
  return el("section", { class: "panel", id: "result-chart" }, el("div", { class: "form-row" }, el("h2", {}, `Chart: ${numbers.map((c) => c.name).join(", ")} by ${time.name}`), kind), holder);
}

// Where in `query` the error `message` points: the parser's line and column, the end for
// an unexpected end, or the first use of a column the planner does not know.
function errorPlace(message, query) {
  const at = message.match(/Line: (\d+), Column: (\d+)/i);
  if (at) {
    const line = Number(at[1]), column = Number(at[2]);
    const offset = query.split("\n").slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + column - 1;
    return { offset, length: 1, text: `at line ${line}, column ${column}` };
  }
  if (/found: EOF/.test(message)) {
    const lines = query.trimEnd().split("\n");
    return { offset: query.trimEnd().length, length: 0, text: `at the end: line ${lines.length}, column ${lines[lines.length - 1].length + 1}` };
  }
  const field = message.match(/No field named "?([^".\s]+)"?/);
  if (field) {
    const offset = query.indexOf(field[1]);
    if (offset >= 0) {
      const before = query.slice(0, offset).split("\n");
      return { offset, length: field[1].length, text: `at line ${before.length}, column ${before[before.length - 1].length + 1}` };
    }
  }
  return null;
}

function sqlPage(main) {
  const editor = el("textarea", { id: "sql-editor", class: "code", spellcheck: "false", "aria-label": "SQL query (Ctrl-Enter runs it)" });
  editor.value = localStorage.getItem("weir.sql") || "SHOW TABLES";
  const status = el("div", { class: "status-line", id: "sql-status", "aria-live": "polite" });
  const output = el("div", { id: "sql-output" });
  const run = el("button", { type: "button", class: "primary", id: "sql-run" }, "Run (Ctrl-Enter)");
  const cancel = el("button", { type: "button", id: "sql-cancel", disabled: true }, "Cancel");
  const tables = el("ul", { "aria-label": "the lake's tables" });
  let running = null;
  const execute = async () => {
    if (running) return;
    localStorage.setItem("weir.sql", editor.value);
    running = new AbortController();
    run.disabled = true; cancel.disabled = false;
    status.replaceChildren(el("span", { class: "muted" }, "Running…"));
    output.replaceChildren();
    const started = performance.now();
    try {
      const result = await api("POST", "/sql", JSON.stringify({ query: editor.value }), { "Content-Type": "application/json" }, running.signal);
      status.replaceChildren(`${fmtNumber(result.row_count)} ${result.row_count === 1 ? "row" : "rows"} in ${fmtMs(result.elapsed_ms)} (${fmtMs(performance.now() - started)} with the round trip)`);
      output.append(...[resultChart(result),
        el("section", { class: "panel scroll" }, table(result.columns.map((c) => `${c.name} (${c.type})`),
          result.rows.slice(0, 1000).map((r) => result.columns.map((c) => r[c.name] === null || r[c.name] === undefined ? "NULL" : typeof r[c.name] === "object" ? JSON.stringify(r[c.name]) : String(r[c.name]))),
          result.columns.map((c, i) => NUMBER_TYPES.test(c.type) ? i : -1).filter((i) => i >= 0)))].filter(Boolean));
      if (result.rows.length > 1000) output.append(el("p", { class: "muted" }, "The first 1,000 rows are shown."));
    } catch (e) {
      if (e.name === "AbortError") {
        status.replaceChildren(el("span", { class: "muted" }, "Cancelled."));
      } else {
        const place = errorPlace(e.message, editor.value);
        status.replaceChildren(el("div", { class: "error", id: "sql-error", role: "alert" }, place ? `${e.message}\n(${place.text})` : e.message));
        if (place) {
          editor.focus();
          editor.setSelectionRange(place.offset, place.offset + place.length);
        }
      }
    } finally {
      running = null;
      run.disabled = false; cancel.disabled = true;
    }
  };
  run.addEventListener("click", execute);
  cancel.addEventListener("click", () => running && running.abort());
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); execute(); }
  });
  main.append(el("h1", {}, "SQL"),
    el("div", { class: "sql" },
      el("section", { class: "panel" }, el("h2", {}, "Tables"), tables),
      el("div", {},
        el("section", { class: "panel" }, editor, el("div", { class: "form-row" }, run, cancel, el("span", { class: "muted" }, "Read-only: queries, SHOW, DESCRIBE, EXPLAIN; table_history('t'), table_details('t'), table_quality('t').")), status),
        output)));
  get("/tables", pageAbort.signal).then((list) => {
    tables.replaceChildren(...list.map((t) => el("li", {}, el("button", { type: "button", title: `insert ${t.name}`, onclick: () => {
      const at = editor.selectionStart;
      editor.setRangeText(t.name, at, editor.selectionEnd, "end");
      editor.focus();
    } }, t.name))));
  }).catch(() => {});
  editor.focus();
}

// ---------- start ----------

document.getElementById("token").value = localStorage.getItem("weir.token") || "";
document.getElementById("token-form").hidden = !localStorage.getItem("weir.token");
document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem("weir.token", document.getElementById("token").value);
  toast("token saved");
  route();
});
window.addEventListener("hashchange", route);
route();
