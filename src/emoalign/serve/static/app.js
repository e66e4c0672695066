// emoalign web page: upload or type, show the emotion (bars + valence–arousal chart) and the
// best matches from the index. Plain DOM + inline SVG; talks only to this server's /api.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVG_NS = "http://www.w3.org/2000/svg";
const taxonomyCache = new Map();
let current = 0; // id of the latest request: older answers are dropped
let hasIndex = true; // from /api/health: without an index the page only analyses

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.setAttribute("class", v);
    else if (k === "text") node.textContent = v;
    else if (k === "style") {
      // CSSOM, not a style attribute: the Content-Security-Policy forbids inline style attributes.
      for (const decl of String(v).split(";")) {
        const [prop, val] = decl.split(":");
        if (prop && val) node.style.setProperty(prop.trim(), val.trim());
      }
    }
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const fmt = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? "–" : (x >= 0 ? "+" : "") + Number(x).toFixed(d));
const pct = (x) => `${Math.round(100 * x)}%`;

// ------------------------------------------------------------------------------------ API
async function api(path, body) {
  const init = !body ? {} : body instanceof FormData ? { method: "POST", body }
    : { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } };
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const detail = data && data.detail;
    const msg = Array.isArray(detail) ? detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ") : (detail || res.statusText);
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return data;
}

async function taxonomy(name) {
  if (!taxonomyCache.has(name)) taxonomyCache.set(name, api(`/api/taxonomies/${encodeURIComponent(name)}`));
  return taxonomyCache.get(name);
}

// ---------------------------------------------------------------------------- messages
const ERROR_TITLES = {
  413: "This file is too large",
  415: "This kind of file is not supported",
  422: "This could not be read",
  503: "Not available on this server",
};

function showError(err, what) {
  const box = $("#error");
  box.replaceChildren(el("strong", { text: ERROR_TITLES[err.status] || `${what} failed` }), el("span", { text: err.message }));
  box.hidden = false;
}

function clearError() { $("#error").hidden = true; $("#error").replaceChildren(); }

function busy(text) {
  $("#busy").hidden = !text;
  if (text) $("#busy-text").textContent = text;
  $("#text-go").disabled = Boolean(text);
}

// ---------------------------------------------------------------------------- emotion
async function showEmotion(row, source) {
  $("#emotion-panel").hidden = false;
  // faces say what the result is based on: a detected face or the whole image read as a crop
  const basis = row.details && row.details.basis ? ` · ${row.details.basis}` : "";
  $("#emotion-source").textContent = `${source} · ${row.modality} · ${row.encoder}${basis}`;
  $("#top-emotion").textContent = row.label;
  $("#top-confidence").textContent = `${pct(row.confidence)} likely · ${row.taxonomy}`;
  $("#valence").textContent = fmt(row.valence);
  $("#arousal").textContent = fmt(row.arousal);

  const ranked = Object.entries(row.probs || {}).sort((a, b) => b[1] - a[1]).slice(0, 5);
  const max = ranked.length ? ranked[0][1] : 1;
  $("#bars").replaceChildren(...ranked.map(([label, p]) =>
    el("li", { class: "bar", "data-label": label, title: `${label}: ${pct(p)}` },
      el("span", { class: "label", text: label }),
      el("span", { class: "track" }, el("span", { class: "fill", style: `width:${(100 * p / max).toFixed(1)}%` })),
      el("span", { class: "pct", text: pct(p) }))));

  let labels = [];
  try { labels = (await taxonomy(row.taxonomy)).labels; } catch (_) { /* chart without label points */ }
  $("#va-taxonomy").textContent = row.taxonomy;
  drawChart(labels, row, []);
}

// Valence → x, arousal → y (up), both in [-1, 1].
const CHART = { size: 340, pad: 26 };
const sx = (v) => CHART.pad + (v + 1) / 2 * (CHART.size - 2 * CHART.pad);
const sy = (a) => CHART.size - CHART.pad - (a + 1) / 2 * (CHART.size - 2 * CHART.pad);

function drawChart(labels, row, hits) {
  const svg = $("#va-chart");
  const { size, pad } = CHART;
  const parts = [
    el("svg:rect", { class: "frame", x: pad, y: pad, width: size - 2 * pad, height: size - 2 * pad, rx: 8 }),
  ];
  for (const t of [-0.5, 0.5]) {
    parts.push(el("svg:line", { class: "grid", x1: sx(t), x2: sx(t), y1: pad, y2: size - pad }));
    parts.push(el("svg:line", { class: "grid", y1: sy(t), y2: sy(t), x1: pad, x2: size - pad }));
  }
  parts.push(el("svg:line", { class: "axis", x1: sx(0), x2: sx(0), y1: pad, y2: size - pad }));
  parts.push(el("svg:line", { class: "axis", y1: sy(0), y2: sy(0), x1: pad, x2: size - pad }));
  parts.push(el("svg:text", { class: "axis-label", x: sx(0), y: pad - 8, "text-anchor": "middle", text: "energetic ↑" }));
  parts.push(el("svg:text", { class: "axis-label", x: sx(0), y: size - pad + 16, "text-anchor": "middle", text: "calm ↓" }));
  parts.push(el("svg:text", { class: "axis-label", x: pad + 4, y: sy(0) - 5, text: "← unpleasant" }));
  parts.push(el("svg:text", { class: "axis-label", x: size - pad - 4, y: sy(0) - 5, "text-anchor": "end", text: "pleasant →" }));
  // Greedy label placement: nudge a name up or down when it would overprint one already placed.
  const placed = [];
  const clash = (b) => placed.some((p) => b.x0 < p.x1 && p.x0 < b.x1 && b.y0 < p.y1 && p.y0 < b.y1);
  for (const l of labels) {
    const top = l.name === row.label;
    const x = sx(l.valence), y = sy(l.arousal);
    const anchor = x > size - 90 ? "end" : "start";
    const w = 5.6 * l.name.length + 4;
    const tx = x + (anchor === "end" ? -6 : 6);
    let ty = y + 3;
    for (const dy of [0, -10, 10, -20, 20]) {
      const box = { x0: anchor === "end" ? tx - w : tx, x1: anchor === "end" ? tx : tx + w, y0: y + 3 + dy - 9, y1: y + 3 + dy + 1 };
      if (!clash(box)) { ty = y + 3 + dy; placed.push(box); break; }
    }
    parts.push(el("svg:g", { class: top ? "lab top" : "lab", "data-label": l.name },
      el("svg:circle", { cx: x, cy: y, r: top ? 4.5 : 3 }),
      el("svg:text", { x: tx, y: ty, "text-anchor": anchor, text: l.name })));
  }
  for (const h of hits) {
    if (h.valence === null || h.valence === undefined) continue;
    parts.push(el("svg:rect", { class: "match-pt", x: sx(h.valence) - 3.5, y: sy(h.arousal) - 3.5, width: 7, height: 7, rx: 1.5 },
      el("svg:title", { text: `match: ${h.name} (${h.emotion || "?"})` })));
  }
  if (row.valence !== null && row.valence !== undefined) {
    parts.push(el("svg:circle", { class: "halo", cx: sx(row.valence), cy: sy(row.arousal), r: 16 }));
    parts.push(el("svg:circle", { id: "va-point", cx: sx(row.valence), cy: sy(row.arousal), r: 7,
      "data-valence": row.valence, "data-arousal": row.arousal },
      el("svg:title", { text: `your item: valence ${fmt(row.valence)}, arousal ${fmt(row.arousal)}` })));
  }
  svg.replaceChildren(...parts);
  svg._state = { labels, row };
}

// ---------------------------------------------------------------------------- matches
// Read a hit of /api/match (the fields of `emoalign match --json`) into what a card shows.
function readHit(h) {
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  return {
    name: h.id || (h.path || "").split("/").pop() || "item",
    modality: h.modality,
    url: h.media_url || null,
    score: num(h.total),
    semantic: num(h.semantic),
    emotional: num(h.emotional),
    emotion: h.emotion || null,
    valence: num(h.valence),
    arousal: num(h.arousal),
    reason: h.reason || null,
  };
}

// A plain-words verdict from the emotional score E = (1 + cos of the two V–A points) / 2.
function verdict(h, query) {
  if (h.emotional === null) return `Feels ${h.emotion || "?"}.`;
  const mood = h.emotional >= 0.85 ? "a very close mood" : h.emotional >= 0.6 ? "a similar mood" : h.emotional >= 0.4 ? "a somewhat different mood" : "a contrasting mood";
  return `Feels ${h.emotion || "?"} — ${mood} to your ${query.label}.`;
}

function scoreRow(name, value, cls) {
  if (value === null) return [];
  const w = Math.max(0, Math.min(1, value));
  return [el("span", { text: name }),
    el("span", { class: "track" }, el("span", { class: `fill ${cls}`, style: `width:${(100 * w).toFixed(1)}%` })),
    el("span", { class: "num", text: value.toFixed(2) })];
}

// A music card's picture: a note on a colour from its valence (warm = pleasant) and arousal
// (saturated = energetic), then the player.
function musicArt(h) {
  const v = h.valence ?? 0, a = h.arousal ?? 0;
  const hue = Math.round(230 - 200 * (v + 1) / 2);
  const sat = Math.round(25 + 55 * (a + 1) / 2);
  const art = el("div", { class: "music-art", style: `background:linear-gradient(135deg,hsl(${hue} ${sat}% 78%),hsl(${hue + 25} ${sat}% 62%))` },
    el("svg:svg", { viewBox: "0 0 24 24", width: 40, height: 40, "aria-hidden": "true" },
      el("svg:path", { d: "M9 18V5l11-2v13M9 18a3 3 0 1 1-6 0 3 3 0 0 1 6 0Zm11-2a3 3 0 1 1-6 0 3 3 0 0 1 6 0Z", fill: "none", stroke: "currentColor", "stroke-width": 1.6, "stroke-linecap": "round", "stroke-linejoin": "round" })));
  return el("div", { class: "music" }, art, el("audio", { src: h.url, controls: "", preload: "metadata" }));
}

function card(h, i, query) {
  let media;
  if (h.url && h.modality === "image") media = el("img", { src: h.url, alt: `${h.name} (${h.emotion || "image"})`, loading: "lazy" });
  else if (h.url && (h.modality === "music" || h.modality === "audio")) media = musicArt(h);
  else media = el("span", { class: "muted", text: h.modality || "item" });
  const same = h.emotion && query.label && h.emotion.toLowerCase() === query.label.toLowerCase();
  return el("article", { class: "match-card", "data-rank": i + 1, "data-modality": h.modality },
    el("div", { class: "media" }, media),
    el("div", { class: "body" },
      el("div", { class: "title" }, el("span", { text: h.name }), el("span", { class: "rank", text: `#${i + 1}` })),
      el("p", { class: "verdict", text: verdict(h, query) }),
      el("div", { class: "chips" },
        el("span", { class: "chip", title: "your item's emotion", text: `yours: ${query.label}` }),
        el("span", { class: same ? "chip same" : "chip", title: "this match's emotion", text: `this: ${h.emotion || "?"}` }),
        h.valence !== null ? el("span", { class: "chip", title: "this match's valence and arousal", text: `V ${fmt(h.valence, 1)} · A ${fmt(h.arousal, 1)}` }) : null),
      el("div", { class: "scores" },
        ...scoreRow("semantic", h.semantic, "sem"),
        ...scoreRow("emotional", h.emotional, "emo"),
        ...scoreRow("overall", h.score, "total")),
      h.reason ? el("p", { class: "reason", text: h.reason }) : null));
}

function showMatches(data, emotionRow) {
  const panel = $("#matches-panel");
  panel.hidden = false;
  const hits = (data.results || []).map(readHit);
  const q = data.query || {};
  const query = { label: q.emotion || q.label || (emotionRow && emotionRow.label) || "?" };
  const want = (q.modality || "") === "music" ? "pictures" : "music";
  $("#matches-title").textContent = `Best matching ${want}`;
  $("#matches-note").textContent = hits.length
    ? `${hits.length} from the index, ranked by T = α·semantic + (1 − α)·emotional with α = ${Number(data.alpha).toFixed(2)}.`
    : "Nothing in the index matches (try another emotion filter).";
  $("#matches").replaceChildren(...hits.map((h, i) => card(h, i, query)));
  const svg = $("#va-chart");
  if (svg._state) drawChart(svg._state.labels, svg._state.row, hits);
}

function hideMatches(note) {
  $("#matches-panel").hidden = !note;
  $("#matches").replaceChildren();
  $("#matches-title").textContent = "Best matches";
  $("#matches-note").textContent = note || "";
}

// ---------------------------------------------------------------------------- actions
function matchForm(file) {
  const fd = new FormData();
  fd.append("file", file);
  fd.append("top", $("#top").value);
  fd.append("alpha", $("#alpha").value);
  const emo = $("#emotion").value.trim();
  if (emo) fd.append("emotion", emo);
  return fd;
}

function showPreview(file) {
  const box = $("#preview");
  const url = URL.createObjectURL(file);
  let media = null;
  if (file.type.startsWith("image/")) {
    media = el("img", { src: url, alt: "your image" });
    media.addEventListener("error", () => media.remove()); // the browser cannot show it: the name still does
  }
  else if (file.type.startsWith("audio/")) media = el("audio", { src: url, controls: "" });
  box.classList.toggle("stacked", !(media && media.tagName === "IMG"));
  box.replaceChildren(...[media, el("span", { class: "name", text: `${file.name} · ${(file.size / 1024).toFixed(0)} KB` })].filter(Boolean));
  box.hidden = false;
}

async function analyseFile(file) {
  const id = ++current;
  clearError();
  hideMatches();
  $("#emotion-panel").hidden = true;
  showPreview(file);
  busy("Analysing…");
  const fd = new FormData();
  fd.append("file", file);
  let row;
  try {
    row = await api("/api/analyze", fd);
  } catch (err) {
    if (id === current) { busy(null); showError(err, "Analysis"); }
    return;
  }
  if (id !== current) return;
  await showEmotion(row, file.name);
  if (row.modality !== "image" && row.modality !== "music" && row.modality !== "face" && row.modality !== "speech") {
    busy(null);
    hideMatches(`Matching takes an image or a music clip; this is ${row.modality}.`);
    return;
  }
  if (!hasIndex) {
    busy(null);
    hideMatches("This server has no index loaded, so it analyses only (start it without --no-index to match).");
    return;
  }
  busy("Finding matches…");
  try {
    const data = await api("/api/match", matchForm(file));
    if (id === current) showMatches(data, row);
  } catch (err) {
    if (id === current) { showError(err, "Matching"); hideMatches(); }
  } finally {
    if (id === current) busy(null);
  }
}

async function analyseText(text) {
  const id = ++current;
  clearError();
  hideMatches();
  $("#preview").hidden = true;
  busy("Reading…");
  try {
    const row = await api("/api/analyze/text", { text });
    if (id !== current) return;
    await showEmotion(row, "your text");
    hideMatches("Matching takes an image or a music clip; texts are analysed only.");
  } catch (err) {
    if (id === current) showError(err, "Analysis");
  } finally {
    if (id === current) busy(null);
  }
}

function init() {
  const drop = $("#drop"), input = $("#file");
  input.addEventListener("change", () => { if (input.files.length) analyseFile(input.files[0]); });
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) analyseFile(f);
  });
  $("#text-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("#text").value.trim();
    if (t) analyseText(t); else showError({ status: 422, message: "Type a few words first." }, "Analysis");
  });
  const alpha = $("#alpha");
  alpha.addEventListener("input", () => { $("#alpha-out").textContent = Number(alpha.value).toFixed(2); });
  api("/api/health").then((h) => {
    const s = $("#service");
    s.classList.add("ok");
    hasIndex = Boolean(h.index);
    if (h.index && typeof h.index.default_alpha === "number") {
      $("#alpha").value = h.index.default_alpha;
      $("#alpha-out").textContent = Number(h.index.default_alpha).toFixed(2);
    }
    s.textContent = h.index ? `ready · ${h.index.items} items indexed` : "ready · no index (analysis only)";
  }).catch(() => { $("#service").textContent = "service unreachable"; });
}

document.addEventListener("DOMContentLoaded", init);
