// Per-slot timeline of the last moments: Stream runs, Batch runs, and PAUSED
// intervals (a paused task sits parked while other tasks run on its slot, so paused
// intervals get lanes of their own under the slot's runs).
const COLORS = { stream: "#2563eb", batch: "#0f9d58", paused: "#d97706" };
const WIDTH = 1200;
const LABEL = 110;
const RUN_H = 18;
const PAUSE_H = 9;

// Greedy lanes for intervals that may overlap: each goes to the first lane free at
// its start.
function lanes(spans) {
  const ends = [];
  return spans.map((s) => {
    let lane = ends.findIndex((e) => e <= s.start);
    if (lane < 0) {
      lane = ends.length;
      ends.push(0);
    }
    ends[lane] = s.end;
    return lane;
  });
}

function render(d) {
  const t = d["/api/v1/timeline"];
  if (!t.enabled) {
    $("#app").innerHTML = `<h2>Timeline</h2><p class="note">The timeline is off: build the context with
      <code>ContextBuilder::timeline(spans_per_slot)</code> to record each slot's recent spans.</p>`;
    return;
  }
  const w = t.window > 0 ? t.window : 1;
  const x = (s) => LABEL + ((WIDTH - LABEL - 10) * s) / w;
  let y = 28;
  let rows = "";
  const counts = { stream: 0, batch: 0, paused: 0 };
  for (const e of t.executors) {
    rows += `<text x="4" y="${y + 12}" style="font-weight:600">${esc(e.id)}</text>`;
    y += 18;
    for (const s of e.slots) {
      const runs = s.spans.filter((p) => p.kind !== "paused");
      const paused = s.spans.filter((p) => p.kind === "paused");
      const lane = lanes(paused);
      const height = RUN_H + 4 + (paused.length ? (Math.max(...lane) + 1) * (PAUSE_H + 2) : 0);
      rows += `<text x="14" y="${y + 13}">slot ${esc(s.slot)}</text>`;
      rows += `<rect x="${LABEL}" y="${y}" width="${WIDTH - LABEL - 10}" height="${RUN_H}" fill="#eef0f4"/>`;
      const rect = (p, top, h) => {
        counts[p.kind] += 1;
        const width = Math.max(1, x(p.end) - x(p.start));
        const what = `${p.kind.toUpperCase()} ${p.name ?? "task " + p.runtimeTaskId}: ${dur(p.end - p.start)}${p.open ? " (still paused)" : ""}`;
        return `<rect class="span ${p.kind}" x="${x(p.start).toFixed(1)}" y="${top}" width="${width.toFixed(1)}" height="${h}" fill="${COLORS[p.kind]}"${p.open ? ' stroke="#92400e"' : ""}><title>${esc(what)}</title></rect>`;
      };
      rows += runs.map((p) => rect(p, y, RUN_H)).join("");
      rows += paused.map((p, i) => rect(p, y + RUN_H + 4 + lane[i] * (PAUSE_H + 2), PAUSE_H)).join("");
      y += height + 10;
    }
  }
  let axis = "";
  for (let i = 0; i <= 10; i++) {
    const s = (w * i) / 10;
    axis += `<line x1="${x(s)}" y1="20" x2="${x(s)}" y2="${y}" stroke="#e2e5eb"/>`;
    axis += `<text x="${x(s) - 14}" y="14">${esc(dur(s - w))}</text>`;
  }
  $("#app").innerHTML = `
<h2>Timeline: the last ${esc(dur(w))} of every slot</h2>
<p class="legend"><span><i style="background:${COLORS.stream}"></i>Stream run</span>
<span><i style="background:${COLORS.batch}"></i>Batch run</span>
<span><i style="background:${COLORS.paused}"></i>PAUSED (a lane per parked task)</span></p>
<svg id="timeline" width="${WIDTH}" height="${y + 4}" viewBox="0 0 ${WIDTH} ${y + 4}">${axis}${rows}</svg>
<p class="note" id="span-counts">${num(counts.stream)} Stream runs, ${num(counts.batch)} Batch runs, ${num(counts.paused)} PAUSED intervals.
Back-to-back polls of one task make one run; a slot keeps only its last spans, so a busy slot may show less than the window.</p>`;
}
