// rlm trajectory viewer. Plain browser JavaScript, no build step, no dependencies.
// Everything from the log is untrusted text (model output): it only ever reaches the page
// through textContent or through escapeHtml() in the highlighter.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = { runs: [], current: null, query: "", marks: [], markIndex: -1 };

// ---------- small DOM helpers ----------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
const svgEl = (tag, attrs = {}) => {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
};
const asText = (v) => (v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v, null, 2));
const fmtInt = (n) => Math.round(n || 0).toLocaleString("en-US");
const fmtCost = (c) => (c ? "$" + (c < 0.01 ? c.toFixed(5) : c.toFixed(3)) : "–");
const fmtTime = (s) => (s === null || s === undefined ? "–" : s < 10 ? s.toFixed(2) + "s" : s.toFixed(1) + "s");
function preview(text, n) { text = asText(text).replace(/\s+/g, " ").trim(); return text.length > n ? text.slice(0, n - 1) + "…" : text; }

// ---------- Python highlighter (tiny, regex based) ----------
const KEYWORDS = "False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case".split(" ");
const BUILTINS = "print len range str int float list dict set tuple sorted enumerate zip map filter sum min max any all open isinstance type repr abs round reversed getattr hasattr setattr super".split(" ");
const RLM_NAMES = "llm_query llm_query_batched rlm_query rlm_query_batched FINAL FINAL_VAR SHOW_VARS context answer history".split(" ");
const TOKEN_RE = new RegExp([
  "(#[^\\n]*)",                                                            // 1 comment
  "((?:[rRbBuUfF]{1,2})?(?:\"\"\"[\\s\\S]*?\"\"\"|'''[\\s\\S]*?'''|\"(?:\\\\.|[^\"\\\\\\n])*\"|'(?:\\\\.|[^'\\\\\\n])*'))", // 2 string
  "\\b(\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)\\b",                            // 3 number
  "\\b([A-Za-z_][A-Za-z0-9_]*)\\b(\\s*\\()?",                               // 4 name, 5 call paren
].join("|"), "g");
function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function highlightPython(code) {
  let out = "", last = 0, m;
  TOKEN_RE.lastIndex = 0;
  while ((m = TOKEN_RE.exec(code)) !== null) {
    out += escapeHtml(code.slice(last, m.index));
    last = TOKEN_RE.lastIndex;
    let cls = null, text = m[0], tail = "";
    if (m[1]) cls = "tok-com";
    else if (m[2]) cls = "tok-str";
    else if (m[3]) cls = "tok-num";
    else if (m[4]) {
      text = m[4]; tail = m[5] || "";
      if (KEYWORDS.includes(text)) cls = "tok-kw";
      else if (RLM_NAMES.includes(text)) cls = "tok-rlm";
      else if (BUILTINS.includes(text)) cls = "tok-bi";
      else if (tail) cls = "tok-fn";
    }
    out += cls ? `<span class="${cls}">${escapeHtml(text)}</span>` : escapeHtml(text);
    out += escapeHtml(tail);
  }
  return out + escapeHtml(code.slice(last));
}
function codeBlock(code) {
  const pre = el("pre", { class: "code" });
  pre.innerHTML = highlightPython(asText(code)); // escaped token by token above
  return pre;
}

// Model text. ```repl fences that ran are shown once, as code blocks below the text (a
// marker stands in their place); other fences are highlighted in place.
function renderResponse(text, ranBlocks) {
  const box = el("div", { class: "response" });
  const parts = asText(text).split(/```([A-Za-z0-9_-]*)[ \t]*\n([\s\S]*?)```/g);
  let repl = 0;
  for (let i = 0; i < parts.length; i += 3) {
    if (parts[i]) box.append(el("span", { text: parts[i] }));
    if (i + 2 >= parts.length) break;
    if (parts[i + 1] === "repl" && repl < ranBlocks) {
      repl += 1;
      box.append(el("span", { class: "badge code-ref", text: `⟨code block ${repl} ↓⟩` }));
    } else {
      box.append(codeBlock(parts[i + 2]));
    }
  }
  return box;
}
function proseOf(text) {
  return asText(text).replace(/```[A-Za-z0-9_-]*[ \t]*\n[\s\S]*?```/g, " ⟨code⟩ ");
}

// ---------- totals (mirrors rlm.viewer.store) ----------
const num = (v) => (typeof v === "number" && isFinite(v) ? v : 0);
function callTotals(call) {
  const sums = ((call.usage_summary || {}).model_usage_summaries) || {};
  const t = { input: 0, output: 0, cost: 0 };
  for (const s of Object.values(sums)) { t.input += num(s.total_input_tokens); t.output += num(s.total_output_tokens); t.cost += num(s.total_cost); }
  return t;
}
function subcallsOf(it) {
  const calls = [];
  for (const b of it.code_blocks || []) for (const c of ((b.result || {}).rlm_calls || [])) calls.push(c);
  return calls;
}
function iterTotals(it) {
  const u = it.usage || {};
  const t = { input: num(u.input_tokens), output: num(u.output_tokens), cost: num(u.cost), time: num(it.iteration_time), calls: 0 };
  for (const c of subcallsOf(it)) { const ct = callTotals(c); t.input += ct.input; t.output += ct.output; t.cost += ct.cost; t.calls += 1; }
  return t;
}
const childTrajectory = (call) => {
  const md = call && call.metadata;
  return md && typeof md === "object" && Array.isArray(md.iterations) ? md : null;
};

// ---------- chart ----------
function barChart(title, values, stacks, onPick, fmt) {
  const W = 460, H = 110, pad = 22, n = values.length;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": title });
  const max = Math.max(1e-9, ...values.map((v) => v.reduce((a, b) => a + b, 0)));
  const slot = (W - pad) / Math.max(n, 1), bw = Math.max(2, Math.min(28, slot * 0.7));
  svg.append(svgEl("line", { x1: pad, y1: H - 14, x2: W, y2: H - 14, stroke: "#e3e6ec" }));
  const top = svgEl("text", { x: 0, y: 10, class: "axis" }); top.textContent = fmt(max); svg.append(top);
  values.forEach((parts, i) => {
    let y = H - 14;
    const x = pad + i * slot + (slot - bw) / 2;
    parts.forEach((v, k) => {
      const h = ((H - 28) * v) / max;
      if (h <= 0) return;
      y -= h;
      const r = svgEl("rect", { x, y, width: bw, height: h, rx: 2, class: "bar " + stacks[k], "data-iter": i });
      const tip = svgEl("title"); tip.textContent = `iteration ${i + 1}: ${fmt(parts.reduce((a, b) => a + b, 0))}`;
      r.append(tip);
      r.addEventListener("click", () => onPick(i));
      svg.append(r);
    });
    if (n <= 30 || i % Math.ceil(n / 30) === 0) {
      const t = svgEl("text", { x: x + bw / 2 - 3, y: H - 3, class: "axis" }); t.textContent = String(i + 1); svg.append(t);
    }
  });
  return el("div", { class: "chart" }, el("div", { class: "chart-title", text: title }), svg);
}

// ---------- run rendering ----------
function configTable(meta, ctx) {
  const rows = [];
  const add = (k, v) => rows.push(el("tr", {}, el("td", { text: k }), el("td", {}, el("pre", { text: asText(v) }))));
  for (const [k, v] of Object.entries(meta || {})) add(k, v);
  for (const [k, v] of Object.entries(ctx || {})) if (k !== "prompt") add("run_context." + k, v);
  return el("details", { class: "config" }, el("summary", {}, el("strong", { text: "Configuration" }), el("span", { class: "badge", text: `${rows.length} settings` })),
    el("div", { class: "body" }, el("table", {}, el("tbody", {}, rows))));
}

function renderSubcall(call, depth, idx) {
  const t = callTotals(call);
  const child = childTrajectory(call);
  const model = call.root_model || (call.usage_summary && Object.keys(call.usage_summary.model_usage_summaries || {})[0]) || "model";
  const summary = el("summary", {},
    el("span", { text: `↳ sub-call ${idx + 1}` }),
    el("span", { class: "badge", text: model }),
    el("span", { class: "badge", text: fmtTime(call.execution_time) }),
    el("span", { class: "badge", text: `${fmtInt(t.input + t.output)} tok` }),
    t.cost ? el("span", { class: "badge", text: fmtCost(t.cost) }) : null,
    call.error ? el("span", { class: "badge err-b", text: "error" }) : null,
    child ? el("span", { class: "badge child-b", text: `child RLM · ${child.iterations.length} iterations` }) : null,
    el("span", { class: "muted", text: preview(call.prompt, 80) }));
  const body = el("div", { class: "body" },
    el("div", { class: "section-label", text: "Prompt" }), el("pre", { class: "text", text: asText(call.prompt) }),
    el("div", { class: "section-label", text: "Response" }), el("pre", { class: "text", text: asText(call.response) }),
    call.error ? el("pre", { class: "err", text: asText(call.error) }) : null);
  if (child) {
    body.append(el("details", { class: "child" },
      el("summary", {}, el("strong", { text: "Child RLM trajectory" }), el("span", { class: "badge child-b", text: `depth ${depth + 1}` }),
        el("span", { class: "badge", text: `${child.iterations.length} iterations` })),
      el("div", { class: "body" }, renderTrajectory(child.run_metadata || {}, child.iterations, depth + 1))));
  }
  return el("details", { class: "subcall" }, summary, body);
}

function renderIteration(it, i, depth) {
  const t = iterTotals(it);
  const blocks = it.code_blocks || [];
  const errors = blocks.filter((b) => ((b.result || {}).stderr || "").trim()).length;
  const summary = el("summary", {},
    el("span", { class: "num", text: `Iteration ${it.iteration || i + 1}` }),
    el("span", { class: "badge", text: fmtTime(it.iteration_time) }),
    t.input + t.output ? el("span", { class: "badge", text: `${fmtInt(t.input + t.output)} tok` }) : null,
    t.cost ? el("span", { class: "badge", text: fmtCost(t.cost) }) : null,
    el("span", { class: "badge", text: `${blocks.length} code` }),
    t.calls ? el("span", { class: "badge child-b", text: `${t.calls} sub-calls` }) : null,
    errors ? el("span", { class: "badge err-b", text: `${errors} error` }) : null,
    it.final_answer !== null && it.final_answer !== undefined ? el("span", { class: "badge final-b", text: "FINAL" }) : null,
    el("span", { class: "muted", text: preview(proseOf(it.response), 90) }));
  const body = el("div", { class: "body" });
  const messages = Array.isArray(it.prompt) ? it.prompt : it.prompt ? [{ role: "user", content: it.prompt }] : [];
  if (messages.length) {
    body.append(el("details", { class: "messages" },
      el("summary", {}, el("span", { text: `Prompt sent to the model (${messages.length} messages)` })),
      el("div", { class: "body" }, messages.map((m) => el("div", { class: "message" },
        el("div", { class: "role", text: m.role || "?" }), el("pre", { class: "text", text: asText(m.content) }))))));
  }
  body.append(el("div", { class: "section-label", text: "Model response" }), renderResponse(it.response, blocks.length));
  blocks.forEach((b, k) => {
    const r = b.result || {};
    const block = el("div", { class: "block" },
      el("div", { class: "block-head", text: `Code block ${k + 1} · ran in ${fmtTime(r.execution_time)}` }),
      codeBlock(b.code));
    if (r.stdout) block.append(el("div", { class: "section-label", text: "stdout" }), el("pre", { class: "out", text: r.stdout }));
    if (r.stderr) block.append(el("div", { class: "section-label", text: "stderr" }), el("pre", { class: "err", text: r.stderr }));
    if (!r.stdout && !r.stderr) block.append(el("div", { class: "muted", text: "(no output)" }));
    const calls = r.rlm_calls || [];
    if (calls.length) {
      block.append(el("div", { class: "section-label", text: `Sub-calls (${calls.length})` }));
      calls.forEach((c, j) => block.append(renderSubcall(c, depth, j)));
    }
    const locals = r.locals && Object.keys(r.locals).length ? r.locals : null;
    if (locals) {
      block.append(el("details", { class: "locals" }, el("summary", {}, el("span", { text: `Variables (${Object.keys(locals).length})` })),
        el("div", { class: "body" }, el("pre", { class: "text", text: asText(locals) }))));
    }
    body.append(block);
  });
  if (it.final_answer !== null && it.final_answer !== undefined) {
    body.append(el("div", { class: "final" }, el("div", { class: "label", text: "Final answer" }), el("pre", { text: asText(it.final_answer) })));
  }
  return el("details", { class: "iter", id: depth === 0 ? `iter-${i}` : null, "data-depth": depth }, summary, body);
}

function renderTrajectory(meta, iterations, depth) {
  const box = el("div", { class: "trajectory" });
  if (depth > 0 && meta && Object.keys(meta).length) box.append(configTable(meta, null));
  iterations.forEach((it, i) => box.append(renderIteration(it, i, depth)));
  if (!iterations.length) box.append(el("div", { class: "muted", text: "No iterations logged." }));
  return box;
}

// Finish reasons (rlm.core.answers): the forced ones are shown as warnings.
const FINISH_TEXT = {
  final: "final (the model gave this answer)",
  auto_finalize: "auto_finalize (taken from the auto_finalize_var variable)",
  plain: "plain (one model call, no REPL)",
  max_iterations: "max_iterations (out of iterations: the answer was forced)",
  loop: "loop (stopped early: the model repeated itself; best answer so far)",
  limit: "limit (a limit tripped or the run was cancelled)",
  empty: "empty (no answer)",
  unverified: "unverified (in none of the lines the model was shown, nor in what its code printed)",
};
const FORCED = new Set(["max_iterations", "loop", "limit", "empty", "unverified"]);

function renderRun(run) {
  const main = $("#run");
  main.replaceChildren();
  const s = run.summary, its = run.iterations;
  main.append(el("h1", { class: "run-title", text: s.prompt ? preview(s.prompt, 400) : "(prompt not logged)" }));
  const md = run.metadata || {};
  const ctx = md.context_type ? `context: ${md.context_type}` + (md.context_total_length ? `, ${fmtInt(md.context_total_length)} chars` : "") : null;
  main.append(el("div", { class: "run-sub", text: [s.session ? `session ${s.session} · turn ${s.turn + 1}` : null, s.root_model, s.backend, ctx, s.id, s.timestamp].filter(Boolean).join(" · ") }));
  for (const w of run.warnings || []) main.append(el("div", { class: "warn", text: "⚠ " + w }));
  if (s.error) main.append(el("pre", { class: "err", text: "Run ended with an error: " + s.error }));
  if (!s.finished) main.append(el("div", { class: "warn", text: "No final answer logged: the run is still going, or it stopped early." }));
  if (s.finish_reason) main.append(el("div", { class: FORCED.has(s.finish_reason) ? "warn finish" : "muted finish", text: "How the run ended: " + (FINISH_TEXT[s.finish_reason] || s.finish_reason) }));
  if (s.final_answer) main.append(el("div", { class: "final" }, el("div", { class: "label", text: "Final answer" }), el("pre", { text: asText(s.final_answer) })));
  const stat = (k, v) => el("div", { class: "stat" }, el("div", { class: "v", text: v }), el("div", { class: "k", text: k }));
  main.append(el("div", { class: "stats" },
    stat("iterations", String(its.length)), stat("sub-calls", fmtInt(s.subcalls)),
    stat("input tokens", s.input_tokens || s.output_tokens ? fmtInt(s.input_tokens) : "–"),
    stat("output tokens", s.input_tokens || s.output_tokens ? fmtInt(s.output_tokens) : "–"),
    stat("cost", fmtCost(s.cost)), stat("time", fmtTime(s.time))));
  if (its.length) {
    const totals = its.map(iterTotals);
    const pick = (i) => { const d = document.getElementById(`iter-${i}`); if (d) { d.open = true; d.scrollIntoView({ behavior: "smooth", block: "start" }); } };
    const timeChart = barChart("Seconds per iteration", totals.map((t) => [t.time]), ["bar-time"], pick, (v) => (v < 1 ? v.toFixed(2) : v.toFixed(1)) + "s");
    let tokChart;
    if (totals.some((t) => t.input + t.output > 0)) {
      tokChart = barChart("Tokens per iteration (input / output, sub-calls included)", totals.map((t) => [t.input, t.output]), ["bar-in", "bar-out"], pick, fmtInt);
      tokChart.append(el("div", { class: "legend" }, el("i", { class: "bar-in-l" }), "input", el("i", { class: "bar-out-l" }), "output"));
    } else {
      tokChart = el("div", { class: "chart" }, el("div", { class: "chart-title", text: "Tokens per iteration" }),
        el("div", { class: "muted no-usage", text: "This log records no token usage (logs of the reference implementation do not)." }));
    }
    main.append(el("div", { class: "charts" }, tokChart, timeChart));
  }
  main.append(configTable(run.metadata, run.run_context));
  main.append(el("div", { class: "timeline-title", text: `Iterations (${its.length})` }));
  main.append(renderTrajectory(run.metadata, its, 0));
  applySearch();
}

// ---------- run list ----------
function renderRunList(data) {
  $("#root").textContent = data.root;
  $("#run-count").textContent = `(${data.runs.length})`;
  const list = $("#runs");
  list.replaceChildren(...data.runs.map((r) => el("li", {
    class: "run-item" + (state.current && state.current.summary.id === r.id ? " active" : ""), "data-id": r.id,
    onclick: () => { location.hash = "run=" + encodeURIComponent(r.id); },
  }, el("div", { class: "run-prompt", text: r.prompt ? preview(r.prompt, 160) : r.id }),
    el("div", { class: "run-meta", text: [r.session ? `session ${r.session} · turn ${r.turn + 1}` : null, r.root_model, `${r.iterations} it`, r.input_tokens + r.output_tokens ? `${fmtInt(r.input_tokens + r.output_tokens)} tok` : null, r.cost ? fmtCost(r.cost) : null, fmtTime(r.time)].filter(Boolean).join(" · ") }),
    el("div", { class: "run-meta", text: [r.id, (r.timestamp || "").replace("T", " ").slice(0, 19)].filter(Boolean).join(" · ") }))));
  if (!data.runs.length) list.append(el("li", { class: "muted run-item", text: state.query ? "No run matches." : "No logs found here." }));
  const errs = Object.entries(data.errors || {});
  $("#log-errors").replaceChildren(...errs.map(([f, e]) => el("div", { title: f, text: `⚠ skipped ${e}` })));
}

async function getJSON(url) {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}
let lastListing = "";
async function loadRuns() {
  const data = await getJSON("/api/runs?q=" + encodeURIComponent(state.query));
  state.runs = data.runs;
  const listing = JSON.stringify(data);
  if (listing !== lastListing) { lastListing = listing; renderRunList(data); }
  return data;
}
async function openRun(id) {
  try {
    state.current = await getJSON("/api/run?id=" + encodeURIComponent(id));
  } catch (e) {
    $("#run").replaceChildren(el("div", { class: "empty", text: String(e.message || e) }));
    return;
  }
  document.querySelectorAll(".run-item").forEach((n) => n.classList.toggle("active", n.dataset.id === id));
  renderRun(state.current);
}

// ---------- search: filter runs server-side, mark matches in the open run ----------
function clearMarks() {
  for (const m of document.querySelectorAll("#run mark")) m.replaceWith(document.createTextNode(m.textContent));
  $("#run").normalize();
  state.marks = []; state.markIndex = -1;
}
function applySearch() {
  clearMarks();
  const q = state.query.toLowerCase();
  const count = $("#search-count");
  if (!q || !state.current) { count.textContent = ""; return; }
  const walker = document.createTreeWalker($("#run"), NodeFilter.SHOW_TEXT);
  const hits = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.nodeValue.toLowerCase().includes(q)) hits.push(n);
  for (const node of hits) {
    const text = node.nodeValue, lower = text.toLowerCase(), frag = document.createDocumentFragment();
    let at = 0, i;
    while ((i = lower.indexOf(q, at)) !== -1) {
      frag.append(text.slice(at, i));
      const m = el("mark", { text: text.slice(i, i + q.length) });
      frag.append(m); state.marks.push(m);
      at = i + q.length;
    }
    frag.append(text.slice(at));
    node.replaceWith(frag);
  }
  for (const m of state.marks) for (let d = m.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
  count.textContent = state.marks.length ? `${state.marks.length} matches` : "no match";
}
function nextMark() {
  if (!state.marks.length) return;
  if (state.markIndex >= 0) state.marks[state.markIndex].classList.remove("current");
  state.markIndex = (state.markIndex + 1) % state.marks.length;
  const m = state.marks[state.markIndex];
  m.classList.add("current");
  m.scrollIntoView({ block: "center" });
  $("#search-count").textContent = `${state.markIndex + 1} / ${state.marks.length}`;
}

let searchTimer = null;
$("#search").addEventListener("input", (e) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => { state.query = e.target.value.trim(); await loadRuns(); applySearch(); }, 200);
});
$("#search").addEventListener("keydown", (e) => { if (e.key === "Enter") nextMark(); });

// ---------- live runs ----------
// The list is refreshed every few seconds, so new runs appear. When the open run is still
// being written and has grown, a button offers to show it (re-rendering on its own would
// fold whatever the user has expanded).
const POLL_MS = 2000;
setInterval(async () => {
  if (document.hidden) return;
  try { await loadRuns(); } catch (e) { return; } // server stopped: keep what is shown
  const cur = state.current;
  if (!cur || $("#update-banner")) return;
  const fresh = state.runs.find((r) => r.id === cur.summary.id);
  if (fresh && (fresh.iterations !== cur.iterations.length || fresh.finished !== cur.summary.finished)) {
    $("#run").prepend(el("button", { id: "update-banner", class: "update", onclick: () => openRun(cur.summary.id) },
      "This run has new log lines: show them"));
  }
}, POLL_MS);

function route() {
  const m = /run=([^&]+)/.exec(location.hash);
  if (m) openRun(decodeURIComponent(m[1]));
}
window.addEventListener("hashchange", route);
loadRuns().then((data) => {
  if (!/run=/.test(location.hash) && data.runs.length) location.hash = "run=" + encodeURIComponent(data.runs[0].id);
  else route();
}).catch((e) => $("#run").replaceChildren(el("div", { class: "empty", text: "Cannot load runs: " + e.message })));
