// genseq's page: write text through the streaming API and draw each line in pen order as
// its points arrive; styles, the "write like me" pad, downloads. No build step, no library.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVGNS = "http://www.w3.org/2000/svg";
const SPEEDS = [1, 2, 3, 4, 6, 9, 14, 22, 40, Infinity]; // points per line per frame
const state = {
  info: null, styles: [], style: null, myStyle: null,
  run: null, // the page being written: see startRun
};

// ---- small helpers ---------------------------------------------------------------------
function status(el, text, isError) {
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}
async function detail(resp) {
  try { return (await resp.json()).detail || resp.statusText; } catch { return resp.statusText; }
}
function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 5000);
}
function median(values) {
  const v = Float64Array.from(values).sort();
  const n = v.length;
  return n ? (n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}
function svgEl(tag, attrs) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

// ---- settings and style picker --------------------------------------------------------
function settings() {
  const seed = $("#seed").value.trim();
  return {
    text: $("#text").value,
    style: state.style,
    bias: Number($("#bias").value),
    width: Number($("#width").value) || 40,
    seed: seed === "" ? null : Number(seed),
    color: $("#color").value,
    stroke_width: Number($("#stroke-width").value),
  };
}

function showOutputs() {
  $("#bias-out").textContent = Number($("#bias").value).toFixed(2);
  const s = Number($("#speed").value);
  $("#speed-out").textContent = s === 10 ? "as written" : `${s}`;
  $("#sw-out").textContent = `${$("#stroke-width").value} px`;
  const page = $("#page");
  page.setAttribute("stroke", $("#color").value);
  page.setAttribute("stroke-width", $("#stroke-width").value);
}

function checkText() {
  const text = $("#text").value, info = state.info;
  if (!info) return;
  const known = new Set(info.alphabet + "\n\r\t");
  const bad = [...new Set([...text].filter((c) => !known.has(c)))];
  $("#count").textContent = `${text.length} / ${info.limits.max_chars}`;
  $("#charwarn").textContent = bad.length ? `cannot write: ${bad.join(" ")}` : "";
}

function styleTile(label, svg, value, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "style";
  b.setAttribute("role", "radio");
  b.title = title || label;
  if (svg) {
    const holder = document.createElement("div");
    holder.innerHTML = svg; // our own server's SVG
    const el = holder.querySelector("svg");
    el.removeAttribute("width");
    el.removeAttribute("height");
    el.setAttribute("preserveAspectRatio", "xMidYMid meet");
    b.appendChild(el);
  } else {
    const d = document.createElement("div");
    d.className = "none";
    d.textContent = "its own";
    b.appendChild(d);
  }
  const cap = document.createElement("span");
  cap.textContent = label;
  b.appendChild(cap);
  b.addEventListener("click", () => selectStyle(b, value));
  return b;
}

function selectStyle(tile, value) {
  for (const t of document.querySelectorAll(".style")) t.setAttribute("aria-checked", "false");
  tile.setAttribute("aria-checked", "true");
  state.style = value;
}

function renderStyles() {
  const box = $("#styles");
  box.replaceChildren();
  const none = styleTile("network", null, null, "the network's own hand, unprimed");
  box.appendChild(none);
  for (const s of state.styles) {
    box.appendChild(styleTile(`style ${s.id}`, s.preview_svg, s.id, `“${s.text}”`));
  }
  let chosen = none;
  if (state.myStyle) {
    chosen = styleTile("my hand", state.myStyle.preview_svg, state.myStyle.file,
      `your line: “${state.myStyle.text}”`);
    chosen.id = "my-style";
    box.appendChild(chosen);
  }
  selectStyle(chosen, state.myStyle ? state.myStyle.file : null);
}

// ---- the page being written --------------------------------------------------------------
// run.lines[k]: {g, path, pts: absolute [x, y] (y down, line's own origin), queue, stroke}
function startRun(req) {
  const page = $("#page");
  page.replaceChildren();
  page.setAttribute("data-state", "writing");
  page.setAttribute("fill", "none");
  page.setAttribute("stroke-linecap", "round");
  page.setAttribute("stroke-linejoin", "round");
  $("#scores").replaceChildren();
  const run = {
    req, lines: [], final: null, finalShown: false, stopped: false, error: null,
    t0: performance.now(),
    tFirst: null, points: 0, view: null, ctrl: new AbortController(),
  };
  state.run = run;
  requestAnimationFrame(() => frame(run));
  return run;
}

function addLines(run, texts) {
  run.texts = texts;
  run.lines = texts.map((t, k) => {
    const g = svgEl("g", { "data-line": String(k) });
    const title = svgEl("title");
    title.textContent = t;
    g.appendChild(title);
    $("#page").appendChild(g);
    return { g, pts: [], queue: [], x: 0, y: 0, path: null, d: "", penUp: true };
  });
}

function drawPoints(run, line, n) {
  // pen offsets (board units, y up) -> absolute points; one <path> per stroke
  const take = line.queue.splice(0, n);
  for (const [dx, dy, e] of take) {
    line.x += dx;
    line.y -= dy;
    line.pts.push([line.x, line.y]);
    const xy = `${line.x.toFixed(1)} ${line.y.toFixed(1)}`;
    if (line.penUp) {
      line.path = svgEl("path", { "vector-effect": "non-scaling-stroke" });
      line.g.appendChild(line.path);
      line.d = `M${xy}`;
      line.n = 1;
      line.penUp = false;
    } else {
      line.d += `L${xy}`;
      line.n += 1;
    }
    if (e > 0.5) line.penUp = true;
  }
  if (take.length && line.path) line.path.setAttribute("d", line.n > 1 ? line.d : line.d + "l0 0");
  return take.length;
}

function layout(run) {
  // as genseq.hand.layout.compose_page: each line from x = 0, centred on its median y,
  // lines 1.5 median heights apart; the view only grows while writing (no jitter)
  const heights = run.lines.filter((l) => l.pts.length > 1).map((l) => {
    let lo = Infinity, hi = -Infinity;
    for (const p of l.pts) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
    return hi - lo;
  });
  const pitch = 1.5 * Math.max(median(heights), 300);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  run.lines.forEach((l, k) => {
    if (!l.pts.length) return;
    let minx = Infinity, lo = Infinity, hi = -Infinity, maxx = -Infinity;
    for (const [x, y] of l.pts) {
      minx = Math.min(minx, x); maxx = Math.max(maxx, x);
      lo = Math.min(lo, y); hi = Math.max(hi, y);
    }
    const dy = k * pitch - median(l.pts.map((p) => p[1]));
    l.g.setAttribute("transform", `translate(${(-minx).toFixed(1)} ${dy.toFixed(1)})`);
    x0 = Math.min(x0, 0); x1 = Math.max(x1, maxx - minx);
    y0 = Math.min(y0, lo + dy); y1 = Math.max(y1, hi + dy);
  });
  if (x0 === Infinity) return;
  const chars = Math.max(...run.texts.map((t) => t.length), 1);
  const want = { x0, y0, x1: Math.max(x1, chars * 190), y1: Math.max(y1, (run.lines.length - 0.5) * pitch) };
  const v = run.view;
  run.view = v ? { x0: Math.min(v.x0, want.x0), y0: Math.min(v.y0, want.y0),
    x1: Math.max(v.x1, want.x1), y1: Math.max(v.y1, want.y1) } : want;
  setView(run.view);
}

function setView(v) {
  const pad = 0.04 * (v.x1 - v.x0 + 1);
  const w = v.x1 - v.x0 + 2 * pad, h = v.y1 - v.y0 + 2 * pad;
  const page = $("#page");
  page.setAttribute("viewBox", `${(v.x0 - pad).toFixed(1)} ${(v.y0 - pad).toFixed(1)} ${w.toFixed(1)} ${h.toFixed(1)}`);
  page.setAttribute("preserveAspectRatio", "xMinYMin meet");
  page.style.aspectRatio = `${w} / ${h}`;
}

function frame(run) {
  if (state.run !== run) return;
  const speed = SPEEDS[Number($("#speed").value) - 1];
  let drawn = 0, waiting = 0;
  for (const line of run.lines) {
    drawn += drawPoints(run, line, run.stopped ? 0 : speed);
    waiting += line.queue.length;
  }
  if (drawn) layout(run);
  if (run.stopped || run.error) return finish(run);
  if (run.final && !waiting) return showFinal(run);
  requestAnimationFrame(() => frame(run));
}

function showFinal(run) {
  // the exact page from the server (its layout): replace the live drawing
  const page = $("#page");
  page.replaceChildren();
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  run.final.lines.forEach((line, k) => {
    const g = svgEl("g", { "data-line": String(k) });
    const title = svgEl("title");
    title.textContent = line.text;
    g.appendChild(title);
    for (const s of line.strokes) {
      let d = "";
      s.forEach(([x, y], i) => {
        d += `${i ? "L" : "M"}${x} ${y}`;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      });
      g.appendChild(svgEl("path", { d: s.length > 1 ? d : d + "l0 0", "vector-effect": "non-scaling-stroke" }));
    }
    page.appendChild(g);
  });
  if (x0 < Infinity) setView({ x0, y0, x1, y1 });
  run.finalShown = true;
  const scores = run.final.lines.filter((l) => l.legibility !== null && l.legibility !== undefined);
  $("#scores").replaceChildren(...scores.map((l) => {
    const li = document.createElement("li");
    li.textContent = `“${l.text}”: legibility ${(100 * l.legibility).toFixed(0)} %`;
    return li;
  }));
  finish(run);
}

function finish(run) {
  const end = run.error ? "error" : run.finalShown ? "done" : "stopped";
  $("#page").setAttribute("data-state", end);
  $("#write").disabled = false;
  $("#stop").disabled = true;
  const any = run.lines.some((l) => l.pts.length) || (run.finalShown && run.final.points);
  for (const b of document.querySelectorAll(".downloads button")) b.disabled = !any;
  if (run.error) return status($("#status"), run.error, true);
  const secs = ((performance.now() - run.t0) / 1000).toFixed(1);
  const first = run.tFirst !== null ? `, first stroke after ${(run.tFirst / 1000).toFixed(2)} s` : "";
  const drawn = run.lines.reduce((n, l) => n + l.pts.length, 0);
  const what = run.finalShown ? `Written: ${run.final.points} points in ${secs} s${first}` :
    `Stopped after ${secs} s (${drawn} points).`;
  status($("#status"), what);
}

// ---- talking to the server -------------------------------------------------------------
function onEvent(run, ev) {
  if (ev.event === "queued") status($("#status"), `Waiting for the writer: ${ev.ahead} ahead…`);
  else if (ev.event === "start") { addLines(run, ev.lines); status($("#status"), "Writing…"); }
  else if (ev.event === "points") {
    if (run.tFirst === null) run.tFirst = performance.now() - run.t0;
    for (const [k, pts] of Object.entries(ev.lines)) {
      run.lines[Number(k)].queue.push(...pts);
      run.points += pts.length;
    }
    status($("#status"), `Writing… ${run.points} points`);
  } else if (ev.event === "done") run.final = ev;
  else if (ev.event === "error") run.error = ev.detail;
}

async function write() {
  const req = settings();
  $("#write").disabled = true;
  $("#stop").disabled = false;
  for (const b of document.querySelectorAll(".downloads button")) b.disabled = true;
  status($("#status"), "Sending…");
  const run = startRun(req);
  try {
    const resp = await fetch("/api/write/stream", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(req), signal: run.ctrl.signal,
    });
    if (!resp.ok) { run.error = await detail(resp); return; }
    const reader = resp.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) onEvent(run, JSON.parse(line));
      }
    }
    if (!run.final && !run.error && !run.stopped) run.error = "the connection ended early";
  } catch (e) {
    if (!run.stopped) run.error = `could not reach the server (${e.message})`;
  }
}

function stop() {
  // stops the writing (the server stops sampling when the stream closes) and the drawing:
  // the page keeps what is drawn
  const run = state.run;
  if (!run || run.finalShown || run.error) return;
  run.stopped = true;
  run.ctrl.abort();
}

function pageStrokes() {
  // the page as shown, in page coordinates (y down)
  const run = state.run;
  if (run && run.finalShown) return run.final.lines.flatMap((l) => l.strokes);
  const out = [];
  for (const line of run ? run.lines : []) {
    const m = /translate\(([-\d.e]+) ([-\d.e]+)\)/.exec(line.g.getAttribute("transform") || "");
    const [tx, ty] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
    let stroke = [];
    for (const path of line.g.querySelectorAll("path")) {
      stroke = [...path.getAttribute("d").matchAll(/[ML]([-\d.e]+) ([-\d.e]+)/g)]
        .map((p) => [Number(p[1]) + tx, Number(p[2]) + ty]);
      if (stroke.length) out.push(stroke);
    }
  }
  return out;
}

async function exportPage(format) {
  const req = settings();
  const fmt = format === "png" ? "svg" : format;
  const resp = await fetch("/api/export", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ strokes: pageStrokes(), format: fmt, color: req.color,
      stroke_width: req.stroke_width }),
  });
  if (!resp.ok) return status($("#status"), await detail(resp), true);
  const blob = await resp.blob();
  if (format === "svg") return download(blob, "genseq.svg");
  if (format === "plotter") return download(blob, "genseq-plotter.svg");
  if (format === "gcode") return download(blob, "genseq.gcode");
  const img = new Image();
  img.onload = () => {
    const scale = Math.min(2, 4000 / Math.max(img.width, img.height));
    const c = document.createElement("canvas");
    c.width = Math.round(img.width * scale);
    c.height = Math.round(img.height * scale);
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, c.width, c.height);
    ctx.drawImage(img, 0, 0, c.width, c.height);
    c.toBlob((png) => download(png, "genseq.png"), "image/png");
  };
  img.src = URL.createObjectURL(blob);
}

// ---- write like me ---------------------------------------------------------------------
async function makeStyle(line) {
  const resp = await fetch("/api/styles", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(line),
  });
  if (!resp.ok) return status($("#pad-status"), await detail(resp), true);
  state.myStyle = await resp.json();
  renderStyles();
  $("#pad-save").disabled = false;
  status($("#pad-status"), `Your hand is the style of the next pages (${state.myStyle.points} points).`);
}

function useMyHand(pad) {
  const text = $("#pad-text").value.trim();
  if (!pad.strokes.length) return status($("#pad-status"), "Write a line on the pad first.", true);
  if (!text) return status($("#pad-status"), "Type what your line says.", true);
  return makeStyle({ text, strokes: pad.strokes });
}

async function openStyle(file) {
  try {
    const d = JSON.parse(await file.text());
    let strokes = d.strokes;
    if (!strokes && Array.isArray(d.points)) { // [[x, y, eos], ...]
      strokes = [[]];
      for (const [x, y, e] of d.points) {
        strokes[strokes.length - 1].push([x, y]);
        if (e > 0.5) strokes.push([]);
      }
      strokes = strokes.filter((s) => s.length);
    }
    if (d.norm) throw new Error("a genseq built-in style file: pick it in the style list");
    await makeStyle({ text: String(d.text || ""), strokes: strokes || [] });
  } catch (e) {
    status($("#pad-status"), `cannot read ${file.name}: ${e.message}`, true);
  }
}

// ---- start -----------------------------------------------------------------------------
async function init() {
  const pad = new DrawingPad($("#pad"));
  $("#pad-clear").onclick = () => pad.clear();
  $("#pad-undo").onclick = () => pad.undo();
  $("#pad-use").onclick = () => useMyHand(pad);
  $("#pad-save").onclick = () => download(new Blob([JSON.stringify(state.myStyle.file, null, 1)],
    { type: "application/json" }), "my-style.json");
  $("#pad-open").onchange = (e) => e.target.files[0] && openStyle(e.target.files[0]);
  $("#write").onclick = write;
  $("#stop").onclick = stop;
  for (const b of document.querySelectorAll(".downloads button")) {
    b.onclick = () => exportPage(b.dataset.format);
  }
  for (const id of ["#bias", "#speed", "#stroke-width", "#color"]) $(id).oninput = showOutputs;
  $("#text").oninput = checkText;
  $("#text").onkeydown = (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !$("#write").disabled) write();
  };
  showOutputs();
  try {
    const [info, styles] = await Promise.all([fetch("/api/info"), fetch("/api/styles")]);
    state.info = window.genseqInfo = await info.json();
    state.styles = await styles.json();
  } catch (e) {
    status($("#status"), `could not reach the server (${e.message})`, true);
  }
  renderStyles();
  checkText();
  document.body.dataset.ready = "true";
}
init();
