"use strict";
// Shared by every page: formatting, tables, and the refresh loop. A page defines
// render(data, previous) and calls start(urls, render).

const $ = (selector) => document.querySelector(selector);

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Seconds, in the unit that suits them.
function dur(s) {
  if (s === null || s === undefined) return "–";
  if (s < 0) return "−" + dur(-s);
  if (s === 0) return "0";
  if (s < 1e-3) return (s * 1e6).toFixed(1) + " µs";
  if (s < 1) return (s * 1e3).toFixed(2) + " ms";
  if (s < 120) return s.toFixed(2) + " s";
  return (s / 60).toFixed(1) + " min";
}

// Milliseconds, as the Spark-shaped API gives durations.
const ms = (v) => (v === null || v === undefined ? "–" : dur(v / 1000));

function num(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return Math.round(n).toLocaleString("en-US");
}

const badge = (text, cls) => `<span class="badge ${cls}">${esc(text)}</span>`;
const stateBadge = (s) => badge(s, "st-" + String(s).toLowerCase());
const classBadge = (c) => badge(c, "cl-" + String(c).toLowerCase());

// A table: headers as [label, "num"?] pairs or labels; rows as arrays of cell HTML.
function table(headers, rows, empty, rowClass) {
  const head = headers
    .map((h) => (Array.isArray(h) ? `<th class="${h[1]}">${esc(h[0])}</th>` : `<th>${esc(h)}</th>`))
    .join("");
  if (rows.length === 0) {
    return `<table><tr>${head}</tr><tr><td class="empty" colspan="${headers.length}">${esc(empty)}</td></tr></table>`;
  }
  const body = rows
    .map((r, i) => {
      const cls = rowClass ? rowClass(i) : "";
      const cells = r
        .map((c, j) => (Array.isArray(headers[j]) ? `<td class="${headers[j][1]}">${c}</td>` : `<td>${c}</td>`))
        .join("");
      return `<tr class="${cls}">${cells}</tr>`;
    })
    .join("");
  return `<table><tr>${head}</tr>${body}</table>`;
}

// Renders the embedded data at once, then fetches `urls` every second and renders
// again with the previous data and the seconds between them (for rates). Data is
// keyed by path, without the query.
function start(urls, render) {
  const live = $("#live");
  let previous = JSON.parse(document.getElementById("data").textContent);
  let previousAt = performance.now();
  render(previous, null);
  setInterval(async () => {
    try {
      const next = {};
      await Promise.all(
        urls.map(async (u) => {
          const r = await fetch(u, { cache: "no-store" });
          if (!r.ok) throw new Error(u + ": " + r.status);
          next[u.split("?")[0]] = await r.json();
        }),
      );
      const now = performance.now();
      render(next, { data: previous, seconds: (now - previousAt) / 1000 });
      previous = next;
      previousAt = now;
      live.textContent = "live · " + new Date().toLocaleTimeString();
      live.className = "live";
    } catch (e) {
      live.textContent = "disconnected";
      live.className = "live off";
    }
  }, 1000);
}
